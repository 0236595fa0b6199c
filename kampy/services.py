"""Helpers a module uses on the message at hand, in the shape Kamailio's modules know them.

Re-exported by `kampy.api` (modules import them from there). They work on the `MessageContext` of
the message at hand (`ctx`, the first argument of every function handler); what a module uses of
the core is `self.core` (`kampy.apis.CoreAPI`).

* Logging with the config's levels: `module_logger("hello")` and `log_at(logger, L_INFO, ...)`; the
  core `debug=` parameter (or `kampy run -d`) decides what shows, as Kamailio's does.
* Pseudo-variables for a one-off: `pv_get(ctx, "$ru")`, `pv_set(ctx, "$du", ...)` (for a PV read
  often, `core.pv_accessor("$ru")` once, then `.get(ctx)` / `.set(ctx, v)`).
* AVPs and flags: `avp_get`, `avp_values`, `avp_add`, `avp_del`; `setflag`, `resetflag`, `isflagset`
  (and their branch-flag twins `setbflag`, `resetbflag`, `isbflagset`).
"""
from __future__ import annotations

import logging
from typing import Any

from kampy.runtime.context import MessageContext
from kampy.runtime.loglevels import python_level

# ------------------------------------------------------------------ logging
# Kamailio's levels (L_ERR ...) and their Python levels are the core's: kampy.runtime.loglevels.


# the attribute of a log record naming its syslog facility (read by kampy run's syslog handler)
SYSLOG_FACILITY = "syslog_facility"


def module_logger(name: str) -> logging.Logger:
    """The logger of module `name` (`kampy.<name>`): what it logs follows the config's `debug=`."""
    return logging.getLogger(f"kampy.{name}")


def log_at(logger: logging.Logger, level: int, message: str, *args: Any, facility: int | None = None) -> None:
    """Log at a Kamailio level: `log_at(log, L_NOTICE, "stored %d messages", n)`. `facility` (a
    syslog facility code, `SysLogHandler.LOG_LOCAL0` ...) sends this line to another facility
    than the core's `log_facility` when kampy logs to syslog (Kamailio's LM_GEN2)."""
    extra = None if facility is None else {SYSLOG_FACILITY: facility}
    logger.log(python_level(level), message, *args, extra=extra)


# ------------------------------------------------------------------ pseudo-variables


def pv_get(ctx: MessageContext, spec: str) -> str | int | None:
    """The value of a pseudo-variable for this message (None is `$null`); for a PV read often,
    build its accessor once with `core.pv_accessor(spec)` instead."""
    return ctx.core.pv_accessor(spec).get(ctx)


def pv_set(ctx: MessageContext, spec: str, value: str | int | None) -> None:
    """Assign to a writable pseudo-variable (None deletes, as assigning `$null` does)."""
    accessor = ctx.core.pv_accessor(spec)
    setter = getattr(accessor, "set", None)
    if setter is None:
        raise LookupError(f"{spec} is read-only")
    setter(ctx, value)


# ------------------------------------------------------------------ AVPs


def avp_key(name: str) -> str:
    """`s:x` and `x` name the same AVP; `i:5` names an integer-named one (as the pv module does)."""
    n = name.strip()
    if n[:2] in ("s:", "S:"):
        return n[2:]
    if n[:2] in ("i:", "I:"):
        return "i:" + n[2:]
    return n


def avp_values(ctx: MessageContext, name: str) -> list[str | int]:
    """Every value of AVP `name`, newest first (`$(avp(name)[*])`)."""
    return list(ctx.avps.get(avp_key(name), ()))


def avp_get(ctx: MessageContext, name: str, index: int = 0) -> str | int | None:
    """Value `index` of AVP `name` (0 is the newest, as `$avp(name)`), or None."""
    values = ctx.avps.get(avp_key(name), ())
    return values[index] if -len(values) <= index < len(values) else None


def avp_add(ctx: MessageContext, name: str, value: str | int) -> None:
    """Add a value to AVP `name` (it becomes the newest, as `$avp(name) = value`)."""
    ctx.avps.setdefault(avp_key(name), []).insert(0, value)


def avp_del(ctx: MessageContext, name: str) -> None:
    """Delete every value of AVP `name` (`$(avp(name)[*]) = $null`)."""
    ctx.avps.pop(avp_key(name), None)
    ctx.avp_flags.pop(avp_key(name), None)


# ------------------------------------------------------------------ flags

MAX_FLAG = 31


def _bit(flag: int) -> int:
    if not 0 <= flag <= MAX_FLAG:
        raise ValueError(f"bad flag {flag} (0..{MAX_FLAG})")
    return 1 << flag


def setflag(ctx: MessageContext, flag: int) -> None:
    """Set message flag `flag` (0..31), as `setflag(flag)` in the config."""
    ctx.flags |= _bit(flag)


def resetflag(ctx: MessageContext, flag: int) -> None:
    ctx.flags &= ~_bit(flag)


def isflagset(ctx: MessageContext, flag: int) -> bool:
    return bool(ctx.flags & _bit(flag))


def setbflag(ctx: MessageContext, flag: int) -> None:
    """Set branch flag `flag` of branch 0, as `setbflag(flag)`."""
    ctx.bflags |= _bit(flag)


def resetbflag(ctx: MessageContext, flag: int) -> None:
    ctx.bflags &= ~_bit(flag)


def isbflagset(ctx: MessageContext, flag: int) -> bool:
    return bool(ctx.bflags & _bit(flag))
