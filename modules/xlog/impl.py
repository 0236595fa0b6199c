"""xlog: formatted logging from the config, on the Python logger `kampy.script`.

Kamailio's levels map onto Python logging levels with the core's mapping (kampy.api.python_level);
the core `debug=` sets the threshold of the kampy loggers (kampy.api.debug_threshold): debug=2 shows
L_INFO and above, debug=3 adds L_DBG, debug=0 shows only L_WARN and above.
The format argument arrives already rendered by the engine.
"""
from __future__ import annotations

import contextlib
import logging
import logging.handlers
from collections.abc import Callable
from typing import Any

from kampy.api import (
    CoreAPI,
    L_ALERT,
    L_BUG,
    L_CRIT,
    L_CRIT2,
    L_DBG,
    L_ERR,
    L_INFO,
    L_NOTICE,
    L_WARN,
    LEVEL_NAMES,
    MessageContext,
    Module,
    PVar,
    log_stderr,
    python_level,
    set_level_color,
    term_color,
)

log = logging.getLogger("kampy.script")
own_log = logging.getLogger("kampy.xlog")  # what the module itself says (not the config's lines)

# xlog_fixup_helper picks the level by the third letter of the name: L_ALERT, L_BUG, L_CRIT ...
_BY_LETTER = {"A": L_ALERT, "B": L_BUG, "C": L_CRIT2, "E": L_ERR, "W": L_WARN, "N": L_NOTICE, "I": L_INFO,
              "D": L_DBG}


def parse_level(text: str) -> int | None:
    """`L_INFO` -> 2; a number (a level PV rendered) -> itself; anything else -> None."""
    t = text.strip()
    if t.lstrip("-").isdigit():
        return int(t)
    if len(t) >= 3 and t[:2].upper() == "L_":
        return _BY_LETTER.get(t[2].upper(), L_DBG)
    return None


# Kamailio's str2facility() names (without the LOG_ prefix), as syslog's facility numbers
_FACILITIES = ("auth", "cron", "daemon", "kern", "local0", "local1", "local2", "local3", "local4", "local5",
               "local6", "local7", "lpr", "mail", "news", "user", "uucp", "authpriv", "ftp", "syslog")


def parse_facility(name: str) -> int | None:
    """`LOG_LOCAL0` (any case) -> syslog's facility number; None for a name Kamailio does not know."""
    text = name.strip().lower()
    if not text.startswith("log_") or text[4:] not in _FACILITIES:
        return None
    return logging.handlers.SysLogHandler.facility_names[text[4:]]


def parse_log_colors(value: str) -> list[tuple[int, str, str]]:
    """`log_colors` ("L_ERR=cr;L_WARN=px"): (level, foreground, background) of each part; raises
    ValueError as Kamailio refuses the parameter (an unknown level, a spec that is not two letters)."""
    out = []
    text = value.strip()
    text = text[:-1] if text.endswith(";") else text
    if not text:
        raise ValueError("invalid log_colors value")
    for part in text.split(";"):
        name, _, spec = part.partition("=")
        level = LEVEL_NAMES.get(name.strip().upper())
        if level is None:
            raise ValueError(f"invalid level name {name.strip()}")
        spec = spec.strip()
        if len(spec) != 2:
            raise ValueError(f"invalid color spec for level {name.strip()} ({spec})")
        out.append((level, spec[0], spec[1]))
    return out


def color_code(spec: str) -> str:
    """`$C(fb)`: the terminal escape for foreground f and background b (Kamailio's dprint_term_color)."""
    if len(spec) != 2:
        raise ValueError(f"$C() takes two color letters, not {spec!r}")
    return term_color(spec[0], spec[1])


class _Color:
    """$C(fb): the escape when the log goes to stderr or `force_color` is set, else empty (the
    colours would end up in syslog), decided when read: the log is set up after the config loads."""

    __slots__ = ("code", "forced")

    def __init__(self, code: str, forced: bool) -> None:
        self.code = code
        self.forced = forced

    def get(self, ctx: MessageContext) -> str:
        return self.code if self.forced or log_stderr() else ""


class XlogModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.prefix: str = params["prefix"] or ""
        self.long_format = int(params["long_format"] or 0)
        self.cfg = core.cfg
        self.buf_size = int(params["buf_size"])
        self.force_color = int(params["force_color"] or 0) != 0
        for value in params["log_colors"] or []:
            for level, fg, bg in parse_log_colors(str(value)):
                set_level_color(level, fg, bg)
        self.facility: int | None = None  # None: the core's log_facility
        if params["log_facility"] is not None:
            self.facility = parse_facility(str(params["log_facility"]))
            if self.facility is None:
                raise ValueError(f"invalid syslog facility {params['log_facility']}")
        # prefix_mode 1: the prefix is a format, evaluated for each message (compiled on first use
        # when a module loaded after xlog provides its pseudo-variables)
        self._prefix_format: Callable[[MessageContext], str] | None = None
        self._prefix_mode = int(params["prefix_mode"] or 0) != 0
        if self._prefix_mode:
            with contextlib.suppress(LookupError):
                self._prefix_format = core.formatter(self.prefix)

    @property
    def methods_filter(self) -> int:
        """The cfg group's `xlog.methods_filter` (the parameter, unless changed at run time)."""
        return int(self.cfg.get("xlog", "methods_filter"))  # type: ignore[arg-type]

    # ------------------------------------------------------------ output

    def emit(self, ctx: MessageContext | None, level: int, text: str, line: bool = False,
             facility: int | None = None) -> int:
        pylevel = python_level(level)
        if not log.isEnabledFor(pylevel):
            return 1
        if len(text.encode()) >= self.buf_size:  # Kamailio's pv_printf() into a buf_size buffer
            own_log.error("buffer overflow -- increase the buffer size...")
            return -1
        text = text[:-1] if text.endswith("\n") else text
        prefix = self.prefix
        if line:
            text = f"{self._cfg_line(ctx)}:{text}"
            if self.long_format:  # Kamailio's short xlogl() line keeps the prefix as written
                prefix = self._prefix(ctx)
        else:
            prefix = self._prefix(ctx)
        facility = facility if facility is not None else self.facility
        extra: dict[str, int] = {"kamailio_levelno": level}  # its colour in a coloured log
        if facility is not None:
            extra["kamailio_facility"] = facility
        log.log(pylevel, "%s%s", prefix, text, extra=extra)
        return 1

    def _prefix(self, ctx: MessageContext | None) -> str:
        """The prefix; with prefix_mode 1 the format's value for `ctx` (the prefix as written when
        there is no message or the value is empty, as Kamailio falls back)."""
        if not self._prefix_mode or ctx is None:
            return self.prefix
        try:
            if self._prefix_format is None:
                self._prefix_format = self.core.formatter(self.prefix)
            value = self._prefix_format(ctx)
        except Exception as exc:  # a pseudo-variable that cannot be read here
            own_log.debug("prefix %r: %s", self.prefix, exc)
            return self.prefix
        value = value.encode()[:self.buf_size].decode(errors="ignore")
        return value or self.prefix

    def _cfg_line(self, ctx: MessageContext | None) -> str:
        pos = ctx.local.get("cfg_pos") if ctx is not None else None
        if pos is None:
            return "0"
        return f"{pos.file}:{pos.line}" if self.long_format else str(pos.line)

    def _level_call(self, ctx: MessageContext, args: tuple[str, ...], line: bool) -> int:
        if len(args) == 1:
            return self.emit(ctx, L_ERR, args[0], line)
        level_text, text = args[-2], args[-1]  # (facility,) level, format
        level = parse_level(level_text)
        if level is None:
            log.error("invalid log level value %r", level_text)
            return -1
        facility = None
        if len(args) == 3:
            facility = parse_facility(args[0])
            if facility is None:
                own_log.error("invalid syslog facility %s", args[0])
                return -1
        return self.emit(ctx, level, text, line, facility)

    # ------------------------------------------------------------ cfg functions

    def xlog(self, ctx: MessageContext, *args: str) -> int:
        return self._level_call(ctx, args, False)

    def xlogl(self, ctx: MessageContext, *args: str) -> int:
        return self._level_call(ctx, args, True)

    def xlogm(self, ctx: MessageContext, level: str, text: str) -> int:
        if self._filtered(ctx):
            return 1
        return self._level_call(ctx, (level, text), False)

    def _filtered(self, ctx: MessageContext) -> bool:
        if self.methods_filter == -1 or not ctx.is_request:
            return False
        from .methods import method_bit
        return bool(self.methods_filter & method_bit(ctx.msg.method))  # type: ignore[union-attr]

    def xdbg(self, ctx: MessageContext, text: str) -> int:
        return self.emit(ctx, L_DBG, text)

    def xdbgl(self, ctx: MessageContext, text: str) -> int:
        return self.emit(ctx, L_DBG, text, True)

    def xinfo(self, ctx: MessageContext, text: str) -> int:
        return self.emit(ctx, L_INFO, text)

    def xnotice(self, ctx: MessageContext, text: str) -> int:
        return self.emit(ctx, L_NOTICE, text)

    def xwarn(self, ctx: MessageContext, text: str) -> int:
        return self.emit(ctx, L_WARN, text)

    def xerr(self, ctx: MessageContext, text: str) -> int:
        return self.emit(ctx, L_ERR, text)

    def xbug(self, ctx: MessageContext, text: str) -> int:
        return self.emit(ctx, L_BUG, text)

    def xcrit(self, ctx: MessageContext, text: str) -> int:
        return self.emit(ctx, L_CRIT, text)

    def xalert(self, ctx: MessageContext, text: str) -> int:
        return self.emit(ctx, L_ALERT, text)

    # ------------------------------------------------------------ $C(xy)

    def pv_color(self, spec: PVar) -> _Color:
        return _Color(color_code(spec.arg or ""), self.force_color)
