"""$dbr(result=>key), as Kamailio's pv_parse_dbr_name() reads it: `rows`, `cols`,
`[row,col]` and `colname[col]`, an index being an integer or a pseudo-variable."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kampy.api import MessageContext, PVSyntaxError

from .results import Result

_NAME = re.compile(r"\s*([^=\s]+)\s*=>(.*)", re.DOTALL)
_CELL = re.compile(r"\[\s*([^,\s]+)\s*,\s*([^\]\s]+)\s*\]")
_COLNAME = re.compile(r"colname\s*\[([^\]\s]+)\s*\]")
_INT = re.compile(r"[+-]?[0-9]+")


class _Reader:
    def __init__(self, get: Callable[[MessageContext], Any]) -> None:
        self.get = get


def _index(text: str, resolve: Callable[[str], Any]) -> Callable[[MessageContext], int | None]:
    if text.startswith("$"):
        try:
            accessor = resolve(text)
        except (PVSyntaxError, LookupError) as exc:
            raise ValueError(f"invalid PV identifier {text}: {exc}") from None

        def from_pv(ctx: MessageContext) -> int | None:
            value = accessor.get(ctx)
            if isinstance(value, int):
                return value
            return int(value) if isinstance(value, str) and _INT.fullmatch(value.strip()) else None
        return from_pv
    if not _INT.fullmatch(text):
        raise ValueError(f"bad number <{text}>")
    number = int(text)
    return lambda ctx: number


def parse_dbr(name: str, result_of: Callable[[str], Result],
              resolve: Callable[[str], Any]) -> _Reader:
    m = _NAME.fullmatch(name)
    if m is None:
        raise ValueError(f"invalid pv name [{name}]")
    res = result_of(m.group(1))
    key = m.group(2).strip()
    if not key:
        raise ValueError(f"invalid key in [{name}]")
    if key == "rows":
        return _Reader(lambda ctx: len(res.rows))
    if key == "cols":
        return _Reader(lambda ctx: len(res.columns))
    if key.startswith("["):
        cell = _CELL.fullmatch(key)
        if cell is None:
            raise ValueError(f"invalid index in [{key}]")
        row_of, col_of = _index(cell.group(1), resolve), _index(cell.group(2), resolve)

        def value(ctx: MessageContext) -> Any:
            row, col = row_of(ctx), col_of(ctx)
            if row is None or col is None or not 0 <= row < len(res.rows) or not 0 <= col < len(res.columns):
                return None
            return res.rows[row][col]
        return _Reader(value)
    if len(key) > 9 and key.startswith("colname"):
        found = _COLNAME.fullmatch(key)
        if found is None:
            raise ValueError(f"invalid index in [{key}]")
        col_of = _index(found.group(1), resolve)

        def column(ctx: MessageContext) -> Any:
            col = col_of(ctx)
            if col is None or not 0 <= col < len(res.columns):
                return None
            return res.columns[col]
        return _Reader(column)
    raise ValueError(f"unknown key [{key}]")
