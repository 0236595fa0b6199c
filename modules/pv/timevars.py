"""Time pseudo-variables: $time(name), $utime(name), $timef(fmt), $utimef(fmt), $TV(name), $Tf.

Time comes from the core's clock (`ctx.core.clock`), so tests can fix it.
"""
from __future__ import annotations

import time

from kampy.api import MessageContext

from .common import PVError, Reader, Value

_PARTS = {
    "sec": lambda t: t.tm_sec, "min": lambda t: t.tm_min, "hour": lambda t: t.tm_hour,
    "mday": lambda t: t.tm_mday, "mon": lambda t: t.tm_mon, "year": lambda t: t.tm_year,
    "wday": lambda t: (t.tm_wday + 1) % 7 + 1,  # Kamailio: C tm_wday (Sunday=0) + 1
    "yday": lambda t: t.tm_yday, "isdst": lambda t: max(t.tm_isdst, 0),
}


def _tm(ctx: MessageContext, utc: bool) -> time.struct_time:
    now = ctx.core.clock.time()
    return time.gmtime(now) if utc else time.localtime(now)


def broken_down(name: str, utc: bool) -> Reader:
    """`$time(hour)`: fields as Kamailio gives them (mon 1..12, year 2024, wday 1=Sunday, yday 1..366)."""
    part = _PARTS.get(name.strip())
    if part is None:
        raise PVError(f"unknown time attribute {name!r}")
    return Reader(lambda ctx: part(_tm(ctx, utc)))


def strftime(fmt: str, utc: bool) -> Reader:
    return Reader(lambda ctx: time.strftime(fmt, _tm(ctx, utc)))


_MESSAGE_TIME = "pv:message_time"


def message_time(ctx: MessageContext) -> float:
    """The clock's time when a script first asked for it while handling this message ($Ts, $Tf)."""
    stamp = ctx.local.get(_MESSAGE_TIME)
    if stamp is None:
        stamp = ctx.local[_MESSAGE_TIME] = ctx.core.clock.time()
    return stamp


def ctime(now: float) -> str:
    """`$Tf`: ctime() without the trailing newline."""
    return time.ctime(now)


def timeval(name: str) -> Reader:
    key = name.strip()

    def now(ctx: MessageContext) -> float:
        return ctx.core.clock.time()

    getters = {
        "s": lambda ctx: int(now(ctx)),
        "u": lambda ctx: int(now(ctx) * 1_000_000) % 1_000_000,
        "sn": lambda ctx: int(now(ctx)),
        "un": lambda ctx: int(now(ctx) * 1_000_000) % 1_000_000,
        "Sn": lambda ctx: f"{int(now(ctx))}.{int(now(ctx) * 1_000_000) % 1_000_000:06d}",
        "Fn": lambda ctx: _full(now(ctx)),
    }
    if key not in getters:
        raise PVError(f"unknown $TV({key})")
    return Reader(getters[key])


def _full(t: float) -> Value:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f".{int(t * 1_000_000) % 1_000_000:06d}"
