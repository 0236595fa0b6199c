"""One hash table of the htable module, in shared memory: every worker sees the same items.

Kamailio keeps a table as 2^size slots in shared memory, each a list of cells sorted by the hash of
their name (core_case_hash), each slot behind its own lock. Here a table is a shared table of the
server's shared store (`ShmTable`, key -> bytes) with one `SlotLocks` lock per Kamailio slot:

* a cell is stored under its name; its value is the name's hash (`cellid`, so a dump lists the
  cells in Kamailio's order without hashing them again) and the value (a 32-bit int or a string);
  the shared table's `flags` are Kamailio's cell flags (AVP_VAL_STR for a string), its `extra` the
  cell's expiry time (Kamailio's `expire`, seconds since the epoch, 0 stored as NEVER so that the
  expiry timer finds due cells from the index alone);
* a change takes the slot's lock (so that `sht_lock()` in another worker holds it off, as
  Kamailio's slot lock does) and then the shared table's transaction for its read-modify-write;
  a walk over the whole table (`reset`, removal by expression, a store to the database) takes
  every slot's lock;
* reads take no lock: they see each cell as committed at one moment.
"""
from __future__ import annotations

import contextlib
import logging
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kampy.api import Clock, SharedStore, TableFull, core_hash

from .spec import TableSpec

log = logging.getLogger("kampy.htable")

AVP_VAL_STR = 2      # Kamailio's cell flag of a string value
NEVER = 1 << 62      # `extra` of a cell whose expire is 0
_ID = struct.Struct("<I")
_INT = struct.Struct("<i")
_AREA_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")

Value = int | str


def cell_hash(name: str) -> int:
    """ht_compute_hash: core_case_hash, the core hash of the name with ASCII letters lowered."""
    raw = name.encode("utf-8", "surrogateescape").translate(_LOWER)
    return core_hash(raw.decode("utf-8", "surrogateescape"))


def int32(value: int) -> int:
    """A C int: Kamailio keeps item values and increments in 32 bits."""
    return (value + (1 << 31)) % (1 << 32) - (1 << 31)


def area_name(name: str) -> str:
    """The shared-table name of hash table `name` (hex when the name has other characters)."""
    return f"htable.{name}" if _AREA_NAME.fullmatch(name) else f"htable.x{name.encode().hex()}"


def _key(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class Cell:
    """An item as Kamailio's ht_cell_t: name, value (int or str), expire (0: never), hash."""

    name: str
    value: Value
    expire: int
    cellid: int

    @property
    def flags(self) -> int:
        return AVP_VAL_STR if isinstance(self.value, str) else 0


def _encode(cellid: int, value: Value) -> tuple[bytes, int]:
    if isinstance(value, str):
        return _ID.pack(cellid) + value.encode("utf-8", "surrogateescape"), AVP_VAL_STR
    return _ID.pack(cellid) + _INT.pack(int32(value)), 0


def _decode(name: str, data: bytes, extra: int, flags: int) -> Cell:
    cellid = _ID.unpack_from(data)[0]
    value: Value = (data[4:].decode("utf-8", "surrogateescape") if flags & AVP_VAL_STR
                    else _INT.unpack_from(data, 4)[0])
    return Cell(name, value, 0 if extra == NEVER else extra, cellid)


class HashTable:
    """One table (`spec`) as every worker sees it."""

    def __init__(self, spec: TableSpec, store: SharedStore, clock: Clock) -> None:
        self.spec = spec
        self.name = spec.name
        self.slots = spec.slots
        self.expire = spec.autoexpire
        self.clock = clock
        area = area_name(spec.name)
        capacity = min(max(1 << 10, self.slots), 1 << 16)
        self.table = store.table(area, capacity, max_capacity=1 << 24)
        self.locks = store.slot_locks(area, self.slots)

    def slot(self, cellid: int) -> int:
        return cellid & (self.slots - 1)

    def now(self) -> int:
        return int(self.clock.time())

    # ------------------------------------------------------------ reading

    def read(self, name: str) -> Cell | None:
        """The cell as stored, expired or not."""
        found = self.table.get(_key(name))
        return _decode(name, *found) if found is not None else None

    def is_expired(self, cell: Cell, now: int | None = None) -> bool:
        """Kamailio's test: only a table with autoexpire has expired cells."""
        return self.expire > 0 and cell.expire != 0 and cell.expire < (self.now() if now is None else now)

    def get(self, name: str) -> Cell | None:
        """The cell, or None when missing or expired (ht_cell_pkg_copy)."""
        cell = self.read(name)
        return None if cell is None or self.is_expired(cell) else cell

    def value(self, name: str) -> Value | None:
        """$sht(name): the value, the table's initval for a missing one, else None ($null)."""
        cell = self.get(name)
        if cell is None:
            return self.spec.initval
        return cell.value

    def expire_in(self, name: str) -> int:
        """$shtex(name): seconds to the cell's expiry as Kamailio's unsigned int (0 for a missing
        cell or a table without autoexpire)."""
        if self.expire == 0:
            return 0
        cell = self.read(name)
        if cell is None:
            return 0
        return (cell.expire - self.now()) & 0xFFFFFFFF

    def cells(self) -> list[Cell]:
        """Every cell, expired ones too, in Kamailio's order: by slot, then by hash."""
        found = [_decode(item.key.decode("utf-8", "surrogateescape"), item.value, item.extra, item.flags)
                 for item in self.table.items()]
        found.sort(key=lambda c: (self.slot(c.cellid), c.cellid))
        return found

    def slot_sizes(self) -> dict[int, int]:
        """How many cells each non-empty slot holds."""
        sizes: dict[int, int] = {}
        for item in self.table.items():
            s = self.slot(_ID.unpack_from(item.value)[0])
            sizes[s] = sizes.get(s, 0) + 1
        return sizes

    # ------------------------------------------------------------ writing

    @contextlib.contextmanager
    def locked(self, name: str, cellid: int | None = None) -> Iterator[int]:
        """Hold the slot of `name` and the shared table's transaction; gives the name's hash."""
        cellid = cell_hash(name) if cellid is None else cellid
        with self.locks.hold(self.slot(cellid)), self.table.transaction():
            yield cellid

    @contextlib.contextmanager
    def all_locked(self) -> Iterator[None]:
        with self.locks.hold_all(), self.table.transaction():
            yield

    def _put(self, name: str, cellid: int, value: Value, expire: int) -> None:
        data, flags = _encode(cellid, value)
        self.table.put(_key(name), data, expire or NEVER, flags)

    def set(self, name: str, value: Value, exv: int = 0) -> bool:
        """ht_set_cell_ex: set the value; the expiry is now + exv when exv > 0, else now +
        autoexpire for a new cell or, with updateexpire, an updated one. False when the table is
        out of room (Kamailio: no more shared memory)."""
        now = self.now() if self.expire > 0 else 0
        try:
            with self.locked(name) as cellid:
                old = self.read(name)
                if exv > 0:
                    expire = now + exv
                elif old is None or self.spec.updateexpire:
                    expire = now + self.expire
                else:
                    expire = old.expire
                self._put(name, cellid, value, expire)
        except TableFull as exc:
            log.error("htable %s: no more shared memory for [%s]: %s", self.name, name, exc)
            return False
        return True

    def delete(self, name: str) -> bool:
        """ht_del_cell_confirm: True when the cell was there."""
        key = _key(name)
        if self.table.get(key) is None:
            return False
        with self.locked(name):
            if self.table.get(key) is None:
                return False
            self.table.delete(key)
        return True

    def add(self, name: str, delta: int) -> int | None:
        """ht_cell_value_add ($shtinc/$shtdec): the new value, or None for a string value, a
        missing cell of a table without initval, or an expired one of such a table."""
        now = self.now() if self.expire > 0 else 0
        initval = self.spec.initval
        try:
            with self.locked(name) as cellid:
                old = self.read(name)
                if old is None:
                    if initval is None:
                        return None
                    value, expire = int32(initval + delta), now + self.expire
                else:
                    current = old.value
                    if now > 0 and old.expire != 0 and old.expire < now:
                        if initval is None:
                            return None
                        current = initval
                    if isinstance(current, str):
                        return None
                    value = int32(current + delta)
                    expire = now + self.expire if self.spec.updateexpire else old.expire
                self._put(name, cellid, value, expire)
        except TableFull as exc:
            log.error("htable %s: no more shared memory for [%s]: %s", self.name, name, exc)
            return None
        return value

    def set_expire(self, name: str, seconds: int) -> None:
        """ht_set_cell_expire ($shtex(name) = seconds): a table without autoexpire ignores it;
        seconds <= 0 makes the cell never expire."""
        if self.expire == 0 or self.table.get(_key(name)) is None:
            return
        with self.locked(name) as cellid:
            old = self.read(name)
            if old is not None:
                self._put(name, cellid, old.value, self.now() + seconds if seconds > 0 else 0)

    def update(self, cell: Cell, value: Value | None = None, expire: int | None = None) -> None:
        """Rewrite an existing cell (an iterator's sets/seti/setex) with a new value or expiry."""
        with self.locked(cell.name, cell.cellid):
            if self.table.get(_key(cell.name)) is None:
                return
            new_value = cell.value if value is None else value
            if expire is None:
                expire = self.now() + self.expire if self.spec.updateexpire else cell.expire
            self._put(cell.name, cell.cellid, new_value, expire)

    # ------------------------------------------------------------ the whole table

    def remove_where(self, match: Callable[[Cell], bool]) -> int:
        """Delete every cell `match` accepts; how many."""
        gone = 0
        with self.all_locked():
            for cell in self.cells():
                if match(cell):
                    self.table.delete(_key(cell.name))
                    gone += 1
        return gone

    def reset(self) -> None:
        """ht_reset_content: delete every cell."""
        self.remove_where(lambda cell: True)

    def replace_all(self, cells: list[tuple[str, Value, int]]) -> None:
        """The table's content becomes `cells` (name, value, expire) at once (htable.reload)."""
        with self.all_locked():
            for cell in self.cells():
                self.table.delete(_key(cell.name))
            for name, value, expire in cells:
                self._put(name, cell_hash(name), value, expire)

    def due(self, now: int) -> list[Cell]:
        """The cells whose expire is set and before `now` (candidates for the expiry timer)."""
        found = [_decode(item.key.decode("utf-8", "surrogateescape"), item.value, item.extra, item.flags)
                 for item in self.table.items(extra_at_most=now - 1)]
        found.sort(key=lambda c: (self.slot(c.cellid), c.cellid))
        return found
