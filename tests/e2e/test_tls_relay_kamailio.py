"""Relaying over TLS beside Kamailio 5.6: a request that comes over UDP and is relayed by tm to a
`;transport=tls` destination (a Python TLS peer that answers 200) carries the same Via and
Record-Route headers from both servers (double record-routing: `;transport=tls` on the TLS side),
and the caller gets the same 200."""
from __future__ import annotations

import re
import socket

import pytest

from tests.e2e import beside
from tests.e2e.tls_material import Destination, make

CFG = """#!KAMAILIO
enable_tls=yes
listen=udp:127.0.0.1:PORT
listen=tls:127.0.0.1:PORT
children=1
tcp_children=1
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "tls.so"
loadmodule "ctl.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
modparam("tls", "config", "TLSCFG")
request_route {
    record_route();
    $du = "sip:127.0.0.1:" + $hdr(X-Dest) + ";transport=tls";
    t_relay();
}
"""

TLS_CFG = """[server:default]
method = TLSv1.2+
private_key = {dir}/server.key
certificate = {dir}/server.pem

[client:default]
method = TLSv1.2+
verify_certificate = no
"""


def _send(server: beside.Server, destination: Destination, call_id: str) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(10)
        port = udp.getsockname()[1]
        udp.sendto((f"MESSAGE sip:bob@example.com SIP/2.0\r\n"
                    f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{call_id}\r\n"
                    f"From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\n"
                    f"Call-ID: {call_id}\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n"
                    f"X-Dest: {destination.port}\r\nContent-Length: 0\r\n\r\n").encode(),
                   ("127.0.0.1", server.port))
        while True:
            reply = udp.recv(65536)
            if not reply.startswith(b"SIP/2.0 1"):
                return reply


def _shape(message: bytes, server: beside.Server, destination: Destination) -> list[str]:
    """The start line, Via and Record-Route lines, with the ports and branches of a run replaced."""
    lines = message.decode().split("\r\n")
    kept = [lines[0]] + [line for line in lines[1:] if line.split(":", 1)[0] in ("Via", "Record-Route")]
    text = "\n".join(kept).replace(f":{server.port}", ":PORT").replace(f":{destination.port}", ":DEST")
    text = re.sub(r"branch=z9hG4bK[\w.-]+", "branch=B", text)
    text = re.sub(r"(SIP/2.0/UDP 127.0.0.1:)\d+", r"\1UAC", text)
    return re.sub(r"(;rport=)\d+", r"\1N", text).split("\n")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("tls-relay")
    material = make(tmp / "certs")
    tls_cfg = tmp / "tls.cfg"
    tls_cfg.write_text(TLS_CFG.format(dir=material.directory))
    with beside.both(tmp, CFG.replace("TLSCFG", str(tls_cfg))) as pair:
        yield material, pair


def test_a_request_relayed_over_tls_has_kamailios_via_and_record_route(servers) -> None:
    material, (kamailio, kampy) = servers
    shapes = []
    for server in (kamailio, kampy):
        peer = Destination(material, answer=True)
        peer.start()
        try:
            reply = _send(server, peer, f"relay-{server.name}")
            peer.wait("data")
            shapes.append((_shape(peer.received[0], server, peer), _shape(reply, server, peer)))
        finally:
            peer.close()
    assert shapes[0][0][0] == "MESSAGE sip:bob@example.com SIP/2.0"
    assert any(";transport=tls" in line for line in shapes[0][0])
    assert shapes[1] == shapes[0]
    # the outgoing connection stays open (its peer closes it only when kampy does): listed by both
    listed = [len(re.findall(r"\bid: ", s.kamcmd("tls.list"))) for s in (kamailio, kampy)]
    assert listed[1] == listed[0]
