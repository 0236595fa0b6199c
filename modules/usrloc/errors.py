"""The error usrloc raises when its write of a binding to the location table fails."""
from __future__ import annotations

from kampy.api import DBError

# What Kamailio logs when a write-through query fails (urecord.c, ucontact.c).
DB_FAILED = {"insert": "failed to insert in database", "update": "failed to update contact in database",
             "delete": "failed to remove contact from database"}


class DBWriteError(DBError):
    """usrloc's write of a binding to the table failed (`op`: insert, update or delete); in db_mode 1
    the binding stays in memory as it was changed."""

    def __init__(self, op: str, cause: DBError) -> None:
        super().__init__(f"usrloc: {DB_FAILED[op]}: {cause}", cause.reason)
        self.op = op
