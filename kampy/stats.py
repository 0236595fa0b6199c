"""The statistics registry: counters named `group:name`, correct across worker processes.

Kamailio keeps its counters in shared memory, one cell per process, and sums them when read. kampy
does the same with a memory-mapped file next to the shared store (`<store>.stats`):

* the file is a fixed array of int64 cells `[slot][rank]` after a small header; ranks 0..workers
  (0 for a process that is not a worker). Each process increments only its own cells, so the hot
  path takes no lock: `inc(key)` is a dict lookup and one write into the mapping;
* a statistic's value is the sum of its cells over the ranks;
* names get their slot through the shared store (`INSERT OR IGNORE` name -> slot, rare, cached per
  process), so a statistic created at run time in one worker (`update_stat("my:new", 1)`, usrloc's
  per-domain statistics) is seen by every worker;
* `reset` zeroes every cell of a slot; `no_reset` statistics refuse it;
* gauges (`register_gauge`) are read on demand from state every worker shares, never summed;
* hidden statistics (a name starting with `HIDDEN`, `.tm:transactions`) are summed like the others
  but never listed nor reset: a module's own counters across workers (tm's, which tmx publishes).

A `Stats` binds to its core's shared store on first use: the store the supervisor created before
forking (each worker maps the file after the fork), or the private store of a server running alone.
"""
from __future__ import annotations

import fcntl
import logging
import mmap
import os
import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampy.module import Exports
from kampy.runtime.storefiles import open_companion

if TYPE_CHECKING:
    from kampy.runtime.shared import SharedStore

log = logging.getLogger("kampy.stats")

MAX_SLOTS = 8192
_MAGIC = b"KPYSTAT1"
_HEADER = struct.Struct("<8sII")  # magic, slots, ranks
_HEADER_SIZE = 64                 # cells start 8-byte aligned after the header

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kampy_stats (
    name TEXT PRIMARY KEY,
    slot INTEGER NOT NULL UNIQUE,
    no_reset INTEGER NOT NULL DEFAULT 0,
    gauge INTEGER NOT NULL DEFAULT 0
)
"""


def area_path(store_path: str | Path) -> Path:
    """The file holding the counters of the server whose shared store is at `store_path`."""
    return Path(f"{store_path}.stats")


def split_name(key: str) -> tuple[str, str]:
    """`group:name` -> (group, name); the group ends at the first colon (`script:grp:x`)."""
    group, sep, name = key.partition(":")
    return (group, name) if sep else ("", key)


HIDDEN = "."


class StatsArea:
    """The mapped cells: `slots` rows of `ranks` int64 counters."""

    def __init__(self, path: str | Path, ranks: int, slots: int = MAX_SLOTS) -> None:
        self.path = Path(path)
        fd = open_companion(self.path, os.O_RDWR | os.O_CREAT)
        try:
            # workers may open a new file at the same moment: one initialises it, under the lock
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size < _HEADER_SIZE:
                size = _HEADER_SIZE + slots * ranks * 8
                os.ftruncate(fd, size)
                os.pwrite(fd, _HEADER.pack(_MAGIC, slots, ranks), 0)
            self._map = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            # Unlock explicitly: mmap keeps the open file (and so a flock) alive after close(fd).
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        magic, self.slots, self.ranks = _HEADER.unpack_from(self._map, 0)
        if magic != _MAGIC:
            raise ValueError(f"{self.path}: not a kampy statistics file")
        self.cells = memoryview(self._map)[_HEADER_SIZE:_HEADER_SIZE + self.slots * self.ranks * 8].cast("q")

    def total(self, slot: int) -> int:
        base = slot * self.ranks
        return sum(self.cells[base:base + self.ranks])

    def zero(self, slot: int) -> None:
        base = slot * self.ranks
        for i in range(base, base + self.ranks):
            self.cells[i] = 0

    def close(self) -> None:
        try:
            self.cells.release()
            self._map.close()
        except (BufferError, ValueError):
            pass  # a view is still exported somewhere; the mapping goes with the process


class Stats:
    """The statistics of one server as one process sees them.

    `bind` (or the first use, through `source`) maps the counters of the server's shared store.
    `source()` returns `(store, rank, workers)`."""

    def __init__(self, source: Callable[[], tuple[SharedStore, int, int]] | None = None) -> None:
        self._source = source
        self._store: SharedStore | None = None
        self._area: StatsArea | None = None
        self._cells: Any = None
        self._rank = 0
        self._index: dict[str, int] = {}      # key -> this process's cell index
        self._slots: dict[str, int] = {}      # key -> slot
        self._no_reset: set[str] = set()
        self._gauges: dict[str, Callable[[], int]] = {}

    # ------------------------------------------------------------ binding

    def bind(self, store: SharedStore, rank: int, workers: int) -> None:
        """Map the counters next to `store` as worker `rank` of `workers` (after fork)."""
        if self._area is not None:
            return
        store.executescript(_SCHEMA)
        self._store = store
        self._area = StatsArea(area_path(store.path), ranks=workers + 1)
        self._cells = self._area.cells
        self._rank = rank if 0 <= rank < self._area.ranks else 0

    def _bound(self) -> StatsArea:
        if self._area is None:
            if self._source is None:
                from kampy.runtime.shared import SharedStore

                store = SharedStore.create()
                self._private = store
                self.bind(store, 1, 1)
            else:
                self.bind(*self._source())
        assert self._area is not None
        return self._area

    def close(self) -> None:
        if self._area is not None:
            self._cells = None
            self._area.close()
            self._area = None
        private = getattr(self, "_private", None)
        if private is not None:
            private.remove()
            self._private = None
        self._index.clear()
        self._slots.clear()

    # ------------------------------------------------------------ names and slots

    def register(self, group: str, name: str, *, no_reset: bool = False) -> str:
        key = f"{group}:{name}" if group else name
        self._slot(key, no_reset=no_reset)
        return key

    def register_exports(self, exports: Exports) -> None:
        self._bound()
        # a name with a part in angle brackets is a template: the module registers each instance
        rows = [(f"{s.group or exports.name}:{s.name}", int(s.no_reset)) for s in exports.stats
                if "<" not in s.name]
        if rows:
            self._insert_many(rows)
            self._refresh()

    def register_gauge(self, key: str, read: Callable[[], int]) -> str:
        """A value read on demand from state every worker shares (usrloc's counts in the shared
        store): the same in every process, so never summed across workers, never reset."""
        self._gauges[key] = read
        self._no_reset.add(key)
        self._slot(key, no_reset=True, gauge=True)
        return key

    def is_gauge(self, key: str) -> bool:
        return key in self._gauges

    def _insert_many(self, rows: list[tuple[str, int]]) -> None:
        assert self._store is not None
        self._store.executemany(
            "INSERT OR IGNORE INTO kampy_stats (name, slot, no_reset) "
            "VALUES (?, (SELECT COALESCE(MAX(slot), -1) + 1 FROM kampy_stats), ?)", rows)

    def _slot(self, key: str, *, no_reset: bool = False, gauge: bool = False) -> int | None:
        """The slot of `key`, created in the shared store if this is its first use anywhere."""
        slot = self._slots.get(key)
        if slot is not None:
            return slot
        area = self._bound()
        assert self._store is not None
        self._store.execute(
            "INSERT OR IGNORE INTO kampy_stats (name, slot, no_reset, gauge) "
            "VALUES (?, (SELECT COALESCE(MAX(slot), -1) + 1 FROM kampy_stats), ?, ?)",
            (key, int(no_reset), int(gauge)))
        if no_reset or gauge:
            self._store.execute("UPDATE kampy_stats SET no_reset = 1 WHERE name = ? AND no_reset = 0",
                                (key,))
        rows = self._store.query("SELECT slot, no_reset FROM kampy_stats WHERE name = ?", (key,))
        slot, flag = rows[0]
        if slot >= area.slots:
            log.error("statistic %s: no room left (%d statistics at most)", key, area.slots)
            return None
        self._remember(key, slot, bool(flag))
        return slot

    def _remember(self, key: str, slot: int, no_reset: bool) -> None:
        assert self._area is not None
        self._slots[key] = slot
        self._index[key] = slot * self._area.ranks + self._rank
        if no_reset:
            self._no_reset.add(key)

    def _refresh(self) -> None:
        """Learn the names other workers created."""
        self._bound()
        assert self._store is not None and self._area is not None
        for name, slot, no_reset in self._store.query("SELECT name, slot, no_reset FROM kampy_stats"):
            if name not in self._slots and slot < self._area.slots:
                self._remember(name, slot, bool(no_reset))
            elif no_reset:
                self._no_reset.add(name)

    # ------------------------------------------------------------ values

    def inc(self, key: str, by: int = 1) -> None:
        """Add `by` to this process's cell of `key` (the hot path: a dict lookup, one write)."""
        index = self._index.get(key)
        if index is None:
            if self._slot(key) is None:
                return
            index = self._index[key]
        self._cells[index] += by

    def dec(self, key: str, by: int = 1) -> None:
        self.inc(key, -by)

    def set(self, key: str, value: int) -> None:
        """Make the total `value` (this process's cell takes the difference)."""
        if self._slot(key) is None:
            return
        self._cells[self._index[key]] += value - self.get(key)

    def get(self, key: str) -> int:
        gauge = self._gauges.get(key)
        if gauge is not None:
            return int(gauge())
        slot = self._slots.get(key)
        if slot is None:
            self._refresh()
            slot = self._slots.get(key)
            if slot is None:
                raise KeyError(key)
        return self._area.total(slot)  # type: ignore[union-attr]

    def value(self, key: str, default: int = 0) -> int:
        try:
            return self.get(key)
        except KeyError:
            return default

    def exists(self, key: str) -> bool:
        if key not in self._slots:
            self._refresh()
        return key in self._slots

    def is_no_reset(self, key: str) -> bool:
        return key in self._no_reset

    def reset(self, key: str) -> bool:
        """Zero `key` in every process; False for an unknown or `no_reset` statistic."""
        if not self.exists(key) or key in self._no_reset or key.startswith(HIDDEN):
            return False
        self._area.zero(self._slots[key])  # type: ignore[union-attr]
        return True

    # ------------------------------------------------------------ listing

    def names(self) -> list[str]:
        """Every statistic any worker registered, sorted by group then name (Kamailio's order)."""
        self._refresh()
        return sorted((k for k in self._slots if not k.startswith(HIDDEN)), key=split_name)

    def groups(self) -> list[str]:
        return sorted({split_name(k)[0] for k in self.names()})

    def items(self, groups: Iterable[str] | None = None) -> list[tuple[str, int]]:
        wanted = set(groups) if groups is not None else None
        return [(k, self.get(k)) for k in self.names()
                if wanted is None or split_name(k)[0] in wanted]

    def find(self, name: str) -> str | None:
        """Kamailio's get_stat(): a full `group:name`, or a bare name in whatever group has it."""
        if self.exists(name):
            return name
        return next((k for k in self.names() if split_name(k)[1] == name), None)
