"""kampy.testing's phones and whole calls: dialogs as RFC 3261 section 12 says, requests the test
writes, and digest authentication answering a 401/407."""
from __future__ import annotations

import pytest

from kampy.sip.message import parse_message
from kampy.testing import NEVER, Answer, DialogError, DialogState, Harness
from kampy.testing.digest import digest_response, parse_params

BOB = "sip:bob@example.test"
SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"

# A record-routing proxy to the one phone at 192.0.2.20:5062, and straight to it within a dialog.
PROXY = '''
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "pv.so"
request_route {
    if (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; }
    if (has_totag()) {
        if (loose_route()) { t_relay(); exit; }
        if (is_method("ACK")) { if (t_check_trans()) t_relay(); exit; }
        $du = "sip:192.0.2.20:5062";
        t_relay();
        exit;
    }
    if (is_method("INVITE")) record_route();
    $du = "sip:192.0.2.20:5062";
    t_relay();
}
'''

# A registrar that asks for credentials once; the test checks what the phone answered.
CHALLENGE = '''
loadmodule "sl.so"
loadmodule "textops.so"
loadmodule "pv.so"
request_route {
    if ($hdr(Authorization) == $null) {
        $var(challenge) = "Digest realm=\\"example.test\\", nonce=\\"n0nce\\", qop=\\"auth\\", "
                          + "algorithm=SHA-256";
        append_to_reply("WWW-Authenticate: $var(challenge)\\r\\n");
        sl_send_reply("401", "Unauthorized");
        exit;
    }
    sl_send_reply("200", "OK");
}
'''


@pytest.fixture
def sip() -> Harness:
    with Harness.load(PROXY) as harness:
        yield harness


# ------------------------------------------------------------ requests as the test writes them


def test_a_header_given_replaces_the_one_built(sip: Harness) -> None:
    via = "SIP/2.0/UDP 192.0.2.77:5077;branch=z9hG4bK-mine"
    sip.ua(BOB, "192.0.2.20:5062")
    result = sip.send_request("OPTIONS", BOB, headers={"Via": via, "v": via, "CSeq": "7 OPTIONS"})

    assert result.request.headers_named("Via") == [via, via]
    assert result.request.header("CSeq") == "7 OPTIONS"
    assert result.reply.dest == "udp:192.0.2.10:5077"  # the Via's port, at the address it came from


def test_a_cancel_reports_its_own_reply_and_the_invites_separately(sip: Harness) -> None:
    sip.ua(BOB, "192.0.2.20:5062", answer=180)
    invite = sip.send_request("INVITE", BOB, call_id="c-1", branch="z9hG4bK-c1", from_tag="f1")

    cancel = sip.send_request("CANCEL", BOB, call_id="c-1", branch="z9hG4bK-c1", from_tag="f1")

    assert invite.status == 180
    assert cancel.status == 200
    assert [r.status for r in cancel.replies_for("INVITE")] == [487]


# ------------------------------------------------------------ the phones


def test_a_phone_copies_record_route_and_its_contact_into_its_180_and_200(sip: Harness) -> None:
    sip.ua(BOB, "192.0.2.20:5062", answer=[180, 200])

    call = sip.invite(BOB, body=SDP)

    ringing, ok = (r for r in call.replies if r.status in (180, 200))
    for reply in (ringing, ok):
        assert reply.header("Record-Route") == call.result.forwarded[0].header("Record-Route")
        assert reply.header("Contact") == "<sip:bob@192.0.2.20:5062>"
    assert ringing.msg.to.tag == ok.msg.to.tag


def test_a_phone_answers_a_request_of_a_dialog_it_does_not_know_481(sip: Harness) -> None:
    sip.ua(BOB, "192.0.2.20:5062")

    result = sip.send_request("BYE", BOB, to_tag="nobody", from_tag="f1")

    result.assert_reply(481)


def test_a_phone_answers_a_lower_cseq_within_its_dialog_500(sip: Harness) -> None:
    sip.ua(BOB, "192.0.2.20:5062")
    call = sip.invite(BOB, cseq=10)
    call.ack()
    view = call.caller_view

    stale = sip.send_request("INFO", "sip:bob@192.0.2.20:5062", call_id=call.call_id, cseq=9,
                             from_tag=view.local_tag, to_tag=view.remote_tag)

    stale.assert_reply(500)


def test_a_refused_call_is_acknowledged_by_the_calling_phone(sip: Harness) -> None:
    sip.ua(BOB, "192.0.2.20:5062", answer=486)

    call = sip.invite(BOB)

    assert call.status == 486 and call.state == "failed"
    assert [m.method for m in call.result.from_phones] == ["INVITE", "ACK"]  # bob's 486, alice's ACK
    assert sip.advance(40).sent == []  # no 486 retransmitted: the ACK reached the transaction
    with pytest.raises(DialogError, match="no 2xx to acknowledge"):
        call.ack()


def test_a_call_answered_later_by_the_test(sip: Harness) -> None:
    bob = sip.ua(BOB, "192.0.2.20:5062", answer=NEVER)
    call = sip.invite(BOB, body=SDP)
    assert call.state == "trying"

    call.ringing()
    assert call.state == "early" and call.status == 180
    call.answer(body=SDP, headers={"X-Answered": "yes"})

    assert call.state == "confirmed" and call.status == 200
    assert call.replies[-1].header("X-Answered") == "yes"
    assert call.callee is bob and call.callee_view.remote_target == "sip:alice@192.0.2.10:5060"
    with pytest.raises(DialogError, match="unanswered"):
        call.answer()


def test_a_rejected_call_never_had_a_dialog_at_the_callee(sip: Harness) -> None:
    bob = sip.ua(BOB, "192.0.2.20:5062", answer=NEVER)
    call = sip.invite(BOB)
    call.ringing()

    call.reject(603)

    assert call.status == 603 and bob.dialogs == [] and call.caller_view is None
    with pytest.raises(DialogError, match="has no dialog"):
        call.bye()


def test_requests_within_the_call_count_cseq_up_and_carry_the_route_set(sip: Harness) -> None:
    sip.ua(BOB, "192.0.2.20:5062")
    call = sip.invite(BOB, body=SDP)
    call.ack()

    info = call.request("INFO", body=b"signal=5", content_type="application/dtmf-relay")
    reinvite = call.reinvite(body=SDP)

    assert info.request.header("CSeq") == "2 INFO" and reinvite.request.header("CSeq") == "3 INVITE"
    assert info.request.header("Route") == call.caller_view.route_set[0]
    assert info.request.uri == "sip:bob@192.0.2.20:5062"
    assert reinvite.request.header("Contact") == "<sip:alice@192.0.2.10:5060>"
    ack = call.ack()
    assert ack.request.header("CSeq") == "3 ACK"


def test_the_callee_counts_its_own_cseq(sip: Harness) -> None:
    sip.ua(BOB, "192.0.2.20:5062")
    call = sip.invite(BOB)
    call.ack()

    first = call.request("INFO", by="callee")
    bye = call.bye(by="callee")

    assert (first.request.header("CSeq"), bye.request.header("CSeq")) == ("1 INFO", "2 BYE")
    assert bye.request.header("To") == f"<sip:alice@example.test>;tag={call.local_tag}"
    bye.assert_reply(200)
    with pytest.raises(DialogError, match="has ended"):
        call.bye()


def test_a_strict_route_set_puts_the_first_route_in_the_request_uri() -> None:
    view = DialogState(call_id="c", local_tag="a", remote_tag="b", local_uri="<sip:alice@x>",
                       remote_uri="<sip:bob@x>", remote_target="sip:bob@192.0.2.20",
                       route_set=["<sip:p1.example.test>", "<sip:p2.example.test;lr>"])

    msg = parse_message(view.request("BYE", cseq=2, contact=None).build("192.0.2.10", 5060, "udp"))

    assert msg.uri == "sip:p1.example.test"
    assert msg.headers_named("Route") == ["<sip:p2.example.test;lr>", "<sip:bob@192.0.2.20>"]


# ------------------------------------------------------------ digest authentication


def test_a_phone_with_a_password_answers_a_401_with_credentials() -> None:
    with Harness.load(CHALLENGE) as sip:
        bob = sip.ua(BOB, "192.0.2.20:5062", password="secret")

        result = bob.register()

        result.assert_reply(200)
        first, second = result.challenge.request, result.request
        assert result.challenge.status == 401
        assert second.call_id == first.call_id and second.from_.tag == first.from_.tag
        assert (first.cseq.num, second.cseq.num) == (1, 2)
        scheme, _, rest = second.header("Authorization").partition(" ")
        given = parse_params(rest)
        assert scheme == "Digest" and given["username"] == "bob" and given["algorithm"] == "SHA-256"
        assert (given["qop"], given["nc"], given["uri"]) == ("auth", "00000001", "sip:example.test")
        assert given["response"] == digest_response(
            algorithm="SHA-256", username="bob", realm="example.test", password="secret",
            method="REGISTER", uri="sip:example.test", nonce="n0nce", qop="auth", nc=1,
            cnonce=given["cnonce"])


def test_a_phone_without_a_password_returns_the_401() -> None:
    with Harness.load(CHALLENGE) as sip:
        result = sip.ua(BOB, "192.0.2.20:5062").register()

        result.assert_reply(401)
        assert result.challenge is None


def test_a_phone_answers_the_same_nonce_again_with_the_next_count() -> None:
    with Harness.load(CHALLENGE) as sip:
        bob = sip.ua(BOB, "192.0.2.20:5062", password="secret")
        bob.register()

        again = bob.register()

        assert parse_params(again.request.header("Authorization").partition(" ")[2])["nc"] == "00000002"


def test_an_invite_answered_407_is_acknowledged_and_sent_again_with_credentials() -> None:
    cfg = CHALLENGE.replace("Authorization", "Proxy-Authorization").replace(
        "WWW-Authenticate", "Proxy-Authenticate").replace('"401", "Unauthorized"', '"407", "Proxy Auth"')
    with Harness.load(cfg) as sip:
        call = sip.ua("sip:alice@example.test", "192.0.2.10:5060", password="pw").invite(BOB)

        assert call.result.challenge.status == 407
        assert call.invite.header("Proxy-Authorization").startswith('Digest username="alice"')
        assert call.invite.cseq.num == 2
        assert [m.first_line for m in call.result.challenge.from_phones] == [
            "ACK sip:bob@example.test SIP/2.0"]
        assert call.status == 200


def test_answers_after_a_delay_still_come_from_the_phone(sip: Harness) -> None:
    sip.ua(BOB, "192.0.2.20:5062", answer=[180, Answer(200, after=3)])
    call = sip.invite(BOB)
    assert call.status == 180

    sip.advance(3)

    assert call.status == 200 and call.state == "confirmed"
