"""The one exception the database layer raises."""
from __future__ import annotations

import enum


class Reason(enum.Enum):
    """Why a database call failed; callers branch on this, users read the message."""

    URL = "bad database URL"
    DRIVER = "no driver"
    CONNECTION = "connection failed or lost"
    TIMEOUT = "timed out"
    LOCKED = "database busy"
    MISSING_TABLE = "missing table"
    VERSION = "wrong table version"
    INTEGRITY = "constraint violated"
    DATA = "value does not fit"
    USAGE = "invalid request"
    OTHER = "database error"


TRANSIENT = frozenset({Reason.CONNECTION, Reason.TIMEOUT, Reason.LOCKED})


class DBError(Exception):
    """A database operation failed. `reason` classifies it; `transient` says a retry later may work."""

    def __init__(self, message: str, reason: Reason = Reason.OTHER) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def transient(self) -> bool:
        return self.reason in TRANSIENT
