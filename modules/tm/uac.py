"""Requests tm sends on its own behalf (Kamailio's uac.c: t_uac, t_request): msilo's MESSAGEs,
t_uac_send."""
from __future__ import annotations

from collections.abc import Callable

from kampy.api import Response, Socket, destination

from . import tags
from .base import E_BAD_ADDRESS, E_SEND, TmBase, log
from .cell import Cell, Dest, UacBranch


def _name_addr(uri: str) -> str:
    return uri if "<" in uri else f"<{uri}>"


def build_local_request(method: str, ruri: str, from_uri: str, to_uri: str, *, sock: Socket, branch: str,
                        call_id: str, from_tag: str, user_agent: str, headers: str | bytes = "",
                        body: bytes = b"") -> bytes:
    """The layout Kamailio's build_uac_req gives: Via, To, From;tag, CSeq 10, Call-ID, Max-Forwards,
    Content-Length, User-Agent, then the caller's headers (CRLF-terminated) and the body."""
    host = sock.advertise_host or sock.host
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    port = sock.advertise_port or sock.port
    extra = headers if isinstance(headers, bytes) else headers.encode("utf-8", "surrogateescape")
    if extra and not extra.endswith(b"\r\n"):
        extra += b"\r\n"
    head = (f"{method} {ruri} SIP/2.0\r\n"
            f"Via: SIP/2.0/{sock.proto.upper()} {host}:{port};branch={branch}\r\n"
            f"To: {_name_addr(to_uri)}\r\n"
            f"From: {_name_addr(from_uri)};tag={from_tag}\r\n"
            f"CSeq: 10 {method}\r\n"
            f"Call-ID: {call_id}\r\n"
            "Max-Forwards: 70\r\n"
            f"Content-Length: {len(body)}\r\n"
            + (f"User-Agent: {user_agent}\r\n" if user_agent else ""))
    return head.encode("utf-8", "surrogateescape") + extra + b"\r\n" + body


class Uac(TmBase):
    """The UAC API."""

    def t_request(self, method: str, ruri: str, to_uri: str, from_uri: str, *, headers: str | bytes = "",
                  body: bytes = b"", next_hop: str | None = None,
                  callback: Callable[[int, Response | None], None] | None = None) -> int:
        """kampy.api.TmAPI: a new request in a new client transaction; `callback(status, reply)`
        runs once with the final reply, or (408, None) on timeout. 1 when sent, negative on error."""
        return self.request(method, ruri, from_uri, to_uri, headers, body, next_hop, callback)

    def request(self, method: str, ruri: str, from_uri: str, to_uri: str, headers: str | bytes = "",
                body: bytes = b"", next_hop: str | None = None,
                callback: Callable[[int, Response | None], None] | None = None) -> int:
        """The same as `t_request`, in the argument order of Kamailio's uac_req (From before To)."""
        dest = destination(next_hop or ruri)
        if dest is None:
            log.error("tm: cannot send a local %s to '%s'", method, next_hop or ruri)
            return E_BAD_ADDRESS
        proto, host, port = dest
        sock = next((s for s in self.core.sockets if s.proto == proto and (":" in s.host) == (":" in host)),
                    None)
        if sock is None:
            log.error("tm: no %s socket to send a local %s to %s:%d", proto, method, host, port)
            return E_SEND
        call_id = self._callids.next()
        label = next(self._labels)
        branch = tags.branch_id(self.core.rank, call_id, "10", f"{label}.{call_id}", 0)
        data = build_local_request(method.upper(), ruri, from_uri, to_uri, sock=sock, branch=branch,
                                   call_id=call_id, from_tag=tags.from_tag(self.core, call_id, ruri),
                                   user_agent=self.core.server_header, headers=headers, body=body)
        cell = Cell(label, None, method.upper(), self.timers, callback=callback)
        br = UacBranch(0, ruri, data, (branch, method.upper()))
        cell.branches.append(br)
        self._count("transactions")
        self._count("client_transactions")
        self._start_uac(cell, br, Dest(proto, host, port, sock))
        return 1
