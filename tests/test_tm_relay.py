"""tm: stateful relaying of requests and replies, best final reply across branches."""
from __future__ import annotations

from kampy.sip.message import Request, Response
from tests.tmkit import ALICE, BOB, CAROL, lines, parsed, reply_to, request, server

FORK = ('loadmodule "corex"\nrequest_route { append_branch("sip:carol@198.51.100.30:5090"); t_relay(); }')


def test_t_relay_message_adds_via_with_rank_branch_and_keeps_max_forwards() -> None:
    srv = server("request_route { t_relay(); }")
    out = srv.handle(request(), ALICE)
    assert len(out) == 1 and (out[0].host, out[0].port) == ("198.51.100.20", 5080)
    fwd = parsed(out[0])
    assert isinstance(fwd, Request)
    top = fwd.vias[0]
    assert (top.host, top.port) == ("127.0.0.1", 5060)
    assert top.branch.startswith("z9hG4bK") and "r1." in top.branch and top.branch.endswith(".0")
    assert fwd.vias[1].received == "192.0.2.10" and fwd.vias[1].rport == 5070
    assert fwd.max_forwards == 70


def test_t_relay_invite_sends_100_trying_upstream_first() -> None:
    srv = server("request_route { t_relay(); }")
    out = srv.handle(request("INVITE"), ALICE)
    assert lines(out) == ["SIP/2.0 100 trying -- your call is important to us",
                          "INVITE sip:bob@198.51.100.20:5080 SIP/2.0"]
    assert (out[0].host, out[0].port) == ("192.0.2.10", 5070)
    assert b"To: <sip:bob@example.test>\r\n" in out[0].data  # no To-tag on a 100


def test_reply_is_relayed_upstream_without_our_via() -> None:
    srv = server("request_route { t_relay(); }")
    fwd = srv.handle(request(), ALICE)[0]
    out = srv.handle(reply_to(fwd, 200, "OK"), BOB)
    assert lines(out) == ["SIP/2.0 200 OK"] and (out[0].host, out[0].port) == ("192.0.2.10", 5070)
    rpl = parsed(out[0])
    assert [v.branch for v in rpl.vias] == ["z9hG4bK-a1"]


def test_provisional_replies_are_relayed_as_they_come_but_not_100() -> None:
    srv = server("request_route { t_relay(); }")
    invite = srv.handle(request("INVITE"), ALICE)[1]
    assert srv.handle(reply_to(invite, 100, "Trying"), BOB) == []
    assert lines(srv.handle(reply_to(invite, 180, "Ringing"), BOB)) == ["SIP/2.0 180 Ringing"]


def test_parallel_forking_sends_one_branch_per_target() -> None:
    srv = server(FORK)
    out = srv.handle(request(), ALICE)
    assert [(o.host, o.port) for o in out] == [("198.51.100.20", 5080), ("198.51.100.30", 5090)]
    branches = [parsed(o).via.branch for o in out]
    assert branches[0].endswith(".0") and branches[1].endswith(".1")


def test_best_reply_waits_for_all_branches_and_prefers_lower_class() -> None:
    srv = server(FORK)
    to_bob, to_carol = srv.handle(request(), ALICE)
    assert srv.handle(reply_to(to_bob, 486, "Busy Here"), BOB) == []
    out = srv.handle(reply_to(to_carol, 302, "Moved"), CAROL)
    assert lines(out) == ["SIP/2.0 302 Moved"]


def test_best_reply_6xx_beats_4xx() -> None:
    srv = server(FORK)
    to_bob, to_carol = srv.handle(request(), ALICE)
    srv.handle(reply_to(to_bob, 404, "Not Found"), BOB)
    assert lines(srv.handle(reply_to(to_carol, 603, "Decline"), CAROL)) == ["SIP/2.0 603 Decline"]


def test_final_503_is_relayed_as_500() -> None:
    srv = server("request_route { t_relay(); }")
    fwd = srv.handle(request(), ALICE)[0]
    out = srv.handle(reply_to(fwd, 503, "Service Unavailable"), BOB)
    assert lines(out) == ["SIP/2.0 500 Service Unavailable"]
    assert ";tag=" in parsed(out[0]).header("to")


def test_2xx_of_invite_cancels_the_other_branches() -> None:
    srv = server(FORK)
    out = srv.handle(request("INVITE"), ALICE)
    to_bob, to_carol = out[1], out[2]
    srv.handle(reply_to(to_carol, 180, "Ringing", to_tag="ct"), CAROL)
    out = srv.handle(reply_to(to_bob, 200, "OK"), BOB)
    assert lines(out) == ["SIP/2.0 200 OK", "CANCEL sip:carol@198.51.100.30:5090 SIP/2.0"]
    assert (out[1].host, out[1].port) == ("198.51.100.30", 5090)


def test_ack_for_2xx_is_forwarded_statelessly() -> None:
    srv = server("request_route { t_relay(); }")
    invite = srv.handle(request("INVITE"), ALICE)[1]
    srv.handle(reply_to(invite, 200, "OK"), BOB)
    ack = request("ACK", to_tag="bt1", branch="z9hG4bK-ack2")
    out = srv.handle(ack, ALICE)
    assert lines(out) == ["ACK sip:bob@198.51.100.20:5080 SIP/2.0"]
    assert (out[0].host, out[0].port) == ("198.51.100.20", 5080)


def test_reply_without_transaction_is_relayed_statelessly() -> None:
    srv = server("request_route { forward(); }")
    fwd = srv.handle(request(), ALICE)[0]
    out = srv.handle(reply_to(fwd, 200, "OK"), BOB)
    assert lines(out) == ["SIP/2.0 200 OK"]
    assert isinstance(parsed(out[0]), Response)
