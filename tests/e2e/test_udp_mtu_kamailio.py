"""udp_mtu / udp_mtu_try_proto beside Kamailio 5.6: a request forwarded over UDP that is longer than
udp_mtu leaves over TCP (with a TCP Via), a short one over UDP, on both servers."""
from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.e2e.beside import Server, both
from tests.e2e.kampy_process import free_port

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
listen=tcp:127.0.0.1:PORT
children=1
udp_mtu=600
udp_mtu_try_proto=TCP
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "sl.so"
loadmodule "ctl.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
request_route {
  forward("127.0.0.1", TARGET);
  exit;
}
"""


def message(server: Server, body: str, lport: int) -> bytes:
    return (f"MESSAGE sip:bob@127.0.0.1:{server.port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK-{time.time_ns()}\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>\r\n"
            f"Call-ID: mtu-{server.name}-{len(body)}\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}").encode()


def arrival(server: Server, body: str, udp: socket.socket, tcp: socket.socket) -> tuple[str, str]:
    """How the forwarded request reaches the target (udp or tcp) and its top Via's transport."""
    caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    caller.bind(("127.0.0.1", 0))
    try:
        caller.sendto(message(server, body, caller.getsockname()[1]), ("127.0.0.1", server.port))
        udp.settimeout(2.0 if len(body) < 100 else 0.5)
        try:
            data, how = udp.recv(65535), "udp"
        except TimeoutError:
            tcp.settimeout(3.0)
            conn, _ = tcp.accept()
            with conn:
                conn.settimeout(3.0)
                data, how = conn.recv(65535), "tcp"
        via = next(line for line in data.decode().split("\r\n") if line.lower().startswith("via:"))
        return how, via.split()[1]
    finally:
        caller.close()


def test_a_request_over_udp_mtu_is_forwarded_over_tcp_as_kamailio_does(tmp_path: Path) -> None:
    port = free_port()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp.bind(("127.0.0.1", port))
    tcp.bind(("127.0.0.1", port))
    tcp.listen(4)
    try:
        with both(tmp_path, CFG.replace("TARGET", str(port))) as (kamailio, kampy):
            seen = {s.name: [arrival(s, body, udp, tcp) for body in ("short", "x" * 700)]
                    for s in (kamailio, kampy)}
    finally:
        udp.close()
        tcp.close()
    assert seen["kamailio"] == [("udp", "SIP/2.0/UDP"), ("tcp", "SIP/2.0/TCP")]
    assert seen["kampy"] == seen["kamailio"]
