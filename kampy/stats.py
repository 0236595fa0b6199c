"""The statistics registry: counters named `group:name`, filled from module declarations."""
from __future__ import annotations

from collections.abc import Iterable

from kampy.module import Exports


class Stats:
    """Counters of one process. (Summing across worker processes is the RPC layer's job.)"""

    def __init__(self) -> None:
        self._values: dict[str, int] = {}
        self._no_reset: set[str] = set()

    def register(self, group: str, name: str, *, no_reset: bool = False) -> str:
        key = f"{group}:{name}"
        self._values.setdefault(key, 0)
        if no_reset:
            self._no_reset.add(key)
        return key

    def register_exports(self, exports: Exports) -> None:
        for stat in exports.stats:
            self.register(stat.group or exports.name, stat.name, no_reset=stat.no_reset)

    def inc(self, key: str, by: int = 1) -> None:
        self._values[key] = self._values.get(key, 0) + by

    def set(self, key: str, value: int) -> None:
        self._values[key] = value

    def get(self, key: str) -> int:
        return self._values.get(key, 0)

    def reset(self, key: str) -> None:
        if key in self._values and key not in self._no_reset:
            self._values[key] = 0

    def items(self, groups: Iterable[str] | None = None) -> list[tuple[str, int]]:
        wanted = set(groups) if groups is not None else None
        return [(k, v) for k, v in sorted(self._values.items())
                if wanted is None or k.partition(":")[0] in wanted]
