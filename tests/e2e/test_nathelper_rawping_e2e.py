"""nathelper's UDP keepalives from a spoofed source, kampy beside Kamailio 5.6 (configs/nathelper.cfg):
with natping_socket each 4-byte ping leaves a raw socket with that address and port as its source;
with udpping_from_path (and registrar's use_path) with the address of the contact's Path. Each server
runs in a network namespace of its own (the raw packets stay on its loopback)."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.e2e import dualserver
from tests.e2e.natworld import Netns

CFG = dualserver.CONFIGS / "nathelper.cfg"
SERVERS = ("kamailio", "kampy")


def register(ua: socket.socket, server: tuple[str, int], path: str | None) -> None:
    ua.sendto(("REGISTER sip:127.0.0.1 SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bK-raw;rport\r\n"
               "From: <sip:alice@127.0.0.1>;tag=alice\r\nTo: <sip:alice@127.0.0.1>\r\n"
               "Call-ID: reg-raw\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@10.0.0.5:5070>\r\n"
               + (f"Path: {path}\r\nSupported: path\r\n" if path else "")
               + "X-Ping: udp\r\nExpires: 600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode(),
              server)
    ua.settimeout(5)
    assert ua.recv(65536).startswith(b"SIP/2.0 200")


def ping_seen(kind: str, workdir: Path, defines: dict[str, str | None], path: str | None
              ) -> tuple[bytes, tuple[str, int]]:
    """The first keepalive the registered contact gets: (data, source address)."""
    ns = Netns()
    server = None
    try:
        server = dualserver.start(kind, CFG, workdir / kind, defines, port=5060, prefix=ns.prefix())
        dualserver.wait_answering(server, 30, ns.socket)
        with ns.socket() as ua:
            ua.bind(("127.0.0.1", 5070))
            register(ua, server.addr, path)
            ua.settimeout(6)  # natping_interval 2
            data, source = ua.recvfrom(65536)
        return data, source
    finally:
        if server is not None:
            server.stop()
        ns.close()


@pytest.mark.parametrize(("defines", "path", "source"), [
    ({"NATPING_SOCKET": '"udp:127.0.0.9:5099"'}, None, ("127.0.0.9", 5099)),
    ({"UDPPING_FROM_PATH": None}, "<sip:127.0.0.7:5088;lr>", ("127.0.0.7", 5088)),
], ids=["natping_socket", "udpping_from_path"])
def test_udp_pings_leave_from_the_spoofed_source_as_kamailios(
        tmp_path: Path, defines: dict[str, str | None], path: str | None, source: tuple[str, int]) -> None:
    seen = {kind: ping_seen(kind, tmp_path, defines, path) for kind in SERVERS}
    assert seen["kamailio"] == (b"\0\0\0\0", source)
    assert seen["kampy"] == seen["kamailio"]
