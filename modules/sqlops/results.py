"""What sqlops keeps of a query's rows, and how it reads a database value: as Kamailio's sqlops
does from the value's type (the driver's column type): an INT, DATETIME (seconds since the
epoch, local time) or BITMAP is an integer, a BIGINT a string in a result (an integer in an xavp,
an integer or a string in a pseudo-variable), text and blobs strings, a DOUBLE (or a type
Kamailio does not know) NULL."""
from __future__ import annotations

import datetime as dt
import decimal
import time
from dataclasses import dataclass, field
from typing import Any

INT_TYPES = {"INT", "DATETIME", "BITMAP"}
TEXT_TYPES = {"STRING", "STR", "BLOB"}


class ConversionError(ValueError):
    """A value its column's type cannot hold (Kamailio's driver fails the query then)."""


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "surrogateescape")
    if isinstance(value, dt.timedelta):
        seconds = int(value.total_seconds())
        sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
        return f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return str(value)


def _int(value: Any) -> int:
    if isinstance(value, bool | int):
        return int(value)
    if isinstance(value, dt.datetime):
        return int(time.mktime(value.timetuple()))
    try:
        return int(_text(value).strip())
    except ValueError:
        raise ConversionError(f"cannot convert {value!r} to an integer") from None


def convert(value: Any, kind: str, bigint: str) -> Any:
    """A database value of column type `kind` as sqlops keeps it; `bigint` says what a BIGINT
    becomes: "str" (a $dbr result), "int" (an xavp) or "pv" (an int when it fits 32 bits)."""
    if value is None:
        return None
    if kind in INT_TYPES:
        return _int(value)
    if kind in TEXT_TYPES:
        return _text(value)
    if kind == "BIGINT":
        number = _int(value)
        if bigint == "int" or (bigint == "pv" and not number & ~0xFFFFFFFF):
            return number if bigint == "int" else _signed32(number)
        return str(number)
    return None  # DOUBLE and the types Kamailio's sqlops does not read


def _signed32(number: int) -> int:
    return number - (1 << 32) if number & 0x80000000 else number


@dataclass
class Result:
    """A named result container ($dbr): column names and rows of values."""

    name: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)

    def reset(self) -> None:
        self.columns = []
        self.rows = []
