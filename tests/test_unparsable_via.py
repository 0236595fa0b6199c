"""A request whose first Via does not parse is dropped as Kamailio 5.6 drops it: no reply (there is
no valid address to send one to), counted in `core:bad_msg_hdr` (not `err_requests` nor
`rcv_requests`: measured against Kamailio 5.6.3 with kamcmd), logged once per source and minute."""
from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from kampy.config.pipeline import load_text
from kampy.runtime.context import Socket, Source
from kampy.runtime.server import Server

SOCKET = Socket("udp", "127.0.0.1", 5060)
ALICE = Source("udp", "127.0.0.1", 35061, SOCKET)
BOB = Source("udp", "127.0.0.1", 35062, SOCKET)
CFG = 'loadmodule "sl"\nloadmodule "kex"\nrequest_route { sl_send_reply("200", "OK"); }\n'


def message(via: str) -> bytes:
    return (f"MESSAGE sip:bob@example.test SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n"
            "From: <sip:alice@example.test>;tag=1\r\nTo: <sip:bob@example.test>\r\nCall-ID: via-1\r\n"
            "CSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n").encode()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server.from_config(load_text(CFG), sockets=[SOCKET])
    yield s
    s.shutdown()


def test_request_with_an_unparsable_via_gets_no_reply(server):
    assert server.handle(message("broken"), ALICE) == []


def test_it_is_counted_as_a_bad_header_and_nothing_else(server):
    server.handle(message("broken"), ALICE)
    stats = server.core.stats
    assert (stats.get("core:bad_msg_hdr"), stats.get("core:err_requests"), stats.get("core:rcv_requests")) \
        == (1, 0, 0)


def test_it_is_logged_once_per_source_at_warning(server, caplog):
    with caplog.at_level(logging.DEBUG, logger="kampy.server"):
        for _ in range(5):
            server.handle(message("broken"), ALICE)
        server.handle(message("SIP/2.0/UDP"), BOB)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    dropped = "dropped: its first Via does not parse (malformed Via:"
    assert warnings == [f"request from udp:127.0.0.1:35061 {dropped} 'broken')",
                        f"request from udp:127.0.0.1:35062 {dropped} 'SIP/2.0/UDP')"]


def test_the_same_request_with_a_good_via_is_answered(server):
    (reply,) = server.handle(message("SIP/2.0/UDP 127.0.0.1:35061;branch=z9hG4bK-1"), ALICE)
    assert reply.data.startswith(b"SIP/2.0 200 OK\r\n")
