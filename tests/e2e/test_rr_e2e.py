"""rr on the wire: kampy and Kamailio 5.6 run configs/rr.cfg (`if (loose_route()) { t_relay(); exit; }
record_route(); t_relay();`); the forwarded INVITE carries the same Record-Route from both, and an
in-dialog BYE with a Route set goes to the same next hop with the same Route headers left."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.e2e.kampy_process import CONFIGS
from tests.e2e.proxy import NotAvailable, start_proxy

RR_CFG = CONFIGS / "rr.cfg"


def _sock() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    return s


def _request(method: str, ruri: str, src: socket.socket, call_id: str, *, to_tag: str = "",
             routes: tuple[str, ...] = ()) -> bytes:
    port = src.getsockname()[1]
    lines = [f"{method} {ruri} SIP/2.0",
             f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{call_id}{method}",
             "Max-Forwards: 70",
             "From: <sip:alice@example.test>;tag=alice-tag-1",
             "To: <sip:bob@example.test>" + (f";tag={to_tag}" if to_tag else ""),
             f"Call-ID: {call_id}",
             f"CSeq: {2 if method == 'BYE' else 1} {method}",
             f"Contact: <sip:alice@127.0.0.1:{port}>",
             *[f"Route: {r}" for r in routes],
             "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _receive(sock: socket.socket, method: str) -> list[str]:
    while True:
        data, _ = sock.recvfrom(65535)
        lines = data.decode().split("\r\n")
        if lines[0].startswith(method + " "):
            return lines


def _run(target: str, directory: Path, cfg: Path = RR_CFG, user: str = "bob") -> dict[str, object]:
    try:
        proxy = start_proxy(target, directory, cfg=cfg)
    except NotAvailable as exc:
        if target.startswith("kampy"):
            raise  # kampy must run rr.cfg: a missing rr function is a failure, not a skip
        pytest.skip(str(exc))
    caller, callee, hop = _sock(), _sock(), _sock()
    try:
        me = f"127.0.0.1:{proxy.port}"
        bob = f"sip:{user}@127.0.0.1:{callee.getsockname()[1]}"
        call_id = f"rr-{target}-{proxy.port}"
        caller.sendto(_request("INVITE", bob, caller, call_id), proxy.addr)
        invite = _receive(callee, "INVITE")
        rr = [line.replace(me, "PROXY") for line in invite if line.startswith("Record-Route:")]
        first_headers = [line.split(":")[0] for line in invite[1:3]]
        record_route = invite[1].partition(": ")[2].strip("<>")
        # in dialog: our Record-Route, then a loose next hop; the R-URI is bob's contact
        hop_uri = f"sip:127.0.0.1:{hop.getsockname()[1]};lr"
        caller.sendto(_request("BYE", bob, caller, call_id, to_tag="bob-tag-1",
                               routes=(f"<{record_route}>", f"<{hop_uri}>")), proxy.addr)
        bye = _receive(hop, "BYE")
        # and with only our Route: straight to the R-URI
        caller.sendto(_request("BYE", bob, caller, call_id + "b", to_tag="bob-tag-1",
                               routes=(f"<{record_route}>",)), proxy.addr)
        bye2 = _receive(callee, "BYE")
        def norm(lines: list[str]) -> list[str]:
            return [line.replace(bob, "BOB").replace(hop_uri, "HOP").replace(me, "PROXY") for line in lines]

        return {
            "rr": rr,
            "first": first_headers,
            "bye_ruri": norm(bye[:1]),
            "bye_routes": norm([line for line in bye if line.startswith("Route:")]),
            "bye2_ruri": norm(bye2[:1]),
            "bye2_routes": norm([line for line in bye2 if line.startswith("Route:")]),
        }
    finally:
        for s in (caller, callee, hop):
            s.close()
        proxy.stop()


def test_record_route_and_loose_route_match_kamailio(tmp_path: Path) -> None:
    kamailio = _run("kamailio-1", tmp_path)
    kampy = _run("kampy-1", tmp_path)
    assert kamailio["rr"] == ["Record-Route: <sip:PROXY;lr;ftag=alice-tag-1>"]
    assert kamailio["first"] == ["Record-Route", "Via"]
    assert kamailio["bye_ruri"] == ["BYE BOB SIP/2.0"]
    assert kamailio["bye_routes"] == ["Route: <HOP>"]  # ours removed, the next hop's kept
    assert kamailio["bye2_routes"] == []
    assert kampy == kamailio


@pytest.mark.parametrize(("user", "expected"), [("bob", "bob"), ("custom", "token42")])
def test_add_username_and_custom_user_avp_match_kamailio(tmp_path: Path, user: str, expected: str) -> None:
    kamailio = _run("kamailio-1", tmp_path, RR_CFG.with_name("rr_username.cfg"), user)
    kampy = _run("kampy-1", tmp_path, RR_CFG.with_name("rr_username.cfg"), user)
    assert kamailio["rr"] == [f"Record-Route: <sip:{expected}@PROXY;lr;ftag=alice-tag-1>"]
    assert kamailio["bye_routes"] == ["Route: <HOP>"]  # a Route with our user part is still ours
    assert kampy == kamailio
