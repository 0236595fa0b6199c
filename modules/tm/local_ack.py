"""The ACK of a 2xx to an INVITE tm sent itself (Kamailio's build_local_ack in t_reply.c,
build_dlg_ack and eval_uac_routing in t_msgbuilder.c): tm ACKs every 2xx of a local INVITE (its
retransmissions with the same ACK) unless the requester asked to do it (TMCB_DONT_ACK). The ACK goes
to the Contact of the 2xx through the route set: the Record-Route of the 2xx (reversed) for a new
dialog, the Route of the INVITE for one within a dialog; `local_ack_mode` 1 sends it where the INVITE
went instead, 2 to the source of the 2xx."""
from __future__ import annotations

from dataclasses import dataclass

from kampy.api import (
    TMCB_LOCAL_F,
    TMCB_REQUEST_SENT,
    TYPE_LOCAL_ACK,
    MessageContext,
    Request,
    Response,
    SIPProtocolError,
    SipTarget,
    TmTransaction,
    parse_uri,
    sip_destination,
    to_tag_of,
)

from .base import TmBase, log
from .cell import Cell, Dest, UacBranch, cell_of_view
from .uac import via_line


@dataclass(frozen=True)
class AckRouting:
    """eval_uac_routing: the ACK's Request-URI, its next hop and the Route values it carries."""

    ruri: str
    next_hop: str
    routes: tuple[str, ...]


def _loose(route: str) -> bool:
    start, end = route.find("<"), route.rfind(">")
    uri = route[start + 1:end] if 0 <= start < end else route
    return "lr" in parse_uri(uri.strip()).params


def _uri_of(route: str) -> str:
    start, end = route.find("<"), route.rfind(">")
    return (route[start + 1:end] if 0 <= start < end else route).strip()


def ack_routing(invite: Request, reply: Response, contact: str) -> AckRouting:
    """A new dialog takes its route set from the 2xx's Record-Route (reversed); one within a dialog
    (the INVITE had a To-tag) keeps the INVITE's Route, its remote target updated to the Contact."""
    if to_tag_of(invite):
        routes = [str(r) for r in invite.routes]
        if not routes:
            return AckRouting(contact, contact, ())
        if _loose(routes[0]):
            return AckRouting(contact, _uri_of(routes[0]), tuple(routes))
        if _uri_of(routes[-1]) != contact:  # strict: the last entry is the remote target
            routes[-1] = f"<{contact}>"
        return AckRouting(invite.uri, invite.uri, tuple(routes))
    routes = [str(r) for r in reversed(reply.record_routes)]
    if not routes:
        return AckRouting(contact, contact, ())
    if _loose(routes[0]):
        return AckRouting(contact, _uri_of(routes[0]), tuple(routes))
    return AckRouting(_uri_of(routes[0]), _uri_of(routes[0]), tuple(routes[1:]) + (f"<{contact}>",))


def _raw_line(msg: Request | Response, lname: str) -> str:
    """A header line as received (Kamailio copies the To of the 2xx and the From of the INVITE so)."""
    for name, raw in msg.header_lines():
        if name == lname:
            return raw.decode("utf-8", "replace").rstrip("\r\n") + "\r\n"
    return ""


def build_dlg_ack(invite: Request, reply: Response, routing: AckRouting, via: str, user_agent: str,
                  headers: str = "", body: bytes = b"") -> bytes:
    """ACK, Via (the INVITE's branch), From, Call-ID (the INVITE's), To (the 2xx's), CSeq, Route,
    User-Agent, the requester's headers (ack_local_uac), Content-Length and the body."""
    cseq = invite.cseq
    head = (f"ACK {routing.ruri} SIP/2.0\r\n" + via + _raw_line(invite, "from") + _raw_line(invite, "call-id")
            + _raw_line(reply, "to") + f"CSeq: {cseq.num if cseq is not None else 0} ACK\r\n"
            + (f"Route: {', '.join(routing.routes)}\r\n" if routing.routes else "")
            + (f"User-Agent: {user_agent}\r\n" if user_agent else "")
            + headers + f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


class LocalAck(TmBase):
    """tm's ACK of the 2xx of its own INVITEs."""

    def _ack_local_2xx(self, cell: Cell, br: UacBranch, reply: Response, ctx: MessageContext | None) -> None:
        """build_local_ack: built once (the first 2xx), sent again for each 2xx received; with
        TMCB_DONT_ACK only once the requester built it (ack_local_uac)."""
        if cell.local_ack is None:
            if cell.no_auto_ack or cell.local_ack_resolving:
                return
            if self._resolve_ack_hop(cell, br, reply, ctx):
                return
            cell.local_ack = self._build_local_ack(cell, br, reply, ctx)
            if cell.local_ack is None:
                return
        self._send_local_ack(cell, br.index, reply)

    def _resolve_ack_hop(self, cell: Cell, br: UacBranch, reply: Response, ctx: MessageContext | None,
                         headers: str = "", body: bytes = b"") -> bool:
        """True when the ACK's next hop needs a DNS lookup first: the ACK is then built and sent once
        its answer is in (the 2xx retransmitted meanwhile gets none)."""
        routing = self._ack_routing(br, reply)
        if routing is None or self._ack_mode(ctx, br) != 0:
            return False
        dest = sip_destination(routing.next_hop)
        if dest is None or self.core.sip_targets(dest) is not None:
            return False
        cell.local_ack_resolving = True

        def resolved(targets: list[SipTarget]) -> None:
            cell.local_ack_resolving = False
            if cell.freed or cell.local_ack is not None:
                return
            cell.local_ack = self._build_local_ack(cell, br, reply, ctx, headers, body, targets)
            if cell.local_ack is not None:
                self._send_local_ack(cell, br.index, reply)

        self.core.resolve_sip(dest, resolved)
        return True

    def _send_local_ack(self, cell: Cell, branch: int, reply: Response | None) -> bool:
        assert cell.local_ack is not None
        data, dest = cell.local_ack
        self.core.send(dest.packet(data))
        if cell.tmcb_types & TMCB_REQUEST_SENT:
            self._tmcb(cell, TMCB_REQUEST_SENT, None, reply, code=TYPE_LOCAL_ACK, branch=branch,
                       flags=TMCB_LOCAL_F, send_buf=data, dst=(dest.proto, dest.host, dest.port))
        return True

    def ack_local_uac(self, t: TmTransaction, headers: str = "", body: bytes = b"") -> int:
        """kampy.api.TmAPI.ack_local_uac."""
        cell = cell_of_view(t)
        problem = None
        if cell is None or not cell.is_local:
            problem = "trying to ACK non local transaction"
        elif not cell.is_invite:
            problem = "trying to ACK non INVITE local transaction"
        elif cell.branches[0].reply is None:
            problem = "trying to ACK un-completed INVITE transaction"
        elif not cell.no_auto_ack:
            problem = "trying to ACK an auto-ACK transaction"
        elif cell.local_ack is not None:
            problem = "trying to rebuild ACK retransmission buffer"
        if problem is not None or cell is None:
            log.error("%s (T@%s).", problem, t)
            return -2
        br = cell.branches[0]
        assert br.reply is not None
        if headers and not headers.endswith("\n"):
            headers += "\r\n"
        if self._resolve_ack_hop(cell, br, br.reply, None, headers, body):
            return 0  # sent once the next hop resolves
        cell.local_ack = self._build_local_ack(cell, br, br.reply, None, headers, body)
        if cell.local_ack is None:
            log.error("failed to build ACK retransmission buffer")
            return -2
        return 0 if self._send_local_ack(cell, 0, None) else -1

    def _ack_routing(self, br: UacBranch, reply: Response) -> AckRouting | None:
        try:
            contacts = reply.contacts
            if not contacts:
                log.error("tm: no Contact in the %d to the local INVITE: it is not ACKed", reply.status)
                return None
            return ack_routing(br.request, reply, str(contacts[0].uri))
        except SIPProtocolError as exc:
            log.error("tm: failed to evaluate routing elements of the local ACK: %s", exc)
            return None

    def _build_local_ack(self, cell: Cell, br: UacBranch, reply: Response, ctx: MessageContext | None,
                         headers: str = "", body: bytes = b"",
                         targets: list[SipTarget] | None = None) -> tuple[bytes, Dest] | None:
        routing = self._ack_routing(br, reply)
        if routing is None:
            return None
        dest = self._local_ack_dest(br, routing, ctx, targets)
        if dest is None:
            log.error("tm: no socket found to send the local ACK to %s", routing.next_hop)
            return None
        assert dest.local is not None
        via = via_line(dest.local, br.key[0])
        ack = build_dlg_ack(br.request, reply, routing, via, self.core.user_agent_header, headers, body)
        return ack, dest

    def _ack_mode(self, ctx: MessageContext | None, br: UacBranch) -> int:
        """local_ack_mode as it applies: 0 when there is nothing to send to but the next hop."""
        mode = int(self.cfg.get("tm", "local_ack_mode") or 0)  # type: ignore[arg-type]
        if mode == 2 and ctx is not None and ctx.src is not None:
            return 2
        return 1 if mode in (1, 2) and br.leg is not None else 0

    def _local_ack_dest(self, br: UacBranch, routing: AckRouting, ctx: MessageContext | None,
                        targets: list[SipTarget] | None = None) -> Dest | None:
        """local_ack_mode 1: where the INVITE went; 2: the source of the 2xx; 0: the next hop, resolved
        as RFC 3263 (uri2dst: NAPTR, SRV, A/AAAA; its first target, no failover). `targets`: the next
        hop's, when they had to be looked up."""
        mode = self._ack_mode(ctx, br)
        sent = br.leg.dest if br.leg is not None else None
        if mode == 2 and ctx is not None and ctx.src is not None:
            src = ctx.src
            return Dest(src.proto, src.ip, src.port, src.local, src.conn_id)
        if mode == 1 and sent is not None:  # 2 without the 2xx at hand (ack_local_uac): the INVITE's
            return Dest(sent.proto, sent.host, sent.port, sent.local)
        dest = sip_destination(routing.next_hop)
        if targets is None and dest is not None:
            targets = self.core.sip_targets(dest)
        if not targets:
            if dest is not None and targets is not None:
                log.error("tm: the local ACK's next hop %s does not resolve", dest.host)
            return None
        proto, host, port = targets[0]
        sock = sent.local if sent is not None and sent.local is not None and sent.local.proto == proto \
            and (":" in sent.local.host) == (":" in host) else next(
                (s for s in self.core.sockets if s.proto == proto and (":" in s.host) == (":" in host)), None)
        return None if sock is None else Dest(proto, host, port, sock)
