"""SQLite database driver."""

from __future__ import annotations

from kampy.api import Exports, Param, register_db_driver
from .driver import SQLiteDriver

EXPORTS = Exports(
    name="db_sqlite",
    doc="SQLite database driver.",
    params=(
        Param("db_set_readonly", (str,), None, multi=True),
        Param("db_set_journal_mode", (str,), None, multi=True),
    ),
    factory=None,
)

register_db_driver("sqlite", SQLiteDriver())
