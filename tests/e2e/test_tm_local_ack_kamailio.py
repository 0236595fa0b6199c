"""tm ACKs the 2xx of its own INVITE (`kamcmd tm.t_uac_start INVITE ...`) as Kamailio 5.6 does, on the
wire against the same config on both servers: a small UA answers 200 with a Contact and a
Record-Route whose last entry is another port of the UA; with local_ack_mode 0 the ACK goes there
(the first route of the reversed route set), after `cfg.set_now_int tm local_ack_mode 2` to the
address the 200 came from; both servers' ACKs carry the same Request-URI, Route and headers."""
from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator

import pytest

from tests.e2e.beside import Server, both

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
children=1
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "ctl.so"
loadmodule "cfg_rpc.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
request_route { exit; }
"""


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    with both(tmp_path_factory.mktemp("tm-local-ack"), CFG) as pair:
        yield pair


def _udp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    return sock


def _acks(socks: dict[str, socket.socket]) -> dict[str, bytes]:
    """The ACKs that reach these sockets: waits up to 3 s for the first, then 0.2 s for another."""
    arrived: dict[str, bytes] = {}
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        ready, _, _ = select.select(list(socks.values()), [], [], max(0.0, deadline - time.monotonic()))
        for name, sock in socks.items():
            if sock in ready and (data := sock.recv(65535)).startswith(b"ACK "):
                arrived[name] = data
                deadline = min(deadline, time.monotonic() + 0.2)
    return arrived


def _headers(data: bytes) -> list[tuple[str, str]]:
    lines = data.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")[1:]
    return [(name.strip(), value.strip()) for name, _, value in (line.partition(":") for line in lines)]


def _call(server: Server, callee: socket.socket,
          contact: socket.socket) -> tuple[str, list[tuple[str, str]], str]:
    """INVITE callee by RPC, answer 200 from the callee with a Contact on `contact`: the ACK's
    request line, its headers, and which of the two sockets it reached."""
    ua_port, contact_port = callee.getsockname()[1], contact.getsockname()[1]
    answer = server.kamcmd("tm.t_uac_start", "INVITE", f"sip:bob@127.0.0.1:{ua_port}", ".", ".",
                           "From: <sip:alice@example.test>\r\nTo: <sip:bob@example.test>\r\n"
                           "Contact: <sip:alice@127.0.0.1>\r\nContent-Type: application/sdp\r\n",
                           "v=0\r\n")
    assert "error" not in answer.lower(), answer
    invite, src = callee.recvfrom(65535)
    head = {n.lower(): v for n, v in _headers(invite)}
    reply = (f"SIP/2.0 200 OK\r\nVia: {head['via']}\r\nFrom: {head['from']}\r\n"
             f"To: {head['to']};tag=ua-1\r\nCall-ID: {head['call-id']}\r\nCSeq: {head['cseq']}\r\n"
             f"Record-Route: <sip:far.example.test;lr>, <sip:127.0.0.1:{contact_port};lr;r=2>\r\n"
             "Contact: <sip:bob@127.0.0.1:9>\r\nContent-Length: 0\r\n\r\n")
    callee.sendto(reply.encode(), src)
    arrived = _acks({"callee": callee, "contact": contact})
    assert len(arrived) == 1, arrived
    where, ack = next(iter(arrived.items()))
    headers = _headers(ack)
    via = dict(headers)["Via"]
    assert via.split("branch=")[1].split(";")[0] == head["via"].split("branch=")[1].split(";")[0]
    kept = [(n, v.replace(str(contact_port), "CONTACT")) for n, v in headers
            if n in ("To", "CSeq", "Route", "Content-Length")]
    return ack.split(b"\r\n", 1)[0].decode(), [(n, "") for n, _ in headers] + kept, where


def test_local_invite_2xx_is_acked_where_local_ack_mode_says_as_kamailio_does(
        servers: tuple[Server, Server]) -> None:
    results = {}
    for server in servers:
        callee, contact = _udp(), _udp()
        try:
            first = _call(server, callee, contact)
            assert "error" not in server.kamcmd("cfg.set_now_int", "tm", "local_ack_mode", "2").lower()
            second = _call(server, callee, contact)
        finally:
            callee.close()
            contact.close()
        results[server.name] = [first, second]
    kamailio, kampy = results["kamailio"], results["kampy"]
    assert [r[2] for r in kamailio] == ["contact", "callee"]
    assert kampy == kamailio
