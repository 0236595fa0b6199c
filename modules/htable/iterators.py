"""sht_iterator_*: walking a table from the config, as Kamailio's ht_iterator_* (ht_api.c).

A process has at most 4 iterators at once, named by the config (at most 31 characters). Kamailio's
iterator keeps the slot of its current item locked until it moves to another slot or ends, so other
workers' changes to that slot wait; kampy's does the same with the table's slot locks. The items an
iterator walks are those of the table when it is started (in Kamailio's order: by slot, then by
hash), less those deleted meanwhile: an item added while it walks is not seen.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .table import Cell, HashTable

log = logging.getLogger("kampy.htable")

MAX_ITERATORS = 4       # HT_ITERATOR_SIZE
MAX_NAME = 32           # HT_ITERATOR_NAME_SIZE


@dataclass
class Iterator_:
    name: str
    table: HashTable | None = None
    names: list[str] = field(default_factory=list)
    pos: int = -1
    current: Cell | None = None
    slot: int | None = None  # the slot whose lock this process holds for it


class Iterators:
    """The iterators of this process."""

    def __init__(self) -> None:
        self.slots: list[Iterator_ | None] = [None] * MAX_ITERATORS

    def _find(self, name: str) -> int:
        """ht_iterator_find: the iterator's index, else the first free one, else -1."""
        free = -1
        for i, it in enumerate(self.slots):
            if it is not None:
                if it.name == name:
                    return i
            elif free == -1:
                free = i
        return free

    def _release(self, it: Iterator_) -> None:
        if it.table is not None and it.slot is not None:
            it.table.locks.release(it.slot)
        it.slot = None

    def start(self, name: str, table: HashTable | None, table_name: str) -> int:
        k = self._find(name)
        if k == -1:
            log.error("no iterator available - max number is %d", MAX_ITERATORS)
            return -1
        it = self.slots[k]
        if it is not None:
            self._release(it)
        else:
            if len(name) >= MAX_NAME:
                log.error("iterator name is too big [%s] (max %d)", name, MAX_NAME)
                return -1
            it = self.slots[k] = Iterator_(name)
        it.table, it.current, it.pos = table, None, -1
        if table is None:
            log.error("cannot get hash table [%s]", table_name)
            return -1
        it.names = [cell.name for cell in table.cells()]
        return 1

    def _get(self, name: str) -> Iterator_ | None:
        k = self._find(name)
        it = self.slots[k] if k != -1 else None
        if it is None:
            log.error("iterator not found [%s]", name)
            return None
        if it.table is None:
            log.error("iterator not initialized [%s]", name)
            return None
        return it

    def _advance(self, it: Iterator_) -> bool:
        """Move to the next item still in the table, holding its slot; False at the end."""
        table = it.table
        assert table is not None
        while it.pos + 1 < len(it.names):
            it.pos += 1
            cell = table.read(it.names[it.pos])
            if cell is None:
                continue
            slot = table.slot(cell.cellid)
            if slot != it.slot:
                self._release(it)
                table.locks.acquire(slot)
                it.slot = slot
                cell = table.read(it.names[it.pos])  # as it is now that the slot is ours
                if cell is None:
                    continue
            it.current = cell
            return True
        self._release(it)
        it.current = None
        return False

    def next(self, name: str) -> int:
        it = self._get(name)
        if it is None:
            return -1
        return 1 if self._advance(it) else -1

    def end(self, name: str) -> int:
        k = self._find(name)
        it = self.slots[k] if k != -1 else None
        if it is None:
            log.error("iterator not found [%s]", name)
            return -1
        self._release(it)
        self.slots[k] = None
        return 1

    def _used(self, name: str) -> Iterator_ | None:
        it = self._get(name)
        if it is not None and it.current is None:
            log.error("iterator not used [%s]", name)
            return None
        return it

    def remove(self, name: str) -> int:
        """sht_iterator_rm: 1 when removed and there is a next item, -2 when removed at the end."""
        it = self._used(name)
        if it is None or it.table is None or it.current is None:
            return -1
        it.table.delete(it.current.name)
        return 1 if self._advance(it) else -2

    def set_value(self, name: str, value: int | str) -> int:
        it = self._used(name)
        if it is None or it.table is None or it.current is None:
            return -1
        it.table.update(it.current, value=value)
        it.current = it.table.read(it.current.name) or it.current
        return 1

    def set_expire(self, name: str, seconds: int) -> int:
        it = self._used(name)
        if it is None or it.table is None or it.current is None:
            return -1
        it.table.update(it.current, expire=it.table.now() + seconds)
        it.current = it.table.read(it.current.name) or it.current
        return 1

    def current(self, name: str) -> Cell | None:
        k = self._find(name)
        it = self.slots[k] if k != -1 else None
        return it.current if it is not None else None
