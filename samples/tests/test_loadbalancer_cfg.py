"""samples/loadbalancer.cfg under test: calls spread over the gateways, failover on 5xx and on
silence, the keepalives taking a gateway out and back, the rest of a call through the balancer."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from kampy.testing import NEVER, Harness

SAMPLES = Path(__file__).resolve().parent.parent
CFG = SAMPLES / "loadbalancer.cfg"
GATEWAYS = ["192.0.2.31", "192.0.2.32", "192.0.2.33"]


@pytest.fixture
def sip(kampy_cfg) -> Harness:
    return kampy_cfg(CFG, defines={"DS_LIST": f'"{SAMPLES / "loadbalancer.list"}"'})


def states(sip: Harness) -> dict[str, str]:
    return {d["DEST"]["URI"]: d["DEST"]["FLAGS"] for s in sip.rpc("dispatcher.list")["RECORDS"]
            for d in s["SET"]["TARGETS"]}


def test_calls_are_spread_round_robin(sip: Harness) -> None:
    for gw in GATEWAYS:
        sip.ua(f"sip:gw@{gw}", f"{gw}:5060", answer=[180, 200])
    hosts = Counter(sip.invite("sip:+4930123@lb.example").callee.host for _ in range(6))
    assert hosts == {gw: 2 for gw in GATEWAYS}


def test_a_gateway_answering_503_is_failed_over_and_marked_down(sip: Harness) -> None:
    for gw in GATEWAYS:
        sip.ua(f"sip:gw@{gw}", f"{gw}:5060", answer=503 if gw == "192.0.2.33" else 200)
    result = sip.send_request("INVITE", "sip:+4930123@lb.example")
    assert [r.host for r in result.requests("INVITE")] == ["192.0.2.33", "192.0.2.32"]
    assert "event_route[dispatcher:dst-down]" in result.routes
    assert states(sip)["sip:192.0.2.33:5060"] == "IP"


def test_a_silent_gateway_is_failed_over_after_fr_timer(sip: Harness) -> None:
    for gw in GATEWAYS:
        sip.ua(f"sip:gw@{gw}", f"{gw}:5060", answer=NEVER if gw == "192.0.2.33" else 200)
    sip.send_request("INVITE", "sip:+4930123@lb.example")
    result = sip.advance(2.5)  # fr_timer 2 s: the silent gateway's retransmissions, then the next one
    assert result.requests("INVITE")[-1].host == "192.0.2.32"


def test_when_every_gateway_refuses_the_last_resort_answers(sip: Harness) -> None:
    for gw in GATEWAYS:
        sip.ua(f"sip:gw@{gw}", f"{gw}:5060", answer=500)
    sip.ua("sip:announce@192.0.2.99", "192.0.2.99:5060", answer=200)
    first = sip.send_request("INVITE", "sip:+4930123@lb.example")
    assert len(first.requests("INVITE")) == 3
    assert sip.send_request("INVITE", "sip:+4930123@lb.example").requests("INVITE")[0].host == "192.0.2.99"


def test_keepalives_bring_a_gateway_back(sip: Harness) -> None:
    gws = [sip.ua(f"sip:gw@{gw}", f"{gw}:5060", answer=200) for gw in GATEWAYS]
    gws[0].answers(480)
    sip.advance(21)  # two failed keepalives: ds_probing_threshold 2
    assert states(sip)["sip:192.0.2.31:5060"] == "IP"
    gws[0].answers(200)
    result = sip.advance(10)
    assert "event_route[dispatcher:dst-up]" in result.routes
    assert states(sip)["sip:192.0.2.31:5060"] == "AP"


def test_the_bye_of_a_call_goes_through_the_balancer(sip: Harness) -> None:
    for gw in GATEWAYS:
        sip.ua(f"sip:gw@{gw}", f"{gw}:5060", answer=[180, 200])
    call = sip.invite("sip:+4930123@lb.example")
    assert call.state == "confirmed"
    bye = call.bye()
    assert bye.requests("BYE")[0].host == call.callee.host
    bye.assert_reply(200)


@pytest.fixture
def sip2(kampy_cfg) -> Harness:
    """The balancer taking two calls at once."""
    return kampy_cfg(CFG, defines={"DS_LIST": f'"{SAMPLES / "loadbalancer.list"}"', "MAX_CALLS": "2"})


def test_a_call_beyond_max_calls_is_refused_until_one_ends(sip2: Harness) -> None:
    for gw in GATEWAYS:
        sip2.ua(f"sip:gw@{gw}", f"{gw}:5060", answer=[180, 200])
    first, second = (sip2.invite("sip:+4930123@lb.example") for _ in range(2))
    assert first.state == second.state == "confirmed"
    third = sip2.invite("sip:+4930124@lb.example")
    assert third.status == 503 and not third.result.requests("INVITE")
    first.bye().assert_reply(200)
    assert sip2.invite("sip:+4930125@lb.example").state == "confirmed"


def test_dlg_list_shows_a_call_while_it_lasts(sip: Harness) -> None:
    for gw in GATEWAYS:
        sip.ua(f"sip:gw@{gw}", f"{gw}:5060", answer=[180, 200])
    call = sip.invite("sip:+4930123@lb.example")
    assert [(d["call-id"], d["state"]) for d in sip.rpc("dlg.list")] == [(call.call_id, 3)]  # no ACK yet
    call.ack()
    assert [(d["call-id"], d["state"]) for d in sip.rpc("dlg.list")] == [(call.call_id, 4)]
    call.bye().assert_reply(200)
    assert sip.rpc("dlg.list") == []


def test_the_gateways_never_see_the_callers_address(sip: Harness) -> None:
    for gw in GATEWAYS:
        sip.ua(f"sip:gw@{gw}", f"{gw}:5060", answer=[180, 200])
    call = sip.invite("sip:+4930123@lb.example", src="198.51.100.7:5062")
    invite = call.result.requests("INVITE")[0]
    assert b"198.51.100.7" not in invite.data
    assert b"10.255.255.1" in invite.data  # topoh's mask_ip in place of the hidden addresses
    assert call.state == "confirmed"
    bye = call.bye()
    assert bye.requests("BYE") and all(b"198.51.100.7" not in s.data for s in bye.requests("BYE"))
    bye.assert_reply(200)
