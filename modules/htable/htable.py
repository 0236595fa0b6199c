"""The htable module: hash tables in shared memory for the config ($sht and the sht_* functions).

Every worker sees the same tables (see table.py). What Kamailio does once, before it forks, is done
once here by the first worker to get there, while the others wait for it: loading the tables from
the database and running event_route[htable:mod-init].
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kampy.api import (CoreAPI, Database, DBError, MessageContext, Module, PVar, RpcFault, db_connect,
                       module_logger)

from . import db as htdb
from .iterators import Iterators
from .rpc import HtableRpc
from .spec import TableSpec, parse_table, split_name
from .functions import HtableFunctions, KeyRef, _regex, _target
from .dmq import HtDmq
from .replicate import HT_DMQ_DEL_CELL, HT_DMQ_SET_CELL, HT_DMQ_SET_CELL_EXPIRE
from .table import Cell, HashTable

log = module_logger("htable")

MOD_INIT = "htable:mod-init"
EXPIRED = "htable:expired:"
DEFAULT_TIMER_INTERVAL = 20


def table_specs(values: Any) -> list[TableSpec]:
    """The `htable` parameter values (one or several) as table specs; ValueError for a bad one or
    a name given twice."""
    texts = values if isinstance(values, list) else ([values] if values else [])
    specs: list[TableSpec] = []
    for text in texts:
        spec = parse_table(str(text))
        if any(s.name == spec.name for s in specs):
            raise ValueError(f"htable already configured [{spec.name}]")
        specs.append(spec)
    return specs


def check_table_param(value: str) -> None:
    parse_table(value)


class Accessor:
    """A pseudo-variable of this module: `get(ctx)`, and `set(ctx, value)` for $sht and $shtex."""

    __slots__ = ("get", "set")

    def __init__(self, get: Callable[[MessageContext], Any],
                 set: Callable[[MessageContext, Any], None] | None = None) -> None:
        self.get = get
        if set is not None:
            self.set = set


class Reader:
    __slots__ = ("get",)

    def __init__(self, get: Callable[[MessageContext], Any]) -> None:
        self.get = get


_COUNT_OPS = {"~~": "re", "~%": "rlike", "%~": "llike", "==": "eq", "eq": "int", "**": "all"}


def count_matching(table: HashTable, expr: str, by_value: bool) -> int:
    """ht_count_cells_re ($shtcn/$shtcv): `~~re`, `~%` ends with, `%~` starts with, `==` equals,
    `eq` integer equals (values only), `**` all; no operator: the whole text is a regular
    expression. Expired items that are still there count too."""
    if not expr:
        return 0
    op = _COUNT_OPS.get(expr[:2]) if len(expr) >= 2 else None
    cells = table.cells()
    if op == "all":
        return len(cells)
    if op is None:
        op, text = "re", expr
    elif len(expr) <= 2:
        return 0
    else:
        text = expr[2:]
    if op == "int":
        number = _sint_prefix(text)
        return sum(1 for c in cells if isinstance(c.value, int) and c.value == number) if by_value else 0
    pattern = _regex(text) if op == "re" else None
    if op == "re" and pattern is None:
        return 0
    n = 0
    for c in cells:
        target = _target(c, by_value)
        if target is None:
            continue
        if (pattern is not None and pattern.search(target)) or (op == "rlike" and target.endswith(text)) \
                or (op == "llike" and target.startswith(text)) or (op == "eq" and target == text):
            n += 1
    return n


def _sint_prefix(text: str) -> int:
    body = text[1:] if text[:1] in "+-" else text
    return int(text) if body.isdigit() else 0


class HTable(HtableFunctions, HtableRpc, Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.tables: dict[str, HashTable] = {}
        for spec in table_specs(params["htable"]):
            self.tables[spec.name] = HashTable(spec, core.shared, core.clock)
        self.db_url: str = params["db_url"] or ""
        self.columns = htdb.Columns(
            name=params["key_name_column"], key_type=params["key_type_column"],
            value_type=params["value_type_column"], value=params["key_value_column"],
            expires=params["expires_column"], array_suffix=params["array_size_suffix"] or "::size",
            db_expires=bool(params["db_expires"]))
        interval = int(params["timer_interval"])
        self.timer_interval = interval if interval > 0 else DEFAULT_TIMER_INTERVAL
        self.timer_procs = max(0, int(params["timer_procs"]))
        self.next_expiry = core.clock.monotonic() + self.timer_interval
        self.iterators = Iterators()
        self.expired_cell: Cell | None = None
        self.event_callback: str = params["event_callback"] or ""
        self.meta = core.shared.table("htable", 64)
        if int(params["enable_dmq"]):
            dmq = core.api("dmq")
            if dmq is None:
                raise ValueError("failed to initialize dmq integration: dmq is not loaded")
            self.ht_dmq = HtDmq(dmq, self.tables, core.clock, bool(int(params["dmq_init_sync"])))
        self._once("loaded", self._load_all)

    # ------------------------------------------------------------ start-up, once for all workers

    def _once(self, what: str, work: Callable[[], None]) -> None:
        """Run `work` in the first worker that gets here; the others wait until it is done."""
        key = what.encode()
        with self.meta.transaction():
            if self.meta.get(key) is not None:
                return
            work()
            self.meta.put(key, b"1")

    def _load_all(self) -> None:
        """mod_init: load the tables that name a database table."""
        if not self.db_url:
            return
        wanted = [t for t in self.tables.values() if t.spec.dbtable]
        if not wanted:
            return
        try:
            database = db_connect(self.db_url)
        except DBError as exc:
            raise ValueError(f"htable: cannot connect to the database: {exc}") from None
        try:
            for table in wanted:
                try:
                    items = htdb.load(database, table, self.columns)
                except (DBError, htdb.LoadFailed) as exc:
                    raise ValueError(f"htable: cannot load table [{table.spec.dbtable}] into "
                                     f"[{table.name}]: {exc}") from None
                htdb.apply(table, items)
                self.meta.put(b"dbload:" + table.name.encode(), b"1")
        finally:
            database.close()

    def child_init(self, rank: int) -> None:
        if int(self.params["event_callback_mode"]) in (0, 1):
            self._once("mod-init", self._run_mod_init)
        else:  # neither: Kamailio's child_init runs it in every process
            self._run_mod_init()

    def _run_mod_init(self) -> None:
        if self._no_cfg_engine():
            return
        if self.core.run_event_route(MOD_INIT) is False:
            raise ValueError("exit due to 'drop' in event route")

    def _no_cfg_engine(self) -> bool:
        """With `event_callback` (a KEMI function) the event routes give way to it; a kamailio.cfg
        script has no KEMI engine to run it, so nothing runs (Kamailio's words, at L_DBG)."""
        if self.event_callback:
            log.debug("event callback (%s) set, but no cfg engine", self.event_callback)
        return bool(self.event_callback)

    def destroy(self) -> None:
        """Write back the tables with dbmode set (Kamailio's destroy: ht_db_sync_tables)."""
        if self.core.rank != 1 or not self.db_url:
            return
        for table in self.tables.values():
            spec = table.spec
            if spec.dbtable and spec.dbmode and not spec.cols and self._dbloaded(table):
                self.store_table(table)

    def _dbloaded(self, table: HashTable) -> bool:
        return self.meta.get(b"dbload:" + table.name.encode()) is not None

    # ------------------------------------------------------------ the database (RPC too)

    def db_ready(self) -> None:
        if not self.db_url:
            raise RpcFault(500, "No htable db_url")

    def _with_db(self, table: HashTable, work: Callable[[Database], None], failed: str) -> bool:
        """Run `work` on a connection of its own (Kamailio opens one per reload and store); False,
        logged, when the database fails it."""
        try:
            database = db_connect(self.db_url)
        except DBError as exc:
            log.error("htable: cannot connect to the database: %s", exc)
            return False
        try:
            work(database)
        except (DBError, htdb.LoadFailed) as exc:
            log.error(failed, table.name, exc)
            return False
        finally:
            database.close()
        return True

    def reload_table(self, table: HashTable) -> bool:
        loaded: list[tuple[str, Any, int]] = []
        if not self._with_db(table, lambda db: loaded.extend(htdb.load(db, table, self.columns)),
                             "htable: reload of [%s] failed: %s"):
            return False
        table.replace_all(self._with_expiry(table, loaded))
        self.meta.put(b"dbload:" + table.name.encode(), b"1")
        return True

    @staticmethod
    def _with_expiry(table: HashTable, items: list[tuple[str, Any, int]]) -> list[tuple[str, Any, int]]:
        """The expire each loaded item gets when set into the table (as htdb.apply sets them)."""
        now = table.now() if table.expire > 0 else 0
        return [(n, v, e if e and table.expire > 0 else now + table.expire) for n, v, e in items]

    def store_table(self, table: HashTable) -> bool:
        def store(database: Database) -> None:
            with table.locks.hold_all():
                htdb.store(database, table, self.columns)
        return self._with_db(table, store, "failed syncing hash table [%s] to db: %s")

    # ------------------------------------------------------------ names

    def table(self, name: str) -> HashTable | None:
        return self.tables.get(name)

    def key_ref(self, text: str) -> KeyRef:
        """`table=>key format` (pv_parse_ht_name)."""
        name, key = split_name(text, "htable name")
        try:
            return KeyRef(self.tables.get(name), name, self.core.formatter(key))
        except LookupError as exc:
            raise ValueError(f"wrong format[{text}]: {exc}") from None

    def fix_key_ref(self, value: str) -> KeyRef:
        return self.key_ref(value)

    # ------------------------------------------------------------ pseudo-variables

    def pv_sht(self, spec: PVar) -> Accessor:
        ref = self.key_ref(spec.arg or "")

        def get(ctx: MessageContext) -> Any:
            if ref.table is None:
                return None
            return ref.table.value(ref.key(ctx))

        def set_(ctx: MessageContext, value: Any) -> None:
            if ref.table is None:
                log.error("cannot set $sht(%s): no such hash table", spec.arg)
                return
            key = ref.key(ctx)
            if value is None:
                self.replicate(ref.table, HT_DMQ_DEL_CELL, key)
                ref.table.delete(key)
                return
            value = value if isinstance(value, (int, str)) else str(value)
            self.replicate(ref.table, HT_DMQ_SET_CELL, key, value, 1)
            if not ref.table.set(key, value):
                log.error("cannot set $sht(%s)", key)
        return Accessor(get, set_)

    def pv_shtex(self, spec: PVar) -> Accessor:
        ref = self.key_ref(spec.arg or "")

        def get(ctx: MessageContext) -> Any:
            return None if ref.table is None else ref.table.expire_in(ref.key(ctx))

        def set_(ctx: MessageContext, value: Any) -> None:
            if ref.table is None:
                log.error("cannot set $shtex(%s): no such hash table", spec.arg)
                return
            seconds = value if isinstance(value, int) else 0
            self.replicate(ref.table, HT_DMQ_SET_CELL_EXPIRE, ref.key(ctx), seconds)
            ref.table.set_expire(ref.key(ctx), seconds)
        return Accessor(get, set_)

    def _counter(self, spec: PVar, by_value: bool) -> Reader:
        ref = self.key_ref(spec.arg or "")

        def get(ctx: MessageContext) -> Any:
            return None if ref.table is None else count_matching(ref.table, ref.key(ctx), by_value)
        return Reader(get)

    def pv_shtcn(self, spec: PVar) -> Reader:
        return self._counter(spec, by_value=False)

    def pv_shtcv(self, spec: PVar) -> Reader:
        return self._counter(spec, by_value=True)

    def _adder(self, spec: PVar, delta: int) -> Reader:
        ref = self.key_ref(spec.arg or "")

        def get(ctx: MessageContext) -> Any:
            if ref.table is None:
                return None
            key = ref.key(ctx)
            value = ref.table.add(key, delta)
            if value is not None:
                self.replicate(ref.table, HT_DMQ_SET_CELL, key, value, 1)
            return value
        return Reader(get)

    def pv_shtinc(self, spec: PVar) -> Reader:
        return self._adder(spec, 1)

    def pv_shtdec(self, spec: PVar) -> Reader:
        return self._adder(spec, -1)

    def pv_shtrecord(self, spec: PVar) -> Reader:
        what = spec.arg or ""
        if what not in ("key", "value"):
            raise ValueError(f"unknown pv name {what}")

        def get(ctx: MessageContext) -> Any:
            cell = self.expired_cell
            if cell is None:
                return None
            return cell.name if what == "key" else cell.value
        return Reader(get)

    def _iterator_pv(self, spec: PVar, part: str) -> Reader:
        name = spec.arg or ""
        if not name:
            raise ValueError("an iterator name is required")

        def get(ctx: MessageContext) -> Any:
            cell = self.iterators.current(name)
            if cell is None:
                return None
            return cell.name if part == "key" else cell.value
        return Reader(get)

    def pv_shtitkey(self, spec: PVar) -> Reader:
        return self._iterator_pv(spec, "key")

    def pv_shtitval(self, spec: PVar) -> Reader:
        return self._iterator_pv(spec, "value")

    # ------------------------------------------------------------ expiry

    def expiry_tick(self) -> None:
        """Every second: when timer_interval has passed, the expiry run (ht_timer) of the slots
        this worker looks after: all of them in rank 1 (timer_procs 0), else the share of the
        timer_procs runs that fall to it."""
        now = self.core.clock.monotonic()
        if now < self.next_expiry:
            return
        self.next_expiry = now + self.timer_interval
        shares = self._my_shares()
        if shares is not None:
            self.expire_due(shares)

    def _my_shares(self) -> list[int] | None:
        """Which of the timer_procs slot shares this worker runs (None: none; [] all slots)."""
        rank, workers = self.core.rank, max(1, self.core.workers)
        if self.timer_procs <= 0:
            return [] if rank == 1 else None
        mine = [p for p in range(self.timer_procs) if p % workers + 1 == rank]
        return mine or None

    def expire_due(self, shares: list[int] | None = None) -> None:
        """Delete the expired cells (of the slots in `shares` of timer_procs; [] or None: all),
        running event_route[htable:expired:<table>] for each first."""
        now = int(self.core.clock.time())
        for table in self.tables.values():
            if table.expire <= 0:
                continue
            route = EXPIRED + table.name
            has_route = not self.event_callback and self.core.has_route("event", route)
            for cell in table.due(now):
                slot = table.slot(cell.cellid)
                if shares and slot % self.timer_procs not in shares:
                    continue
                with table.locks.hold(slot):
                    current = table.read(cell.name)
                    if current is None or not (current.expire != 0 and current.expire < now):
                        continue
                    self._no_cfg_engine()
                    if has_route:
                        self.expired_cell = current
                        try:
                            self.core.run_event_route(route)
                        finally:
                            self.expired_cell = None
                    with table.locked(cell.name, cell.cellid):
                        again = table.read(cell.name)
                        if again is not None and again.expire != 0 and again.expire < now:
                            table.table.delete(cell.name.encode("utf-8", "surrogateescape"))
