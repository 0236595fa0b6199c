"""samples/proxy.cfg under test: registrar, stateful relay, voicemail on busy or no answer, and the
rtpengine branch against a few lines playing rtpengine."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.testing import NEVER, Answer, Harness, UdpPeer, UserAgent

CFG = Path(__file__).resolve().parent.parent / "proxy.cfg"
BOB = "sip:bob@example.test"
SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"


@pytest.fixture
def sip(kampy_cfg) -> Harness:
    return kampy_cfg(CFG)


def test_keepalive_options_get_200(sip: Harness) -> None:
    result = sip.send_request("OPTIONS", "sip:example.test")
    result.assert_reply(200, "Keepalive")
    assert result.routes == ["request_route", "route[REQINIT]"]


def test_too_many_hops(sip: Harness) -> None:
    sip.send_request("MESSAGE", BOB, max_forwards=0, body="x").assert_reply(483)


def test_scanners_get_no_answer(sip: Harness) -> None:
    result = sip.send_request("INVITE", BOB, headers={"User-Agent": "friendly-scanner"})
    result.assert_no_reply()
    assert result.sent == []


def test_register_then_call_is_relayed_to_the_contact(sip: Harness) -> None:
    bob = sip.ua(BOB, "192.0.2.20:5062", answer=[180, 200])
    bob.register(expires=300).assert_reply(200)

    result = sip.send_request("INVITE", BOB, body=SDP, content_type="application/sdp")

    result.assert_reply(200)
    invite = result.assert_forwarded("INVITE", to="192.0.2.20:5062")
    assert invite.ruri == "sip:bob@192.0.2.20:5062"
    assert invite.body == SDP
    assert result.ru == "sip:bob@192.0.2.20:5062"
    assert result.flag(1) and result.avp("callee") == "bob"
    assert [r.status for r in result.replies] == [100, 180, 200]


def test_unknown_user_gets_404(sip: Harness) -> None:
    result = sip.send_request("MESSAGE", "sip:carol@example.test", body="hi")
    result.assert_reply(404)
    assert result.codes("lookup") == [-1]


def test_busy_callee_goes_to_voicemail(sip: Harness) -> None:
    sip.ua(BOB, "192.0.2.20:5062", answer=Answer(486, "Busy Here")).register()
    voicemail = sip.ua("sip:voicemail@example.test", "192.0.2.250:5060", answer=200)

    result = sip.send_request("INVITE", BOB)

    result.assert_route("failure_route[MANAGE_FAILURE]")
    assert result.codes("t_check_status") == [1]
    assert len(voicemail.requests) == 1
    result.assert_reply(200)


def test_callee_that_never_answers_goes_to_voicemail_after_fr_timer(sip: Harness) -> None:
    bob = sip.ua(BOB, "192.0.2.20:5062", answer=NEVER)
    bob.register()
    voicemail = sip.ua("sip:voicemail@example.test", "192.0.2.250:5060", answer=200)

    first = sip.send_request("INVITE", BOB)
    assert [r.status for r in first.replies] == [100]
    later = sip.advance(6)  # no provisional reply from bob: fr_timer (5 s) ends the branch

    assert len(bob.requests) > 1, "tm retransmits the INVITE (timer A)"
    later.assert_route("failure_route[MANAGE_FAILURE]")
    assert len(voicemail.requests) == 1
    assert [r.status for r in later.responses] == [200]


def rtpengine_answer(data: bytes) -> bytes:
    """Enough of rtpengine's ng protocol for the NAT branch: each datagram is `<cookie> <bencoded
    dictionary>`; a ping gets pong, an offer or answer the SDP with the relay's address."""
    cookie, _, command = data.partition(b" ")
    if b"7:command4:ping" in command:
        return cookie + b" d6:result4:ponge"
    sdp = SDP.replace(b"192.0.2.10", b"203.0.113.9")
    return cookie + b" d3:sdp%d:%s6:result2:oke" % (len(sdp), sdp)


def commands(relay: UdpPeer) -> list[str]:
    """The ng commands the relay got, pings left out."""
    found = []
    for data in relay.received:
        name = re.search(rb"7:command(\d+):", data)
        if name:
            found.append(data[name.end():name.end() + int(name[1])].decode())
    return [c for c in found if c != "ping"]


@pytest.fixture
def rtpengine() -> Iterator[UdpPeer]:
    with UdpPeer(rtpengine_answer) as relay:
        yield relay


def test_nat_branch_anchors_media_with_rtpengine(kampy_cfg, rtpengine: UdpPeer) -> None:
    sip = kampy_cfg(CFG, defines={"WITH_NAT": None},
                    modparams={"rtpengine": {"rtpengine_sock": rtpengine.url}})
    sip.ua(BOB, "192.0.2.20:5062").register()

    with_sdp = sip.send_request("INVITE", BOB, body=SDP, content_type="application/sdp")
    without = sip.send_request("INVITE", BOB)  # no SDP: no rtpengine

    with_sdp.assert_reply(200)
    without.assert_reply(200)
    assert b"c=IN IP4 203.0.113.9" in with_sdp.assert_forwarded("INVITE").body
    assert commands(rtpengine) == ["offer"]


# ------------------------------------------------------------ whole calls through the Record-Route


@pytest.fixture
def bob(sip: Harness) -> UserAgent:
    """Bob's phone, registered; the test answers his calls (`call.ringing()`, `call.answer()`)."""
    phone = sip.ua(BOB, "192.0.2.20:5062", answer=NEVER)
    phone.register().assert_reply(200)
    return phone


def test_call_is_set_up_and_torn_down_through_the_record_route(sip: Harness, bob: UserAgent) -> None:
    call = sip.invite(BOB, body=SDP)
    invite = call.result.assert_forwarded("INVITE", to="192.0.2.20:5062")
    (record_route,) = invite.headers("Record-Route")
    assert record_route.startswith("<sip:127.0.0.1;lr")

    assert call.ringing().responses[0].status == 180
    answered = call.answer(body=SDP)
    assert [r.status for r in answered.responses] == [200]
    assert answered.responses[0].headers("Record-Route") == [record_route]
    assert call.state == "confirmed"

    ack = call.ack().assert_forwarded("ACK", to="192.0.2.20:5062")
    assert ack.ruri == "sip:bob@192.0.2.20:5062"  # bob's Contact, reached by loose routing
    assert ack.header("Route") is None  # the proxy took its own entry off
    bye = call.bye()
    bye.assert_route("route[WITHINDLG]")
    bye.assert_forwarded("BYE", to="192.0.2.20:5062")
    bye.assert_reply(200)
    assert call.state == "terminated"


def test_callee_hangs_up_through_the_record_route(sip: Harness, bob: UserAgent) -> None:
    call = sip.invite(BOB, body=SDP)
    call.answer(body=SDP)
    call.ack()

    bye = call.bye(by="callee")

    forwarded = bye.assert_forwarded("BYE", to="192.0.2.10:5060")  # to alice's Contact
    assert forwarded.ruri == "sip:alice@192.0.2.10:5060"
    bye.assert_reply(200)


def test_cancel_of_a_ringing_call(sip: Harness, bob: UserAgent) -> None:
    call = sip.invite(BOB, body=SDP)
    call.ringing()

    result = call.cancel()

    result.assert_reply(200)  # the CANCEL's own reply
    result.assert_forwarded("CANCEL", to="192.0.2.20:5062")
    assert [r.status for r in result.replies_for("INVITE")] == [487]
    assert call.status == 487
    assert [r.method for r in bob.requests] == ["INVITE", "CANCEL", "ACK"]  # the proxy ACKs bob's 487
    assert sip.advance(40).sent == [], "alice's phone acknowledged the 487: no retransmission"


def test_reinvite_within_the_call(sip: Harness, bob: UserAgent) -> None:
    call = sip.invite(BOB, body=SDP)
    call.answer(body=SDP)
    call.ack()
    held = SDP.replace(b"m=audio 4000 RTP/AVP 0\r\n", b"m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n")

    result = call.reinvite(body=held)

    reinvite = result.assert_forwarded("INVITE", to="192.0.2.20:5062")
    assert reinvite.header("CSeq") == "2 INVITE" and reinvite.body == held
    assert result.assert_reply(200).body == SDP  # bob answers with his session description
    call.ack().assert_forwarded("ACK", to="192.0.2.20:5062")
    call.bye().assert_reply(200)
