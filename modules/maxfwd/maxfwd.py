"""Max-Forwards processing with Kamailio's return codes (maxfwd/mf_funcs.c)."""
from __future__ import annotations

import logging
from typing import Any

from kampy.api import CoreAPI, MessageContext, Module, Request

log = logging.getLogger("kampy.maxfwd")

_DECREMENTED = "maxfwd.value"  # ctx.local: the value written by an earlier call on this message
NOT_FOUND, PARSE_ERROR = -1, -2


class MaxfwdModule(Module):

    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        if not 0 <= int(params["max_limit"]) <= 255:
            raise ValueError(f"max_limit must be 0..255, not {params['max_limit']}")
        self.cfg = core.cfg

    @property
    def max_limit(self) -> int:
        """The cfg group's `maxfwd.max_limit` (the parameter, unless changed at run time)."""
        return int(self.cfg.get("maxfwd", "max_limit"))  # type: ignore[arg-type]

    def present(self, ctx: MessageContext) -> int:
        """The Max-Forwards value, -1 when absent, -2 when unparsable (is_maxfwd_present)."""
        if _DECREMENTED in ctx.local:
            return int(ctx.local[_DECREMENTED])
        raw = ctx.msg.get_all_raw("Max-Forwards")
        if not raw:
            return NOT_FOUND
        text = raw[0].partition(b":")[2].strip()
        value = int(text) if text.isdigit() and len(text) <= 5 else 65536
        if value > 65535:
            log.error("unable to parse the max forwards number")
            return PARSE_ERROR
        return value

    def maxfwd_process(self, ctx: MessageContext, limit: int) -> int:
        """2: header added; 1: decremented; -1: value 0 (reply 483); -2: error."""
        if not 0 <= limit <= 255:
            log.error("invalid param value: %d", limit)
            return -1
        msg = ctx.msg
        if not isinstance(msg, Request):
            return -2
        val = self.present(ctx)
        if val == NOT_FOUND:
            msg.add_header("Max-Forwards", str(limit), first=True)
            ctx.local[_DECREMENTED] = limit
            return 2
        if val == PARSE_ERROR:
            return -2
        if val == 0:
            return -1
        if val > self.max_limit:
            val = self.max_limit + 1
        self._write(ctx, val - 1)
        return 1

    def _write(self, ctx: MessageContext, value: int) -> None:
        """Write the value where the old one stands, as Kamailio's decrement_maxfwd does: digits
        right-aligned in the old value's width, padded with spaces ("10" -> " 9"). A second call
        in the same message rewrites the line again from its pending text."""
        line = ctx.msg.pending_header_line("max-forwards", 0)
        if line is None:
            log.warning("Max-Forwards removed from this message; not rewritten")
        else:
            ctx.msg.replace_lines("max-forwards", 0, _with_value(line, value))
        ctx.local[_DECREMENTED] = value

    mf_process_maxfwd_header = maxfwd_process
    process_maxfwd = maxfwd_process

    def is_maxfwd_lt(self, ctx: MessageContext, limit: int) -> int:
        """1 when the value is below `limit`; -1 when not; -2 absent; -3 unparsable."""
        if not 0 <= limit <= 255:
            log.error("invalid param value: %d", limit)
            return -1
        val = self.present(ctx)
        if val < 0:
            return val - 1
        return -1 if val >= limit else 1

    maxfwd_at_least = is_maxfwd_lt
    mf_lowlimit = is_maxfwd_lt


def _with_value(line: bytes, value: int) -> bytes:
    name, colon, rest = line.partition(b":")
    digits = rest.strip()
    at = rest.find(digits)
    new = (b"%d" % value).rjust(len(digits))
    return name + colon + rest[:at] + new + rest[at + len(digits):]
