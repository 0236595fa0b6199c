"""outbound on the wire: kampy and Kamailio 5.6 run configs/path_edge.cfg with WITH_OUTBOUND (outbound
loaded with flow_token_secret "kampy-path-test"). Each writes the RFC 5626 flow token of the phone's
connection in the Path of a REGISTER with reg-id (with `;ob`: the first hop) and in the Record-Route
of a request with `;ob` in its Contact; the tests decode each token and check its HMAC, so kampy's
tokens are checked against the layout Kamailio's follow. The key differs on purpose: kampy's is the
SHA-1 of the secret, as documented; Kamailio 5.6.3's is the SHA-1 of the empty string whatever the
secret (its PARAM_STRING parameter fills a `str` whose length stays 0). An INVITE the registrar
sends back by the Path reaches the phone by the flow token (loose_route() returns 2), a tampered
token gets -2, and the force flags decide before anything else."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import socket
from pathlib import Path

import pytest

from tests.e2e.kampy_process import free_port
from tests.e2e.proxy import start_proxy
from tests.e2e.test_path_e2e import (EDGE_CFG, REGISTRAR_CFG, headers, invite, normalized, port_of, receive,
                                     register, udp)

SECRET = b"kampy-path-test"
KEYS = {"kampy": hashlib.sha1(SECRET).digest(), "kamailio": hashlib.sha1(b"").digest()}


def key_of(target: str) -> bytes:
    return KEYS[target.partition("-")[0]]
TOKEN = re.compile(r"sip:([A-Za-z0-9+/=]{32,})@")


def decode(token: str, key: bytes) -> tuple[int, str, int, str, int]:
    """(protocol number, local IP, local port, peer IP, peer port) of a valid IPv4 flow token."""
    raw = base64.b64decode(token)
    assert len(raw) == 23
    mac = hmac.new(key, raw[10:], hashlib.sha1).digest()[-10:]
    assert raw[:10] == mac, "the flow token fails its HMAC check"
    data = raw[10:]
    return (data[0], socket.inet_ntoa(data[1:5]), int.from_bytes(data[5:7], "big"),
            socket.inet_ntoa(data[7:11]), int.from_bytes(data[11:13], "big"))


def tokens_out(lines: list[str], key: bytes, edge_port: int, phone_port: int) -> list[str]:
    """The lines with each flow token checked (it names the phone's connection to the edge) and
    written TOKEN."""
    out = []
    for line in lines:
        for token in TOKEN.findall(line):
            assert decode(token, key) == (1, "127.0.0.1", edge_port, "127.0.0.1", phone_port)
            line = line.replace(token, "TOKEN")
        out.append(line)
    return out


def edge_writes(target: str, tmp_path: Path) -> dict[str, list[str]]:
    """What the edge writes in the Path of REGISTERs and in the Record-Route of a request, as a
    plain socket behind it receives them."""
    registrar, phone = udp(), udp()
    edge = start_proxy(target, tmp_path, cfg=EDGE_CFG,
                       defines=(f'REGISTRAR="sip:127.0.0.1:{port_of(registrar)}"', "WITH_OUTBOUND"))
    reg_id = ';reg-id=1;+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000001>"'
    cases = {
        "reg_id": (register("p0", phone, f"a-{edge.port}", contact_params=reg_id), "REGISTER", "Path"),
        "received_reg_id": (register("r0", phone, f"b-{edge.port}", contact_params=reg_id),
                            "REGISTER", "Path"),
        "no_reg_id": (register("p0", phone, f"c-{edge.port}"), "REGISTER", "Path"),
        "forced": (register("p0", phone, f"d-{edge.port}", extra=("X-Force: ob",)), "REGISTER", "Path"),
        "forced_off": (register("p0", phone, f"e-{edge.port}", contact_params=reg_id,
                                extra=("X-Force: no-ob",)), "REGISTER", "Path"),
        "with_user": (register("p1", phone, f"f-{edge.port}", contact_params=reg_id), "REGISTER", "Path"),
        "invite_ob": (invite("bob", phone, f"g-{edge.port}").replace(b">\r\nContent", b";ob>\r\nContent"),
                      "INVITE", "Record-Route"),
        "invite_ob_unsupported": (invite("bob", phone, f"h-{edge.port}").replace(
            b">\r\nContent", b";ob>\r\nSupported: timer\r\nContent"), "INVITE", "Record-Route"),
        "invite_plain": (invite("bob", phone, f"i-{edge.port}"), "INVITE", "Record-Route"),
    }
    try:
        found: dict[str, list[str]] = {}
        for name, (data, method, header) in cases.items():
            phone.sendto(data, edge.addr)
            lines = headers(receive(registrar, method), header)
            lines = tokens_out(lines, key_of(target), edge.port, port_of(phone))
            found[name] = normalized(lines, edge, phone)
        return found
    finally:
        registrar.close()
        phone.close()
        edge.stop()


def test_flow_tokens_in_path_and_record_route_match_kamailio(tmp_path: Path) -> None:
    kamailio = strip_ftags(edge_writes("kamailio-1", tmp_path))
    assert kamailio["reg_id"] == ["Path: <sip:TOKEN@EDGE;lr;ob>"]
    assert kamailio["received_reg_id"] == ["Path: <sip:TOKEN@EDGE;lr;received=sip:PHONE;ob>"]
    assert kamailio["no_reg_id"] == ["Path: <sip:EDGE;lr>"]
    assert kamailio["forced"] == ["Path: <sip:TOKEN@EDGE;lr;ob>"]
    assert kamailio["forced_off"] == ["Path: <sip:EDGE;lr>"]
    assert kamailio["with_user"] == ["Path: <sip:edge@EDGE;lr>"]
    assert kamailio["invite_ob"] == ["Record-Route: <sip:TOKEN@EDGE;lr;ftag=T>"]
    assert kamailio["invite_ob_unsupported"] == ["Record-Route: <sip:EDGE;lr;ftag=T>"]
    assert kamailio["invite_plain"] == ["Record-Route: <sip:EDGE;lr;ftag=T>"]
    assert strip_ftags(edge_writes("kampy-1", tmp_path)) == kamailio


def strip_ftags(found: dict[str, list[str]]) -> dict[str, list[str]]:
    """The From tags (they hold the edge's port) as T."""
    return {name: [re.sub(r";ftag=[^;>]*", ";ftag=T", line) for line in lines]
            for name, lines in found.items()}


def through_edge(edge_target: str, registrar_target: str, tmp_path: Path) -> dict[str, object]:
    """A phone registers with reg-id through the edge (its Contact names 127.0.0.2, where nothing
    listens); a caller's INVITE to the registrar comes back through the edge to the phone by the
    flow token of the Path. Then a request with a tampered token in our Route."""
    phone, caller, sink = udp(), udp(), udp()
    registrar = start_proxy(registrar_target, tmp_path, cfg=REGISTRAR_CFG)
    edge = start_proxy(edge_target, tmp_path, cfg=EDGE_CFG,
                       defines=(f'REGISTRAR="sip:127.0.0.1:{registrar.port}"', "WITH_OUTBOUND"))
    reg_id = ';reg-id=1;+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000001>"'
    try:
        phone.sendto(register("p0", phone, f"ob-{edge.port}", contact_params=reg_id, contact_host="127.0.0.2",
                              extra=("Supported: path, outbound",)), edge.addr)
        ok = receive(phone, "SIP/2.0 ")
        caller.sendto(invite("p0", caller, f"obi-{edge.port}"), registrar.addr)
        got = receive(phone, "INVITE")
        # a token of the right length whose HMAC does not match
        forged = base64.b64encode(bytes(10) + bytes([1]) + bytes(12)).decode()
        route = f"Route: <sip:{forged}@127.0.0.1:{edge.port};lr;ob>\r\n"
        bye = invite("p0", caller, f"obt-{edge.port}").replace(
            b"INVITE sip:p0@example.test", f"BYE sip:p0@127.0.0.1:{port_of(sink)}".encode()).replace(
            b"Content-Length", f"{route}Content-Length".encode())
        caller.sendto(bye, edge.addr)
        tampered = receive(sink, "BYE")

        def norm(lines: list[str]) -> list[str]:
            return normalized(tokens_out(lines, key_of(edge_target), edge.port, port_of(phone)), edge, phone)
        return {
            "reply": ok[0],
            "require": headers(ok, "Require"),
            "supported": headers(ok, "Supported"),
            "contact": [re.sub(r";expires=\d+", "", line) for line in norm(headers(ok, "Contact"))],
            "ruri": norm(got[:1]),
            "registrar_du": norm(headers(got, "X-Registrar-Du")),
            "loose_route": headers(got, "X-Loose-Route"),
            "tampered": headers(tampered, "X-Loose-Route"),
        }
    finally:
        for s in (phone, caller, sink):
            s.close()
        edge.stop()
        registrar.stop()


@pytest.mark.parametrize("edge_target", ["kampy-1", "kamailio-1"])
def test_invite_reaches_the_phone_by_its_flow_token(tmp_path: Path, edge_target: str) -> None:
    seen = through_edge(edge_target, "kampy-1", tmp_path)
    assert seen == through_edge("kamailio-1", "kamailio-1", tmp_path)
    assert seen["ruri"] == ["INVITE sip:p0@CONTACT SIP/2.0"]
    assert seen["registrar_du"] == ["X-Registrar-Du: sip:TOKEN@EDGE;lr;ob"]
    assert seen["loose_route"] == ["X-Loose-Route: 2"]
    assert seen["tampered"] == ["X-Loose-Route: -2"]


class TcpPhone:
    """A phone with one TCP connection to the edge (no listening socket: only that flow reaches it)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buffer = b""

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self, start: str) -> list[str]:
        while True:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if sep:
                self.buffer = rest  # every message here has an empty body
                lines = head.decode().split("\r\n")
                if lines[0].startswith(start):
                    return lines
                continue
            chunk = self.sock.recv(65535)
            if not chunk:
                raise ConnectionError("the edge closed the connection")
            self.buffer += chunk


def over_tcp(edge_target: str, tmp_path: Path) -> dict[str, object]:
    """The phone registers with reg-id over TCP through the edge (to the registrar over UDP); a
    caller's INVITE comes back to the phone on its TCP connection, by the flow token."""
    caller = udp()
    tcp_port = free_port()
    registrar = start_proxy("kampy-1", tmp_path, cfg=REGISTRAR_CFG)
    edge = start_proxy(edge_target, tmp_path, cfg=EDGE_CFG,
                       defines=(f'REGISTRAR="sip:127.0.0.1:{registrar.port}"', "WITH_OUTBOUND",
                                f"TCP_LISTEN=tcp:127.0.0.1:{tcp_port}"))
    phone = TcpPhone(tcp_port)
    reg_id = ';reg-id=1;+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000002>"'
    try:
        data = register("p0", caller, f"tcp-{edge.port}", contact_params=reg_id, contact_host="127.0.0.2")
        data = data.replace(f"SIP/2.0/UDP 127.0.0.1:{port_of(caller)}".encode(),
                            f"SIP/2.0/TCP 127.0.0.1:{phone.port}".encode())
        phone.send(data)
        ok = phone.receive("SIP/2.0 ")
        caller.sendto(invite("p0", caller, f"tcpi-{edge.port}"), registrar.addr)
        got = phone.receive("INVITE")
        token = TOKEN.findall(headers(got, "X-Registrar-Du")[0])[0]
        return {
            "reply": ok[0],
            "flow": decode(token, key_of(edge_target)) == (2, "127.0.0.1", tcp_port, "127.0.0.1", phone.port),
            "registrar_du": [line.replace(token, "TOKEN").replace(str(edge.port), "EDGEPORT")
                             for line in headers(got, "X-Registrar-Du")],
            "loose_route": headers(got, "X-Loose-Route"),
        }
    finally:
        phone.sock.close()
        caller.close()
        edge.stop()
        registrar.stop()


def test_invite_reaches_a_tcp_phone_on_its_connection_by_the_flow_token(tmp_path: Path) -> None:
    kamailio = over_tcp("kamailio-1", tmp_path)
    assert kamailio == {"reply": "SIP/2.0 200 OK", "flow": True,
                        "registrar_du": ["X-Registrar-Du: sip:TOKEN@127.0.0.1:EDGEPORT;lr;ob"],
                        "loose_route": ["X-Loose-Route: 2"]}
    assert over_tcp("kampy-1", tmp_path) == kamailio


def test_every_worker_makes_the_same_token_with_the_random_key(tmp_path: Path) -> None:
    # several workers share the UDP socket: the REGISTERs spread over them, and each worker's token
    # for the same connection is the same only when they share the key made at start
    registrar, phone = udp(), udp()
    edge = start_proxy("kampy-3", tmp_path, cfg=EDGE_CFG, defines=(
        f'REGISTRAR="sip:127.0.0.1:{port_of(registrar)}"', "WITH_OUTBOUND", "RANDOM_KEY"))
    reg_id = ';reg-id=1;+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000003>"'
    try:
        tokens = set()
        for i in range(12):
            phone.sendto(register("p0", phone, f"w{i}-{edge.port}", contact_params=reg_id), edge.addr)
            tokens.update(TOKEN.findall(headers(receive(registrar, "REGISTER"), "Path")[0]))
    finally:
        registrar.close()
        phone.close()
        edge.stop()
    assert len(tokens) == 1
    assert len(base64.b64decode(tokens.pop())) == 23
