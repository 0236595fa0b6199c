"""rr's sockname_mode on the wire, kampy beside Kamailio 5.6 (configs/rr_sockname.cfg): the
Record-Route carries the name of the socket (`;sn=first`), and loose_route() with force_send_socket
sends an in-dialog request from the socket the `sn` parameter of our Route URI names."""
from __future__ import annotations

import socket
from pathlib import Path

from tests.e2e.kampy_process import CONFIGS, free_port
from tests.e2e.proxy import start_proxy
from tests.e2e.test_path_e2e import headers, port_of, receive, udp

CFG = CONFIGS / "rr_sockname.cfg"


def request(method: str, ruri: str, src: socket.socket, call_id: str, routes: tuple[str, ...] = ()) -> bytes:
    port = port_of(src)
    lines = [f"{method} {ruri} SIP/2.0",
             f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{call_id}{method}",
             "Max-Forwards: 70",
             "From: <sip:alice@example.test>;tag=sn-1",
             "To: <sip:bob@example.test>" + (";tag=sn-2" if method == "BYE" else ""),
             f"Call-ID: {call_id}",
             f"CSeq: {2 if method == 'BYE' else 1} {method}",
             f"Contact: <sip:alice@127.0.0.1:{port}>",
             *[f"Route: {r}" for r in routes],
             "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def run(target: str, tmp_path: Path) -> dict[str, object]:
    second = free_port()
    proxy = start_proxy(target, tmp_path, cfg=CFG, defines=(f"LISTEN2=udp:127.0.0.1:{second}",))
    caller, callee, hop = udp(), udp(), udp()
    try:
        bob = f"sip:bob@127.0.0.1:{port_of(callee)}"
        caller.sendto(request("INVITE", bob, caller, f"sn-{proxy.port}"), proxy.addr)
        rr = headers(receive(callee, "INVITE"), "Record-Route")
        routes = (f"<sip:127.0.0.1:{proxy.port};sn=second;lr>", f"<sip:127.0.0.1:{port_of(hop)};lr>")
        caller.sendto(request("BYE", bob, caller, f"sn-{proxy.port}", routes), proxy.addr)
        hop.settimeout(5)
        while True:
            data, (_, from_port) = hop.recvfrom(65535)
            if data.startswith(b"BYE "):
                break
        names = {second: "second", proxy.port: "first"}
        return {"rr": [line.replace(str(proxy.port), "FIRST") for line in rr],
                "bye_from": names.get(from_port, from_port)}
    finally:
        for s in (caller, callee, hop):
            s.close()
        proxy.stop()


def test_sockname_in_record_route_and_routing_by_it_match_kamailio(tmp_path: Path) -> None:
    kamailio = run("kamailio-1", tmp_path)
    assert kamailio == {"rr": ["Record-Route: <sip:127.0.0.1:FIRST;sn=first;lr;ftag=sn-1>"],
                        "bye_from": "second"}
    assert run("kampy-1", tmp_path) == kamailio


def advertised(target: str, tmp_path: Path, *defines: str) -> list[str]:
    proxy = start_proxy(target, tmp_path, cfg=CONFIGS / "rr_advertised.cfg", defines=defines)
    caller, callee = udp(), udp()
    try:
        caller.sendto(request("INVITE", f"sip:bob@127.0.0.1:{port_of(callee)}", caller, f"ad-{proxy.port}"),
                      proxy.addr)
        got = receive(callee, "INVITE")
        return headers(got, "Record-Route") + headers(got, "X-Second")
    finally:
        caller.close()
        callee.close()
        proxy.stop()


def test_record_route_advertised_address_matches_kamailio(tmp_path: Path) -> None:
    kamailio = advertised("kamailio-1", tmp_path)
    assert kamailio == ["Record-Route: <sip:bob.example.test:5999;ftag=sn-1;lr;p=1>", "X-Second: refused"]
    assert advertised("kampy-1", tmp_path) == kamailio


def test_record_route_advertised_address_with_double_rr_2_matches_kamailio(tmp_path: Path) -> None:
    kamailio = advertised("kamailio-1", tmp_path, "DOUBLE_RR")
    assert kamailio[0] == "Record-Route: <sip:bob.example.test:5999;transport=udp;r2=on;ftag=sn-1;lr;p=1>"
    assert advertised("kampy-1", tmp_path, "DOUBLE_RR") == kamailio
