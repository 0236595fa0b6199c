"""JSON text exactly as Kamailio's srjson (its cJSON) prints it: what jsonrpcs answers.

Formatted (jsonrpcs' `pretty_format=1`): an object's members one per line, indented with tabs, a tab
after each colon; an array on one line, `[a, b]`, its objects opening where the previous closed
(`[{` ... `}, {` ... `}]`). Unformatted: no whitespace at all. A number is a C double: a whole one
within `int` prints as an integer, another whole one with `%.0f`, else `%f` (`%e` when tiny or
huge). Strings escape `"`, `\\` and control characters only (UTF-8 passes as is). Kamailio's own
tools parse this text with line-oriented scripts (kamctl's `filter_json`), so the layout matters.
"""
from __future__ import annotations

import math
from typing import Any

INT_MAX = 2**31 - 1
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def dumps(value: Any, pretty: bool = True) -> str:
    return _value(value, 0, pretty)


def number(value: float | int) -> str:
    d = float(value)
    if math.isnan(d) or math.isinf(d):
        return f"{d:f}"
    if d == math.floor(d):
        return str(int(d)) if -INT_MAX - 1 <= d <= INT_MAX else f"{d:.0f}"
    if abs(d) < 1.0e-6 or abs(d) > 1.0e9:
        return f"{d:e}"
    return f"{d:f}"


def string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 32:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(value: Any, depth: int, fmt: bool) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return number(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, bytes):
        return string(value.decode(errors="replace"))
    if isinstance(value, dict):
        return _object(list(value.items()), depth, fmt)
    if isinstance(value, (list, tuple)):
        return "[" + (", " if fmt else ",").join(_value(v, depth + 1, fmt) for v in value) + "]"
    return string(str(value))


def _object(items: list[tuple[Any, Any]], depth: int, fmt: bool) -> str:
    depth += 1
    if not fmt:
        return "{" + ",".join(f"{string(str(k))}:{_value(v, depth, fmt)}" for k, v in items) + "}"
    lines = [f"{chr(9) * depth}{string(str(k))}:\t{_value(v, depth, fmt)}" for k, v in items]
    return "{\n" + "".join(line + (",\n" if i < len(lines) - 1 else "\n") for i, line in enumerate(lines)) \
        + "\t" * (depth - 1) + "}"
