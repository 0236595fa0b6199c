"""The RPC commands that send a request from tm (Kamailio's rpc_uac.c): tm.t_uac_start,
tm.t_uac_wait and tm.t_uac_wait_block (kamctl ping's)."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from kampy.api import Response, RpcDelayed, RpcFault, SIPProtocolError, Socket, UacDialog, parse_uri

from . import tags
from .base import error_reply
from .uac import Uac

ReplyCallback = Callable[[int, Response | None], None]

# error_text() of Kamailio's core for the codes tm answers itself
SUBST = "!!"  # rpc_uac.c's doubled SUBST_CHAR
ERROR_TEXTS = {408: "Request Timeout", 477: "Unfortunately error on sending to next hop occurred",
               478: "Unresolvable destination", 500: "Server Internal Error", 503: "Service Unavailable"}


class _Request:
    """The parameters of rpc_t_uac, checked as Kamailio checks them."""

    def __init__(self, method: str, ruri: str, nexthop: str, socket: str, headers: str, body: str,
                 sockets: Sequence[Socket]) -> None:
        if not method:
            raise RpcFault(400, "Empty method")
        self.method, self.ruri, self.body = method, ruri, body
        _check_uri(ruri, f'Invalid request uri "{ruri}"')
        self.nexthop = None if nexthop in ("", ".") else nexthop
        if self.nexthop is not None:
            _check_uri(self.nexthop, f'Invalid next-hop uri "{nexthop}"')
        self.socket = None if socket in ("", ".") else _local_socket(socket, sockets)
        self.from_uri = self.to_uri = self.call_id = self.cseq = ""
        extra: list[str] = []
        names: set[str] = set()
        for line in headers.replace("\r\n", "\n").split("\n"):
            name, _, value = line.partition(":")
            lname = name.strip().lower()
            names.add(lname)
            if lname in ("from", "f"):  # tm_skip_hf: these four are the dialog's, not copied
                self.from_uri = value.strip()
            elif lname in ("to", "t"):
                self.to_uri = value.strip()
            elif lname in ("call-id", "i"):
                self.call_id = self.call_id or value.strip()
            elif lname == "cseq":
                self.cseq = self.cseq or value.strip()
            elif line.strip():
                extra.append(line.strip() + "\r\n")
        if body and not names & {"content-type", "c"}:
            raise RpcFault(400, "Content-Type missing")
        if body and names & {"content-length", "l"}:
            raise RpcFault(400, "Content-Length disallowed")
        if not self.to_uri:
            raise RpcFault(400, "To missing")
        if not self.from_uri:
            raise RpcFault(400, "From missing")
        self.local_seq = _cseq_number(self.cseq, method) if self.cseq else None
        self.headers = "".join(extra)


def _cseq_number(cseq: str, method: str) -> int:
    """The number of a CSeq header given for the request (rpc_uac_check_msg)."""
    number, _, cseq_method = cseq.partition(" ")
    if not cseq_method.strip():  # the SIP parser refuses it
        raise RpcFault(400, "Invalid headers")
    if not number.isdigit():
        raise RpcFault(400, "Non-numerical CSeq")
    if cseq_method.strip() != method:
        raise RpcFault(400, "CSeq method mismatch")
    return int(number)


def _local_socket(text: str, sockets: Sequence[Socket]) -> Socket:
    """`[proto:]host[:port]` of one of the listening sockets (grep_sock_info)."""
    parts = text.split(":")
    proto = parts[0].lower() if len(parts) > 1 and parts[0].lower() in ("udp", "tcp", "tls", "sctp") else ""
    rest = ":".join(parts[1:] if proto else parts)
    host, _, port = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
    if not host:
        raise RpcFault(400, f'Invalid send socket "{text}"')
    for sock in sockets:
        if sock.host.strip("[]") == host.strip("[]") and (not proto or sock.proto == proto) \
                and (not port or str(sock.port) == port):
            return sock
    raise RpcFault(400, f'No local socket for "{text}"')


def _check_uri(uri: str, fault: str) -> None:
    try:
        parse_uri(uri)
    except (SIPProtocolError, ValueError):
        raise RpcFault(400, fault) from None


class RpcUac(Uac):
    """tm.t_uac_start, tm.t_uac_wait, tm.t_uac_wait_block."""

    def _rpc_request(self, method: str, ruri: str, nexthop: str, socket: str, headers: str,
                     body: str) -> _Request:
        # over JSON-RPC the values come unchecked: jsonrpcs' scan reads only a JSON string for "S",
        # fails on another (tm then answers too few parameters) and leaves an unread body empty
        for index, value in enumerate((method, ruri, nexthop, socket, headers)):
            if not isinstance(value, str):
                raise RpcFault(400, f"too few parameters ({-index}/5)")
        body = body if isinstance(body, str) else ""
        return _Request(method, ruri, nexthop, socket, headers, body, self.core.sockets)

    def _rpc_send(self, req: _Request, callback: ReplyCallback | None = None) -> None:
        call_id = req.call_id or self._callids.next()
        dialog = UacDialog(call_id, tags.from_tag(self.core, call_id, req.ruri), req.from_uri, req.to_uri,
                           local_seq=req.local_seq, remote_target=req.ruri, dst_uri=req.nexthop,
                           send_socket=req.socket)
        headers = req.headers
        if SUBST in headers:  # get_hfblock: "!!" is the address of the socket the request leaves from
            sock = self._sending_socket(dialog)
            if sock is None:
                raise RpcFault(500, "Failed to build headers block")
            headers = headers.replace(SUBST, f"{sock.advertise_host or sock.host}:"
                                             f"{sock.advertise_port or sock.port}")
        ret = self._send_in(req.method, dialog, headers, req.body.encode(), reply_callback=callback)
        if ret <= 0:
            code, text = error_reply(ret, "RPC/UAC")
            raise RpcFault(code, text)

    def rpc_t_uac_start(self, method: str, ruri: str, nexthop: str, socket: str, headers: str,
                        body: str = "") -> None:
        """starts a tm uac using a list of string parameters: method, ruri, dst_uri send_sock,
        headers (CRLF separated) and body (optional)"""
        self._rpc_send(self._rpc_request(method, ruri, nexthop, socket, headers, body))

    def rpc_t_uac_wait(self, method: str, ruri: str, nexthop: str, socket: str, headers: str,
                       body: str = "") -> None:
        """starts a tm uac and waits for the final reply, using a list of string parameters"""
        self._rpc_request(method, ruri, nexthop, socket, headers, body)
        # Kamailio's jsonrpcs gives a delayed reply context only over HTTP: over its FIFO and datagram
        # socket the request is refused so, before anything is sent
        raise RpcFault(500, "internal error: failed to create context")

    def rpc_t_uac_wait_block(self, method: str, ruri: str, nexthop: str, socket: str, headers: str,
                             body: str = "") -> RpcDelayed:
        """starts a tm uac and waits for the final reply in blocking mode, using a list of string
        parameters"""
        req = self._rpc_request(method, ruri, nexthop, socket, headers, body)
        answer = RpcDelayed()

        def final(status: int, reply: Response | None) -> None:
            text = reply.reason if reply is not None else ERROR_TEXTS.get(status, "")
            answer.resolve({"code": status, "text": text})

        self._rpc_send(req, final)
        return answer
