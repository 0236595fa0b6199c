"""The sht_* functions of the htable module (htable.c), a part of its Module class."""
from __future__ import annotations

import re
from collections.abc import Callable

from kampy.api import L_ERR, MessageContext, log_at, module_logger

from .iterators import Iterators
from .replicate import (HT_DMQ_DEL_CELL, HT_DMQ_RM_CELL_RE, HT_DMQ_RM_CELL_SW, Replicating)
from .table import Cell, HashTable, cell_hash

log = module_logger("htable")

CELL_SIZE = 72  # sizeof(ht_cell_t) on x86_64, in sht_print()'s msize


def _regex(text: str) -> re.Pattern[str] | None:
    """A POSIX extended expression as Kamailio compiles it (REG_EXTENDED|REG_ICASE|REG_NEWLINE)."""
    try:
        return re.compile(text, re.IGNORECASE | re.MULTILINE)
    except re.error:
        log.error("bad re %s", text)
        return None


def matches(op: str, value: str, target: str, pattern: re.Pattern[str] | None) -> bool:
    """ht_match_cell_op_str's operators."""
    if op == "eq":
        return target == value
    if op == "ne":
        return target != value
    if op == "sw":
        return target.startswith(value)
    return pattern is not None and pattern.search(target) is not None


class KeyRef:
    """`htable=>key` as $sht and sht_lock name an item: the table and the key's format."""

    __slots__ = ("table", "table_name", "key")

    def __init__(self, table: HashTable | None, table_name: str,
                 key: Callable[[MessageContext], str]) -> None:
        self.table = table
        self.table_name = table_name
        self.key = key


class HtableFunctions(Replicating):
    """The sht_* handlers; the module provides `tables`, `iterators`."""

    tables: dict[str, HashTable]
    iterators: Iterators


    def sht_print(self, ctx: MessageContext) -> int:
        """ht_dbg(): every table, slot by slot, at L_ERR."""
        for table in reversed(list(self.tables.values())):
            log_at(log, L_ERR, "htable[%s] hid: %u exp: %u>", table.name, cell_hash(table.name), table.expire)
            by_slot: dict[int, list[Cell]] = {}
            for cell in table.cells():
                by_slot.setdefault(table.slot(cell.cellid), []).append(cell)
            for i in range(table.slots):
                cells = by_slot.get(i, [])
                log_at(log, L_ERR, "htable[%d] -- <%d>", i, len(cells))
                for cell in cells:
                    size = CELL_SIZE + len(cell.name.encode()) + 1
                    if isinstance(cell.value, str):
                        size += len(cell.value.encode()) + 1
                    log_at(log, L_ERR, "\tcell: %s", cell.name)
                    log_at(log, L_ERR, "\thid: %u msize: %u flags: %d expire: %u", cell.cellid, size,
                           cell.flags, cell.expire & 0xFFFFFFFF)
                    if isinstance(cell.value, str):
                        log_at(log, L_ERR, "\tv-s:%s", cell.value)
                    else:
                        log_at(log, L_ERR, "\tv-i:%d", cell.value)
        return 1

    def _named(self, htname: str, *given: tuple[str, str], missing: str = "cannot get hash table [%s]",
               ) -> HashTable | None:
        """The table `htname` once every (value, what) of `given` is there; None (logged as
        Kamailio's function logs it) otherwise."""
        if not _given(*given):
            return None
        table = self.tables.get(htname)
        if table is None:
            log.error(missing, htname)
        return table

    def sht_rm(self, ctx: MessageContext, htname: str, itname: str) -> int:
        table = self._named(htname, (htname, "the hash table name"), (itname, "the item table name"))
        if table is None:
            return -1
        self.replicate(table, HT_DMQ_DEL_CELL, itname)
        table.delete(itname)
        return 1

    def _rm_re(self, ctx: MessageContext, ref: KeyRef, by_value: bool) -> int:
        if ref.table is None:
            return 1
        expr = ref.key(ctx)
        self.replicate(ref.table, HT_DMQ_RM_CELL_RE, None, expr, int(by_value))
        pattern = _regex(expr)
        if pattern is None:
            return -1
        ref.table.remove_where(lambda c: _target(c, by_value) is not None
                               and pattern.search(_target(c, by_value) or "") is not None)
        return 1

    def sht_rm_name_re(self, ctx: MessageContext, ref: KeyRef) -> int:
        return self._rm_re(ctx, ref, by_value=False)

    def sht_rm_value_re(self, ctx: MessageContext, ref: KeyRef) -> int:
        return self._rm_re(ctx, ref, by_value=True)

    def _rm_items(self, htname: str, op: str, value: str, by_value: bool) -> int:
        table = self._named(htname, *_op_args(htname, op, value))
        if table is None:
            return -1
        if op == "re":
            self.replicate(table, HT_DMQ_RM_CELL_RE, None, value, int(by_value))
            pattern = _regex(value)
            if pattern is None:
                return -1
            table.remove_where(lambda c: (t := _target(c, by_value)) is not None and bool(pattern.search(t)))
            return 1
        if op == "sw":
            self.replicate(table, HT_DMQ_RM_CELL_SW, None, value, int(by_value))
            table.remove_where(lambda c: (t := _target(c, by_value)) is not None and t.startswith(value))
            return 1
        log.warning("unsupported match operator: %s", op)
        return -1

    def sht_rm_name(self, ctx: MessageContext, htname: str, op: str, value: str) -> int:
        return self._rm_items(htname, op, value, by_value=False)

    def sht_rm_value(self, ctx: MessageContext, htname: str, op: str, value: str) -> int:
        return self._rm_items(htname, op, value, by_value=True)

    def _match(self, htname: str, op: str, value: str, by_value: bool) -> int:
        table = self._named(htname, *_op_args(htname, op, value))
        if table is None:
            return -1
        if op not in ("eq", "ne", "re", "sw"):
            log.warning("unsupported match operator: %s", op)
            return -1
        pattern = None
        if op == "re":
            pattern = _regex(value)
            if pattern is None:
                return -1
        for cell in table.cells():
            target = _target(cell, by_value)
            if target is not None and matches(op, value, target, pattern):
                return 1
        return -1

    def sht_match_name(self, ctx: MessageContext, htname: str, op: str, value: str) -> int:
        return self._match(htname, op, value, by_value=False)

    def sht_match_str_value(self, ctx: MessageContext, htname: str, op: str, value: str) -> int:
        return self._match(htname, op, value, by_value=True)

    def _slot_lock(self, ctx: MessageContext, ref: KeyRef, take: bool) -> int:
        if ref.table is None:
            log.error("cannot get $sht root")
            return -11
        slot = ref.table.slot(cell_hash(ref.key(ctx)))
        if take:
            ref.table.locks.acquire(slot)
        else:
            ref.table.locks.release(slot)
        return 1

    def sht_lock(self, ctx: MessageContext, ref: KeyRef) -> int:
        return self._slot_lock(ctx, ref, take=True)

    def sht_unlock(self, ctx: MessageContext, ref: KeyRef) -> int:
        return self._slot_lock(ctx, ref, take=False)

    def sht_reset(self, ctx: MessageContext, htname: str) -> int:
        table = self._named(htname, (htname, "hash table name"))
        if table is None:
            return -1
        table.reset()
        return 1

    def sht_setxs(self, ctx: MessageContext, htname: str, itname: str, value: str, expire: int) -> int:
        return self._setx(htname, itname, value, expire, ok=1)

    def sht_setxi(self, ctx: MessageContext, htname: str, itname: str, value: int, expire: int) -> int:
        # Kamailio 5.6.3's ki_ht_setxi returns 0 on success, which ends the script as `exit` does
        return self._setx(htname, itname, value, expire, ok=0)

    def _setx(self, htname: str, itname: str, value: int | str, expire: int, ok: int) -> int:
        table = self._named(htname, (htname, "htable name"), (itname, "item name"),
                            missing="No such htable: %s")
        if table is None:
            return -1
        self.replicate_setx(table, itname, value, expire)
        if not table.set(itname, value, expire):
            return -1
        return ok

    # iterators
    def sht_iterator_start(self, ctx: MessageContext, iname: str, hname: str) -> int:
        if not _given((iname, "iterator name"), (hname, "hash table name")):
            return -1
        return self.iterators.start(iname, self.tables.get(hname), hname)

    @staticmethod
    def _iname(iname: str) -> bool:
        return _given((iname, "iterator name"))

    def sht_iterator_next(self, ctx: MessageContext, iname: str) -> int:
        return self.iterators.next(iname) if self._iname(iname) else -1

    def sht_iterator_end(self, ctx: MessageContext, iname: str) -> int:
        return self.iterators.end(iname) if self._iname(iname) else -1

    def sht_iterator_rm(self, ctx: MessageContext, iname: str) -> int:
        return self.iterators.remove(iname) if self._iname(iname) else -1

    def sht_iterator_sets(self, ctx: MessageContext, iname: str, value: str) -> int:
        return self.iterators.set_value(iname, value) if self._iname(iname) else -1

    def sht_iterator_seti(self, ctx: MessageContext, iname: str, value: int) -> int:
        return self.iterators.set_value(iname, value) if self._iname(iname) else -1

    def sht_iterator_setex(self, ctx: MessageContext, iname: str, value: int) -> int:
        return self.iterators.set_expire(iname, value) if self._iname(iname) else -1


def _given(*values: tuple[str, str]) -> bool:
    """Whether every value is there (not empty); Kamailio logs the first missing one."""
    for value, what in values:
        if not value:
            log.error("cannot get %s", what)
            return False
    return True


def _op_args(htname: str, op: str, value: str) -> tuple[tuple[str, str], ...]:
    return ((htname, "the hash table name"), (op, "the match operation"), (value, "the get match value"))


def _target(cell: Cell, by_value: bool) -> str | None:
    """What a match looks at: the name, or a string value (an int value never matches)."""
    if not by_value:
        return cell.name
    return cell.value if isinstance(cell.value, str) else None
