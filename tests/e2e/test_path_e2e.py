"""path on the wire: kampy and Kamailio 5.6 run configs/path_edge.cfg as an edge proxy in front of a
registrar. The Path headers each writes into the forwarded REGISTER are the same byte for byte but
for the edge's port (every add_path()/add_path_received() form, both received formats, enable_r2,
received_name, an existing Path header), and an INVITE routed back by the registrar through the
edge reaches the phone at its received address. End to end: phone -> edge -> registrar, both kampy,
or a Kamailio edge in front of a kampy registrar."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.e2e.kampy_process import CONFIGS
from tests.e2e.proxy import Proxy, start_proxy

EDGE_CFG = CONFIGS / "path_edge.cfg"
REGISTRAR_CFG = CONFIGS / "path_registrar.cfg"


def udp() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    return s


def port_of(s: socket.socket) -> int:
    return int(s.getsockname()[1])


def register(user: str, phone: socket.socket, call_id: str, *, extra: tuple[str, ...] = (),
             contact_params: str = "", contact_host: str = "127.0.0.1") -> bytes:
    port = port_of(phone)
    lines = [f"REGISTER sip:{user}@example.test SIP/2.0",
             f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{call_id}",
             "Max-Forwards: 70",
             f"From: <sip:{user}@example.test>;tag=reg-{call_id}",
             f"To: <sip:{user}@example.test>",
             f"Call-ID: {call_id}",
             "CSeq: 1 REGISTER",
             f"Contact: <sip:{user}@{contact_host}:{port}>{contact_params}",
             "Expires: 600",
             *extra,
             "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def invite(user: str, caller: socket.socket, call_id: str) -> bytes:
    port = port_of(caller)
    lines = [f"INVITE sip:{user}@example.test SIP/2.0",
             f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{call_id}",
             "Max-Forwards: 70",
             f"From: <sip:caller@example.test>;tag=inv-{call_id}",
             f"To: <sip:{user}@example.test>",
             f"Call-ID: {call_id}",
             "CSeq: 1 INVITE",
             f"Contact: <sip:caller@127.0.0.1:{port}>",
             "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def receive(sock: socket.socket, start: str) -> list[str]:
    while True:
        data, _ = sock.recvfrom(65535)
        lines = data.decode().split("\r\n")
        if lines[0].startswith(start):
            return lines


def headers(lines: list[str], name: str) -> list[str]:
    return [line for line in lines if line.lower().startswith(name.lower() + ":")]


def paths_written(target: str, tmp_path: Path, *defines: str) -> dict[str, list[str]]:
    """The Path headers of each REGISTER form as the edge forwards it (to a plain socket), with the
    edge's address as EDGE and the phone's as PHONE."""
    registrar, phone = udp(), udp()
    edge = start_proxy(target, tmp_path, cfg=EDGE_CFG,
                       defines=(f'REGISTRAR="sip:127.0.0.1:{port_of(registrar)}"', *defines))
    try:
        found: dict[str, list[str]] = {}
        for user in ("p0", "p1", "p2", "r0", "r1", "r2"):
            phone.sendto(register(user, phone, f"{user}-{edge.port}"), edge.addr)
            found[user] = normalized(headers(receive(registrar, "REGISTER"), "Path"), edge, phone)
        # an existing Path: ours goes in front of it
        phone.sendto(register("p1", phone, f"pp-{edge.port}", extra=("Path: <sip:first.example.test;lr>",)),
                     edge.addr)
        found["existing"] = normalized(headers(receive(registrar, "REGISTER"), "Path"), edge, phone)
        return found
    finally:
        registrar.close()
        phone.close()
        edge.stop()


def normalized(lines: list[str], edge: Proxy, phone: socket.socket) -> list[str]:
    """The lines with the edge's address as EDGE, the phone's as PHONE and its Contact's as CONTACT."""
    phone_port = port_of(phone)
    return [line.replace(f"127.0.0.1:{edge.port}", "EDGE").replace(f"127.0.0.1:{phone_port}", "PHONE")
            .replace(f"127.0.0.1~{phone_port}", "PHONE").replace(f"127.0.0.2:{phone_port}", "CONTACT")
            for line in lines]


def test_path_headers_match_kamailio(tmp_path: Path) -> None:
    kamailio = paths_written("kamailio-1", tmp_path)
    assert kamailio["p0"] == ["Path: <sip:EDGE;lr>"]
    assert kamailio["p2"] == ["Path: <sip:edge@EDGE;lr;x=1;y>"]
    assert kamailio["r2"] == ["Path: <sip:edge@EDGE;lr;received=sip:PHONE;x=1>"]
    assert kamailio["existing"] == ["Path: <sip:edge@EDGE;lr>", "Path: <sip:first.example.test;lr>"]
    assert paths_written("kampy-1", tmp_path) == kamailio


def test_path_headers_with_received_format_r2_and_name_match_kamailio(tmp_path: Path) -> None:
    kamailio = paths_written("kamailio-1", tmp_path, "ALT_PARAMS")
    assert kamailio["r1"] == ["Path: <sip:edge@EDGE;lr;rcv=PHONE~1;r2=on>"] * 2
    assert paths_written("kampy-1", tmp_path, "ALT_PARAMS") == kamailio


def routed_back(edge_target: str, registrar_target: str, tmp_path: Path, user: str, *defines: str,
                registrar_defines: tuple[str, ...] = ()) -> dict:
    """The phone registers through the edge; a caller's INVITE to the registrar reaches the phone
    through the edge. What the registrar answered, and the INVITE as the phone gets it. With
    add_path_received() (users r*) the phone's Contact names 127.0.0.2, where nothing listens: only
    the edge's routing by the received parameter reaches the phone."""
    phone, caller = udp(), udp()
    registrar = start_proxy(registrar_target, tmp_path, cfg=REGISTRAR_CFG, defines=registrar_defines)
    edge = start_proxy(edge_target, tmp_path, cfg=EDGE_CFG,
                       defines=(f'REGISTRAR="sip:127.0.0.1:{registrar.port}"', *defines))
    try:
        contact_host = "127.0.0.2" if user.startswith("r") else "127.0.0.1"
        phone.sendto(register(user, phone, f"e2e-{edge.port}", extra=("Supported: path",),
                              contact_host=contact_host), edge.addr)
        ok = receive(phone, "SIP/2.0 ")
        caller.sendto(invite(user, caller, f"inv-{edge.port}"), registrar.addr)
        got = receive(phone, "INVITE")

        def norm(lines: list[str]) -> list[str]:
            return normalized(lines, edge, phone)
        return {
            "reply": ok[0],
            "reply_path": norm(headers(ok, "Path")),
            "ruri": norm(got[:1]),
            "route": headers(got, "Route"),
            "registrar_du": norm(headers(got, "X-Registrar-Du")),
            "loose_route": headers(got, "X-Loose-Route"),
        }
    finally:
        phone.close()
        caller.close()
        edge.stop()
        registrar.stop()


@pytest.mark.parametrize("user", ["r1", "p1"])
def test_invite_goes_back_through_the_edge_both_kampy(tmp_path: Path, user: str) -> None:
    seen = routed_back("kampy-1", "kampy-1", tmp_path, user)
    assert seen["reply"] == "SIP/2.0 200 OK"
    assert seen["ruri"] == [f"INVITE sip:{user}@{'CONTACT' if user == 'r1' else 'PHONE'} SIP/2.0"]
    received = ";received=sip:PHONE" if user == "r1" else ""
    assert seen["registrar_du"] == [f"X-Registrar-Du: sip:edge@EDGE;lr{received}"]
    assert seen["route"] == []  # the edge took its Route off
    assert seen["loose_route"] == ["X-Loose-Route: -3"]  # only our Route: a preloaded route set


def test_invite_goes_back_through_a_kamailio_edge_to_a_kampy_registrar(tmp_path: Path) -> None:
    mixed = routed_back("kamailio-1", "kampy-1", tmp_path, "r1", "ALT_PARAMS")
    kamailio = routed_back("kamailio-1", "kamailio-1", tmp_path, "r1", "ALT_PARAMS")
    assert kamailio["ruri"] == ["INVITE sip:r1@CONTACT SIP/2.0"]
    assert mixed == kamailio


def test_kampy_edge_in_front_of_a_kamailio_registrar(tmp_path: Path) -> None:
    assert routed_back("kampy-1", "kamailio-1", tmp_path, "r2") == routed_back("kamailio-1", "kamailio-1",
                                                                                tmp_path, "r2")


def test_path_check_local_skips_a_path_hop_on_the_registrars_own_address(tmp_path: Path) -> None:
    # the edge listens on 127.0.0.1 too: Kamailio's check_self(host, 0) takes any port as local, so
    # the registrar sends to the received address (path_use_received) and not through the edge
    local = ("WITH_CHECK_LOCAL",)
    kamailio = routed_back("kamailio-1", "kamailio-1", tmp_path, "r1", registrar_defines=local)
    assert kamailio["registrar_du"] == ["X-Registrar-Du: sip:PHONE"]
    assert kamailio["loose_route"] == []
    assert routed_back("kamailio-1", "kampy-1", tmp_path, "r1", registrar_defines=local) == kamailio
