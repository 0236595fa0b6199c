"""Kamailio 5.6's standard tables, described once: the data is kamailio_schema.json, generated from
Kamailio's XML schema by scripts/gen_db_schema.py (see there). kampy.db.ddl writes the SQL from it
as Kamailio's stylesheets do, so `kampy db create` makes what `kamdbctl create` makes: the same
tables, columns, types, defaults, constraint and index names, and `version` rows.

Tables are grouped as kamdbctl groups them: a *group* is one `<group>-create.sql` (`acc`, `presence`,
...), a *set* the groups `kamdbctl create` adds at once (`standard`, `presence`, `extra`, `dbuid`)."""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kampy.db import ddl
from kampy.db.errors import DBError, Reason

log = logging.getLogger("kampy.db")

SCHEMA_FILE = Path(__file__).with_name("kamailio_schema.json")


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()
BLOB_BYTES = 65535  # MySQL BLOB/TEXT capacity; SQLite enforces no size, kampy's checks use this
LARGE_BYTES = 16777215  # MEDIUMBLOB/MEDIUMTEXT (Kamailio's largebinary/largetext)
_NUMERIC = ("char", "short", "int", "long", "float", "double")


@dataclass(frozen=True)
class Column:
    """One column as Kamailio's XML schema describes it. `type` is written as there ("int",
    "unsigned int", "string", "datetime", "text", "binary", ...); `default` is the default's text
    (None for NULL, NO_DEFAULT when there is none)."""

    name: str
    type: str
    size: str | None = None
    default: Any = NO_DEFAULT
    null: bool = False
    autoincrement: bool = False
    primary: bool = False

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT

    @property
    def unsigned(self) -> bool:
        return self.type.startswith("unsigned ")

    @property
    def base_type(self) -> str:
        return self.type.removeprefix("unsigned ")

    @property
    def max_length(self) -> int | None:
        """Characters for a string, bytes for text and blob; None for other types."""
        base = self.base_type
        if base == "string":
            return int(self.size or 0)
        if base in ("text", "binary"):
            return BLOB_BYTES
        return LARGE_BYTES if base in ("largetext", "largebinary") else None

    @property
    def default_value(self) -> Any:
        """The default as a Python value (int or float for numeric columns, else the text)."""
        if self.default is NO_DEFAULT or self.default is None:
            return self.default
        if self.base_type in _NUMERIC:
            number = float(self.default)
            return int(number) if number.is_integer() and self.base_type != "float" else number
        return self.default


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool = False
    primary: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    version: int
    module: str  # the kamdbctl group (its script is <module>-create.sql)
    columns: tuple[Column, ...]
    indexes: tuple[Index, ...] = ()

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _load(path: Path) -> tuple[dict[str, Table], dict[str, tuple[str, ...]], dict[str, tuple[str, ...]], str]:
    data = json.loads(path.read_text())
    group_of = {table: group for group, tables in data["groups"].items() for table in tables}
    tables: dict[str, Table] = {}
    for name, t in data["tables"].items():
        columns = tuple(Column(c["name"], c["type"], c.get("size"), c.get("default", NO_DEFAULT),
                               c.get("null", False), c.get("autoincrement", False), c.get("primary", False))
                        for c in t["columns"])
        indexes = tuple(Index(ix["name"], tuple(ix["columns"]), ix.get("unique", False),
                              ix.get("primary", False)) for ix in t["indexes"])
        tables[name] = Table(name, t["version"], group_of[name], columns, indexes)
    groups = {g: tuple(ts) for g, ts in data["groups"].items()}
    sets = {s: tuple(gs) for s, gs in data["sets"].items()}
    return tables, groups, sets, data["kamailio"]


TABLES, GROUPS, SETS, KAMAILIO_RELEASE = _load(SCHEMA_FILE)


def create_statements(table: Table, dialect: str) -> list[str]:
    """CREATE TABLE and CREATE INDEX statements for one table, in kamdbctl's order."""
    return ddl.create_statements(table, dialect)


def tables_of(groups: Iterable[str] = (), sets: Iterable[str] = ()) -> list[str]:
    """The tables of kamdbctl groups (`acc`, `presence`, ...: one `<group>-create.sql` each) and of
    sets of groups (`standard`, `presence`, `extra`, `dbuid`), in kamdbctl's order."""
    wanted: list[str] = []
    for name in sets:
        if name not in SETS:
            raise DBError(f"unknown table set '{name}'; known: {', '.join(SETS)}", Reason.USAGE)
        wanted += SETS[name]
    for name in groups:
        if name not in GROUPS:
            raise DBError(f"unknown table group '{name}'; known: {', '.join(GROUPS)}", Reason.USAGE)
        wanted.append(name)
    return list(dict.fromkeys(t for g in wanted for t in GROUPS[g]))


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


def drop_tables(db: Any, names: Iterable[str] | None = None) -> list[str]:
    """Drop the Kamailio tables that exist among `names` (every known table when None) and their
    `version` rows; other tables are never touched. Returns the names of the tables dropped."""
    tables = [t.name for t in resolve_tables(names)]
    keep_version = "version" not in (tables if names is None else [n.strip() for n in names])
    if keep_version:
        tables.remove("version")
    dropped = []
    for name in [*(t for t in tables if t != "version"), *(["version"] if "version" in tables else [])]:
        if not db.table_exists(name):
            continue
        db.execute(f"DROP TABLE {db.dialect.ident(name)}")
        dropped.append(name)
    if keep_version and dropped and db.table_exists("version"):
        db.delete("version", [("table_name", "IN", dropped)])
    return dropped


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
