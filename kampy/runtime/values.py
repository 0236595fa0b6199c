"""Script values and Kamailio's conversions between them (src/core/rvalue.c).

A value is `int`, `str` or `None` (undefined, `$null`). Undefined converts to 0 and to "";
a string converts to an int by decimal or `0x` hex, anything else to 0 (rval_get_long).
"""
from __future__ import annotations

import re
from typing import Any

Value = int | str | None

_DEC = re.compile(r"[+-]?[0-9]+")


def to_int(value: Any) -> int:
    if value.__class__ is int:
        return value
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return int(value)
    text = str(value)
    if not text:
        return 0
    if _DEC.fullmatch(text):
        return int(text)
    if len(text) > 2 and text[0] == "0" and text[1] in "xX":
        try:
            return int(text[2:], 16)
        except ValueError:
            return 0
    return 0


def to_str(value: Any) -> str:
    if value.__class__ is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


def format_value(value: Any) -> str:
    """A value as `pv_printf` prints it inside a format string: undefined is `<null>`."""
    if value.__class__ is str:
        return value
    if value is None:
        return "<null>"
    return to_str(value)


def fparam_int(text: str) -> int | None:
    """Kamailio's FPARAM_INT (str2sint), the last try of its fixup_var_int_*: a sign, then only
    digits (no spaces, no hex; none at all is 0), within a 32-bit int; None when it is not that."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    if digits and not (digits.isascii() and digits.isdigit()):
        return None
    value = -int(digits or 0) if text[:1] == "-" else int(digits or 0)
    return value if -2**31 <= value < 2**31 else None


def parse_int_literal(text: str) -> int:
    """An integer argument written as a string ("10", " 0x1F "); ValueError if it is none."""
    t = text.strip()
    if len(t) > 2 and t[0] == "0" and t[1] in "xX":
        return int(t[2:], 16)
    return int(t)


_POSIX_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r" \t\r\n\v\f", "blank": r" \t", "punct": r"!-/:-@\[-`{-~", "xdigit": "0-9A-Fa-f",
    "cntrl": r"\x00-\x1f\x7f", "print": r"\x20-\x7e", "graph": r"\x21-\x7e", "word": r"\w",
}
_POSIX_CLASS = re.compile(r"\[:([a-z]+):\]")


def posix_to_python(pattern: str) -> str:
    """Translate POSIX ERE bracket classes (`[[:digit:]]`) to Python's syntax."""
    if "[:" not in pattern:
        return pattern
    return _POSIX_CLASS.sub(lambda m: _POSIX_CLASSES.get(m.group(1), m.group(0)), pattern)


def compile_posix(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(posix_to_python(pattern), flags)


_TRUE = {"yes", "on", "true", "1", "enable", "enabled"}
_FALSE = {"no", "off", "false", "0", "disable", "disabled"}


def as_bool(value: Any, default: bool) -> bool:
    """A cfg boolean: `yes/no`, `on/off`, `true/false`, `1/0` (Kamailio accepts all of these)."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    word = str(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    return default


def as_number(value: Any, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default
