"""Small helpers for the module tests: a context from raw SIP, a module with its default params."""
from __future__ import annotations

from typing import Any

from kampy.api import Exports, MessageContext, Socket, Source, parse_message
from kampy.runtime.core import Core
from kampy.runtime.modules import build_module
from kampy.version import SERVER_HEADER

LOCAL = Socket("udp", "127.0.0.1", 5060)


def sip(text: str) -> bytes:
    """Raw SIP from a readable literal: lines joined with CRLF, Content-Length filled in."""
    head, _, body = text.strip("\n").partition("\n\n")
    body = body.replace("\n", "\r\n")
    data = head.replace("\n", "\r\n") + "\r\n\r\n" + body
    return data.replace("{CL}", str(len(body.encode()))).encode()


def core(server: str = SERVER_HEADER) -> Core:
    c = Core(sockets=[LOCAL])
    c.server_header = server
    return c


def ctx_for(raw: bytes, c: Core | None = None, ip: str = "127.0.0.1", port: int = 5070) -> MessageContext:
    return MessageContext(msg=parse_message(raw), src=Source("udp", ip, port, LOCAL), core=c or core())


def module(exports: Exports, c: Core, **params: Any) -> Any:
    """The module built as the runtime builds it (the APIs it needs offered by modules built before)."""
    instance = build_module(exports, params, c)
    c.modules[exports.name] = instance
    return instance


OPTIONS = sip("""
OPTIONS sip:127.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport
Max-Forwards: 70
From: <sip:alice@example.test>;tag=a1
To: <sip:127.0.0.1:5060>
Call-ID: call-1@127.0.0.1
CSeq: 1 OPTIONS
Content-Length: 0
""")

INVITE = sip("""
INVITE sip:bob@example.test;transport=udp SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-2
Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK-0
Max-Forwards: 10
From: "Alice" <sip:alice@example.test>;tag=a2
To: <sip:bob@example.test>
Call-ID: call-2@10.0.0.1
CSeq: 7 INVITE
Contact: <sip:alice@10.0.0.1:5070>
Record-Route: <sip:10.0.0.5;lr>
X-Foo: one
Content-Type: application/sdp
Content-Length: {CL}

v=0
o=alice 1 1 IN IP4 10.0.0.1
s=-
c=IN IP4 10.0.0.1
m=audio 4000 RTP/AVP 0
""")
