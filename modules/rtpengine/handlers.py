"""The config functions and pseudo-variables of rtpengine, each a thin wrapper around the module's
commands (rtpengine.py)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kampy.api import MessageContext, PVar, Request

from . import request as op
from . import stats
from .nodes import Registry

if TYPE_CHECKING:
    from .rtpengine import MsgState

log = logging.getLogger("kampy.rtpengine")


class HandlersMixin:
    """Part of RtpengineModule."""

    registry: Registry
    core: Any

    if TYPE_CHECKING:  # the module's commands (rtpengine.py)
        def wrap(self, ctx: MessageContext, func: Any, direction: int) -> int: ...
        def offer_answer(self, ctx: MessageContext, flags: str | None, op: str, setid: int | None,
                         more: bool) -> int: ...
        def delete(self, ctx: MessageContext, flags: str | None, setid: int | None,
                   op: str = ...) -> int: ...
        def simple(self, ctx: MessageContext, op: str, flags: str | None, setid: int | None) -> int: ...
        def manage(self, ctx: MessageContext, flags: str | None, setid: int | None) -> int: ...
        def play_media_cmd(self, ctx: MessageContext, flags: str | None, setid: int | None) -> int: ...
        def query_stats(self, ctx: MessageContext, flags: str | None, setid: int | None) -> int: ...
        def query_reply(self, ctx: MessageContext, setid: int | None) -> Any: ...
        def state(self, ctx: MessageContext) -> MsgState: ...

    # ------------------------------------------------------------------ set_rtpengine_set

    def fix_set_id(self, value: str) -> Any:
        """fixup_set_id: a set number, which must be configured, or a pseudo-variable."""
        text = str(value).strip()
        if text.startswith("$"):
            return self.core.pv_accessor(text)
        if not text.isdigit():
            raise ValueError(f"bad number <{text}>")
        if not self.registry.has_set(int(text)):
            raise ValueError(f"rtpp_proxy set {text} not configured")
        return int(text)

    def _set_n(self, ctx: MessageContext, link: Any) -> tuple[int, int | None]:
        if isinstance(link, int):
            return 1, link
        value = link.get(ctx)
        if not isinstance(value, int):
            log.error("pv param must hold an integer value")
            return -1, None
        if not self.registry.has_set(value):
            log.error("could not locate rtpengine set %s", value)
            return -1, None
        active = sum(1 for n in self.registry.nodes(value) if not n.disabled)
        if active:
            return active, value
        log.warning("rtpp: selected proxy set ID %s but it has no active node.", value)
        return -2, value

    def set_rtpengine_set(self, ctx: MessageContext, set1: Any, set2: Any = None) -> int:
        state = self.state(ctx)
        state.current, state.set1, state.set2 = False, None, None
        ret, state.set1 = self._set_n(ctx, set1)
        if state.set1 is not None:
            state.current = True
        if ret < 0 or set2 is None:
            return ret
        ret2, state.set2 = self._set_n(ctx, set2)
        return ret2 if ret2 < 0 else 1

    # ------------------------------------------------------------------ the commands

    def rtpengine_offer(self, ctx: MessageContext, flags: str | None = None) -> int:
        return self.wrap(ctx, lambda c, s, more: self.offer_answer(c, flags, op.OFFER, s, more), 1)

    def rtpengine_answer(self, ctx: MessageContext, flags: str | None = None) -> int:
        msg = ctx.msg
        if isinstance(msg, Request) and msg.method.upper() not in ("ACK", "PRACK"):
            return -1
        return self.wrap(ctx, lambda c, s, more: self.offer_answer(c, flags, op.ANSWER, s, more), 2)

    def rtpengine_delete(self, ctx: MessageContext, flags: str | None = None) -> int:
        return self.wrap(ctx, lambda c, s, more: self.delete(c, flags, s), 1)

    def rtpengine_query(self, ctx: MessageContext, flags: str | None = None) -> int:
        return self.wrap(ctx, lambda c, s, more: self.query_stats(c, flags, s), 1)

    def rtpengine_manage(self, ctx: MessageContext, flags: str | None = None) -> int:
        return self.wrap(ctx, lambda c, s, more: self.manage(c, flags, s), 1)

    def rtpengine_info(self, ctx: MessageContext, flags: str | None = None) -> int:
        return self.wrap(ctx, lambda c, s, more: self.simple(c, op.OFFER, flags, s), 1)

    def _generic(self, ctx: MessageContext, command: str, flags: str | None) -> int:
        return self.wrap(ctx, lambda c, s, more: self.simple(c, command, flags, s), 1)

    def start_recording(self, ctx: MessageContext, flags: str | None = None) -> int:
        return self._generic(ctx, op.START_RECORDING, flags)

    def stop_recording(self, ctx: MessageContext, flags: str | None = None) -> int:
        return self._generic(ctx, op.STOP_RECORDING, flags)

    def block_dtmf(self, ctx: MessageContext, flags: str | None = None) -> int:
        return self._generic(ctx, op.BLOCK_DTMF, flags)

    def unblock_dtmf(self, ctx: MessageContext, flags: str | None = None) -> int:
        return self._generic(ctx, op.UNBLOCK_DTMF, flags)

    def block_media(self, ctx: MessageContext, flags: str | None = None) -> int:
        return self._generic(ctx, op.BLOCK_MEDIA, flags)

    def unblock_media(self, ctx: MessageContext, flags: str | None = None) -> int:
        return self._generic(ctx, op.UNBLOCK_MEDIA, flags)

    def silence_media(self, ctx: MessageContext, flags: str | None = None) -> int:
        return self._generic(ctx, op.SILENCE_MEDIA, flags)

    def unsilence_media(self, ctx: MessageContext, flags: str | None = None) -> int:
        return self._generic(ctx, op.UNSILENCE_MEDIA, flags)

    def start_forwarding(self, ctx: MessageContext, flags: str | None = None) -> int:
        return self._generic(ctx, op.START_FORWARDING, flags)

    def stop_forwarding(self, ctx: MessageContext, flags: str | None = None) -> int:
        return self._generic(ctx, op.STOP_FORWARDING, flags)

    def play_media(self, ctx: MessageContext, flags: str) -> int:
        return self.wrap(ctx, lambda c, s, more: self.play_media_cmd(c, flags, s), 1)

    def stop_media(self, ctx: MessageContext, flags: str | None = None) -> int:
        return self._generic(ctx, op.STOP_MEDIA, flags)

    def play_dtmf(self, ctx: MessageContext, flags: str) -> int:
        return self._generic(ctx, op.PLAY_DTMF, flags)

    # ------------------------------------------------------------------ query results

    def fix_query_var(self, accessor: Any) -> Any:
        if not hasattr(accessor, "set"):
            raise ValueError("result pvar is not writeble")
        return accessor

    def rtpengine_query_v(self, ctx: MessageContext, fmt: str, var: Any) -> int:
        if not fmt:
            log.error("fmt has no value")
            return -1

        def query(c: MessageContext, s: int | None, more: bool) -> int:
            if fmt[0] not in "jJ":
                log.error("invalid format parameter value: %s", fmt)
                return -1
            reply = self.query_reply(c, s)
            var.set(c, stats.to_json(reply, len(fmt) > 1 and fmt[1] in "pP"))
            return 1

        return self.wrap(ctx, query, 1)

    def pv_rtpstat(self, spec: PVar) -> Any:
        return _Rtpstat(self)


class _Rtpstat:
    """$rtpstat / $rtpestat: a query of the call's statistics, as text."""

    def __init__(self, module: HandlersMixin) -> None:
        self.module = module

    def get(self, ctx: MessageContext) -> str | None:
        found: list[str | None] = [None]

        def query(c: MessageContext, s: int | None, more: bool) -> int:
            found[0] = stats.rtpstat(self.module.query_reply(c, s))
            return 1 if found[0] is not None else -1

        self.module.wrap(ctx, query, 1)
        return found[0]
