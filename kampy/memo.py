"""A memo that forgets everything when full.

The working set a server sees (compiled patterns, parsed URIs, prepared statements, key hashes) is
small and stable; when it is not, starting over is cheaper than keeping an LRU order on every hit."""
from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(dict[K, V], Generic[K, V]):
    """A dict of at most `limit` entries: `put` clears it first when it is full."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: K, value: V) -> V:
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value
