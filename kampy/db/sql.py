"""Building parameterised SQL from tables, columns and conditions. Values never enter the SQL
text: they travel as parameters. Identifiers are checked against a strict pattern, then quoted."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kampy.db.errors import DBError, Reason

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
OPERATORS = frozenset({"=", "!=", "<>", "<", ">", "<=", ">=", "LIKE", "NOT LIKE", "IS", "IS NOT", "IN"})

Where = Mapping[str, Any] | Sequence[tuple[str, str, Any]] | None
OrderBy = str | Sequence[str] | None


@dataclass(frozen=True)
class Dialect:
    name: str
    quote: str        # identifier quote character
    placeholder: str  # the driver's parameter marker

    def ident(self, name: str) -> str:
        if not isinstance(name, str) or not IDENTIFIER.match(name):
            raise DBError(f"invalid table or column name {name!r}", Reason.USAGE)
        return f"{self.quote}{name}{self.quote}"


MYSQL = Dialect("mysql", "`", "%s")
SQLITE = Dialect("sqlite", '"', "?")


def _conditions(where: Where) -> list[tuple[str, str, Any]]:
    if not where:
        return []
    if isinstance(where, Mapping):
        return [(col, "=", value) for col, value in where.items()]
    return [tuple(cond) for cond in where]  # type: ignore[misc]


def _condition(d: Dialect, col: str, op: str, value: Any, params: list[Any]) -> str:
    op = op.upper()
    if op not in OPERATORS:
        raise DBError(f"invalid operator {op!r} for column {col!r}", Reason.USAGE)
    if value is None and op in ("=", "IS"):
        return f"{d.ident(col)} IS NULL"
    if value is None and op in ("!=", "<>", "IS NOT"):
        return f"{d.ident(col)} IS NOT NULL"
    if op == "IN":
        values = list(value)
        if not values:
            return "1 = 0"
        params.extend(values)
        return f"{d.ident(col)} IN ({', '.join([d.placeholder] * len(values))})"
    params.append(value)
    return f"{d.ident(col)} {op} {d.placeholder}"


def where_clause(d: Dialect, where: Where, params: list[Any]) -> str:
    parts = [_condition(d, col, op, value, params) for col, op, value in _conditions(where)]
    return f" WHERE {' AND '.join(parts)}" if parts else ""


def _order_item(d: Dialect, item: str) -> str:
    col, _, direction = item.strip().partition(" ")
    direction = direction.strip().upper()
    if direction not in ("", "ASC", "DESC"):
        raise DBError(f"invalid order direction in {item!r}", Reason.USAGE)
    return f"{d.ident(col)} {direction}".rstrip()


def order_clause(d: Dialect, order_by: OrderBy) -> str:
    if not order_by:
        return ""
    items = [order_by] if isinstance(order_by, str) else list(order_by)
    return " ORDER BY " + ", ".join(_order_item(d, i) for i in items)


def select(d: Dialect, table: str, columns: Sequence[str] | None, where: Where,
           order_by: OrderBy, limit: int | None) -> tuple[str, list[Any]]:
    params: list[Any] = []
    cols = ", ".join(d.ident(c) for c in columns) if columns else "*"
    sql = f"SELECT {cols} FROM {d.ident(table)}{where_clause(d, where, params)}{order_clause(d, order_by)}"
    if limit is not None:
        if not isinstance(limit, int) or limit < 0:
            raise DBError(f"invalid limit {limit!r}", Reason.USAGE)
        sql += f" LIMIT {d.placeholder}"
        params.append(limit)
    return sql, params


def insert(d: Dialect, table: str, row: Mapping[str, Any]) -> tuple[str, list[Any]]:
    if not row:
        raise DBError(f"insert into {table!r} without any column", Reason.USAGE)
    cols = ", ".join(d.ident(c) for c in row)
    marks = ", ".join([d.placeholder] * len(row))
    return f"INSERT INTO {d.ident(table)} ({cols}) VALUES ({marks})", list(row.values())


def update(d: Dialect, table: str, where: Where, values: Mapping[str, Any]) -> tuple[str, list[Any]]:
    if not values:
        raise DBError(f"update of {table!r} without any column to set", Reason.USAGE)
    params = list(values.values())
    sets = ", ".join(f"{d.ident(c)} = {d.placeholder}" for c in values)
    return f"UPDATE {d.ident(table)} SET {sets}{where_clause(d, where, params)}", params


def delete(d: Dialect, table: str, where: Where) -> tuple[str, list[Any]]:
    params: list[Any] = []
    return f"DELETE FROM {d.ident(table)}{where_clause(d, where, params)}", params
