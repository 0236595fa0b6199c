"""The routes tm runs for what it makes itself and for replies it has no transaction for:
event_route[tm:local-request] (uac.c t_run_local_req), event_route[tm:local-response] (t_reply.c
_reply_light) and the on_sl_reply route (t_reply.c reply_received)."""
from __future__ import annotations

from kampy.api import (
    MessageContext,
    Request,
    Response,
    ScriptDrop,
    ScriptExit,
    SIPProtocolError,
    Socket,
    Source,
    parse_message,
)

from .base import CELL, TmBase, log
from .cell import Cell
from .uac import via_line

LOCAL_REQUEST, LOCAL_RESPONSE = "tm:local-request", "tm:local-response"


class LocalRoutes(TmBase):
    """tm:local-request, tm:local-response, on_sl_reply."""

    def _local_request(self, cell: Cell | None, data: bytes, next_hop: str, sock: Socket,
                       branch: str) -> tuple[bytes, Socket] | None:
        """Run event_route[tm:local-request] for a request tm is about to send (`cell` None for an
        ACK, which has no transaction): the route sees the request with $du the next hop and the
        transaction as T (t_set_fr applies to it). What it changes in headers, body and R-URI goes
        out, from the socket it set ($fs: the Via is built anew for it, with the same branch); None
        when it ended with `drop` (the request is not sent)."""
        if not self.core.has_route("event", LOCAL_REQUEST):
            return data, sock
        try:
            msg = parse_message(data)
        except SIPProtocolError as exc:
            log.error("tm:local-request: cannot parse the local request: %s", exc)
            return data, sock
        assert isinstance(msg, Request)
        ctx = MessageContext(msg, Source(sock.proto, sock.host, sock.port, sock), self.core, dst_uri=next_hop)
        if cell is not None:
            ctx.local[CELL] = cell
        done = self.core.run_event_route(LOCAL_REQUEST, ctx)
        for out in ctx.outbox:
            self.core.send(out)
        if done is False:
            log.debug("tm:local-request dropped msg. to %s", next_hop)
            return None
        if ctx.new_ruri is not None and ctx.new_ruri != msg.uri:
            msg.set_ruri(ctx.new_ruri)
        forced = ctx.force_socket
        if forced is not None and forced != sock:
            log.debug("local Via update - new socket: [%s:%s:%d]", forced.proto, forced.host, forced.port)
            msg.replace_header("via", 0, via_line(forced, branch)[len("Via: "):].rstrip("\r\n"))
            sock = forced
        return msg.to_bytes(), sock

    def _local_response(self, cell: Cell, data: bytes) -> None:
        """Run event_route[tm:local-response] after tm sent a reply of its own (t_reply, the 100 to an
        INVITE, the replies to a CANCEL): the route sees the reply as sent."""
        if not self.core.has_route("event", LOCAL_RESPONSE):
            return
        try:
            msg = parse_message(data)
        except SIPProtocolError as exc:
            log.error("tm:local-response: cannot parse the local reply: %s", exc)
            return
        src = cell.src
        if src is None:
            return
        ctx = MessageContext(msg, src, self.core)
        ctx.local[CELL] = cell
        self.core.run_event_route(LOCAL_RESPONSE, ctx)
        for out in ctx.outbox:
            self.core.send(out)

    def _sl_reply(self, ctx: MessageContext) -> bool:
        """A reply that matches no transaction: run the on_sl_reply route; True lets the core relay
        the reply statelessly, False (the route ended with `drop` or `return 0`) stops it."""
        name = self.on_sl_reply
        if not name:
            return True
        assert isinstance(ctx.msg, Response)
        ctx.retcode = 1
        try:
            code = self.core.run_route("onreply", name, ctx)
        except ScriptExit:  # `exit` goes on (1); `return 0` or a function's 0 stops the reply
            return ctx.retcode != 0
        except ScriptDrop:
            return False
        except Exception:
            log.exception("tm: onreply_route[%s] (on_sl_reply) failed", name)
            return True
        return code != 0
