"""Loading a hash table from its database table and storing it back (Kamailio's ht_db.c).

The standard table (`htable`: key_name, key_type, value_type, key_value, expires) holds one item
per row: key_type 1 makes the rows of one name an array (`name[0]`, `name[1]`, ... and
`name::size`), value_type 1 an integer value. With the table's `cols` attribute the first column is
the name and the others are packed into one string value (`coldelim` between them, `colnull` for a
NULL); such a table is never written back.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kampy.api import Database

from .spec import TableSpec
from .table import Cell, HashTable, Value

log = logging.getLogger("kampy.htable")

PACK_LIMIT = 4096  # HTABLE_PACK_BUF_SIZE


class LoadFailed(Exception):
    """A row Kamailio's loader refuses (the whole load fails)."""


@dataclass(frozen=True)
class Columns:
    """The module's column names (key_name_column, ...) and what it reads with them."""

    name: str = "key_name"
    key_type: str = "key_type"
    value_type: str = "value_type"
    value: str = "key_value"
    expires: str = "expires"
    array_suffix: str = "::size"
    db_expires: bool = False


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


def _sint(text: str) -> int:
    """str2sint on a value column: the integer it spells, 0 when it spells none."""
    text = text.strip()
    body = text[1:] if text[:1] in "+-" else text
    return int(text) if body.isdigit() else 0


def _pack(spec: TableSpec, values: tuple[Any, ...]) -> str:
    """ht_pack_values: the value columns joined by `coldelim`, a NULL as `colnull`."""
    parts = [spec.colnull if v is None else _text(v) for v in values]
    packed = spec.coldelim.join(parts)
    if len(packed) + len(values) + 1 >= PACK_LIMIT:
        raise LoadFailed(f"too large values (need {len(packed) + len(values) + 1}, have {PACK_LIMIT})")
    return packed


def rows_to_cells(spec: TableSpec, cols: Columns, rows: list[tuple[Any, ...]], now: int,
                  ) -> Iterator[tuple[str, Value, int]]:
    """(name, value, expire) for each item the rows (ordered by name) give, as ht_db_load_table
    (its bookkeeping of arrays included: an array's size item is added when a row of another
    name follows an array row)."""
    last_ktype, previous, n = 0, "", 0
    for i, row in enumerate(rows):
        if row[0] is None:
            raise LoadFailed(f"htable [{spec.name}] row [{i}] has NULL key value")
        name = _text(row[0])
        if spec.cols:
            yield name, _pack(spec, row[1:]), 0
            continue
        expires = 0
        if spec.autoexpire > 0 and cols.db_expires:
            expires = int(row[4] or 0)
            if 0 < expires < now:
                continue  # an item that expired while the server was down
        if not isinstance(row[1], int) or not isinstance(row[2], int):
            raise LoadFailed(f"htable [{spec.name}] row [{i}]: key_type and value_type must be integers")
        key_type, value_type = row[1], row[2]
        if last_ktype == 1 and previous and previous != name:
            yield previous + cols.array_suffix, n, 0
            previous, n = "", 0
        last_ktype, previous = key_type, name
        if key_type == 1:
            item = f"{name}[{n}]"
            n += 1
        else:
            item = name
        if row[3] is None:
            raise LoadFailed(f"null value in row {i}")
        raw = row[3]
        value: Value = (raw if isinstance(raw, int) else _sint(_text(raw))) if value_type == 1 else _text(raw)
        expire = expires if spec.autoexpire > 0 and expires > 0 else 0
        yield item, value, expire
    if last_ktype == 1:
        yield previous + cols.array_suffix, n, 0


def load(db: Database, table: HashTable, cols: Columns) -> list[tuple[str, Value, int]]:
    """The items of the table's database table (none are set here)."""
    spec = table.spec
    if spec.cols:
        names = list(spec.cols)
    else:
        names = [cols.name, cols.key_type, cols.value_type, cols.value]
        if spec.autoexpire > 0 and cols.db_expires:
            names.append(cols.expires)
    rows = db.query(spec.dbtable, names, order_by=names[0])
    return list(rows_to_cells(spec, cols, rows, table.now()))


def apply(table: HashTable, items: list[tuple[str, Value, int]]) -> None:
    """Set the loaded items as ht_set_cell does, then their expiry from the database."""
    for name, value, expire in items:
        table.set(name, value)
        if expire:
            table.set_expire(name, expire - table.now())


def store(db: Database, table: HashTable, cols: Columns) -> None:
    """ht_db_delete_records + ht_db_save_table: the database table becomes the hash table's
    content (cells of an autoexpire table that expired, or never expire, are left out)."""
    spec = table.spec
    if spec.cols:
        log.warning("saving htable [%s] with custom db columns is not available", spec.name)
        return
    db.delete(spec.dbtable, {})
    now = table.now()
    for cell in table.cells():
        if spec.autoexpire > 0 and cell.expire <= now:
            continue
        db.insert(spec.dbtable, _row(cell, cols, spec))


def _row(cell: Cell, cols: Columns, spec: TableSpec) -> dict[str, Any]:
    is_str = isinstance(cell.value, str)
    row: dict[str, Any] = {cols.name: cell.name, cols.key_type: 0, cols.value_type: 0 if is_str else 1,
                           cols.value: cell.value if is_str else str(cell.value)}
    if cols.db_expires and spec.autoexpire > 0:
        row[cols.expires] = cell.expire
    return row
