"""SQLite through the standard library: one connection per process, serialised by a lock (asyncio
callers reach it from executor threads), WAL journal so readers never wait for the writer, and a
busy timeout so concurrent worker processes wait their turn instead of failing at once.

Datetimes are stored as Kamailio's db_sqlite stores them (a Julian day number, REAL) so both
servers read each other's rows; columns declared TIMESTAMP come back as `datetime`.

Strings are bytes, as in Kamailio: a value that is not valid UTF-8 (a str holding the surrogates
of `surrogateescape`) is stored as TEXT holding those bytes (Kamailio's sqlite3_bind_text does no
check), and such TEXT is read back with the same surrogates."""
from __future__ import annotations

import datetime as dt
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from kampy.api import SQLITE, DBError, DBURL, DBReason, DBResult, as_bytes

log = logging.getLogger("kampy.db.sqlite")
T = TypeVar("T")

BUSY_TIMEOUT = 5.0
JULIAN_UNIX_EPOCH = 2440587.5
JOURNAL_MODES = frozenset({"DELETE", "TRUNCATE", "PERSIST", "MEMORY", "WAL", "OFF"})


def to_julian(value: dt.datetime) -> float:
    return value.timestamp() / 86400.0 + JULIAN_UNIX_EPOCH


def convert_timestamp(raw: bytes) -> Any:
    text = raw.decode("utf-8", "replace")
    try:
        return dt.datetime.fromtimestamp(round((float(text) - JULIAN_UNIX_EPOCH) * 86400))
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return text


sqlite3.register_converter("TIMESTAMP", convert_timestamp)


def _adapt(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return to_julian(value)
    if isinstance(value, bool):
        return int(value)
    return value


# a string literal, a quoted identifier, or a parameter marker
_SQL_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]|\?")


def _is_utf8(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(raw: bytes) -> str:
    """The connection's text factory: TEXT holding bytes that are not UTF-8 (Kamailio writes them)
    keeps them as surrogates instead of failing the whole query."""
    return raw.decode("utf-8", "surrogateescape")


def column_types(rows: Sequence[Sequence[Any]], count: int) -> list[str]:
    """The type of each column as Kamailio's db_sqlite reports it, from the first row's values
    (what it does for a column without a declared type: type_to_dbtype(); Python's sqlite3 does
    not tell the declared type): INTEGER an INT, REAL a DOUBLE, BLOB a BLOB, text and NULL STR; a
    value read as a time (a DATETIME column) a DATETIME."""
    first = rows[0] if rows else (None,) * count
    kinds = []
    for value in first:
        if isinstance(value, bool | int):
            kinds.append("INT")
        elif isinstance(value, float):
            kinds.append("DOUBLE")
        elif isinstance(value, bytes | bytearray | memoryview):
            kinds.append("BLOB")
        elif isinstance(value, dt.datetime):
            kinds.append("DATETIME")
        else:
            kinds.append("STR")
    return kinds


def bind_raw_text(statement: str, values: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """Python binds a str only as UTF-8: a value that is not UTF-8 is bound as its bytes, and its
    marker becomes `CAST(? AS TEXT)` so SQLite stores (and compares) those bytes as TEXT."""
    raw = {i for i, v in enumerate(values) if isinstance(v, str) and not _is_utf8(v)}
    if not raw:
        return statement, values
    markers = iter(range(len(values)))

    def marker(m: re.Match[str]) -> str:
        if m.group() != "?":
            return m.group()
        return "CAST(? AS TEXT)" if next(markers, -1) in raw else "?"

    converted = tuple(as_bytes(v) if i in raw else v for i, v in enumerate(values))
    return _SQL_TOKEN.sub(marker, statement), converted


def to_dberror(exc: sqlite3.Error, path: str, waited: float | None = None,
               busy_timeout: float = BUSY_TIMEOUT) -> DBError:
    """`waited`: how long the failed call took; a "locked" error well within `busy_timeout` is
    one SQLite returned without waiting (its busy handler is not called in every case)."""
    text = str(exc)
    if "no such table" in text:
        return DBError(f"{text} in {path}; create the tables with: kampy db create --db-url sqlite://{path}",
                       DBReason.MISSING_TABLE)
    if "locked" in text or "busy" in text:
        took = "" if waited is None else f" (gave up after {waited:.2f}s)"
        return DBError(f"SQLite database {path} stayed busy (busy timeout {busy_timeout:g}s){took}: {text}",
                       DBReason.LOCKED)
    if "unable to open" in text or "disk I/O" in text or "readonly" in text:
        return DBError(f"cannot use SQLite database {path}: {text}", DBReason.CONNECTION)
    if isinstance(exc, sqlite3.IntegrityError):
        return DBError(f"{text} ({path})", DBReason.INTEGRITY)
    return DBError(f"SQLite error: {text} ({path})", DBReason.OTHER)


def _per_database(values: Any, path: str) -> list[str]:
    """Kamailio's db_set_* parameters name a database file, optionally `=VALUE`."""
    items = [values] if isinstance(values, str) else list(values or ())
    found = []
    for item in items:
        name, _, value = str(item).partition("=")
        if name in (path, Path(path).name):
            found.append(value)
    return found


class SQLiteBackend:
    dialect = SQLITE

    def __init__(self, path: str, options: Mapping[str, Any]) -> None:
        self.path = path
        self.created = not Path(path).exists() or Path(path).stat().st_size == 0
        self._lock = threading.Lock()
        readonly = bool(_per_database(options.get("db_set_readonly"), path))
        busy = self._busy = float(options.get("busy_timeout") or BUSY_TIMEOUT)
        target = f"file:{Path(path).absolute()}?mode=ro" if readonly else path
        started = time.monotonic()
        try:
            self._con = sqlite3.connect(target, timeout=busy, isolation_level=None, uri=readonly,
                                        check_same_thread=False, detect_types=sqlite3.PARSE_DECLTYPES)
            self._con.text_factory = _text
            self._opening(lambda: self._set_journal(options, readonly), started + busy)
            if not self.created and not readonly:
                # made by a process that has not committed its tables yet (or an empty file)
                self.created = self._opening(
                    lambda: self._con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0,
                    started + busy)
        except sqlite3.Error as exc:
            raise to_dberror(exc, path, time.monotonic() - started, busy) from exc

    @staticmethod
    def _opening(step: Callable[[], T], deadline: float) -> T:
        """Run one statement of opening the database, waiting until `deadline` while it is busy.
        The busy timeout does not cover these: SQLite returns SQLITE_BUSY at once, without calling
        its busy handler, while another process holds the database exclusively to switch it to WAL,
        to run WAL recovery, or to checkpoint and remove the WAL as its last connection closes
        (https://www.sqlite.org/wal.html#sometimes_queries_return_sqlite_busy_in_wal_mode): workers
        opening a new database file together met that and failed to start."""
        pause = 0.002
        while True:
            try:
                return step()
            except sqlite3.OperationalError as exc:
                text = str(exc)
                if ("locked" not in text and "busy" not in text) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _set_journal(self, options: Mapping[str, Any], readonly: bool) -> None:
        modes = [m.upper() for m in _per_database(options.get("db_set_journal_mode"), self.path)]
        mode = next((m for m in modes if m in JOURNAL_MODES), "WAL")
        if not readonly:
            self._con.execute(f"PRAGMA journal_mode={mode}")  # mode is one of JOURNAL_MODES

    def execute(self, statement: str, params: Sequence[Any], *, idempotent: bool) -> DBResult:
        statement, values = bind_raw_text(statement, tuple(_adapt(v) for v in params))
        with self._lock:
            started = time.monotonic()
            try:
                cur = self._con.execute(statement, values)
                rows = cur.fetchall() if cur.description else []
                described = cur.description or ()
                return DBResult(rows, cur.rowcount, cur.lastrowid, [d[0] for d in described],
                                column_types(rows, len(described)))
            except sqlite3.Error as exc:
                raise to_dberror(exc, self.path, time.monotonic() - started, self._busy) from exc

    def close(self) -> None:
        with self._lock:
            self._con.close()


class SQLiteDriver:
    def open(self, url: DBURL, options: Mapping[str, Any]) -> SQLiteBackend:
        return SQLiteBackend(url.database, options)
