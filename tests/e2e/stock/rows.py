"""What two servers wrote to their databases, compared field by field except times and ids.

A snapshot holds every row of every table that has rows (but `version`). Before comparing, each row
loses its `id`, its time columns (datetime columns, and integer columns that hold a time: names ending
in `time`, `expires`, `timeout`, `updated`, ...), and the columns a server fills with an identifier of
its own making (VOLATILE); the rows of a table are then compared as sorted lists, so the order in
which workers inserted them does not matter.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kampy.db import TABLES, Database

Rows = dict[str, list[dict[str, Any]]]

# Columns a server fills with a value of its own making, which two correct servers need not share.
# Add to it only with the reason.
VOLATILE: dict[str, set[str]] = {
    "location": {"ruid",            # usrloc's record id: time, pid and a counter
                 "connection_id",   # the TCP connection's number inside the server
                 "partition"},      # with nathelper pinging: (a counter + the writer's pid) % max
    "location_attrs": {"ruid"},
    "aliases": {"ruid", "connection_id"},
    "dialog": {"hash_entry", "hash_id"},  # the dialog table's internal slot
    "dialog_vars": {"hash_entry", "hash_id"},
    "presentity": {"etag", "ruid"},       # generated entity tags
    "active_watchers": {"to_tag", "local_cseq"},
}
_TIME_NAME = re.compile(r"(^|_)(time|expires|timeout|updated|updated_winfo|last_modified|modified|ts)$"
                        r"|_time$|^time")


def snapshot(db: Database, extra_tables: tuple[str, ...] = ()) -> Rows:
    """Every row of every Kamailio table (and of `extra_tables`) that has rows, as dicts."""
    out: Rows = {}
    for name in (*TABLES, *extra_tables):
        if name == "version" or not db.table_exists(name):
            continue
        result = db.raw_query(f"SELECT * FROM {db.dialect.ident(name)}")
        if not result:
            continue
        columns = _columns(db, name)
        out[name] = [dict(zip(columns, row, strict=True)) for row in result]
    return out


def _columns(db: Database, table: str) -> list[str]:
    """The table's columns in order, as the server has them (the stock config adds some to acc)."""
    if db.dialect.name == "mysql":
        return [r[0] for r in db.raw_query(f"SHOW COLUMNS FROM {db.dialect.ident(table)}")]
    return [r[1] for r in db.raw_query(f"PRAGMA table_info({db.dialect.ident(table)})")]


def ignored(table: str, column: str, value: Any = None) -> bool:
    """Whether a column is left out of the comparison: ids, times, VOLATILE."""
    if column == "id" or column in VOLATILE.get(table, ()):
        return True
    known = TABLES.get(table)
    if known is not None and any(c.name == column and c.base_type == "datetime" for c in known.columns):
        return True
    return bool(_TIME_NAME.search(column))


def comparable(table: str, rows: list[dict[str, Any]],
               also_ignore: set[str] = frozenset()) -> list[tuple[Any, ...]]:
    """The rows without ignored columns, as sorted tuples of (column, value)."""
    kept = [tuple((c, _plain(v)) for c, v in row.items() if not ignored(table, c) and c not in also_ignore)
            for row in rows]
    return sorted(kept, key=repr)


def _plain(value: Any) -> Any:
    return value.decode(errors="replace") if isinstance(value, bytes | bytearray) else value


def differences(reference: Rows, candidate: Rows,
                also_ignore: Mapping[str, set[str]] | None = None) -> list[str]:
    """Readable differences between two snapshots (empty when they match)."""
    also_ignore = also_ignore or {}
    out = []
    for table in sorted(set(reference) | set(candidate)):
        ref = comparable(table, reference.get(table, []), also_ignore.get(table, set()))
        got = comparable(table, candidate.get(table, []), also_ignore.get(table, set()))
        if ref == got:
            continue
        out.append(f"table {table}: {len(ref)} rows in the reference, {len(got)} in the candidate")
        out += [f"  only in reference: {dict(r)}" for r in ref if r not in got]
        out += [f"  only in candidate: {dict(r)}" for r in got if r not in ref]
    return out
