"""Requests tm sends on its own behalf (Kamailio's uac.c and dlg.c): t_request for a request
outside any dialog (msilo's MESSAGEs, t_uac_send), t_uac and t_request_within for one in a dialog
(dialog's BYEs and keep-alives, uac's requests), each in a new client transaction."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kampy.api import (
    as_bytes,
    TMCB_DONT_ACK,
    TMCB_LOCAL_COMPLETED,
    TMCB_LOCAL_REQUEST_IN,
    Outgoing,
    Response,
    SIPProtocolError,
    Socket,
    TmCallback,
    SipTarget,
    UacDialog,
    parse_uri,
    sip_destination,
)

from . import tags
from .base import E_BAD_ADDRESS, E_SEND, fits_udp, log
from .cell import BranchDns, Cell, Dest, UacBranch
from .t_hooks import E_BUG, GLOBAL, add_tmcb, problem_of
from .t_lifetime import Lifetime

E_DROP = -19  # error.h: dropped in the script (event_route[tm:local-request])
DEFAULT_CSEQ = 10  # uac.h: the CSeq of a dialog's first request
SIP_PORT = 5060


def _name_addr(uri: str) -> str:
    return uri if "<" in uri else f"<{uri}>"


@dataclass(frozen=True)
class DialogHooks:
    """Where a dialog's request goes (Kamailio's calculate_hooks, RFC 3261 12.2.1.1): its
    Request-URI, its next hop and the Route header values it carries."""

    request_uri: str
    next_hop: str
    routes: Sequence[str]


def route_uri(route: str) -> str:
    """The URI of a Route value (`<sip:p1.example.com;lr>`, or a bare URI)."""
    start, end = route.find("<"), route.rfind(">")
    return route[start + 1:end].strip() if 0 <= start < end else route.strip()


def calculate_hooks(dialog: UacDialog) -> DialogHooks:
    """Loose routing (the first route has `;lr`): Request-URI the remote target, next hop the
    first route, every route in Route. Strict routing: Request-URI the first route, the others
    and then the remote target in Route. No route set: to the remote target, or to `dst_uri`."""
    target = dialog.remote_target or dialog.remote_uri
    routes = [_name_addr(r.strip()) for r in dialog.route_set if r.strip()]
    if not routes:
        return DialogHooks(route_uri(target), route_uri(dialog.dst_uri or target), ())
    first = route_uri(routes[0])
    if "lr" in parse_uri(first).params:
        return DialogHooks(route_uri(target), first, tuple(routes))
    last = (f"<{route_uri(dialog.remote_target)}>",) if dialog.remote_target else ()
    return DialogHooks(first, first, tuple(routes[1:]) + last)


def via_line(sock: Socket, branch: str) -> str:
    """Kamailio's via_builder for a local request: the port is left out when it is 5060."""
    host = sock.advertise_host or sock.host
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    port = sock.advertise_port or sock.port
    hostport = host if port == SIP_PORT and not sock.advertise_port else f"{host}:{port}"
    return f"Via: SIP/2.0/{sock.proto.upper()} {hostport};branch={branch}\r\n"


def build_uac_request(method: str, dialog: UacDialog, hooks: DialogHooks, cseq: int, *, sock: Socket,
                      branch: str, user_agent: str, headers: str | bytes = "", body: bytes = b"") -> bytes:
    """The layout of Kamailio's build_uac_req: Via, To (with the remote tag), From;tag, CSeq,
    Call-ID, Route, Max-Forwards (unless the caller's headers have one), Content-Length,
    User-Agent, then the caller's headers (CRLF-terminated) and the body."""
    extra = headers if isinstance(headers, bytes) else as_bytes(headers)
    if extra and not extra.endswith(b"\n"):
        extra += b"\r\n"
    to_tag = f";tag={dialog.remote_tag}" if dialog.remote_tag else ""
    head = (f"{method} {hooks.request_uri} SIP/2.0\r\n"
            + via_line(sock, branch)
            + f"To: {_name_addr(dialog.remote_uri)}{to_tag}\r\n"
            f"From: {_name_addr(dialog.local_uri)};tag={dialog.local_tag}\r\n"
            f"CSeq: {cseq} {method}\r\n"
            f"Call-ID: {dialog.call_id}\r\n"
            + (f"Route: {', '.join(hooks.routes)}\r\n" if hooks.routes else "")
            + ("" if b"Max-Forwards:" in extra else "Max-Forwards: 70\r\n")
            + f"Content-Length: {len(body)}\r\n"
            + (f"User-Agent: {user_agent}\r\n" if user_agent else ""))
    return as_bytes(head) + extra + b"\r\n" + body


class Uac(Lifetime):
    """The UAC API: t_request, t_uac, t_request_within."""

    def t_request(self, method: str, ruri: str, to_uri: str, from_uri: str, *, headers: str | bytes = "",
                  body: bytes = b"", next_hop: str | None = None,
                  callback: Callable[[int, Response | None], None] | None = None,
                  send_socket: Socket | None = None) -> int:
        """kampy.api.TmAPI: a new request in a new client transaction; `callback(status, reply)`
        runs once with the final reply, or (408, None) on timeout. 1 when sent, negative on error."""
        return self.request(method, ruri, from_uri, to_uri, headers, body, next_hop, callback, send_socket)

    def request(self, method: str, ruri: str, from_uri: str, to_uri: str, headers: str | bytes = "",
                body: bytes = b"", next_hop: str | None = None,
                callback: Callable[[int, Response | None], None] | None = None,
                send_socket: Socket | None = None) -> int:
        """The same as `t_request`, in the argument order of Kamailio's uac_req (From before To):
        a dialog of its own (a new Call-ID and From-tag, CSeq 10) with the R-URI as remote target."""
        call_id = self._callids.next()
        dialog = UacDialog(call_id, tags.from_tag(self.core, call_id, ruri), from_uri, to_uri,
                           remote_target=ruri, dst_uri=next_hop, send_socket=send_socket)
        return self._send_in(method, dialog, headers, body, reply_callback=callback)

    def _resent_in(self, method: str, dialog: UacDialog, headers: str | bytes, body: bytes, cb_types: int,
                   tm_callback: TmCallback | None,
                   reply_callback: Callable[[int, Response | None], None] | None) -> None:
        ret = self._send_in(method, dialog, headers, body, cb_types=cb_types, tm_callback=tm_callback,
                            reply_callback=reply_callback, waited=True)
        if ret < 0 and reply_callback is not None:
            reply_callback(408, None)  # as a request nobody answered: its requester waits for one call

    def _local_socket(self, dialog: UacDialog, target: SipTarget) -> Socket | None:
        if dialog.send_socket is not None:
            return dialog.send_socket
        v6 = ":" in target.ip
        return next((s for s in self.core.sockets if s.proto == target.proto and (":" in s.host) == v6), None)

    def t_uac(self, method: str, dialog: UacDialog, *, headers: str = "", body: bytes = b"",
              cb_types: int = TMCB_LOCAL_COMPLETED, callback: TmCallback | None = None) -> int:
        """kampy.api.TmAPI.t_uac."""
        if callback is not None:
            problem = problem_of(cb_types, callback)
            if problem is None and cb_types & GLOBAL:
                problem = "TMCB_REQUEST_IN and TMCB_LOCAL_REQUEST_IN are registered with register_tmcb"
            if problem is not None:
                log.error("t_uac: %s", problem)
                return E_BUG
        return self._send_in(method, dialog, headers, body, cb_types=cb_types, tm_callback=callback)

    def t_request_within(self, method: str, dialog: UacDialog, *, headers: str = "", body: bytes = b"",
                         cb_types: int = TMCB_LOCAL_COMPLETED, callback: TmCallback | None = None) -> int:
        """kampy.api.TmAPI.t_request_within (Kamailio's req_within)."""
        if method.upper() not in ("ACK", "CANCEL") and dialog.local_seq is not None:
            dialog.local_seq += 1
        return self.t_uac(method, dialog, headers=headers, body=body, cb_types=cb_types, callback=callback)

    def _sending_socket(self, dialog: UacDialog) -> Socket | None:
        """The socket a request in `dialog` would leave from (None: it cannot be sent): the first of
        its next hop's resolved targets that has one, or one of the next hop's protocol."""
        if dialog.send_socket is not None:
            return dialog.send_socket
        try:
            dest = sip_destination(calculate_hooks(dialog).next_hop)
        except SIPProtocolError:
            return None
        if dest is None:
            return None
        proto = dest.proto or "udp"
        targets = self.core.sip_targets(dest) or [SipTarget(proto, dest.host, dest.port or 5060)]
        return next((sock for t in targets if (sock := self._local_socket(dialog, t)) is not None), None)

    def _send_in(self, method: str, dialog: UacDialog, headers: str | bytes, body: bytes, *,
                 cb_types: int = 0, tm_callback: TmCallback | None = None,
                 reply_callback: Callable[[int, Response | None], None] | None = None,
                 waited: bool = False) -> int:
        """t_uac_prepare and send: build the request of `dialog`, start its client transaction (an
        ACK goes out once, without one). Its next hop resolves as RFC 3263 says; one not in the
        DNS cache yet is looked up first, and the request built and sent once that is done."""
        method = method.upper()
        try:
            hooks = calculate_hooks(dialog)
        except SIPProtocolError as exc:
            log.error("tm: cannot send a local %s: bad route set: %s", method, exc)
            return E_BAD_ADDRESS
        dest = sip_destination(hooks.next_hop)
        if dest is None:
            log.error("tm: cannot send a local %s to '%s'", method, hooks.next_hop)
            return E_BAD_ADDRESS
        targets = self.core.sip_targets(dest)
        if targets is None and not waited:
            self.core.resolve_sip(dest, lambda _found: self._resent_in(
                method, dialog, headers, body, cb_types, tm_callback, reply_callback))
            return 1
        if targets is None:  # looked up, and already gone from the cache (use_dns_cache off)
            proto = dest.proto or "udp"
            targets = [SipTarget(proto, dest.host, dest.port or (5061 if proto == "tls" else 5060))]
        if not targets:
            log.error("tm: cannot send a local %s: failed to resolve '%s'", method, dest.host)
            return E_BAD_ADDRESS
        sockets = [self._local_socket(dialog, t) for t in targets]
        index = next((i for i, sock in enumerate(sockets) if sock is not None), 0)
        sock = sockets[index]
        proto, host, port = targets[index]
        if sock is None:
            log.error("tm: no %s socket to send a local %s to %s:%d", proto, method, host, port)
            return E_SEND
        if dialog.local_seq is None:
            dialog.local_seq = DEFAULT_CSEQ
        label = next(self._labels)
        branch = tags.branch_id(self.core.rank, dialog.call_id, str(dialog.local_seq),
                                f"{label}.{dialog.call_id}", 0)
        data = build_uac_request(method, dialog, hooks, dialog.local_seq, sock=sock, branch=branch,
                                 user_agent=self.core.user_agent_header, headers=headers, body=body)
        cell = None
        if method != "ACK":
            timers = self._new_timers(None, method, dialog.call_id, str(dialog.local_seq))
            cell = Cell(label, None, method, timers, callback=reply_callback)
        routed = self._local_request(cell, data, hooks.next_hop, sock, branch)  # type: ignore[attr-defined]
        if routed is None:
            return E_DROP
        data, sock = routed
        proto = sock.proto
        if proto == "udp" and not fits_udp(data, host):
            log.error("tm: a local %s of %d bytes does not fit in a UDP datagram to %s:%d", method, len(data),
                      host, port)
            return E_SEND
        if cell is None:  # an ACK: no transaction, sent once
            self.core.send(Outgoing(proto, host, port, data, sock))
            return 1
        br = UacBranch(0, hooks.request_uri, data, (branch, method))
        br.dns = BranchDns(dest, targets, index, dialog.send_socket, sock)
        cell.branches.append(br)
        cell.no_auto_ack = method == "INVITE" and bool(cb_types & TMCB_DONT_ACK)
        if tm_callback is not None:
            add_tmcb(cell, cb_types, tm_callback)
        if self.local_reqin_tmcbs:
            self._reqin(cell, self.local_reqin_tmcbs, TMCB_LOCAL_REQUEST_IN, None, None)
        self._count("transactions")
        self._count("client_transactions")
        self._start_uac(cell, br, Dest(proto, host, port, sock))
        return 1
