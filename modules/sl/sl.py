"""Stateless replies, built from the received request the way Kamailio's sl module does.

The reply copies the request's Via, From, To, Call-ID and CSeq lines as received (names, compact
forms and order kept; Record-Route too for 180-299), records `received`/`rport` in the top Via
(`kampy.api.reply_via_line`, which tm shares), adds a To-tag for codes >= 180 when the request has
none, then the headers queued with `append_to_reply`, `Server:` and `Content-Length:`.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import re
from collections.abc import Iterable
from typing import Any

from kampy.api import (
    CoreAPI,
    MessageContext,
    Module,
    PVar,
    Request,
    Response,
    RouteType,
    SIPProtocolError,
    SND_F_CON_CLOSE,
    SND_F_FORCE_CON_REUSE,
    TmAPI,
    as_bytes,
    build_reply,
    local_to_tag,
    parse_message,
    relay_reply,
    warning_line,
)

log = logging.getLogger("kampy.sl")

SL_TAG_SIGNATURE, SL_TAG_SEPARATOR = "KAMAILIO-stateless", "."
_STAT_CODES = (200, 202, 300, 301, 302, 400, 401, 403, 404, 407, 408, 483, 500)
# sl.stats: Kamailio's RT_* counters, in its order
# send_reply_mode()'s mode bits (SET_RPL_NO_CONNECT_T, SET_RPL_CLOSE_T)
MODE_NO_CONNECT, MODE_CLOSE = 1, 2
LOCAL_RESPONSE, FILTERED_ACK = "sl:local-response", "sl:filtered-ack"
# An ACK is taken for one to a local reply only until 2 s after the last one sl sent, in Kamailio's
# timer ticks (1/16 s): the deadline is a counter of a small shared table, which every worker reads
TICKS_HZ, SL_RPL_WAIT_TICKS, DEADLINE = 16, 2 * 16, 0
_STATUS_LINE = re.compile(rb"(\S+[ \t]+)(\d{3})([ \t]*)([^\r\n]*)")
_RPC_STATS = ("200", "202", "2xx", "300", "301", "302", "3xx", "400", "401", "403", "404", "407", "408",
              "483", "4xx", "500", "5xx", "6xx", "xxx")


class SlModule(Module):
    """The sl module; `reply()`, `send_reply()` and `to_tag()` are the API it offers (`SlAPI`)."""

    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.default_code = int(params["default_code"])
        self.default_reason = str(params["default_reason"])
        self.rich_redirect = int(params["rich_redirect"])
        # send_reply() replies in tm's transaction when there is one (bind_tm)
        self.tm: TmAPI | None = core.api("tm") if params["bind_tm"] else None
        self._timeout: Any = None  # the shared table holding the ACK deadline, opened at first use

    # ------------------------------------------------------------ API

    def to_tag(self, msg: Request) -> str:
        return local_to_tag(self.core, msg, SL_TAG_SIGNATURE, SL_TAG_SEPARATOR)

    def get_reply_totag(self, ctx: MessageContext) -> str:
        """kampy.api.SlAPI: the To-tag of whichever reply the request gets (get_reply_totag): tm's
        when it has a transaction, else sl's."""
        msg = ctx.msg
        assert isinstance(msg, Request)
        if msg.to is not None and msg.to.tag:
            return msg.to.tag
        if self.tm is not None and self.tm.has_transaction(ctx):
            return self.tm.t_get_reply_totag(msg)
        return self.to_tag(msg)

    def build_reply(self, ctx: MessageContext, code: int, reason: str,
                    extra_headers: Iterable[tuple[str, str]] = (), body: bytes = b"",
                    to_tag: str | None = None) -> bytes:
        """The bytes of a reply to ctx.msg, laid out as Kamailio's build_res_buf_from_sip_req."""
        msg = ctx.msg
        assert isinstance(msg, Request)
        to = msg.to
        tag = (to_tag or self.to_tag(msg)) if code >= 180 and to is not None and not to.tag else None
        lumps = self._lumps(ctx, code)
        if extra_headers:
            lumps += [as_bytes(f"{name}: {value}\r\n") for name, value in extra_headers]
        return build_reply(msg, ctx.src.ip, ctx.src.port, code, reason, to_tag=tag,
                           force_rport=ctx.force_rport, lumps=lumps,
                           server=self.core.server_header, body=body or ctx.reply_body,
                           warning=warning_line(msg, ctx.src, ctx.ruri) if self.core.sip_warning else b"")

    def _lumps(self, ctx: MessageContext, code: int) -> list[bytes]:
        lumps = [as_bytes(text) for text in ctx.reply_lumps]
        if 300 <= code < 400:
            dset = self._print_dset(ctx)
            if dset:
                lumps.append(dset)  # added when the reply is built, after earlier append_to_reply()
        return lumps

    def _print_dset(self, ctx: MessageContext) -> bytes:
        """The Contact header of a redirect: the new R-URI and the branches (Kamailio's print_dset)."""
        contacts = [f"<{ctx.new_ruri}>"] if ctx.new_ruri is not None else []
        for br in ctx.branches:
            q = f";q={br.q / 1000:g}" if br.q >= 0 else ""
            contacts.append(f"<{br.uri}>{q}")
        if not contacts:
            return b""
        return as_bytes("Contact: " + ", ".join(contacts) + "\r\n")

    def reply(self, ctx: MessageContext, code: int, reason: str,
              extra_headers: Iterable[tuple[str, str]] = (), body: bytes = b"",
              to_tag: str | None = None) -> int:
        """Send a stateless reply to ctx.msg; 1 when sent, -1 when it cannot be (an ACK, a reply),
        -2 when the message is marked to get no reply (sanity found it too broken)."""
        msg = ctx.msg
        if ctx.noreply:
            log.info("message marked with no-reply flag")
            return -2
        if not isinstance(msg, Request) or msg.method == "ACK":  # any code goes, as in Kamailio
            self._inc("failures")
            return -1
        if msg.via is None:
            log.error("cannot reply: no Via header")
            self._inc("failures")
            return -1
        data = self.build_reply(ctx, code, reason, extra_headers, body, to_tag)
        self._extend_ack_window()
        self.core.send_reply(ctx, data)
        ctx.replied = code
        self._count(code)
        self._local_response(ctx, data)
        return 1

    def _local_response(self, ctx: MessageContext, data: bytes) -> None:
        """event_route[sl:local-response], run with the reply just sent as the message."""
        if not self.core.has_route("event", LOCAL_RESPONSE):
            return
        try:
            reply = parse_message(data, limits=False)
        except SIPProtocolError as exc:
            log.error("cannot parse the local reply for %s: %s", LOCAL_RESPONSE, exc)
            return
        rctx = MessageContext(reply, ctx.src, self.core, route_type=RouteType.LOCAL, flags=ctx.flags)
        self.core.run_event_route(LOCAL_RESPONSE, rctx)
        ctx.outbox.extend(rctx.outbox)

    # ------------------------------------------------------------ the ACK window (sl_timeout)

    def _ticks(self) -> int:
        return int(self.core.clock.monotonic() * TICKS_HZ)

    def _deadline_table(self) -> Any:
        if self._timeout is None:
            self._timeout = self.core.shared.table("sl", capacity=16)
        return self._timeout

    def _extend_ack_window(self) -> None:
        """A local reply is sent: ACKs are looked at until 2 s from now (written once a tick)."""
        deadline = self._ticks() + SL_RPL_WAIT_TICKS
        table = self._deadline_table()
        if table.counter(DEADLINE) >= deadline:
            return
        with table.transaction():
            current = table.counter(DEADLINE)
            if current < deadline:
                table.add(DEADLINE, deadline - current)

    def _ack_too_late(self) -> bool:
        return self._deadline_table().counter(DEADLINE) <= self._ticks()

    # ------------------------------------------------------------ statistics

    def _inc(self, name: str) -> None:
        self.core.stats.inc(f"sl:{name}")

    def _count(self, code: int) -> None:
        inc = self.core.stats.inc
        for key in _count_keys(code):
            inc(key)

    def pre_script(self, ctx: MessageContext) -> bool:
        return not self.filter_ack(ctx)

    def filter_ack(self, ctx: MessageContext) -> bool:
        """True for an ACK to a reply this module sent (its To-tag is the one sl gives a reply to
        it: our prefix, and the suffix of its top Via and Call-ID), arriving within 2 s of the last
        local reply of any worker (Kamailio's sl_timeout; later ones go to the script): Kamailio
        counts it in
        sl:received_ACKs, runs event_route[sl:filtered-ack] and drops it before the script runs
        (sl_filter_ACK, run from the `pre_script` hook)."""
        msg = ctx.msg
        if not isinstance(msg, Request) or msg.method != "ACK":
            return False
        if self._ack_too_late():
            log.debug("too late to be a local ACK!")
            return False
        try:
            tag = msg.to.tag if msg.to is not None else None
        except SIPProtocolError:
            return False
        if not tag or tag != self.to_tag(msg):
            return False
        self._inc("received_ACKs")
        self.core.run_event_route(FILTERED_ACK, ctx)
        return True

    # ------------------------------------------------------------ cfg functions

    def sl_send_reply(self, ctx: MessageContext, code: int | None, reason: str | None) -> int:
        """A code or reason its pseudo-variable or AVP cannot give is default_code or default_reason."""
        return self.reply(ctx, self.default_code if code is None else int(code),
                          self.default_reason if reason is None else reason)

    def send_reply(self, ctx: MessageContext, code: int | None, reason: str | None) -> int:
        """Reply within the transaction when tm has one for this request, else statelessly."""
        code = self.default_code if code is None else code
        reason = self.default_reason if reason is None else reason
        tm = self.tm
        if tm is not None and tm.has_transaction(ctx):
            return int(tm.t_reply(ctx, int(code), reason))
        return self.reply(ctx, int(code), reason)

    def send_reply_mode(self, ctx: MessageContext, code: int | None, reason: str | None, mode: int) -> int:
        """send_reply() with the reply's send flags: mode 1 only on an open connection, else
        mode 2 closing the connection after it (Kamailio tests 1 first: 3 is as 1)."""
        if int(mode) & MODE_NO_CONNECT:
            ctx.reply_send_flags |= SND_F_FORCE_CON_REUSE
        elif int(mode) & MODE_CLOSE:
            ctx.reply_send_flags |= SND_F_CON_CLOSE
        return self.send_reply(ctx, code, reason)

    def sl_forward_reply(self, ctx: MessageContext, code: str = "", reason: str = "") -> int:
        """Relay the received reply now, its status code (same class) and reason changed when
        given; the core still relays the reply as received after the route unless it drops it."""
        msg = ctx.msg
        if not isinstance(msg, Response):
            log.error("invalid SIP message type")
            return -1
        if code:
            if len(code) != 3:
                log.error("invalid reply code value %s", code)
                return -1
            if code[0] != str(msg.status)[0]:
                log.error("reply code class cannot be changed")
                return -1
            if not (code[1].isdigit() and code[2].isdigit() and code.isascii()):
                log.error("invalid reply code value %s!", code)
                return -1
        out = relay_reply(ctx)
        if out is None:
            return -1
        if code or reason:
            out = dataclasses.replace(out, data=_restatus(out.data, code, reason))
        ctx.send(out)
        return 1

    def sl_reply_error(self, ctx: MessageContext) -> int:
        if ctx.noreply:
            log.info("message marked with no-reply flag")
            return -2
        code, phrase = err2reason(ctx.last_error)
        self.reply(ctx, code, phrase)
        log.error("stateless error reply used: %s", phrase)
        return 1

    # ------------------------------------------------------------ $ltt

    def pv_ltt(self, spec: PVar) -> LttPV:
        key = spec.arg or ""
        if key not in ("x", "s", "t"):
            raise ValueError(f"unknown PV ltt key: {key}")
        return LttPV(self, key)

    def local_to_tag(self, ctx: MessageContext, key: str) -> str | None:
        """$ltt(key): the To-tag of a local reply to the message; `s` sl's, `t` tm's (none without
        a transaction), `x` tm's when there is a transaction, else sl's (get_reply_totag)."""
        msg = ctx.msg
        if msg.via is None:
            return None
        tm = self.tm
        if key != "s" and tm is not None and tm.has_transaction(ctx):
            return tm.t_get_reply_totag(msg)  # type: ignore[arg-type]
        if key == "t":
            return None
        return self.to_tag(msg)  # type: ignore[arg-type]

    def rpc_stats(self) -> dict[str, int]:
        """Print reply statistics."""
        return {name: self.core.stats.value(f"sl:{name}_replies") for name in _RPC_STATS}


class LttPV:
    def __init__(self, sl: SlModule, key: str) -> None:
        self.sl, self.key = sl, key

    def get(self, ctx: MessageContext) -> str | None:
        return self.sl.local_to_tag(ctx, self.key)


def _restatus(data: bytes, code: str, reason: str) -> bytes:
    """`data` with the code and/or reason of its status line replaced (what is not given kept)."""
    line, sep, rest = data.partition(b"\r\n")
    m = _STATUS_LINE.fullmatch(line)
    if m is None:
        return data
    new_code = as_bytes(code) if code else m.group(2)
    new_reason = as_bytes(reason) if reason else m.group(4)
    return m.group(1) + new_code + m.group(3) + new_reason + sep + rest


@functools.lru_cache(maxsize=128)
def _class(code: int) -> str:
    """The RT_* counter a reply with `code` adds one to (sl_stats.c's update_sl_stats): a code
    with a counter of its own, else its class; a code below 200 or from 700 up is `xxx`."""
    if code in _STAT_CODES:
        return str(code)
    if 200 <= code < 700:
        return f"{code // 100}xx"
    return "xxx"


def _count_keys(code: int) -> tuple[str, ...]:
    """The statistics a reply with `code` adds one to: its RT_* counter and sent_replies (the sum
    of them all; Kamailio never counts sent_err_replies nor 1xx_replies)."""
    return (f"sl:{_class(code)}_replies", "sl:sent_replies")


# Kamailio's internal error codes (src/core/error.h) and the reply each maps to (err2reason_phrase).
_ERRORS: dict[int, tuple[str, int]] = {
    -477: ("Unfortunately error on sending to next hop occurred", 477),
    -478: ("Unresolvable destination", 478),
    -400: ("Bad Request", 400),
    -479: ("Regretfully, we were not able to process the URI", 479),
    -9: ("Transaction tuple incomplete", 400),
    -13: ("Bad To", 400),
    -11: ("Error in external logic", 500),
    -12: ("Forking capacity exceeded", 500),
    -15: ("Invalid character in q parameter", 400),
    -16: ("Empty q parameter", 400),
    -17: ("Q parameter too big", 400),
    -18: ("Decimal part missing in q", 400),
    -487: ("Transaction canceled", 487),
    0: ("No error", 500),
}


def err2reason(error: int) -> tuple[int, str]:
    text, code = _ERRORS.get(error, ("I'm terribly sorry, server error occurred", 500))
    return code, f"{text} ({-error}/SL)"
