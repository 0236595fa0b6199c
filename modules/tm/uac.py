"""Requests tm sends on its own behalf (Kamailio's t_uac: msilo's MESSAGEs, t_uac_send)."""
from __future__ import annotations

from kampy.api import Socket


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
