"""tm: CANCEL matched to its INVITE, propagated to the branches, 487 upstream."""
from __future__ import annotations

from tests.tmkit import ALICE, BOB, advance, lines, parsed, reply_to, request, server

RELAY = "request_route { t_relay(); }"


def test_cancel_of_ringing_invite_gets_200_cancels_branch_and_ends_with_487() -> None:
    srv = server(RELAY)
    invite = srv.handle(request("INVITE"), ALICE)[1]
    srv.handle(reply_to(invite, 180, "Ringing"), BOB)
    out = srv.handle(request("CANCEL"), ALICE)
    assert lines(out) == ["SIP/2.0 200 canceling", "CANCEL sip:bob@198.51.100.20:5080 SIP/2.0"]
    cancel = parsed(out[1])
    assert cancel.via.branch == parsed(invite).via.branch and cancel.cseq.method == "CANCEL"
    assert srv.handle(reply_to(out[1], 200, "OK"), BOB) == []  # the CANCEL's own 200 is absorbed
    out = srv.handle(reply_to(invite, 487, "Request Terminated"), BOB)
    assert lines(out) == ["ACK sip:bob@198.51.100.20:5080 SIP/2.0", "SIP/2.0 487 Request Terminated"]


def test_cancel_before_a_provisional_waits_for_one_before_cancelling() -> None:
    srv = server(RELAY)
    invite = srv.handle(request("INVITE"), ALICE)[1]
    out = srv.handle(request("CANCEL"), ALICE)
    assert lines(out) == ["SIP/2.0 200 canceling"]
    out = srv.handle(reply_to(invite, 180, "Ringing"), BOB)
    assert "CANCEL sip:bob@198.51.100.20:5080 SIP/2.0" in lines(out)


def test_cancel_without_invite_is_forwarded_statelessly() -> None:
    srv = server(RELAY)
    out = srv.handle(request("CANCEL"), ALICE)
    assert lines(out) == ["CANCEL sip:bob@198.51.100.20:5080 SIP/2.0"]


def test_cancel_with_no_branch_left_replies_487_to_the_invite() -> None:
    srv = server('request_route { if (method == "INVITE") { t_newtran(); exit; } t_relay(); }')
    srv.handle(request("INVITE"), ALICE)
    out = srv.handle(request("CANCEL"), ALICE)
    assert lines(out) == ["SIP/2.0 487 Request canceled", "SIP/2.0 200 ok -- no more pending branches"]
    assert lines(advance(srv, 0.6)) == ["SIP/2.0 487 Request canceled"]  # timer G
