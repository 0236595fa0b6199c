"""`$shv(name)`: variables every worker process sees (Kamailio keeps them in shared memory)."""
from __future__ import annotations

from collections.abc import Iterator, MutableMapping

from kampy.api import CoreAPI

TABLE = "pv.shv"
CAPACITY = 1024          # index entries at first; the table doubles when full
MAX_CAPACITY = 1 << 20
_INT, _STR = 1, 0        # the entry's flags: the value's type


class SharedVars(MutableMapping[str, int | str]):
    """A name -> int | str mapping in a shared table of the server: a write in one worker is read
    by every other one."""

    def __init__(self, core: CoreAPI) -> None:
        self._table = core.shared.table(TABLE, CAPACITY, MAX_CAPACITY)

    def setdefault_all(self, values: dict[str, int | str]) -> None:
        """Give each name its initial value unless a process set it before (every worker starts
        with the same `shvset` values; only the first one writes them)."""
        with self._table.transaction():
            for name, value in values.items():
                if name not in self:
                    self[name] = value

    def __getitem__(self, name: str) -> int | str:
        entry = self._table.get(_key(name))
        if entry is None:
            raise KeyError(name)
        data, _extra, flags = entry
        return int(data) if flags == _INT else data.decode("utf-8", "surrogateescape")

    def __setitem__(self, name: str, value: int | str) -> None:
        if isinstance(value, int):
            self._table.put(_key(name), str(int(value)).encode(), flags=_INT)
        else:
            self._table.put(_key(name), str(value).encode("utf-8", "surrogateescape"), flags=_STR)

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._table.delete(_key(name))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._table.get(_key(name)) is not None

    def __iter__(self) -> Iterator[str]:
        return (key.decode("utf-8", "surrogateescape") for key in sorted(self._table.keys()))

    def __len__(self) -> int:
        return sum(1 for _ in self._table.keys())


def _key(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")
