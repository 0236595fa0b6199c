"""Time recurrences (RFC 2445 rules) as Kamailio's core utils/tmrec.c parses and checks them,
quirks included: a `byday` that does not parse is dropped, `interval` adds up its digits, a
`bymonthday` test that reads its sign wrongly, a `byday` of a monthly or yearly rule without a
count never matching. Times are local, as Kamailio's localtime()/mktime() make them."""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

FREQ_NOFREQ, FREQ_YEARLY, FREQ_MONTHLY, FREQ_WEEKLY, FREQ_DAILY = range(5)
WDAYS = {"SU": 0, "MO": 1, "TU": 2, "WE": 3, "TH": 4, "FR": 5, "SA": 6}
MATCH, NOMATCH, ERROR = 0, 1, -1


class RecurrenceError(ValueError):
    pass


@dataclass
class Tm:
    """C's struct tm: tm_mon 0-11, tm_year since 1900, tm_wday 0 = Sunday, tm_yday 0-365."""

    year: int
    mon: int
    mday: int
    hour: int
    min: int
    sec: int
    wday: int
    yday: int

    @classmethod
    def local(cls, t: float) -> Tm:
        s = time.localtime(t)
        return cls(s.tm_year - 1900, s.tm_mon - 1, s.tm_mday, s.tm_hour, s.tm_min, s.tm_sec,
                   (s.tm_wday + 1) % 7, s.tm_yday - 1)


def c_div(a: int, b: int) -> int:
    """C's integer division (towards zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def c_mod(a: int, b: int) -> int:
    """C's remainder (the sign of the dividend)."""
    return a - b * c_div(a, b)


def mktime(year: int, mon: int, mday: int, hour: int = 0, minute: int = 0, sec: int = 0,
           isdst: int = -1) -> int:
    """C's mktime() of a struct tm with these fields (C's conventions; out-of-range fields are
    carried over, as mktime normalises them)."""
    extra_months, mon = divmod(mon, 12)
    base = dt.datetime(year + 1900 + extra_months, mon + 1, 1)
    moved = base + dt.timedelta(days=mday - 1, hours=hour, minutes=minute, seconds=sec)
    return int(time.mktime((moved.year, moved.month, moved.day, moved.hour, moved.minute, moved.second,
                            0, 0, isdst)))


def is_leap_year(year: int) -> bool:
    """tr_is_leap_year()."""
    return (year % 4 == 0 and year % 100 != 0) or year % 400 == 0


@dataclass
class ByXXX:
    """A byxxx list: values and their "req" (the sign, or for byday the count)."""

    xxx: list[int] = field(default_factory=list)
    req: list[int] = field(default_factory=list)


@dataclass
class Recurrence:
    dtstart: int = 0
    ts: Tm | None = None
    dtend: int = 0
    duration: int = 0
    until: int = 0
    freq: int = FREQ_NOFREQ
    interval: int = 0
    byday: ByXXX | None = None
    bymday: ByXXX | None = None
    byyday: ByXXX | None = None
    bymonth: ByXXX | None = None
    byweekno: ByXXX | None = None


def _digit(c: str) -> int:
    return ord(c) - ord("0")


def parse_datetime(text: str) -> tuple[int, Tm | None]:
    """ic_parse_datetime(): YYYYMMDDThhmmss, local time; (0, None) when not 15 characters."""
    if len(text) != 15:
        return 0, None
    d = [_digit(c) for c in text]
    year = d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3] - 1900
    mon, mday = d[4] * 10 + d[5] - 1, d[6] * 10 + d[7]
    hour, minute, sec = d[9] * 10 + d[10], d[11] * 10 + d[12], d[13] * 10 + d[14]
    try:
        t = mktime(year, mon, mday, hour, minute, sec)
    except (ValueError, OverflowError):
        return 0, None
    return t, Tm.local(t)


def parse_duration(text: str) -> int:
    """ic_parse_duration(): [+-]P[nW][nD][T[nH][nM][nS]] in seconds; 0 when invalid."""
    if not text or text[0] not in "+-Pp":
        return 0
    if text[0] in "Pp":
        rest = text[1:]
    else:
        if len(text) < 2 or text[1] not in "Pp":
            return 0
        rest = text[2:]
    value = total = 0
    in_date = True
    units = {"w": (True, 7 * 24 * 3600), "d": (True, 24 * 3600), "h": (False, 3600), "m": (False, 60),
             "s": (False, 1)}
    for c in rest:
        if c.isdigit() and c.isascii():
            value = value * 10 + _digit(c)
        elif c.lower() in units:
            date_unit, seconds = units[c.lower()]
            if date_unit != in_date:
                return 0
            total += value * seconds
            value = 0
        elif c in "tT":
            if not in_date:
                return 0
            in_date = False
        else:
            return 0
    return total


def parse_freq(text: str) -> int:
    return {"daily": FREQ_DAILY, "weekly": FREQ_WEEKLY, "monthly": FREQ_MONTHLY,
            "yearly": FREQ_YEARLY}.get(text.lower(), FREQ_NOFREQ)


def strz_to_int(text: str) -> int:
    """tr_strz_to_int(): the sum of the leading digits (Kamailio's)."""
    total = 0
    for c in text:
        if not ("0" <= c <= "9"):
            break
        total += _digit(c)
    return total


def parse_byday(text: str) -> ByXXX | None:
    """ic_parse_byday(): [+-][n]DD,...; None when it does not parse."""
    count = text.count(",") + 1
    out = ByXXX([0] * count, [0] * count)
    nr = value = 0
    sign = 1
    i = 0
    while i < len(text) and nr < count:
        c = text[i]
        if "0" <= c <= "9":
            value = value * 10 + _digit(c)
        elif c.upper() in "SMTWF":
            pair = text[i:i + 2].upper()
            if pair not in WDAYS:
                return None
            out.xxx[nr] = WDAYS[pair]
            out.req[nr] = sign * value
            sign, value = 1, 0
            i += 1
        elif c == "-":
            sign = -1
        elif c in "+ \t":
            pass
        elif c == ",":
            nr += 1
        else:
            return None
        i += 1
    return out


def parse_byxxx(text: str) -> ByXXX | None:
    """ic_parse_byxxx(): [+-]n,...; None when it does not parse."""
    count = text.count(",") + 1
    out = ByXXX([0] * count, [0] * count)
    nr = value = 0
    sign = 1
    for c in text:
        if nr >= count:
            break
        if "0" <= c <= "9":
            value = value * 10 + _digit(c)
        elif c == "-":
            sign = -1
        elif c in "+ \t":
            pass
        elif c == ",":
            out.xxx[nr], out.req[nr] = value, sign
            sign, value = 1, 0
            nr += 1
        else:
            return None
    if nr < count:
        out.xxx[nr], out.req[nr] = value, sign
    return out


def parse_recurrence(text: str, sep: str = "|") -> Recurrence:
    """tr_parse_recurrence_string(): the fields in order, an empty one skipped."""
    rec = Recurrence()
    for index, part in enumerate(text.split(sep)[:10]):
        if not part:
            continue
        if index == 0:
            rec.dtstart, rec.ts = parse_datetime(part)
            if rec.dtstart == 0:
                raise RecurrenceError(f"failed to parse time recurrence [{text}]")
        elif index == 1:
            rec.duration = parse_duration(part)
            if rec.duration == 0:
                raise RecurrenceError(f"failed to parse time recurrence [{text}]")
        elif index == 2:
            rec.freq = parse_freq(part)
        elif index == 3:
            rec.until, _ = parse_datetime(part)
            if rec.until == 0:
                raise RecurrenceError(f"failed to parse time recurrence [{text}]")
        elif index == 4:
            rec.interval = strz_to_int(part)
        elif index == 5:
            rec.byday = parse_byday(part)
        elif index == 6:
            rec.bymday = parse_byxxx(part)
        elif index == 7:
            rec.byyday = parse_byxxx(part)
        elif index == 8:
            rec.byweekno = parse_byxxx(part)
        elif index == 9:
            rec.bymonth = parse_byxxx(part)
    return rec


# ------------------------------------------------------------------ the time checked


def mon_week(t: Tm) -> int:
    """MON_WEEK(): the week of the year, weeks starting on Monday."""
    return c_div(t.yday + 7 - (t.wday - 1 if t.wday else 6), 7)


def month_week(t: Tm) -> int:
    """ac_get_mweek() (Monday system)."""
    return c_div(t.mday - 1, 7) + c_div(7 - c_mod(6 + t.wday, 7) + c_mod(t.mday - 1, 7), 7)


@dataclass
class When:
    """ac_tm_t: the time checked, with its weeks."""

    time: int
    t: Tm

    @classmethod
    def at(cls, t: int) -> When:
        return cls(t, Tm.local(t))

    @property
    def yweek(self) -> int:
        return mon_week(self.t)

    @property
    def ywday(self) -> int:
        return c_div(self.t.yday, 7)

    @property
    def mwday(self) -> int:
        return c_div(self.t.mday - 1, 7)


@dataclass
class MaxValues:
    yday: int
    mday: int
    ywday: int
    yweek: int
    mwday: int
    mweek: int


def max_values(when: When) -> MaxValues:
    """ac_get_maxval()."""
    t = when.t
    yday = 365 + (1 if is_leap_year(t.year + 1900) else 0)
    if t.mon == 1:
        mday = 29 if yday == 366 else 28
    elif t.mon in (3, 5, 8, 10):
        mday = 30
    else:
        mday = 31
    last = dt.date(t.year + 1900, 12, 31)
    last_tm = Tm(t.year, 11, 31, 0, 0, 0, (last.weekday() + 1) % 7, last.timetuple().tm_yday - 1)
    v = t.wday - last_tm.wday + 1 if t.wday > last_tm.wday else last_tm.wday - t.wday
    ywday = c_div(last_tm.yday - v, 7) + 1
    yweek = mon_week(last_tm) + 1
    mwday = c_div(mday - 1 - c_mod(mday - t.mday, 7), 7) + 1
    v = c_mod(t.wday + c_mod(mday - t.mday, 7), 7)
    mweek = c_div(mday - 1, 7) + c_div(7 - c_mod(6 + v, 7) + c_mod(mday - 1, 7), 7) + 1
    return MaxValues(yday, mday, ywday, yweek, mwday, mweek)


def check_recurrence(rec: Recurrence, when: When) -> int:
    """tr_check_recurrence(): MATCH (0), NOMATCH (1) or ERROR (-1)."""
    if rec.duration <= 0 and rec.dtend <= 0:
        return ERROR
    if when.time < rec.dtstart:
        return NOMATCH
    if rec.duration <= 0:
        rec.duration = rec.dtend - rec.dtstart
    if when.time <= rec.dtstart + rec.duration:
        return MATCH
    if rec.until > 0 and when.time >= rec.until + rec.duration:
        return NOMATCH
    if _freq_interval(rec, when) != MATCH:
        return NOMATCH
    if _min_unit(rec, when) != MATCH:
        return NOMATCH
    if _byxxx(rec, when) != MATCH:
        return NOMATCH
    return MATCH


def _freq_interval(rec: Recurrence, when: When) -> int:
    if rec.freq <= 0:
        return NOMATCH
    if rec.interval <= 0 or rec.interval == 1:
        return MATCH
    ts, t = rec.ts, when.t
    assert ts is not None
    if rec.freq in (FREQ_DAILY, FREQ_WEEKLY):
        t0 = mktime(ts.year, ts.mon, ts.mday, isdst=0)
        t1 = mktime(t.year, t.mon, t.mday, isdst=0)
        if rec.freq == FREQ_DAILY:
            return MATCH if c_mod(c_div(t1 - t0, 24 * 3600), rec.interval) == 0 else NOMATCH
        t0 -= ((ts.wday + 6) % 7) * 24 * 3600
        t1 -= ((t.wday + 6) % 7) * 24 * 3600
        return MATCH if c_mod(c_div(t1 - t0, 7 * 24 * 3600), rec.interval) == 0 else NOMATCH
    if rec.freq == FREQ_MONTHLY:
        months = (t.year - ts.year) * 12 + t.mon - ts.mon
        return MATCH if c_mod(months, rec.interval) == 0 else NOMATCH
    if rec.freq == FREQ_YEARLY:
        return MATCH if c_mod(t.year - ts.year, rec.interval) == 0 else NOMATCH
    return NOMATCH


def _min_interval(rec: Recurrence) -> int:
    if rec.freq == FREQ_DAILY or rec.byday or rec.bymday or rec.byyday:
        return FREQ_DAILY
    if rec.freq == FREQ_WEEKLY or rec.byweekno:
        return FREQ_WEEKLY
    if rec.freq == FREQ_MONTHLY or rec.bymonth:
        return FREQ_MONTHLY
    if rec.freq == FREQ_YEARLY:
        return FREQ_YEARLY
    return FREQ_NOFREQ


def _min_unit(rec: Recurrence, when: When) -> int:
    ts, t = rec.ts, when.t
    assert ts is not None
    unit = _min_interval(rec)
    if unit == FREQ_WEEKLY and ts.wday != t.wday:
        return NOMATCH
    if unit == FREQ_MONTHLY and ts.mday != t.mday:
        return NOMATCH
    if unit == FREQ_YEARLY and (ts.mon != t.mon or ts.mday != t.mday):
        return NOMATCH
    if unit == FREQ_NOFREQ:
        return NOMATCH
    v0 = ts.hour * 3600 + ts.min * 60 + ts.sec
    v1 = t.hour * 3600 + t.min * 60 + t.sec
    return MATCH if v0 <= v1 < v0 + rec.duration else NOMATCH


def _byxxx(rec: Recurrence, when: When) -> int:
    if not (rec.byday or rec.bymday or rec.byyday or rec.bymonth or rec.byweekno):
        return MATCH
    t = when.t
    mv = max_values(when)
    checks: list[tuple[ByXXX | None, Callable[[int, int], bool]]] = [
        (rec.bymonth, lambda x, r: t.mon == c_mod(x * r + 12, 12)),
        (rec.byweekno if rec.freq == FREQ_YEARLY else None,
         lambda x, r: when.yweek == c_mod(x * r + mv.yweek, mv.yweek)),
        (rec.byyday, lambda x, r: t.yday == c_mod(x * r + mv.yday, mv.yday)),
        # Kamailio's test reads `mday == (x*r + max) % max + (r < 0)`: a positive day equal to
        # the month's length never matches
        (rec.bymday, lambda x, r: t.mday == c_mod(x * r + mv.mday, mv.mday) + (1 if r < 0 else 0)),
        (rec.byday, lambda x, r: _byday_matches(rec.freq, x, r, when, mv)),
    ]
    for by, matches in checks:
        if by is not None and not any(matches(x, r) for x, r in zip(by.xxx, by.req, strict=True)):
            return NOMATCH
    return MATCH


def _byday_matches(freq: int, wday: int, req: int, when: When, mv: MaxValues) -> bool:
    if when.t.wday != wday:
        return False
    if freq == FREQ_YEARLY:
        return when.ywday + 1 == c_mod(req + mv.ywday, mv.ywday)
    if freq == FREQ_MONTHLY:
        return when.mwday + 1 == c_mod(req + mv.mwday, mv.mwday)
    return True


def tmrec_match(text: str, timestamp: int, sep: str = "|") -> bool:
    """Kamailio's tmrec_match(): a recurrence without a start date matches any time."""
    rec = parse_recurrence(text, sep)
    if rec.dtstart == 0:
        return True
    return check_recurrence(rec, When.at(timestamp)) == MATCH
