"""samples/msilo.cfg in-process with the real tm, registrar and usrloc: the store and dump traces of
shared/reference/wire/ reproduced byte for byte, modulo tags, branches, Call-IDs and the server name.

The server is fed what it sends to itself (msilo's requests go through outbound_proxy, the server's
own address), and the test plays the user agents."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.db import connect, create_tables
from kampy.runtime.context import Outgoing, Source
from kampy.runtime.server import Server
from tests.support.msilo import (
    ALICE,
    BOB,
    TRACE_PORT,
    FakeClock,
    message,
    register,
    sample_defines,
    sample_server,
    wire_packet,
)

def normalise(data: bytes) -> bytes:
    data = re.sub(rb"branch=z9hG4bK[^;\r\n,]*", b"branch=B", data)
    data = re.sub(rb"tag=[^;\r\n>]*", b"tag=T", data)
    data = re.sub(rb"(Call-ID|User-Agent|Server): [^\r\n]*", rb"\1: X", data)
    return data


class Network:
    """Delivers what the server sends: to itself (as if received), or into the UAs' inboxes."""

    def __init__(self, server: Server) -> None:
        self.server = server
        sock = server.core.sockets[0]
        self.self_src = Source("udp", "127.0.0.1", TRACE_PORT, sock)
        self.inbox: list[Outgoing] = []

    def feed(self, data: bytes, src: Source) -> None:
        self.route(self.server.handle(data, src))

    def route(self, outs: list) -> None:
        for out in outs:
            if (out.host, out.port) == ("127.0.0.1", TRACE_PORT):
                self.route(self.server.handle(out.data, self.self_src))
            else:
                self.inbox.append(out)

    def take(self, port: int) -> list[bytes]:
        mine = [o.data for o in self.inbox if o.port == port]
        self.inbox = [o for o in self.inbox if o.port != port]
        return mine


def answer(request: bytes, status: str = "200 OK") -> bytes:
    """The UA's reply: its Vias, From, Call-ID and CSeq copied, a To tag added."""
    head = request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    keep = [h for h in head[1:] if h.split(b":", 1)[0].lower() in (b"via", b"from", b"call-id", b"cseq")]
    to = next(h for h in head if h.lower().startswith(b"to:"))
    lines = [f"SIP/2.0 {status}".encode(), *keep, to + b";tag=ua1", b"Content-Length: 0"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


@pytest.fixture(params=["sqlite", "mysql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/silo.db"
    url = request.getfixturevalue("mysql_url")
    with connect(url) as db:
        create_tables(db)
    return url


@pytest.fixture
def net(url: str) -> Iterator[Network]:
    server = sample_server(sample_defines(url), FakeClock())
    yield Network(server)
    server.shutdown()


def test_store_gives_202_and_the_notice_of_the_wire_trace(net: Network) -> None:
    net.feed(wire_packet("store_notification.txt", 1), ALICE)
    (reply,) = net.take(ALICE.port)
    assert normalise(reply) == normalise(wire_packet("store_notification.txt", 2))
    (notice,) = net.take(35063)
    assert normalise(notice) == normalise(wire_packet("store_notification.txt", 3))


def test_register_dumps_the_message_of_the_wire_trace_and_the_2xx_deletes_it(net: Network) -> None:
    net.feed(wire_packet("store_notification.txt", 1), ALICE)
    net.take(ALICE.port), net.take(35063)
    net.feed(wire_packet("dump_200.txt", 1), ALICE)  # one sipp, port 35065, played both UACs
    (ok,) = net.take(35065)
    assert normalise(ok) == normalise(wire_packet("dump_200.txt", 2))
    (dump,) = net.take(BOB.port)
    expected = wire_packet("dump_200.txt", 3)
    # the sample adds ;msilo=yes Contacts (add_contact=1) so that it never stores its own dumps again
    contact = b"Contact: <sip:alice@example.test>;msilo=yes\r\n"
    expected = expected.replace(b"Content-Type: text/plain\r\n", b"Content-Type: text/plain\r\n" + contact)
    assert normalise(dump) == normalise(expected)
    msilo = net.server.core.modules["msilo"]
    assert len(msilo.db.query("silo")) == 1
    net.feed(answer(dump), BOB)
    assert msilo.db.query("silo") == []
    assert net.server.core.stats.get("msilo:dumped_messages") == 1


def test_a_dump_the_device_refuses_stays_in_the_silo_and_is_not_stored_again(net: Network) -> None:
    net.feed(message("refused"), ALICE)
    net.take(ALICE.port), net.take(35063)
    net.feed(register(), ALICE)
    net.take(35065)
    (dump,) = net.take(BOB.port)
    net.feed(answer(dump, "415 Unsupported Media Type"), BOB)
    msilo = net.server.core.modules["msilo"]
    assert len(msilo.db.query("silo")) == 1
    assert net.server.core.stats.get("msilo:failed_messages") == 1
    assert net.server.core.stats.get("msilo:stored_messages") == 1
    assert net.take(35063) == []  # no second notice


def test_database_url_define_selects_the_backend(tmp_path: Path) -> None:
    server = sample_server(sample_defines(f"sqlite://{tmp_path}/other.db"), FakeClock())
    try:
        assert (tmp_path / "other.db").exists()
    finally:
        server.shutdown()
