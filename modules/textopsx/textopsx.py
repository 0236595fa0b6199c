"""textopsx: apply the pending changes, change a reply's status, body and header pruning."""
from __future__ import annotations

import fnmatch as _fnmatch
import logging
import re
from typing import Any

from kampy.api import (
    FL_BODY_MULTIPART,
    Message,
    MessageContext,
    Module,
    Response,
    SIPProtocolError,
    as_bytes,
    boundary_of,
    check_boundaries,
    parse_message,
)

from .hfvalue import HfValueSelects
from .hfops import HfValueFunctions
from .iterators import BlIterator, HfIterator, Iterators

log = logging.getLogger("kampy.textopsx")

# ctx.local keys other modules keep about the message as it was before the changes were applied
_STALE_KEYS = ("textops.rewritten", "maxfwd.value")
# headers keep_hf() never removes (Kamailio's keep_hf_helper)
_KEPT = frozenset({"from", "to", "call-id", "cseq", "via", "contact", "content-length", "content-type",
                   "route", "record-route", "max-forwards"})


def replace_message(ctx: MessageContext, data: bytes) -> int:
    """Parse `data` and make it the message the script sees, keeping its msg_flags (as Kamailio's
    sip_msg_update_buffer() does); -1 when it does not parse."""
    try:
        msg = parse_message(data)
    except SIPProtocolError as exc:
        log.error("the changed message does not parse: %s", exc)
        return -1
    msg.msg_flags = ctx.msg.msg_flags
    if msg.msg_flags & FL_BODY_MULTIPART:
        msg = _boundaries_checked(msg)
    ctx.msg = msg
    for key in _STALE_KEYS:
        ctx.local.pop(key, None)
    return 1


def _boundaries_checked(msg: Message) -> Message:
    """A body marked FL_BODY_MULTIPART (by textops) gets its boundary lines rewritten once its
    Content-Type has a boundary, as Kamailio's core does when it builds the message."""
    boundary = boundary_of(msg.header("content-type"))
    body = check_boundaries(msg.body, boundary) if boundary else None
    if body is None:
        return msg
    msg.set_body(body)
    flags = msg.msg_flags & ~FL_BODY_MULTIPART
    try:
        msg = parse_message(msg.to_bytes())
    except SIPProtocolError as exc:
        log.error("the changed message does not parse: %s", exc)
        return msg
    msg.msg_flags = flags
    return msg


class TextopsxModule(HfValueFunctions, Iterators, HfValueSelects, Module):

    def __init__(self, params: dict[str, Any], core: Any) -> None:
        super().__init__(params, core)
        # per worker process, as Kamailio's static iterator tables
        self.hf_iterators: dict[str, HfIterator] = {}
        self.bl_iterators: dict[str, BlIterator] = {}

    def msg_apply_changes(self, ctx: MessageContext) -> int:
        if not ctx.msg.changes:
            return 1
        return replace_message(ctx, ctx.msg.to_bytes())

    def msg_set_buffer(self, ctx: MessageContext, data: str) -> int:
        return replace_message(ctx, as_bytes(data))

    def change_reply_status(self, ctx: MessageContext, code: int, reason: str | None) -> int:
        if reason is None:  # an unset pseudo-variable
            log.error("cannot get parameters")
            return -1
        return self._change_status(ctx, int(code), reason)

    def change_reply_status_code(self, ctx: MessageContext, code: int) -> int:
        return self._change_status(ctx, int(code), None)

    def _change_status(self, ctx: MessageContext, code: int, reason: str | None) -> int:
        msg = ctx.msg
        if not isinstance(msg, Response):
            log.error("change_reply_status: not a reply")
            return -1
        if reason is not None and not reason:
            log.error("invalid reason parameter")
            return -1
        if not 100 <= code <= 699:
            log.error("wrong status code: %d", code)
            return -1
        if (code < 300 or msg.status < 300) and code // 100 != msg.status // 100:
            log.error("the class of provisional or positive final replies cannot be changed")
            return -1
        data = msg.to_bytes()
        end = data.find(b"\r\n") if b"\r\n" in data else data.find(b"\n")
        text = reason if reason is not None else msg.reason
        first = b"SIP/2.0 %d %s" % (code, as_bytes(text))
        return replace_message(ctx, first + data[end:])

    def remove_body(self, ctx: MessageContext) -> int:
        if ctx.msg.body:
            ctx.msg.set_body(b"")
        return 1

    def keep_hf(self, ctx: MessageContext, regex: re.Pattern[str] | None = None) -> int:
        written: dict[str, str] = {}
        for name, value in zip(ctx.msg.header_names, ctx.msg.headers(), strict=True):
            written.setdefault(name, value[0])
        for name, as_written in written.items():
            if name in _KEPT:
                continue
            if regex is None or not regex.search(as_written):
                ctx.msg.remove_header(name)
        return -1  # Kamailio's keep_hf always returns -1

    def fnmatch(self, ctx: MessageContext, value: str, expr: str, flags: str = "") -> int:
        if flags[:1] in ("i", "I"):
            return 1 if _fnmatch.fnmatchcase(value.lower(), expr.lower()) else -1
        return 1 if _fnmatch.fnmatchcase(value, expr) else -1
