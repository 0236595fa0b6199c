"""Time periods as Perl's Time::Period writes them, matched as Kamailio's tmrec/period.c does
(quirks included: a two-digit year adds the century's number, not its years; a syntax error
makes in_period() return -1, which time_period_match() takes as a match)."""
from __future__ import annotations

import time

from .recurrence import c_div, c_mod

YEAR, MONTH, WEEK, MDAY, WDAY, YDAY, HOUR, MINUTE, SECOND = range(9)
# (scale, its names), in the order period.c tries them
SCALES = [(YEAR, ("year", "yr")), (MONTH, ("month", "mo")), (WEEK, ("week", "wk")), (MDAY, ("mday", "md")),
          (WDAY, ("wday", "wd")), (YDAY, ("yday", "yd")), (HOUR, ("hour", "hr")),
          (MINUTE, ("minute", "min")), (SECOND, ("second", "sec"))]
INTEGER_SCALES = {YEAR, WEEK, MDAY, YDAY, HOUR, MINUTE, SECOND}
RANGES = {WEEK: (1, 6), MDAY: (1, 31), YDAY: (1, 366), HOUR: (0, 23), MINUTE: (0, 59), SECOND: (0, 60)}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("su", "mo", "tu", "we", "th", "fr", "sa")
MAX_VALUE = 15  # characters of a value (period.c's MAX_VALUE_LEN less its terminator)


class Syntax(Exception):
    pass


def time_vars(t: int) -> list[int]:
    s = time.localtime(t)
    wday, mday = (s.tm_wday + 1) % 7, s.tm_mday
    return [s.tm_year, s.tm_mon, c_div(mday - 1 + c_mod(wday - mday + 1, 7), 7) + 1, mday, wday + 1,
            s.tm_yday, s.tm_hour, s.tm_min, s.tm_sec]


def _atol(text: str) -> int:
    """C's atol(): leading digits (after an optional sign), else 0."""
    digits = ""
    for i, c in enumerate(text):
        if c in "+-" and i == 0 or c.isdigit() and c.isascii():
            digits += c
        else:
            break
    try:
        return int(digits)
    except ValueError:
        return 0


def _generic(var: int, f: int, t: int, low: int, high: int) -> int:
    if t == -1:
        t = f
    if not (low <= f <= high and low <= t <= high):
        return -1
    if f > t:
        return 1 if f <= var or t >= var else 0
    return 1 if f <= var <= t else 0


def _named(var: int, f_text: str, t_text: str | None, names: tuple[str, ...], length: int) -> int:
    def number(text: str) -> int:
        n = _atol(text)
        if n:
            return n
        return next((i + 1 for i, name in enumerate(names) if name == text[:length]
                     and (len(text) >= length)), 0)

    f = number(f_text)
    if not f:
        return -1
    t = f if t_text is None else number(t_text)
    if not t:
        return -1
    return _generic(var, f, t, 1, len(names))


def _year(var: int, f: int, t: int) -> int:
    if t == -1:
        t = f
    century = var // 100
    if t < 0:
        return -1
    if t <= 99:
        t += century
    elif t < 1970:
        return -1
    if f < 0:
        return -1
    if f <= 99:
        f += century
    elif f < 1970:
        return -1
    return 1 if f <= var <= t else 0


def _scale_matches(scale: int, var: int, first: str, second: str | None) -> int:
    if scale in INTEGER_SCALES:
        f, t = _atol(first), _atol(second) if second is not None else -1
        if scale == YEAR:
            return _year(var, f, t)
        return _generic(var, f, t, *RANGES[scale])
    if scale == MONTH:
        return _named(var, first, second, MONTHS, 3)
    return _named(var, first, second, WEEKDAYS, 2)


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def skip_spaces(self) -> None:
        while self.peek() == " ":
            self.i += 1


def in_period(t: int, text: str | None) -> int:
    """period.c's in_period(): 1 when `t` falls in the period, 0 when not, -1 on a syntax error."""
    if text is None:
        return 1
    p = _Reader(text)
    p.skip_spaces()
    if not p.peek():
        return 1
    if text[p.i:].lower() in ("none", "never"):
        return 0
    now = time_vars(t)
    try:
        while True:
            if _sub_period(p, now):
                return 1
            if p.peek() != ",":
                return 0
            p.i += 1
            p.skip_spaces()
    except Syntax:
        return -1


def _scale_name(p: _Reader) -> int:
    rest = p.text[p.i:]
    for scale, names in SCALES:
        for name in names:
            if rest[:len(name)].lower() == name and rest[len(name):len(name) + 1] in (" ", "{"):
                p.i += len(name)
                return scale
    raise Syntax()


def _sub_period(p: _Reader, now: list[int]) -> bool:
    """One sub-period (scales until a comma or the end): whether every scale given matched."""
    results: dict[int, int] = {}
    while True:
        scale = _scale_name(p)
        p.skip_spaces()
        if p.peek() != "{":
            raise Syntax()
        p.i += 1
        p.skip_spaces()
        if results.get(scale) == 1:  # matched already: skip its values
            end = p.text.find("}", p.i)
            if end < 0:
                raise Syntax()
            p.i = end
        else:
            results.setdefault(scale, 0)
            _values(p, scale, now, results)
        p.i += 1  # the closing brace
        p.skip_spaces()
        if not p.peek() or p.peek() == ",":
            return all(result != 0 for result in results.values())


def _values(p: _Reader, scale: int, now: list[int], results: dict[int, int]) -> None:
    while True:
        first, second = _value(p)
        if not first:
            if p.peek() == "}":
                return
            continue
        res = _scale_matches(scale, now[scale], first, second or None)
        if res == -1:
            raise Syntax()
        if res == 1:
            results[scale] = 1


def _value(p: _Reader) -> tuple[str, str]:
    """A value or a range, lowercased (`| 0x20`, as period.c does for letters and digits)."""
    parts = ["", ""]
    current = 0
    while True:
        c = p.peek()
        if c == "":
            raise Syntax()
        if c == " ":
            p.skip_spaces()
            if p.peek() != "-":
                break
            c = "-"
        if c == "-":
            if not parts[0] or parts[1]:
                raise Syntax()
            current = 1
            p.i += 1
            p.skip_spaces()
            continue
        if c == "}":
            break
        if len(parts[current]) >= MAX_VALUE:
            raise Syntax()
        parts[current] += chr(ord(c) | 0x20)
        p.i += 1
    return parts[0], parts[1]
