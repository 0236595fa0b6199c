"""tm: timers with a fake clock: fr_timer's 408, retransmissions, absorption, ACK hop by hop."""
from __future__ import annotations

from tests.tmkit import ALICE, BOB, advance, lines, parsed, reply_to, request, server

RELAY = "request_route { t_relay(); }"


def test_branch_without_reply_gets_local_408_after_fr_timer() -> None:
    srv = server(RELAY, 'modparam("tm", "fr_timer", 5000)\n')
    srv.handle(request(), ALICE)
    out = advance(srv, 4.9)
    assert set(lines(out)) == {"MESSAGE sip:bob@198.51.100.20:5080 SIP/2.0"}  # timer E retransmissions
    out = advance(srv, 0.2)
    assert lines(out) == ["SIP/2.0 408 Request Timeout"]
    assert (out[0].host, out[0].port) == ("192.0.2.10", 5070)


def test_non_invite_retransmitted_at_t1_doubling() -> None:
    srv = server(RELAY)
    srv.handle(request(), ALICE)
    times = []
    for _ in range(5):
        due = srv.next_timer()
        srv.core.clock.mono = due
        if srv.run_timers():
            times.append(round(due - 1000.0, 3))
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5]


def test_request_retransmission_is_absorbed_before_a_reply() -> None:
    srv = server(RELAY)
    srv.handle(request(), ALICE)
    assert srv.handle(request(), ALICE) == []


def test_request_retransmission_gets_the_last_reply_again() -> None:
    srv = server('request_route { if (!t_newtran()) { exit; } t_reply("404", "Nobody"); }')
    first = srv.handle(request(), ALICE)
    again = srv.handle(request(), ALICE)
    assert lines(again) == ["SIP/2.0 404 Nobody"] and again[0].data == first[0].data


def test_negative_invite_reply_is_acked_hop_by_hop_and_relayed() -> None:
    srv = server(RELAY)
    invite = srv.handle(request("INVITE"), ALICE)[1]
    out = srv.handle(reply_to(invite, 486, "Busy Here"), BOB)
    assert lines(out) == ["ACK sip:bob@198.51.100.20:5080 SIP/2.0", "SIP/2.0 486 Busy Here"]
    ack = parsed(out[0])
    assert ack.via.branch == parsed(invite).via.branch and ack.header("to").endswith(";tag=bt1")
    assert (out[0].host, out[0].port) == ("198.51.100.20", 5080)


def test_final_invite_reply_is_retransmitted_until_the_ack_which_is_absorbed() -> None:
    srv = server(RELAY)
    invite = srv.handle(request("INVITE"), ALICE)[1]
    srv.handle(reply_to(invite, 486, "Busy Here"), BOB)
    assert lines(advance(srv, 0.6)) == ["SIP/2.0 486 Busy Here"]  # timer G
    ack = request("ACK", to_tag="bt1")
    assert srv.handle(ack, ALICE) == []
    assert advance(srv, 10) == []


def test_invite_reply_retransmissions_stop_at_timer_h() -> None:
    srv = server(RELAY)
    invite = srv.handle(request("INVITE"), ALICE)[1]
    srv.handle(reply_to(invite, 486, "Busy Here"), BOB)
    out = advance(srv, 40)
    assert len(out) == 10  # G at 0.5, 1.5, 3.5, 7.5, then every 4 s (11.5 ... 31.5); H at 32 s
    assert srv.core.modules["tm"].rpc_stats()["current"] == 0
