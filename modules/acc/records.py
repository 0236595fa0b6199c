"""What acc writes: the core attributes of a record (Kamailio's core2strar), the extra and multi-leg
attributes (acc_extra.c), the syslog line (acc_log_request) and the database rows (acc_db_request)."""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from kampy.api import MessageContext, Request, avp_values, parse_pv_at

# the leading texts of the log lines (acc.h)
ACC_REQUEST = "ACC: request accounted: "
ACC_MISSED = "ACC: call missed: "
ACC_ANSWERED = "ACC: transaction answered: "
ACC_ACKED = "ACC: request acknowledged: "

LOG_NAMES = ("method", "from_tag", "to_tag", "call_id", "code", "reason")
MAX_ACC_LEG = 16


@dataclass(frozen=True)
class Comment:
    """The comment of acc_*_request() ("200 OK" is code 200, code text "200", reason "OK"; a
    comment not starting with three digits is all reason, with no code: acc_parse_code)."""

    code: int
    code_s: str | None
    reason: str


def parse_comment(text: str) -> Comment:
    if len(text) >= 3 and text[:3].isdigit():
        return Comment(int(text[:3]), text[:3], text[3:].lstrip())
    return Comment(0, None, text)


@dataclass
class Extra:
    """One `name=$pv` of log_extra, db_extra or multi_leg_info; `get` reads the value (None: $null)."""

    name: str
    spec: str
    avp: str | None = None  # the AVP name of a multi_leg_info entry
    get: Callable[[MessageContext], Any] | None = field(default=None, repr=False)


def parse_extras(text: str, limit: int) -> list[Extra]:
    """Kamailio's parse_acc_extra: `name=$pv;name2=$pv2`, blanks allowed around each part.
    ValueError names the position where it failed."""
    extras: list[Extra] = []
    i, n = 0, len(text)

    def fail(at: int) -> ValueError:
        return ValueError(f"parse failed in <{text}> around position {at}")

    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise fail(i)
        if len(extras) == limit:
            raise ValueError("too many extras -> please increase the internal buffer")
        start = i
        while i < n and not text[i].isspace() and text[i] != "=":
            i += 1
        if i >= n:
            raise fail(i)
        name = text[start:i]
        while i < n and text[i].isspace():
            i += 1
        if i >= n or text[i] != "=":
            raise fail(i)
        i += 1
        while i < n and text[i].isspace():
            i += 1
        try:
            pv, end = parse_pv_at(text, i)
        except (ValueError, IndexError):
            raise fail(i) from None
        extras.append(Extra(name, text[i:end], pv.arg if pv.cls == "avp" else None))
        i = end
        while i < n and text[i].isspace():
            i += 1
        if i < n:
            if text[i] != ";" or i + 1 >= n:
                raise fail(i)
            i += 1
    return extras


def parse_legs(text: str) -> list[Extra]:
    """multi_leg_info (parse_acc_leg): extras that are AVPs only, at most 16."""
    legs = parse_extras(text, 64)
    if any(leg.avp is None for leg in legs):
        raise ValueError("only AVP are accepted as leg info")
    if len(legs) > MAX_ACC_LEG:
        raise ValueError(f"too many leg info; MAX={MAX_ACC_LEG}")
    return legs


@dataclass
class Env:
    """Kamailio's acc_env for one record: code, reason, the To header it takes the to-tag from,
    the to-tag tm gave its own reply, the text (log) or table (DB)."""

    code: int = 0
    code_s: str | None = None
    reason: str = ""
    to_tag: str | None = None  # the To-tag of the reply (or request) accounted
    local_to_tag: str | None = None  # tm's To-tag for a reply it made itself (missed calls)
    upstream: bool = False  # detect_direction found the request going upstream: From/To swap
    text: str = ""
    now: float = 0.0  # when it happened (core.clock.time())


def core_values(msg: Request, env: Env) -> list[str | None]:
    """method, from_tag, to_tag, callid, sip_code, sip_reason (None: NULL)."""
    method = msg.cseq.method if msg.cseq is not None else msg.method
    from_tag = msg.from_.tag if msg.from_ is not None else None
    to_tag = env.to_tag
    if env.upstream:
        from_tag, to_tag = to_tag, from_tag
    if not to_tag and env.local_to_tag:
        to_tag = env.local_to_tag
    return [method, from_tag or None, to_tag or None, msg.call_id or None, env.code_s, env.reason]


def extra_values(extras: Sequence[Extra], ctx: MessageContext) -> list[str | None]:
    out: list[str | None] = []
    for extra in extras:
        assert extra.get is not None
        value = extra.get(ctx)
        out.append(None if value is None else str(value))
    return out


def leg_rows(legs: Sequence[Extra], ctx: MessageContext) -> Iterator[list[str | None]]:
    """legs2strar: the first row always (NULLs for missing AVPs), then one more for each further
    value any of the AVPs has."""
    values = [avp_values(ctx, leg.avp or "") for leg in legs]
    depth = max((len(v) for v in values), default=0)
    for i in range(max(depth, 1)):
        yield [None if i >= len(v) else str(v[i]) for v in values]


def time_parts(mode: int, now: float, fmt: str) -> tuple[Any, ...]:
    """The extra time values of time_mode 1-4 (sec and usec, a float, a formatted time)."""
    sec = int(now)
    if mode == 1:
        return (sec, int(round((now - sec) * 1_000_000)) % 1_000_000)
    if mode == 2:
        return (round(now, 6),)
    if mode in (3, 4):
        t = time.localtime(sec) if mode == 3 else time.gmtime(sec)
        return (time.strftime(fmt, t)[:127],)
    return ()


def log_time_text(mode: int, now: float, fmt: str, attr: str, exten: str) -> str:
    """`timestamp=<sec>` and, by time_mode, `;<time_exten>=<usec>`, `;<time_attr>=<sec.msec>` or
    `;<time_attr>=<formatted>`."""
    sec = int(now)
    parts = time_parts(mode, now, fmt)
    if mode == 1:
        return f"timestamp={sec};{exten}={parts[1]}"
    if mode == 2:
        return f"timestamp={sec};{attr}={parts[0]:.3f}"
    if mode in (3, 4):
        return f"timestamp={sec};{attr}={parts[0]}"
    return f"timestamp={sec}"


def attrs_text(names: Sequence[str], values: Sequence[str | None]) -> str:
    return "".join(f";{name}={value or ''}" for name, value in zip(names, values, strict=True))


def db_time(now: float) -> dt.datetime:
    """The `time` column: local time, as Kamailio's DB drivers write a time_t."""
    return dt.datetime.fromtimestamp(int(now))
