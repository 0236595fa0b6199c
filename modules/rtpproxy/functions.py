"""The config functions, pseudo-variables and RPC commands of rtpproxy (part of RtpproxyModule)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kampy.api import (
    FL_SDP_BODY,
    MessageContext,
    PVar,
    Request,
    RouteType,
    RpcFault,
    SdpError,
    TmAPI,
    avp_get,
    message_sdp,
    parse_sdp,
    replace_spans,
    sdp_span,
)

from .client import Client
from .nodes import RECHECK_MAX, Node, Registry
from .offer import OfferError, Session, parse_options, rewrite

log = logging.getLogger("kampy.rtpproxy")

MANAGED = {"INVITE", "ACK", "CANCEL", "BYE", "UPDATE", "PRACK"}
UNFORCE_IGNORED = set("aAiIeElLfFrRcCoOxXwWzZ")


class FunctionsMixin:
    registry: Registry
    client: Client
    tm: TmAPI | None
    nortpproxy: str
    timeout_socket: str
    ice_avp: str | None

    if TYPE_CHECKING:
        def now(self) -> int: ...
        def _node(self, ctx: MessageContext, callid: str, keep_set: bool = False) -> Node | None: ...
        def _ids(self, msg: Any) -> tuple[str, str, str] | None: ...
        def _branch(self, ctx: MessageContext, via: int, extra: bool) -> tuple[bool, str | None]: ...

    # ------------------------------------------------------------------ D, R, Q, P, S

    def unforce_rtp_proxy(self, ctx: MessageContext, flags: str | None = None) -> int:
        via, to, extra = 0, True, False
        for ch in flags or "":
            if ch in "12":
                via = int(ch)
            elif ch == "3":
                via = 3
            elif ch in "tT":
                to = False
            elif ch == "b":
                extra = True
            elif ch not in UNFORCE_IGNORED:
                log.error("unknown option `%c'", ch)
                return -1
        ids = self._ids(ctx.msg)
        if ids is None:
            return -1
        callid, from_tag, to_tag = ids
        if not to:
            to_tag = ""
        ok, branch = self._branch(ctx, via, extra)
        if not ok:
            return -1
        node = self._node(ctx, callid)
        if node is None:
            return -1
        command = f"D {callid}{';' + branch if branch else ''} {from_tag}"
        if to_tag:
            command += f" {to_tag}"
        self.client.send(node, command)
        return 1

    def rtpproxy_destroy(self, ctx: MessageContext, flags: str | None = None) -> int:
        return self.unforce_rtp_proxy(ctx, flags)

    def _tagged(self, ctx: MessageContext, head: str, after_from: str, after_to: str) -> str | None:
        """A command `head callid from<after_from> to<after_to>` with the tags in the direction of
        the message (a reply's To tag first), the To part left out without one; None: no command."""
        ids = self._ids(ctx.msg)
        if ids is None:
            return None
        callid, from_tag, to_tag = ids
        if not isinstance(ctx.msg, Request):
            if not to_tag:
                return None
            return f"{head} {callid} {to_tag}{after_from}{from_tag}{after_to}"
        if not to_tag:
            return f"{head} {callid} {from_tag}"
        return f"{head} {callid} {from_tag}{after_from}{to_tag}{after_to}"

    def start_recording(self, ctx: MessageContext) -> int:
        command = self._tagged(ctx, "R", " ", "")
        if command is None:
            return -1
        node = self._node(ctx, ctx.msg.call_id or "")
        if node is None:
            return -1
        self.client.send(node, command)
        return 1

    def pv_rtpstat(self, spec: PVar) -> Any:
        return _Rtpstat(self)

    def rtpstat(self, ctx: MessageContext) -> str | None:
        command = self._tagged(ctx, "Q", ";1 ", "")
        if command is None:
            return None
        node = self._node(ctx, ctx.msg.call_id or "")
        if node is None:
            return None
        return self.client.send(node, command)

    def _stream(self, ctx: MessageContext, head: str, pname: str | None, to_uac: bool) -> int:
        """P (play) and S (stop) commands: `head callid [pname session] first;1 second;1`."""
        ids = self._ids(ctx.msg)
        if ids is None:
            return -1
        callid, from_tag, to_tag = ids
        node = self._node(ctx, callid, keep_set=True)
        if node is None:
            return -1
        if not node.ptl_supported:
            log.error("required functionality is not supported by the version of the RTPproxy running on "
                      "the selected node.  Please upgrade the RTPproxy and try again.")
            return -1
        if to_uac:
            first, second = from_tag, to_tag
        elif not to_tag:
            return -1
        else:
            first, second = to_tag, from_tag
        middle = f" {pname} session " if pname is not None else " "
        command = f"{head} {callid}{middle}{first};1 " + (f"{second};1" if second else "")
        self.client.send(node, command)
        return 1

    def rtpproxy_stream2uac(self, ctx: MessageContext, pname: str, count: int) -> int:
        return self._stream(ctx, f"P{count}", pname, True)

    def rtpproxy_stream2uas(self, ctx: MessageContext, pname: str, count: int) -> int:
        return self._stream(ctx, f"P{count}", pname, False)

    def rtpproxy_stop_stream2uac(self, ctx: MessageContext) -> int:
        return self._stream(ctx, "S", None, True)

    def rtpproxy_stop_stream2uas(self, ctx: MessageContext) -> int:
        return self._stream(ctx, "S", None, False)

    # ------------------------------------------------------------------ U and L

    def _ice_priority(self, ctx: MessageContext) -> int:
        if self.ice_avp is None:
            return 0
        value = avp_get(ctx, self.ice_avp)
        if value is None:
            return 2
        if not isinstance(value, int) or not 0 <= value <= 2:
            log.error("invalid ice candidate priority value %s", value)
            raise OfferError(-1)
        return value

    def force(self, ctx: MessageContext, flags: str | None, ip: str | None, offer: bool, forced: bool) -> int:
        """force_rtp_proxy: 1 done, -1 error, -2 the SDP went through a proxy already, -3 no proxy."""
        try:
            return self._force(ctx, flags, ip, offer, forced)
        except OfferError as exc:
            return exc.code

    def _force(self, ctx: MessageContext, flags: str | None, ip: str | None, offer: bool,
               forced: bool) -> int:
        o = parse_options(flags, offer)
        msg = ctx.msg
        body = msg.current_body
        span = sdp_span(body, msg.header("content-type"))
        if span is None:
            log.error("can't extract body from the message")
            return -1
        ids = self._ids(msg)
        if ids is None:
            return -1
        callid, from_tag, to_tag = ids
        ok, branch = self._branch(ctx, o.via, o.extra)
        if not ok:
            return -1
        is_request = isinstance(msg, Request)
        if o.flookup:
            if not to_tag:
                return -1
            if is_request:
                from_tag, to_tag = to_tag, from_tag
        elif (not is_request and offer) or (is_request and not offer):
            if not to_tag:
                return -1
            from_tag, to_tag = to_tag, from_tag
        text = body[span[0]:span[1]].decode("latin-1")
        proxied = bool(self.nortpproxy) and _has_line(text, self.nortpproxy)
        if proxied and not o.force:
            return -2
        try:
            sdp = parse_sdp(text)
        except SdpError:
            log.error("Unable to parse sdp")
            return -1
        session = Session(callid, from_tag, to_tag, ctx.src.ip, ip or ctx.src.local.host,
                          ip if forced else None, self.timeout_socket, self._ice_priority(ctx),
                          lambda build: self._send_to_node(ctx, callid, build))
        rewrite(session, sdp, o, offer, branch)
        if not proxied and self.nortpproxy:
            session.edits.append((len(text), len(text), "\r\n" + self.nortpproxy))
        new = replace_spans(text, session.edits).encode("latin-1")
        msg.set_body(body[:span[0]] + new + body[span[1]:])
        return 1

    def _send_to_node(self, ctx: MessageContext, callid: str, build: Any) -> tuple[Node, str]:
        while True:
            node = self._node(ctx, callid)
            if node is None:
                raise OfferError(-3)
            reply = self.client.send(node, build(node))
            if reply is not None:
                return node, reply

    def rtpproxy_offer(self, ctx: MessageContext, flags: str | None = None, ip: str | None = None) -> int:
        return self.force(ctx, flags, ip, True, ip is not None)

    def rtpproxy_answer(self, ctx: MessageContext, flags: str | None = None, ip: str | None = None) -> int:
        msg = ctx.msg
        if isinstance(msg, Request) and msg.method.upper() != "ACK":
            return -1
        return self.force(ctx, flags, ip, False, ip is not None)

    def rtpproxy_manage(self, ctx: MessageContext, flags: str | None = None, ip: str | None = None) -> int:
        if ctx.route_type & RouteType.BRANCH_FAILURE:
            return 1
        msg = ctx.msg
        if msg.cseq is None:
            log.error("no CSEQ header")
            return -1
        method = msg.cseq.method.upper()
        if method not in MANAGED:
            return -1
        if method in ("CANCEL", "BYE"):
            return self.unforce_rtp_proxy(ctx, flags)
        forced = ip is not None
        nosdp = 0 if msg.msg_flags & FL_SDP_BODY else message_sdp(msg.body, msg.header("content-type"))[0]
        if isinstance(msg, Request):
            if nosdp != 0:
                return -1
            if method == "ACK":
                return self.force(ctx, flags, ip, False, forced)
            if method in ("PRACK", "UPDATE"):
                return self.force(ctx, flags, ip, True, forced)
            if method == "INVITE":
                msg.msg_flags |= FL_SDP_BODY
                request = self.tm.transaction_request(ctx) if self.tm is not None else None
                if request is not None:
                    request.msg_flags |= FL_SDP_BODY
                if ctx.route_type & RouteType.FAILURE:
                    return self.unforce_rtp_proxy(ctx, flags)
                return self.force(ctx, flags, ip, True, forced)
            return -1
        if msg.status >= 300:
            return self.unforce_rtp_proxy(ctx, flags)
        if nosdp != 0:
            return -1
        if method in ("PRACK", "UPDATE"):
            return self.force(ctx, flags, ip, False, forced)
        request = self.tm.transaction_request(ctx) if self.tm is not None else None
        if request is None or request.msg_flags & FL_SDP_BODY:
            return self.force(ctx, flags, ip, False, forced)
        return self.force(ctx, flags, ip, True, forced)

    # ------------------------------------------------------------------ RPC

    def rpc_list(self) -> list[dict[str, Any]]:
        return [{"setid": n.setid, "url": n.url, "index": n.idx, "disabled": int(n.disabled),
                 "weight": n.weight, "recheck": -1 if n.recheck == RECHECK_MAX else n.recheck}
                for n in self.registry.in_order()]

    def rpc_enable(self, url: str, enable: int) -> None:
        found = False
        for node in self.registry.nodes():
            if node.url == url:
                found = True
                with self.registry.table.transaction():
                    current = self.registry.node(node.idx) or node
                    current.recheck = 0 if int(enable) else RECHECK_MAX
                    current.disabled = not int(enable)
                    self.registry.put(current)
        if not found:
            raise RpcFault(404, "RTPProxy not found")


def _has_line(text: str, line: str) -> bool:
    """Whether `line` begins a line of the SDP (the marker of an SDP a proxy rewrote already)."""
    pos = 0
    while True:
        at = text.find(line, pos)
        if at < 0:
            return False
        if at == 0 or text[at - 1] in "\r\n":
            return True
        pos = at + len(line)


class _Rtpstat:
    def __init__(self, module: FunctionsMixin) -> None:
        self.module = module

    def get(self, ctx: MessageContext) -> str | None:
        return self.module.rtpstat(ctx)
