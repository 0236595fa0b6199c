"""The sqlops module. Connections are per process (each worker opens its own, as Kamailio's
child_init does); so are the results ($dbr), which live in the process that made the query."""
from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from kampy.api import (L_CRIT, L_DBG, L_ERR, L_INFO, L_NOTICE, L_WARN, CoreAPI, Database, DBError, DBResult,
                       MessageContext, Module, PVAccessor, PVSyntaxError, db_connect, log_at,
                       module_logger, parse_pv_at)

from .dbr import parse_dbr
from .results import ConversionError, Result, convert

log = module_logger("sqlops")

SPACE = " \t\n\r"


def parse_sqlcon(text: str) -> tuple[str, str]:
    """`name=>url` as Kamailio's sql_parse_param() reads it."""
    m = re.fullmatch(r"[ \t\n\r]*([^= \t\n\r]+)[ \t\n\r]*=>[ \t\n\r]*(.*)", text, re.DOTALL)
    if m is None or not m.group(2):
        raise ValueError(f"invalid sqlops parameter [{text}]")
    return m.group(1), m.group(2)


def check_sqlcon(value: Any) -> None:
    for text in value if isinstance(value, list | tuple) else [value]:
        parse_sqlcon(str(text))


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def escape_common(text: str) -> str:
    """Kamailio's escape_common(): a backslash before ', " and \\, NUL as \\0."""
    return text.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"').replace("\0", "\\0")


def _converted(found: DBResult, bigint: str) -> list[list[Any]]:
    """The rows of a statement's result as sqlops keeps them (see results.convert)."""
    return [[convert(v, t, bigint) for v, t in zip(row, found.types, strict=False)] for row in found.rows]


class Connection:
    """A named connection of this process; None until connected (connect_mode 1 retries on use)."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url
        self.db: Database | None = None
        self.affected = 0

    def connect(self) -> bool:
        try:
            self.db = db_connect(self.url)
        except DBError as exc:
            log_at(log, L_ERR, "failed to connect to the database [%s]: %s", self.name, exc)
            return False
        return True


class Reader:
    def __init__(self, get: Callable[[MessageContext], Any]) -> None:
        self.get = get


class SqlopsModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.connect_mode: int = params["connect_mode"]
        self.tr_buf_size: int = params["tr_buf_size"]
        if self.tr_buf_size <= 0:
            raise ValueError(f"invalid buffer size: {self.tr_buf_size}")
        self.results_maxsize: int = params["results_maxsize"]
        try:
            self.async_workers = int(core.core_params.get("async_workers") or 0)
        except (TypeError, ValueError):
            self.async_workers = 0
        self.connections: dict[str, Connection] = {}
        for text in _values(params["sqlcon"]):
            name, url = parse_sqlcon(text)
            if name in self.connections:
                raise ValueError(f"duplicate connection name [{name}]")
            self.connections[name] = Connection(name, url)
        self.results: dict[str, Result] = {}
        for name in _values(params["sqlres"]):
            self._result(name)
        for con in self.connections.values():
            if con.connect():
                continue
            if self.connect_mode != 1:
                self.destroy()
                raise ValueError(f"failed to connect to the database [{con.name}]")
            log_at(log, L_INFO, "failed to connect to the database [%s] - trying next", con.name)

    def destroy(self) -> None:
        for con in self.connections.values():
            if con.db is not None:
                con.db.close()
                con.db = None

    def _result(self, name: str) -> Result:
        result = self.results.get(name)
        if result is None:
            if len(self.results) > self.results_maxsize:
                raise ValueError("too many result containers defined")
            result = self.results[name] = Result(name)
        return result

    # ------------------------------------------------------------ fix-ups

    def fix_connection(self, name: str) -> Connection:
        con = self.connections.get(name)
        if con is None:
            raise ValueError(f"invalid connection [{name}]")
        return con

    def fix_result(self, name: str) -> Result:
        try:
            return self._result(name)
        except ValueError:
            raise ValueError(f"invalid result container [{name}]") from None

    def fix_pvlist(self, text: str) -> list[tuple[PVAccessor, bool]]:
        """parse_pvname_list(): specs separated by spaces, commas or semicolons; each must be
        writable. Each comes with whether it is an AVP (a NULL leaves it alone)."""
        found: list[tuple[PVAccessor, bool]] = []
        i = 0
        while i < len(text):
            if text[i] in " \t,;\n":
                i += 1
                continue
            try:
                spec, end = parse_pv_at(text, i)
            except PVSyntaxError:
                raise ValueError(f"invalid result parameter [{text}]") from None
            accessor = self.core.pv_accessor(spec)
            if not hasattr(accessor, "set"):
                raise ValueError(f"result variable [{len(found) + 1}] is read-only")
            found.append((accessor, spec.cls == "avp"))
            i = end
        if not found:
            raise ValueError(f"invalid result parameter [{text}]")
        return found

    # ------------------------------------------------------------ running a statement

    def _check(self, con: Connection) -> bool:
        if con.db is not None:
            return True
        if self.connect_mode != 1:
            log_at(log, L_CRIT, "no database handle with reconnect disabled")
            return False
        log_at(log, L_DBG, "try to establish SQL connection")
        return con.connect()

    def _run(self, con: Connection, query: str) -> DBResult | None:
        assert con.db is not None
        try:
            result = con.db.execute(query)
        except DBError as exc:
            log_at(log, L_ERR, "cannot do the query [%s]: %s", query[:64], exc)
            return None
        if result.rowcount >= 0:  # a statement that counts rows (SQLite's SELECT does not)
            con.affected = result.rowcount
        return result

    def sql_query(self, ctx: MessageContext, con: Connection, query: str, res: Result | None = None) -> int:
        if not self._check(con):
            log_at(log, L_ERR, "invalid connection to database")
            return -2
        if res is not None:
            res.reset()
        found = self._run(con, query)
        if found is None:
            return -1
        if not found.rows or not found.columns:
            log_at(log, L_DBG, "no result after query")
            return 2
        if res is None:
            log_at(log, L_DBG, "no sqlresult parameter, ignoring result from query")
            return 3
        try:
            rows = _converted(found, "str")
        except ConversionError as exc:
            log_at(log, L_ERR, "cannot do the query [%s]: %s", query[:64], exc)
            return -1
        res.columns, res.rows = list(found.columns), rows
        return 1

    def sql_query_async(self, ctx: MessageContext, con: Connection, query: str) -> int:
        if not self._check(con):
            log_at(log, L_ERR, "invalid connection to database")
            return -2
        assert con.db is not None
        if con.db.dialect.name != "mysql":
            log_at(log, L_ERR, "the db driver module doesn't support async query")
            return -1
        if not self.async_workers:  # Kamailio's db_mysql gives it to the async workers
            log_at(log, L_WARN, "async task pushed, but no async workers - ignoring")
            return 1
        db = con.db
        threading.Thread(target=self._run_async, args=(db, query), daemon=True,
                         name="sqlops-async").start()
        return 1

    @staticmethod
    def _run_async(db: Database, query: str) -> None:
        try:
            db.execute(query)
        except DBError as exc:
            log_at(log, L_ERR, "cannot do the async query [%s]: %s", query[:64], exc)

    def sql_xquery(self, ctx: MessageContext, con: Connection, query: str, xavp: str) -> int:
        if not self._check(con):
            log_at(log, L_ERR, "invalid connection to database")
            return -2
        found = self._run(con, query)
        if found is None:
            return -1
        if not found.rows or not found.columns:
            log_at(log, L_DBG, "no result after query")
            return 2
        try:
            rows = _converted(found, "int")
        except ConversionError as exc:
            log_at(log, L_ERR, "cannot do the query: %s", exc)
            return -1
        items = ctx.xavps.setdefault(xavp, [])
        for row in reversed(rows):  # each row goes first: the first row ends up at index 0
            fields: dict[str, list[Any]] = {}
            for column, value in zip(found.columns, row, strict=False):
                fields.setdefault(column, []).append(value)
            items.insert(0, fields)
        return 1

    def sql_pvquery(self, ctx: MessageContext, con: Connection, query: str,
                    targets: list[tuple[PVAccessor, bool]]) -> int:
        if not self._check(con):
            log_at(log, L_ERR, "invalid connection to database")
            return -2
        found = self._run(con, query)
        if found is None:
            return -1
        if not found.rows or not found.columns:
            log_at(log, L_DBG, "no result after query")
            return 2
        for i in range(len(found.rows) - 1, -1, -1):
            row = found.rows[i]
            for j, (value, kind) in enumerate(zip(row, found.types, strict=False)):
                if j >= len(targets):
                    log_at(log, L_ERR, "Missing pv spec for column %d", j + 1)
                    return -1
                try:
                    converted = convert(value, kind, "pv")
                except ConversionError as exc:
                    log_at(log, L_ERR, "Failed to convert value for column %s (row %d): %s",
                           found.columns[j], i, exc)
                    return -1
                if converted is None and value is not None:
                    log_at(log, L_NOTICE, "unknown field type: %s, setting value to null", kind)
                accessor, is_avp = targets[j]
                if converted is None and is_avp:
                    continue  # a NULL leaves an AVP alone
                accessor.set(ctx, converted)  # type: ignore[attr-defined]
        return 1

    def sql_result_free(self, ctx: MessageContext, res: Result) -> int:
        res.reset()
        return 1

    # ------------------------------------------------------------ pseudo-variables

    def pv_sqlrows(self, spec: Any) -> Reader:
        con = self.connections.get((spec.arg or "").strip())
        if con is None:
            raise ValueError(f"invalid connection [{spec.arg}]")
        return Reader(lambda ctx: con.affected)

    def pv_dbr(self, spec: Any) -> Any:
        return parse_dbr(spec.arg or "", self._result, self.core.pv_accessor)

    # ------------------------------------------------------------ transformations

    def tr_sql(self, tr: Any) -> Callable[[MessageContext, Any], Any]:
        null_as = {"val": "NULL", "val.int": "0", "val.str": "''"}.get(tr.name)
        if null_as is None:
            raise ValueError(f"unknown transformation: {tr.name}")
        limit = self.tr_buf_size // 2 - 1

        def run(ctx: MessageContext, value: Any) -> Any:
            if value is None:
                return null_as
            if isinstance(value, int):
                return str(value)
            text = str(value)
            if len(text) > limit:
                log_at(log, L_ERR, "escape buffer to short")
                return None
            return f"'{escape_common(text)}'"
        return run
