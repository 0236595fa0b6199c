"""Kamailio 5.6's standard tables, described once; the MySQL and SQLite DDL are generated from the
description and match what `kamdbctl create` runs (Debian's /usr/share/kamailio/{mysql,db_sqlite}/
*-create.sql): same columns, types, defaults, constraint and index names.

Types follow Kamailio's XML schema: `id` is the auto-increment primary key, `int`/`uint` take an
optional display width (MySQL only), `string` a length, `float` MySQL's (precision,scale)."""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kampy.db.errors import DBError, Reason

log = logging.getLogger("kampy.db")


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()
BLOB_BYTES = 65535  # MySQL BLOB/TEXT capacity; SQLite enforces no size, kampy's checks use this


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    size: int | str | None = None
    default: Any = NO_DEFAULT
    null: bool = False

    @property
    def max_length(self) -> int | None:
        """Characters for a string, bytes for text and blob; None for other types."""
        if self.type == "string":
            return int(self.size or 0)
        return BLOB_BYTES if self.type in ("text", "blob") else None


@dataclass(frozen=True)
class Table:
    name: str
    version: int
    module: str  # the kamdbctl group (the Debian file is <module>-create.sql)
    columns: tuple[Column, ...]
    uniques: tuple[tuple[str, tuple[str, ...]], ...] = ()
    indexes: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _id() -> Column:
    return Column("id", "id")


def _s(name: str, size: int, default: Any = "", null: bool = False) -> Column:
    return Column(name, "string", size, default, null)


def _i(name: str, default: Any = 0, size: int | None = None, null: bool = False) -> Column:
    return Column(name, "int", size, default, null)


def _dt(name: str, default: Any = NO_DEFAULT) -> Column:
    return Column(name, "datetime", None, default)


def _contacts(contact_size: int, received_size: int) -> tuple[Column, ...]:
    """The columns location (usrloc) and aliases (registrar) share."""
    return (
        _id(), _s("ruid", 64), _s("username", 64), _s("domain", 64, None, True),
        _s("contact", contact_size), _s("received", received_size, None, True),
        _s("path", 512, None, True), _dt("expires", "2030-05-28 21:32:15"),
        Column("q", "float", "10,2", 1.0), _s("callid", 255, "Default-Call-ID"), _i("cseq", 1, 11),
        _dt("last_modified", "2000-01-01 00:00:01"), _i("flags", 0, 11), _i("cflags", 0, 11),
        _s("user_agent", 255), _s("socket", 64, None, True), _i("methods", None, 11, True),
        _s("instance", 255, None, True), _i("reg_id", 0, 11), _i("server_id", 0, 11),
        _i("connection_id", 0, 11), _i("keepalive", 0, 11), _i("partition", 0, 11),
    )


def _acc_columns() -> tuple[Column, ...]:
    return (_id(), _s("method", 16), _s("from_tag", 128), _s("to_tag", 128), _s("callid", 255),
            _s("sip_code", 3), _s("sip_reason", 128), _dt("time"))


TABLES: dict[str, Table] = {t.name: t for t in (
    Table("version", 1, "standard",
          (_id(), _s("table_name", 32, NO_DEFAULT), Column("table_version", "uint", None, 0)),
          uniques=(("table_name_idx", ("table_name",)),)),
    Table("acc", 5, "acc", _acc_columns(), indexes=(("callid_idx", ("callid",)),)),
    Table("acc_cdrs", 2, "acc",
          (_id(), _dt("start_time", "2000-01-01 00:00:00"), _dt("end_time", "2000-01-01 00:00:00"),
           Column("duration", "float", "10,3", 0)),
          indexes=(("start_time_idx", ("start_time",)),)),
    Table("missed_calls", 4, "acc", _acc_columns(), indexes=(("callid_idx", ("callid",)),)),
    Table("subscriber", 7, "auth_db",
          (_id(), _s("username", 64), _s("domain", 64), _s("password", 64), _s("ha1", 128),
           _s("ha1b", 128)),
          uniques=(("account_idx", ("username", "domain")),),
          indexes=(("username_idx", ("username",)),)),
    Table("dbaliases", 1, "alias_db",
          (_id(), _s("alias_username", 64), _s("alias_domain", 64), _s("username", 64),
           _s("domain", 64)),
          indexes=(("alias_user_idx", ("alias_username",)),
                   ("alias_idx", ("alias_username", "alias_domain")),
                   ("target_idx", ("username", "domain")))),
    Table("aliases", 8, "registrar", _contacts(255, 255),
          uniques=(("ruid_idx", ("ruid",)),),
          indexes=(("account_contact_idx", ("username", "domain", "contact")),
                   ("expires_idx", ("expires",)))),
    Table("location", 9, "usrloc", _contacts(512, 128),
          uniques=(("ruid_idx", ("ruid",)),),
          indexes=(("account_contact_idx", ("username", "domain", "contact")),
                   ("expires_idx", ("expires",)), ("tcpcon_idx", ("connection_id",)),
                   ("connection_idx", ("server_id", "connection_id")))),
    Table("location_attrs", 1, "usrloc",
          (_id(), _s("ruid", 64), _s("username", 64), _s("domain", 64, None, True), _s("aname", 64),
           _i("atype", 0, 11), _s("avalue", 512), _dt("last_modified", "2000-01-01 00:00:01")),
          indexes=(("account_record_idx", ("username", "domain", "ruid")),
                   ("last_modified_idx", ("last_modified",)))),
    Table("silo", 8, "msilo",
          (_id(), _s("src_addr", 255), _s("dst_addr", 255), _s("username", 64), _s("domain", 64),
           _i("inc_time"), _i("exp_time"), _i("snd_time"), _s("ctype", 32, "text/plain"),
           Column("body", "blob", null=True), Column("extra_hdrs", "text", null=True),
           _s("callid", 128), _i("status")),
          indexes=(("account_idx", ("username", "domain")),)),
)}


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def _mysql_type(c: Column) -> str:
    width = f"({c.size})" if c.size is not None else ""
    return {
        "id": "INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY",
        "int": f"INT{width}",
        "uint": f"INT{width} UNSIGNED",
        "string": f"VARCHAR({c.size})",
        "datetime": "DATETIME",
        "float": f"FLOAT{width}",
        "text": "TEXT",
        "blob": "BLOB",
    }[c.type]


def _sqlite_type(c: Column) -> str:
    return {
        "id": "INTEGER PRIMARY KEY",
        "int": "INTEGER",
        "uint": "INTEGER",
        "string": f"VARCHAR({c.size})",
        "datetime": "TIMESTAMP WITHOUT TIME ZONE",
        "float": "REAL",
        "text": "TEXT",
        "blob": "BLOB",
    }[c.type]


def _column_ddl(c: Column, dialect: str) -> str:
    mysql = dialect == "mysql"
    parts = [f"`{c.name}`" if mysql else c.name, _mysql_type(c) if mysql else _sqlite_type(c)]
    if c.default is not NO_DEFAULT:
        parts.append(f"DEFAULT {_literal(c.default)}")
    if not c.null:
        parts.append("NOT NULL")
    return " ".join(parts)


def _cols(cols: Sequence[str], dialect: str) -> str:
    return ", ".join(f"`{c}`" if dialect == "mysql" else c for c in cols)


def _index_name(table: Table, name: str, dialect: str) -> str:
    # Kamailio's SQLite scripts prefix every constraint and index name with the table's name
    return name if dialect == "mysql" else f"{table.name}_{name}"


def create_statements(table: Table, dialect: str) -> list[str]:
    """CREATE TABLE and CREATE INDEX statements for one table, in kamdbctl's order."""
    name = f"`{table.name}`" if dialect == "mysql" else table.name
    lines = [_column_ddl(c, dialect) for c in table.columns]
    lines += [f"CONSTRAINT {_index_name(table, n, dialect)} UNIQUE ({_cols(cols, dialect)})"
              for n, cols in table.uniques]
    body = ",\n    ".join(lines)
    statements = [f"CREATE TABLE {name} (\n    {body}\n)"]
    statements += [f"CREATE INDEX {_index_name(table, n, dialect)} ON {table.name} ({_cols(cols, dialect)})"
                   for n, cols in table.indexes]
    return statements


def resolve_tables(names: Iterable[str] | None) -> list[Table]:
    """Tables by name (every known table when None), `version` always first."""
    wanted = list(TABLES) if names is None else [n.strip() for n in names if n.strip()]
    unknown = [n for n in wanted if n not in TABLES]
    if unknown:
        raise DBError(f"unknown table(s) {', '.join(unknown)}; known: {', '.join(TABLES)}", Reason.USAGE)
    ordered = ["version"] + [n for n in wanted if n != "version"]
    return [TABLES[n] for n in dict.fromkeys(ordered)]


def create_tables(db: Any, names: Iterable[str] | None = None) -> list[str]:
    """Create the tables that do not exist yet, with their `version` rows, as kamdbctl does;
    existing tables are left alone. Returns the names of the tables created.

    Safe when several processes do it at once (workers starting together on a new SQLite file):
    on SQLite the whole creation is one exclusive transaction, so a second process waits for the
    first one's commit and then finds every table there; elsewhere a table or version row that
    another process made in between counts as made."""
    tables = resolve_tables(names)
    exclusive = db.dialect.name == "sqlite"
    if exclusive:
        db.execute("BEGIN EXCLUSIVE")  # waits (the driver's busy timeout) for another creator
    try:
        created = [table.name for table in tables if _create_table(db, table)]
        if exclusive:
            db.execute("COMMIT")
    except BaseException:
        if exclusive:
            try:
                db.execute("ROLLBACK")
            except DBError:
                pass
        raise
    return created


def _create_table(db: Any, table: Table) -> bool:
    """Create one table and its version row unless it exists (checked inside the caller's
    transaction); True when this call created it."""
    if db.table_exists(table.name):
        log.info("table %s exists, left as it is", table.name)
        return False
    try:
        for statement in create_statements(table, db.dialect.name):
            db.execute(statement)
    except DBError:
        if db.table_exists(table.name):  # another process created it meanwhile (no transaction)
            log.info("table %s was created by another process", table.name)
            return False
        raise
    if db.table_version(table.name) is None:
        try:
            db.insert("version", {"table_name": table.name, "table_version": table.version})
        except DBError as exc:
            if exc.reason is not Reason.INTEGRITY:  # the row another process inserted is the same
                raise
    return True


def check_table_version(db: Any, table: str, expected: int) -> None:
    """Refuse to start, as Kamailio's db_check_table_version does, unless `version` says
    `expected` for `table`; the message names the command that fixes it."""
    where = db.url.redacted()
    fix = f"create it with: kampy db create --db-url '{where}' --tables {table}"
    if not db.table_exists("version"):
        raise DBError(f"table 'version' does not exist in {where}; {fix}", Reason.MISSING_TABLE)
    found = db.table_version(table)
    if found is None:
        raise DBError(f"table '{table}' has no row in the 'version' table of {where}; {fix}",
                      Reason.MISSING_TABLE)
    if found != expected:
        raise DBError(f"table '{table}' in {where} is version {found}, kampy needs version {expected}; "
                      f"upgrade it (Kamailio's kamdbctl migrate) or drop it and {fix}", Reason.VERSION)
    if not db.table_exists(table):
        raise DBError(f"table '{table}' does not exist in {where} (the version table lists it); {fix}",
                      Reason.MISSING_TABLE)
