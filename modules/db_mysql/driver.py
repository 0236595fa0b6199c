"""PyMySQL behind a DBUtils PooledDB: utf8mb4, autocommit, bounded timeouts, reconnection.

Retry policy. A statement that fails because the connection is gone is run again once on a new
connection when it is idempotent (select, update, delete) or certainly never reached the server
(the client found the socket already closed). An insert that lost its connection mid-way is not
repeated, since the server may have applied it: the call fails and the next one reconnects.
A pooled connection idle for a while, or any connection after a connection error was seen, is
pinged when taken from the pool, so a restarted server costs no failed call in the usual case.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pymysql
from dbutils.pooled_db import PooledDB
from pymysql.constants import CLIENT

from kampy.api import MYSQL, DBError, DBURL, DBReason, DBResult, as_bytes

from .circuit import SSL_PREFERRED, Circuit, tls_arguments

log = logging.getLogger("kampy.db.mysql")

# Client-side codes: can't connect, gone away, lost during query, lost (again), server shutdown.
CONNECTION_CODES = frozenset({2002, 2003, 2006, 2013, 2055, 1053, 1927, 4031})
NOT_SENT_CODES = frozenset({2002, 2003, 2006})
MISSING_CODES = frozenset({1146, 1049})
DATA_CODES = frozenset({1406, 1264, 1366, 1048, 1364})
LOCK_CODES = frozenset({1205, 1213})
IDLE_PING_SECONDS = 1.0
# MySQL's column types as Kamailio's db_mysql reports them (km_res.c, db_mysql_get_columns; any
# other type is a STRING): TINY, SHORT, LONG, INT24, TIMESTAMP; LONGLONG; FLOAT, DOUBLE; DATETIME;
# BLOB (TEXT columns too); SET
KAMAILIO_TYPES = {1: "INT", 2: "INT", 3: "INT", 9: "INT", 7: "INT", 8: "BIGINT", 4: "DOUBLE",
                  5: "DOUBLE", 12: "DATETIME", 252: "BLOB", 248: "BITMAP"}
# unsigned_type: the integer types whose UNSIGNED columns Kamailio reads as DB1_UINT (LONGLONG: DB1_UBIGINT)
# when it is 1, and as signed (a 32-bit value above 2^31-1 wraps to negative) when it is 0
UNSIGNED_INT_TYPES = frozenset({1, 2, 3, 9})
LONGLONG = 8
UNSIGNED_FLAG = 32
DEFAULT_SOCKET = "/run/mysqld/mysqld.sock"
# the INSERT of Database.insert() (Kamailio's db_mysql_insert, which insert_delayed makes INSERT
# DELAYED); a raw query (sqlops) has its values in its text, not as parameters
API_INSERT = re.compile(r"INSERT INTO `[^`]+` \([^)]*\) VALUES \((%s, )*%s\)\Z")
# Strict mode so a value too long for its column is refused, never stored cut short.
SESSION_SQL = ("SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES')",)


def _code(exc: BaseException) -> int:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else 0


def is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, pymysql.err.InterfaceError):
        return True
    return isinstance(exc, pymysql.err.OperationalError) and _code(exc) in CONNECTION_CODES


def worth_retrying(exc: BaseException) -> bool:
    """Whether an idempotent statement is tried again: after a lost connection yes, after a
    timed-out server no (a second wait would double the time a dead server holds the call)."""
    return is_connection_error(exc) and "timed out" not in str(exc)


class Unreachable(pymysql.err.OperationalError):
    """Taking a connection from the pool needed a reconnect, and it failed."""


def to_dberror(exc: BaseException, url: DBURL) -> DBError:
    code, where = _code(exc), url.redacted()
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    if "timed out" in text or isinstance(exc, TimeoutError):
        return DBError(f"MySQL server {where} did not answer in time: {text}", DBReason.TIMEOUT)
    if is_connection_error(exc):
        return DBError(f"connection to MySQL server {where} failed or was lost: {text or 'closed'}",
                       DBReason.CONNECTION)
    if code in MISSING_CODES:
        hint = "" if code == 1049 else "; create the tables with: kampy db create --db-url URL"
        return DBError(f"{text} ({where}){hint}", DBReason.MISSING_TABLE)
    if isinstance(exc, pymysql.err.IntegrityError):
        return DBError(f"{text} ({where})", DBReason.INTEGRITY)
    if code in DATA_CODES or isinstance(exc, pymysql.err.DataError):
        return DBError(f"{text} ({where})", DBReason.DATA)
    if code in LOCK_CODES:
        return DBError(f"{text} ({where})", DBReason.LOCKED)
    if code == 1045:
        return DBError(f"access denied to {where}: {text}", DBReason.CONNECTION)
    return DBError(f"MySQL error {code}: {text} ({where})", DBReason.OTHER)


def raw_strings(params: Sequence[Any]) -> tuple[Any, ...] | None:
    """The statement's parameters, each string that is not UTF-8 (it holds the surrogates of
    `surrogateescape`) as its bytes: the server gets the bytes, as from Kamailio, and stores or
    refuses them (a utf8mb4 column in strict mode refuses, error 1366)."""
    if not params:
        return None
    return tuple(_raw(v) if isinstance(v, str) and not v.isascii() else v for v in params)


def _raw(value: str) -> str | bytes:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return as_bytes(value)
    return value


def local_socket(url: DBURL) -> str | None:
    """The server's Unix socket for `localhost` without a port, as libmysqlclient (Kamailio's
    client library) connects: $MYSQL_UNIX_PORT, else Debian's /run/mysqld/mysqld.sock. When no
    socket file is there, PyMySQL's TCP to 127.0.0.1:3306 is kept."""
    if url.host != "localhost" or url.port:
        return None
    path = os.environ.get("MYSQL_UNIX_PORT") or DEFAULT_SOCKET
    return path if os.path.exists(path) else None


def server_time(statement: str, params: Sequence[Any]) -> tuple[str, Sequence[Any]]:
    """server_timezone: each date-time value is sent as FROM_UNIXTIME(<seconds>), so the server
    turns it into its own time zone's wall time (Kamailio's db_mysql_val2str)."""
    if not any(isinstance(v, dt.datetime) for v in params):
        return statement, params
    parts = statement.split("%s")
    if len(parts) != len(params) + 1:  # a literal "%s" in the text: leave the statement alone
        return statement, params
    out = [parts[0]]
    for value, part in zip(params, parts[1:], strict=True):
        out.append("FROM_UNIXTIME(%s)" if isinstance(value, dt.datetime) else "%s")
        out.append(part)
    values = [int(v.timestamp()) if isinstance(v, dt.datetime) else v for v in params]
    return "".join(out), values


def _option(options: Mapping[str, Any], name: str, default: int) -> int:
    value = options.get(name)
    return default if value is None else int(value)


def timeouts(options: Mapping[str, Any]) -> tuple[int, int, int]:
    """(connect, read, write) seconds. Kamailio's timeout_interval counts three times for reads
    and writes (libmysqlclient retries twice); PyMySQL does not retry, so kampy waits 3x once."""
    interval = max(1, _option(options, "timeout_interval", 2))
    connect = _option(options, "connect_timeout", 0) or interval
    read = _option(options, "receive_timeout", 0) or 3 * interval
    write = _option(options, "send_timeout", 0) or 3 * interval
    return connect, read, write


class Connector:
    """pymysql.connect with the TLS arguments of opt_ssl_mode (one SSL context for all connections);
    in mode 2 (preferred) without TLS when the server offers none. DBUtils' creator."""

    dbapi = pymysql
    threadsafety = pymysql.threadsafety

    def __init__(self, ssl_mode: int) -> None:
        self.tls = tls_arguments(ssl_mode)
        self.preferred = ssl_mode == SSL_PREFERRED

    def __call__(self, **kwargs: Any) -> pymysql.connections.Connection:
        try:
            return pymysql.connect(**kwargs, **self.tls)
        except pymysql.err.OperationalError as exc:
            if self.preferred and _code(exc) == 2026:  # SSL is required but the server has none
                return pymysql.connect(**kwargs, ssl_disabled=True)
            raise


class MySQLBackend:
    dialect = MYSQL
    created = False

    def __init__(self, url: DBURL, options: Mapping[str, Any]) -> None:
        self.url = url
        self._idle_ping = IDLE_PING_SECONDS if _option(options, "ping_interval", 300) > 0 else None
        self._insert_delayed = _option(options, "insert_delayed", 0) == 1
        self._server_timezone = _option(options, "server_timezone", 0) != 0
        self._auto_reconnect = _option(options, "auto_reconnect", 1) != 0
        self._unsigned_type = _option(options, "unsigned_type", 0) != 0
        self._lost = False  # auto_reconnect 0 and the connection was lost: it stays so
        self._suspect_since = 0.0
        self._lock = threading.Lock()
        self._connector = Connector(_option(options, "opt_ssl_mode", 0))
        self._arguments = self._connect_arguments(options)
        self._circuit = Circuit(self._probe, url.redacted())
        self._pool = PooledDB(
            creator=self._connector, mincached=0, maxcached=_option(options, "pool_size", 4), maxshared=0,
            # reset=False: autocommit leaves nothing to roll back, and DBUtils' rollback on a
            # dead connection would reconnect while the failed call is still returning
            # DBUtils gives pooling, the check on checkout and reconnection with the session
            # settings; statements do not go through its failover cursor (see _attempt)
            blocking=False, reset=False, setsession=list(SESSION_SQL), ping=(1, self._ping),
            **self._arguments)
        self._check_reachable()

    def _connect_arguments(self, options: Mapping[str, Any]) -> dict[str, Any]:
        connect_t, read_t, write_t = timeouts(options)
        flags = CLIENT.FOUND_ROWS if _option(options, "update_affected_found", 0) else 0
        return dict(host=self.url.host, port=self.url.port or 3306, unix_socket=local_socket(self.url),
                    user=self.url.user or "",
                    password=self.url.password or "", database=self.url.database, charset="utf8mb4",
                    autocommit=True, connect_timeout=connect_t, read_timeout=read_t, write_timeout=write_t,
                    client_flag=flags)

    def _check_reachable(self) -> None:
        """Fail at start when the server or database is not there, as Kamailio's mod_init does."""
        try:
            self._attempt("SELECT 1", ())
        except pymysql.err.MySQLError as exc:
            self._pool.close()
            raise to_dberror(exc, self.url) from exc

    def _probe(self) -> None:
        """The circuit's check that the server is back: a new connection answers a ping."""
        con = self._connector(**self._arguments)
        try:
            con.ping(reconnect=False)
        finally:
            con.close()

    def _ping(self, con: pymysql.connections.Connection) -> bool:
        """DBUtils' check on taking a connection from the pool: answer from memory while the
        connection is busy and nothing went wrong, else ask the server."""
        now = time.monotonic()
        last = getattr(con, "_kampy_last_used", None)
        con._kampy_last_used = now
        if (last is not None and self._idle_ping is not None and now - last < self._idle_ping
                and last > self._suspect_since):
            return True
        try:
            con.ping(reconnect=False)
        except Exception:
            if not self._auto_reconnect:
                self._lost = True  # and the statement runs on the dead connection, and fails
                return True
            log.info("pooled connection to %s is dead; reconnecting", self.url.redacted())
            return False
        return True

    def execute(self, statement: str, params: Sequence[Any], *, idempotent: bool) -> DBResult:
        if self._insert_delayed and params and API_INSERT.match(statement):
            statement = "INSERT DELAYED" + statement[len("INSERT"):]
        if self._server_timezone:
            statement, params = server_time(statement, params)
        if self._lost:
            raise DBError(f"connection to MySQL server {self.url.redacted()} was lost and auto_reconnect "
                          "is 0: not reconnecting", DBReason.CONNECTION)
        if self._circuit.refuse():
            raise DBError(f"MySQL server {self.url.redacted()} is unreachable (failing at once until it "
                          "answers again)", DBReason.CONNECTION)
        try:
            return self._attempt(statement, params)
        except pymysql.err.MySQLError as exc:
            if isinstance(exc, Unreachable) or not is_connection_error(exc):
                raise self._failed(exc) from exc
            if not self._auto_reconnect:  # Kamailio's one mysql_real_query, on no new connection
                self._lost = True
                log.error("connection to %s lost; auto_reconnect is 0: not reconnecting", self.url.redacted())
                raise to_dberror(exc, self.url) from exc
            # idempotent: once more on a new connection, unless the server timed out (a second
            # wait would double the time a dead server holds the call); otherwise only when the
            # statement certainly never reached the server
            again = worth_retrying(exc) if idempotent else _code(exc) in NOT_SENT_CODES | {0}
            if not again:
                raise self._failed(exc) from exc
            self._suspect_since = time.monotonic()  # the next checkout pings, and reconnects
            log.info("connection to %s lost; retrying once on a new connection", self.url.redacted())
        try:
            return self._attempt(statement, params)
        except pymysql.err.MySQLError as exc:
            raise self._failed(exc) from exc

    def _failed(self, exc: BaseException) -> DBError:
        error = to_dberror(exc, self.url)
        if is_connection_error(exc) or isinstance(exc, TimeoutError):
            self._suspect_since = time.monotonic()
            self._circuit.open(str(error))
        return error

    def _attempt(self, statement: str, params: Sequence[Any]) -> DBResult:
        """One try on a pooled connection. DBUtils checks the connection out (pinging it when
        `_ping` asks, reconnecting and re-applying the session settings when the ping fails); the
        statement then runs on PyMySQL's own connection and cursor: DBUtils' failover cursor would
        wrap every call, and the retry policy above is kampy's own."""
        con = self._pool.connection(shareable=False)
        try:
            raw = con.dbapi_connection
            if not raw.open:
                raise Unreachable(2003, f"cannot reconnect to {self.url.host}:{self.url.port or 3306}")
            cur = raw.cursor()
            try:
                # values are escaped by PyMySQL (Cursor.mogrify), never put in the SQL text by kampy
                cur.execute(statement, raw_strings(params))
                rows = list(cur.fetchall()) if cur.description else []
                described = cur.description or ()
                # the column flags are only in PyMySQL's field packets (description has none)
                fields = cur._result.fields if described and cur._result is not None else ()
                types = [self._kind(d[1], f.flags) for d, f in zip(described, fields, strict=True)]
                if not self._unsigned_type and any(t.startswith("U") for t in types):
                    types, rows = signed(types, rows)
                return DBResult(rows, cur.rowcount, cur.lastrowid, [d[0] for d in described], types)
            finally:
                cur.close()
        finally:
            con.close()

    @staticmethod
    def _kind(type_code: int, flags: int) -> str:
        """Kamailio's DB1 type of a column (km_res.c), UINT/UBIGINT for an unsigned integer column."""
        kind = KAMAILIO_TYPES.get(type_code, "STRING")
        if flags & UNSIGNED_FLAG and (type_code in UNSIGNED_INT_TYPES or type_code == LONGLONG):
            return "U" + kind
        return kind

    def close(self) -> None:
        self._circuit.stop()
        self._pool.close()


def signed(types: list[str], rows: list[tuple[Any, ...]]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """unsigned_type 0: unsigned columns read as Kamailio reads them as INT and BIGINT: a 32-bit value
    above 2^31-1 wraps to negative (db_str2int's cast), a 64-bit one above 2^63-1 fails the query
    (db_str2longlong: out of range)."""
    unsigned = [i for i, t in enumerate(types) if t.startswith("U")]
    out = []
    for row in rows:
        values = list(row)
        for i in unsigned:
            value = values[i]
            if not isinstance(value, int):
                continue
            if types[i] == "UINT" and value > 0x7FFFFFFF:
                values[i] = value - (1 << 32)
            elif types[i] == "UBIGINT" and value > 0x7FFFFFFFFFFFFFFF:
                raise DBError(f"error while converting big integer value from string: {value} is out "
                              "of range (an unsigned BIGINT column: db_mysql's unsigned_type 1 reads it)",
                              DBReason.DATA)
        out.append(tuple(values))
    return [t.removeprefix("U") for t in types], out


class MySQLDriver:
    def __init__(self) -> None:
        # the db_mysql module's parameters (modparam), under the options a caller passes
        self.defaults: dict[str, Any] = {}

    def open(self, url: DBURL, options: Mapping[str, Any]) -> MySQLBackend:
        if not url.database:
            raise DBError(f"database URL {url.redacted()} names no database", DBReason.URL)
        try:
            return MySQLBackend(url, {**self.defaults, **options})
        except pymysql.err.MySQLError as exc:
            raise to_dberror(exc, url) from exc
