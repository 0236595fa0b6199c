"""Services a module uses while it runs, in the shape Kamailio's modules know them.

Re-exported by `kampy.api` (modules import them from there). Everything here works on the two
objects a module is handed: the `Core` of its process (`self.core`) and the `MessageContext` of the
message at hand (`ctx`, the first argument of every function handler).

* Logging with the config's levels: `module_logger("hello")` and `log_at(logger, L_INFO, ...)`; the
  core `debug=` parameter (or `kampy run -d`) decides what shows, as Kamailio's does.
* Pseudo-variables: `pv_accessor(core, "$ru")` once (at init), then `.get(ctx)` / `.set(ctx, v)`;
  `pv_get`/`pv_set` for a one-off; `formatter(core, "From $fu")` for a format string.
* AVPs and flags: `avp_get`, `avp_values`, `avp_add`, `avp_del`; `setflag`, `resetflag`, `isflagset`
  (and their branch-flag twins `setbflag`, `resetbflag`, `isbflagset`).
* `runtime_dir(core)`: the directory of control sockets (`-Y`, `rundir`, default /run/kamailio);
  `server_id(core)`: the core `server_id` (`--server-id`).
* Other modules' declared APIs: `core.api("sl")` returns what sl offers (typed as `SlAPI`),
  `core.api("tm")` what tm offers (`TmAPI`). A module offers an API by overriding `Module.api()`.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from kampy.config.pvparse import parse_pv
from kampy.runtime.context import MessageContext
from kampy.runtime.loglevels import python_level
from kampy.sip.message import Response

# ------------------------------------------------------------------ logging
# Kamailio's levels (L_ERR ...) and their Python levels are the core's: kampy.runtime.loglevels.


def module_logger(name: str) -> logging.Logger:
    """The logger of module `name` (`kampy.<name>`): what it logs follows the config's `debug=`."""
    return logging.getLogger(f"kampy.{name}")


def log_at(logger: logging.Logger, level: int, message: str, *args: Any) -> None:
    """Log at a Kamailio level: `log_at(log, L_NOTICE, "stored %d messages", n)`."""
    logger.log(python_level(level), message, *args)


# ------------------------------------------------------------------ the runtime directory

RUN_DIR = "/run/kamailio"


def runtime_dir(core: Any) -> str:
    """Where control sockets go by default (jsonrpcs' FIFO and socket, ctl's socket): `-Y`, else the
    config's `rundir`/`run_dir`, else Kamailio's /run/kamailio."""
    params = getattr(getattr(core, "config", None), "core_params", None) or {}
    for name in ("runtime_dir", "rundir", "run_dir"):
        if params.get(name):
            return str(params[name])
    return RUN_DIR


def server_id(core: Any) -> int:
    """The core `server_id` (`--server-id`), 0 when not set ($sid, usrloc's Server-Id)."""
    params = getattr(getattr(core, "config", None), "core_params", None) or {}
    try:
        return int(params.get("server_id") or 0)
    except (TypeError, ValueError):
        return 0


# ------------------------------------------------------------------ pseudo-variables


def pv_accessor(core: Any, spec: str) -> Any:
    """The accessor (`PVAccessor`: `get(ctx)`, and `set(ctx, value)` when writable) of a
    pseudo-variable such as `"$ru"`, `"$avp(x)"`, `"$hdr(From)"`, with any transformations. Build it
    once (in `__init__` or on first use) and keep it: parsing and resolving happen here.
    Raises `PVSyntaxError` for bad syntax, `LookupError` when no loaded module provides the class."""
    resolve = getattr(core, "pv", None)
    if resolve is None:
        raise LookupError("pseudo-variables are resolved once the routes are built (the core has no engine)")
    return resolve(parse_pv(spec))


def pv_get(ctx: MessageContext, spec: str) -> str | int | None:
    """The value of a pseudo-variable for this message (None is `$null`)."""
    return pv_accessor(ctx.core, spec).get(ctx)


def pv_set(ctx: MessageContext, spec: str, value: str | int | None) -> None:
    """Assign to a writable pseudo-variable (None deletes, as assigning `$null` does)."""
    accessor = pv_accessor(ctx.core, spec)
    if not hasattr(accessor, "set"):
        raise LookupError(f"{spec} is read-only")
    accessor.set(ctx, value)


def formatter(core: Any, text: str) -> Callable[[MessageContext], str]:
    """A format string with pseudo-variables (`"From $fu to $ru"`) as `fn(ctx) -> str`, built once."""
    compile_format = getattr(core, "compile_format", None)
    if compile_format is None:
        raise LookupError("format strings are compiled once the routes are built (the core has no engine)")
    return compile_format(text)


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


# ------------------------------------------------------------------ other modules' APIs


class SlAPI(Protocol):
    """What `core.api("sl")` offers (Kamailio's `sl_api_t` from `sl_load_api`)."""

    def reply(self, ctx: MessageContext, code: int, reason: str,
              extra_headers: Iterable[tuple[str, str]] = (), body: bytes = b"",
              to_tag: str | None = None) -> int:
        """Send a stateless reply to `ctx.msg`: 1 when sent, a negative code when it cannot be."""
        ...


ReplyCallback = Callable[[int, Response | None], None]


class TmAPI(Protocol):
    """What `core.api("tm")` offers to send new requests (Kamailio's `tmb.t_request` from
    `load_tm_api`). `callback(status, reply)` runs once with the final reply (status 408 and no
    reply on timeout); what tm sends goes out through the core, as from a timer."""

    def t_request(self, method: str, ruri: str, to_uri: str, from_uri: str, *,
                  headers: str = "", body: bytes = b"", next_hop: str | None = None,
                  callback: ReplyCallback | None = None) -> int:
        """Start a client transaction; 1 when sent, negative on error."""
        ...
