"""A value every worker reads and any worker may replace: what Kamailio's modules load from the
database into shared memory at start and swap for a new copy on an RPC reload (domain, permissions).

The value is JSON, kept in a shared table of the server's shared store, cut in chunks under keys of
its generation; the `meta` key names the current generation and its chunk count and a counter holds
the generation, so a reader checks for a change with one read of shared memory. A worker keeps the
decoded value of the generation it read last. A new value's chunks are written first (each in a
transaction of its own, so the table may grow between them), then `meta` is switched and the old
chunks go in one transaction: a reader sees the old value or the new one, never a mix.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kampy.runtime.shmtable import ShmTable

CHUNK = 60_000  # bytes of JSON per shared-table entry
_META = b"meta"


class SharedSnapshot:
    """One named value shared by the workers (`core.shared.snapshot(name)`)."""

    def __init__(self, table: ShmTable) -> None:
        self.table = table
        self._seen: tuple[int, Any] | None = None

    @property
    def generation(self) -> int:
        """0 before the first value; grows with each new one."""
        return self.table.counter(0)

    def read(self) -> tuple[int, Any]:
        """(generation, value) of the current value; (0, None) before there is one."""
        for _ in range(16):
            got = self.table.get(_META)
            if got is None:
                return 0, None
            generation, chunks = json.loads(got[0])
            seen = self._seen
            if seen is not None and seen[0] == generation:
                return seen
            parts = [self.table.get(b"%d.%d" % (generation, i)) for i in range(chunks)]
            if all(p is not None for p in parts):
                value = json.loads(b"".join(p[0] for p in parts if p is not None))
                self._seen = (generation, value)
                return self._seen
        raise RuntimeError("shared snapshot: the value kept changing while it was read")

    def publish(self, value: Any, *, only_first: bool = False) -> int:
        """Make `value` the current one, unless a newer one was published meanwhile (or, with
        `only_first`, any one was); returns the generation that is current."""
        data = json.dumps(value, separators=(",", ":")).encode()
        table = self.table
        with table.transaction():
            generation = max(self.generation, self._last_written()) + 1
            table.put(b"next", str(generation).encode())  # a reserved number: no two writers share it
        chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
        for i, chunk in enumerate(chunks):
            with table.transaction():
                table.put(b"%d.%d" % (generation, i), chunk)
        with table.transaction():
            old = table.get(_META)
            current, old_chunks = json.loads(old[0]) if old is not None else (0, 0)
            if current > generation or (only_first and old is not None):
                drop, keep = (generation, len(chunks)), current  # ours is stale: the other stays
            else:
                table.put(_META, json.dumps([generation, len(chunks)]).encode())
                table.add(0, generation - table.counter(0))
                drop, keep = (current, old_chunks), generation
            for i in range(drop[1]):
                table.delete(b"%d.%d" % (drop[0], i))
        return keep

    def _last_written(self) -> int:
        got = self.table.get(b"next")
        return int(got[0]) if got is not None else 0

    def publish_once(self, make: Callable[[], Any]) -> None:
        """Publish `make()` unless a value exists (the first worker to start loads it)."""
        if self.table.get(_META) is None:
            self.publish(make(), only_first=True)
