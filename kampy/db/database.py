"""Connections by URL, drivers by scheme, and the Kamailio-style operations by table and column."""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from kampy.db import sql
from kampy.db.errors import DBError, Reason
from kampy.db.url import DBURL, parse_url
from kampy.memo import BoundedCache

log = logging.getLogger("kampy.db")

T = TypeVar("T")
MAX_CACHED_STATEMENTS = 256


@dataclass
class Result:
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    rowcount: int = 0
    lastrowid: int | None = None
    columns: list[str] = field(default_factory=list)  # the names of the result's columns (a query)
    # the type of each column as Kamailio's driver reports it (srdb1's DB1_INT, DB1_BIGINT,
    # DB1_DOUBLE, DB1_STRING, DB1_STR, DB1_DATETIME, DB1_BLOB, DB1_BITMAP, without "DB1_"): what
    # sqlops makes of a value depends on it (a BIGINT becomes a string in $dbr, a DOUBLE $null)
    types: list[str] = field(default_factory=list)


class Backend(Protocol):
    """One process's handle on a database, opened by a driver. `execute` raises DBError only.
    `idempotent` tells the backend whether it may run the statement again after a lost connection."""

    dialect: sql.Dialect
    # the storage is new: a SQLite file that did not exist or has no table yet (another process
    # may be creating its tables at this moment: create_tables is safe against that)
    created: bool

    def execute(self, statement: str, params: Sequence[Any], *, idempotent: bool) -> Result: ...

    def close(self) -> None: ...


class Driver(Protocol):
    def open(self, url: DBURL, options: Mapping[str, Any]) -> Backend: ...


_drivers: dict[str, Driver] = {}
_drivers_lock = threading.Lock()


def register_driver(scheme: str, driver: Driver) -> None:
    """Called by a driver module (db_mysql, db_sqlite, a third-party db_x) when it is imported."""
    with _drivers_lock:
        _drivers[scheme.lower()] = driver


def driver_for(scheme: str) -> Driver:
    """The driver for a URL scheme: one already registered, else module `db_<scheme>` is found
    through the module loader (its import registers the scheme), as Kamailio binds `db_<scheme>`."""
    driver = _drivers.get(scheme)
    if driver is not None:
        return driver
    from kampy import loader

    try:
        loader.find_module(f"db_{scheme}")
    except (loader.ModuleNotFound, ImportError) as exc:
        raise DBError(f"no database driver for '{scheme}://' URLs: {exc}", Reason.DRIVER) from exc
    driver = _drivers.get(scheme)
    if driver is None:
        raise DBError(f"module db_{scheme} was loaded but registered no '{scheme}' driver", Reason.DRIVER)
    return driver


class Database:
    """A database reached through one URL, for one process. Methods are synchronous and bounded in
    time by the driver's timeouts; asyncio code calls them through `await db.run(fn, ...)`.

    After a fork the child opens its own connections on first use: sockets and SQLite handles are
    never shared between processes."""

    def __init__(self, url: DBURL, driver: Driver, options: Mapping[str, Any]) -> None:
        self.url = url
        self._driver = driver
        self._options = dict(options)
        self._pid = os.getpid()
        self._backend: Backend | None = driver.open(url, self._options)
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._inherited: list[Backend] = []
        # INSERT statements by (table, *columns): callers insert the same shapes over and over
        self._inserts: BoundedCache[tuple[str, ...], str] = BoundedCache(MAX_CACHED_STATEMENTS)

    @property
    def backend(self) -> Backend:
        if self._pid != os.getpid():
            self._after_fork()
        if self._backend is None:
            raise DBError(f"database {self.url.redacted()} is closed", Reason.USAGE)
        return self._backend

    @property
    def dialect(self) -> sql.Dialect:
        return self.backend.dialect

    def _after_fork(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._executor = None
            if self._backend is not None:
                # Kept, never closed or collected here: closing would end the parent's sessions
                # (COM_QUIT on a shared socket, SQLite locks released).
                self._inherited.append(self._backend)
                self._backend = self._driver.open(self.url, self._options)

    def _run(self, statement: str, params: Sequence[Any], idempotent: bool) -> Result:
        return self.backend.execute(statement, params, idempotent=idempotent)

    def query(self, table: str, columns: Sequence[str] | None = None, where: sql.Where = None,
              order_by: sql.OrderBy = None, limit: int | None = None) -> list[tuple[Any, ...]]:
        """Rows of `columns` (all when None) where every condition holds. `where` is a dict of
        column = value, or a list of (column, operator, value); a None value means IS NULL."""
        statement, params = sql.select(self.dialect, table, columns, where, order_by, limit)
        return self._run(statement, params, idempotent=True).rows

    def insert(self, table: str, row: Mapping[str, Any]) -> int:
        """Insert one row; returns its id (the auto-increment value)."""
        key = (table, *row)
        statement = self._inserts.get(key)
        if statement is None:  # built and checked once per table and set of columns
            statement, _ = sql.insert(self.dialect, table, row)
            self._inserts.put(key, statement)
        return self._run(statement, tuple(row.values()), idempotent=False).lastrowid or 0

    def update(self, table: str, where: sql.Where, values: Mapping[str, Any]) -> int:
        """Set `values` on the rows matching `where`; returns the number of rows affected."""
        statement, params = sql.update(self.dialect, table, where, values)
        return self._run(statement, params, idempotent=True).rowcount

    def delete(self, table: str, where: sql.Where) -> int:
        """Delete the rows matching `where` (every row when it is empty); returns how many."""
        statement, params = sql.delete(self.dialect, table, where)
        return self._run(statement, params, idempotent=True).rowcount

    def raw_query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run SQL as written, with the driver's own parameter marker (`db.dialect.placeholder`:
        `%s` for MySQL, `?` for SQLite). Never retried after a lost connection."""
        return self._run(statement, params, idempotent=False).rows

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Result:
        """Like raw_query, with the affected row count and last id too (DDL, bulk changes)."""
        return self._run(statement, params, idempotent=False)

    def table_exists(self, table: str) -> bool:
        try:
            self._run(f"SELECT 1 FROM {self.dialect.ident(table)} LIMIT 0", (), idempotent=True)
        except DBError as exc:
            if exc.reason is Reason.MISSING_TABLE:
                return False
            raise
        return True

    def table_version(self, table: str) -> int | None:
        """The `version` table's row for `table`, or None when there is none."""
        rows = self.query("version", ["table_version"], {"table_name": table}, limit=1)
        return int(rows[0][0]) if rows else None

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking call (usually one of this object's methods) in a thread, so an asyncio
        loop keeps serving while the database answers."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread_pool(), functools.partial(fn, *args, **kwargs))

    def _thread_pool(self) -> ThreadPoolExecutor:
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            if self._executor is None:
                workers = int(self._options.get("threads", 4))
                self._executor = ThreadPoolExecutor(workers, thread_name_prefix="kampy-db")
            return self._executor

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
            backend, self._backend = self._backend, None
        if executor is not None:
            executor.shutdown(wait=True)
        if backend is not None and self._pid == os.getpid():
            backend.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({self.url.redacted()!r})"


def connect(url: str, *, create_missing: bool = False, options: Mapping[str, Any] | None = None) -> Database:
    """Open `url`. `options` are the driver module's parameters (modparam values; its declared
    defaults otherwise). With `create_missing`, a database the driver had to create (a new SQLite
    file) gets Kamailio's standard tables; a server database is never changed here."""
    parsed = parse_url(url)
    db = Database(parsed, driver_for(parsed.scheme), options or {})
    if create_missing and db.backend.created:
        from kampy.db.schema import create_tables

        try:
            created = create_tables(db)  # another process may be doing the same: see create_tables
        except BaseException:
            db.close()
            raise
        if created:
            log.warning("database %s did not exist: created it with the standard tables (%s)",
                        parsed.redacted(), ", ".join(created))
    return db
