"""SQL for Kamailio's tables, written as Kamailio's XSL stylesheets write it from the XML schema
(doc/stylesheets/dbschema_k/xsl/{sql,mysql,db_sqlite,postgres}.xsl): `create_script` gives the text
of `kamdbctl`'s `<group>-create.sql` for MySQL, SQLite and PostgreSQL, byte for byte, and
`create_statements` the same statements one by one, for running them."""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kampy.db.schema import Column, Index, Table

DIALECTS = ("mysql", "sqlite", "postgres")

_MYSQL_TYPES = {"char": "TINYINT", "short": "SMALLINT", "int": "INT", "long": "BIGINT",
                "datetime": "DATETIME", "double": "DOUBLE", "float": "FLOAT", "string": "VARCHAR",
                "binary": "BLOB", "largebinary": "MEDIUMBLOB", "text": "TEXT", "largetext": "MEDIUMTEXT"}
# SQLite and PostgreSQL: (type name, whether the size is written)
_OTHER_TYPES = {"char": ("SMALLINT", False), "short": ("SMALLINT", False), "int": ("INTEGER", False),
                "long": ("BIGINT", False), "datetime": ("TIMESTAMP", False),
                "double": ("DOUBLE PRECISION", False), "float": ("REAL", False), "string": ("VARCHAR", True),
                "binary": ("BLOB", True), "largebinary": ("BLOB", True), "text": ("TEXT", True),
                "largetext": ("TEXT", True)}
_POSTGRES_TYPES = {"binary": ("BYTEA", True), "largebinary": ("BYTEA", True)}
# XPath 1.0's number(): what the stylesheets write unquoted
_NUMBER = re.compile(r"\s*-?(\d+(\.\d*)?|\.\d+)\s*\Z")


def _check(dialect: str) -> None:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; known: {', '.join(DIALECTS)}")


def _quote(name: str, dialect: str) -> str:
    return f"`{name}`" if dialect == "mysql" else name


def _size(c: Column) -> str:
    return f"({c.size})" if c.size else ""


def column_type(c: Column, dialect: str) -> str:
    """The column's type as Kamailio's scripts for `dialect` write it."""
    base = c.base_type
    if dialect == "mysql":
        if base not in _MYSQL_TYPES:
            raise ValueError(f"column {c.name}: unsupported type {c.type!r}")
        return (_MYSQL_TYPES[base] + _size(c) + (" UNSIGNED" if c.unsigned else "")
                + (" AUTO_INCREMENT" if c.autoincrement else "") + (" PRIMARY KEY" if c.primary else ""))
    types = {**_OTHER_TYPES, **_POSTGRES_TYPES} if dialect == "postgres" else _OTHER_TYPES
    if base not in types:
        raise ValueError(f"column {c.name}: unsupported type {c.type!r}")
    name, sized = types[base]
    if base == "int" and c.autoincrement:
        name = ""  # the trailing INTEGER (SQLite) or SERIAL (PostgreSQL) says it
    trailing = (" WITHOUT TIME ZONE" if base == "datetime" else "") + (
        ("SERIAL" if dialect == "postgres" else "INTEGER") if c.autoincrement else "") + (
        " PRIMARY KEY" if c.primary else "")
    return name + (_size(c) if sized else "") + trailing


def default_literal(value: str | None) -> str:
    """A default as the stylesheets write it: NULL, a number as written, anything else quoted."""
    if value is None:
        return "NULL"
    if _NUMBER.match(value):
        return value
    return "'" + value.replace("'", "''") + "'"


def column_definition(c: Column, dialect: str) -> str:
    text = f"{_quote(c.name, dialect)} {column_type(c, dialect)}"
    if c.has_default:
        text += f" DEFAULT {default_literal(c.default)}"
    return text if c.null else text + " NOT NULL"


def index_name(table: Table, index: Index, dialect: str) -> str:
    """Kamailio's SQLite and PostgreSQL scripts prefix an index's name with its table's name
    (PostgreSQL wants index names unique in the whole schema)."""
    return index.name if dialect == "mysql" else f"{table.name}_{index.name}"


def _columns(names: Sequence[str], dialect: str) -> str:
    return ", ".join(_quote(n, dialect) for n in names)


def _constraint(table: Table, index: Index, dialect: str) -> str:
    named = f"CONSTRAINT {index_name(table, index, dialect)}" if index.name else ""
    kind = " UNIQUE (" if index.unique else " PRIMARY KEY  ("
    return f"    {named}{kind}{_columns(index.columns, dialect)})"


def _create_table(table: Table, dialect: str) -> str:
    body = ",\n".join(f"    {column_definition(c, dialect)}" for c in table.columns)
    for kind in ("unique", "primary"):
        constraints = [_constraint(table, ix, dialect) for ix in table.indexes
                       if (ix.unique if kind == "unique" else ix.primary and not ix.unique)]
        if constraints:
            body += ",\n" + ",\n".join(constraints)
    return f"CREATE TABLE {_quote(table.name, dialect)} (\n{body}\n)"


def _create_indexes(table: Table, dialect: str) -> list[str]:
    return [f"CREATE INDEX {index_name(table, ix, dialect)} ON {table.name} ({_columns(ix.columns, dialect)})"
            for ix in table.indexes if not ix.unique and not ix.primary]


def create_statements(table: Table, dialect: str) -> list[str]:
    """CREATE TABLE, then CREATE INDEX for each plain index, in kamdbctl's order, without the
    trailing semicolons (the `version` row is left to the caller)."""
    _check(dialect)
    return [_create_table(table, dialect), *_create_indexes(table, dialect)]


def version_insert(table: Table) -> str:
    return f"INSERT INTO version (table_name, table_version) values ('{table.name}','{table.version}')"


def create_script(tables: Sequence[Table], dialect: str) -> str:
    """The text of Kamailio's `<group>-create.sql` for these tables (a group's, in its order)."""
    _check(dialect)
    out = []
    for table in tables:
        out.append(_create_table(table, dialect) + ";\n\n")
        indexes = _create_indexes(table, dialect)
        if indexes:
            out.append("".join(f"{s};\n" for s in indexes) + "\n")
        out.append(version_insert(table) + ";\n\n")
    return "".join(out)
