"""tmx's t_suspend() and t_continue(): a request's transaction suspended, its id kept in shared
variables, and its processing continued from another request (in the same worker or in another),
as Kamailio 5.6's tm does it (t_suspend.c)."""
from __future__ import annotations

from kampy.net.channel import CALL, decode, encode_call
from kampy.runtime.context import Handoff
from kampy.runtime.server import Server
from kampy.sip.message import Request

from tests.tmkit import ALICE, BOB, FakeClock, advance, lines, parsed, reply_to, request, server, two_workers

TARGET = "udp:198.51.100.20:5080"
MODS = ('loadmodule "xlog"\nloadmodule "textops"\nloadmodule "htable"\n'
        'modparam("htable", "htable", "susp=>size=4;")')
ROUTES = """
modparam("tm", "fr_timer", 2000)
request_route {
    if ($rm == "CANCEL") { t_relay(); exit; }
    if ($hdr(X-Continue) != $null) {
        $var(rc) = t_continue("$sht(susp=>index)", "$sht(susp=>label)", "$hdr(X-Continue)");
        sl_send_reply("200", "continue $var(rc)");
        exit;
    }
    if ($hdr(X-Failure) != $null) { t_on_failure("TIMEOUT"); }
    append_hf("X-Suspended: yes\\r\\n");
    $avp(kept) = "avp-before-suspend";
    if (t_suspend()) {
        $sht(susp=>index) = $T(id_index);
        $sht(susp=>label) = $T(id_label);
    }
    exit;
}
route[RELAY] { $ru = "sip:carol@198.51.100.20:5080"; t_relay("TARGET"); }
route[REPLY] { $var(r) = "Not here " + $avp(kept); t_reply("404", "$var(r)"); }
route[NOTHING] { xlog("L_INFO", "continued\\n"); }
failure_route[TIMEOUT] { $var(r) = "Failed over " + $T_reply_code; t_reply("503", "$var(r)"); }
""".replace("TARGET", TARGET)


def suspend(srv: Server, method: str = "MESSAGE", extra: str = "") -> list[str]:
    return lines(srv.handle(request(method, branch="z9hG4bK-s1", extra=extra), ALICE))  # type: ignore[arg-type]


def continue_with(srv: Server, route: str, cseq: int = 7) -> list[object]:
    msg = request("OPTIONS", branch=f"z9hG4bK-c{cseq}", cseq=cseq, extra=f"X-Continue: {route}\r\n")
    return srv.handle(msg, ALICE)


def test_t_suspend_sends_nothing_for_a_message() -> None:
    srv = server(ROUTES, MODS)
    assert suspend(srv) == []


def test_t_suspend_answers_an_invite_with_100_trying() -> None:
    srv = server(ROUTES, MODS)
    assert suspend(srv, "INVITE") == ["SIP/2.0 100 trying -- your call is important to us"]


def test_t_continue_runs_the_route_with_the_suspended_request_and_its_changes() -> None:
    srv = server(ROUTES, MODS)
    suspend(srv)
    out = continue_with(srv, "RELAY")
    assert lines(out) == ["SIP/2.0 200 continue 1", "MESSAGE sip:carol@198.51.100.20:5080 SIP/2.0"]  # type: ignore[arg-type]
    relayed = parsed(out[1])  # type: ignore[arg-type]
    assert isinstance(relayed, Request) and relayed.header("X-Suspended") == "yes"
    assert lines(srv.handle(reply_to(out[1], 202, "Accepted"), BOB)) == ["SIP/2.0 202 Accepted"]  # type: ignore[arg-type]


def test_t_continue_route_replies_in_the_suspended_transaction_with_its_avps() -> None:
    srv = server(ROUTES, MODS)
    suspend(srv)
    assert lines(continue_with(srv, "REPLY")) == [  # type: ignore[arg-type]
        "SIP/2.0 200 continue 1", "SIP/2.0 404 Not here avp-before-suspend"]


def test_a_continue_route_that_neither_relays_nor_replies_leaves_a_500() -> None:
    srv = server(ROUTES, MODS)
    suspend(srv)
    assert lines(continue_with(srv, "NOTHING")) == [  # type: ignore[arg-type]
        "SIP/2.0 200 continue 1", "SIP/2.0 500 I'm terribly sorry, server error occurred (1/TM)"]


def test_a_transaction_is_continued_once() -> None:
    srv = server(ROUTES, MODS)
    suspend(srv, "INVITE")
    continue_with(srv, "RELAY")
    assert lines(continue_with(srv, "REPLY", cseq=8)) == ["SIP/2.0 200 continue -1"]  # type: ignore[arg-type]


def test_t_continue_of_an_unknown_transaction_or_route_fails() -> None:
    srv = server(ROUTES, MODS)
    assert lines(continue_with(srv, "RELAY")) == ["SIP/2.0 200 continue -1"]  # type: ignore[arg-type]
    suspend(srv)
    assert lines(continue_with(srv, "MISSING", cseq=8)) == ["SIP/2.0 200 continue -1"]  # type: ignore[arg-type]


def test_a_suspended_transaction_nobody_continues_gets_408_when_fr_timer_runs_out() -> None:
    clock = FakeClock()
    srv = server(ROUTES, MODS, clock=clock)
    suspend(srv, "INVITE")
    assert lines(advance(srv, 1.9)) == []
    assert lines(advance(srv, 0.2)) == ["SIP/2.0 408 Request Timeout"]
    assert lines(continue_with(srv, "REPLY")) == ["SIP/2.0 200 continue 1"]  # type: ignore[arg-type]


def test_the_failure_route_runs_when_a_suspended_transaction_times_out() -> None:
    clock = FakeClock()
    srv = server(ROUTES, MODS, clock=clock)
    suspend(srv, "MESSAGE", extra="X-Failure: yes\r\n")
    assert lines(advance(srv, 2.1)) == ["SIP/2.0 503 Failed over 408"]


def test_a_canceled_suspended_invite_gets_487_and_is_not_continued() -> None:
    srv = server(ROUTES, MODS)
    suspend(srv, "INVITE")
    out = srv.handle(request("CANCEL", branch="z9hG4bK-s1"), ALICE)
    assert sorted(lines(out)) == ["SIP/2.0 200 ok -- no more pending branches",  # type: ignore[arg-type]
                                  "SIP/2.0 487 Request canceled"]
    assert lines(continue_with(srv, "REPLY")) == ["SIP/2.0 200 continue 1"]  # type: ignore[arg-type]


def test_t_continue_in_another_worker_is_run_by_the_worker_that_owns_the_transaction() -> None:
    with two_workers(ROUTES, MODS) as (one, two):
        suspend(one)
        out = continue_with(two, "RELAY")
        calls = [o for o in out if isinstance(o, Handoff)]
        assert lines([o for o in out if not isinstance(o, Handoff)]) == ["SIP/2.0 200 continue 1"]  # type: ignore[arg-type]
        assert [c.rank for c in calls] == [1] and calls[0].call is not None
        relayed = one.handle_call(calls[0].call, calls[0].data)
        assert lines(relayed) == ["MESSAGE sip:carol@198.51.100.20:5080 SIP/2.0"]  # type: ignore[arg-type]


def test_a_worker_call_travels_on_the_workers_channel_as_it_was_sent() -> None:
    packet = decode(encode_call(Handoff(2, b"12160 2 RELAY", None, call="tm.continue")))
    assert (packet.kind, packet.proto, packet.data) == (CALL, "tm.continue", b"12160 2 RELAY")


REPLY_ROUTES = """
request_route {
    if ($hdr(X-Continue) != $null) {
        $var(rc) = t_continue("$sht(susp=>r::index)", "$sht(susp=>r::label)", "$hdr(X-Continue)");
        sl_send_reply("200", "continue $var(rc)");
        exit;
    }
    t_on_reply("SUSPEND");
    t_relay("TARGET");
}
onreply_route[SUSPEND] {
    if ($rs == 180 && t_suspend()) {
        $sht(susp=>r::index) = $T(id_index);
        $sht(susp=>r::label) = $T(id_label);
    }
}
route[RINGING] { append_hf("X-Continued: $rs\\r\\n"); }
""".replace("TARGET", TARGET)


def test_a_reply_suspended_in_onreply_route_is_relayed_once_continued() -> None:
    srv = server(REPLY_ROUTES, MODS)
    out = srv.handle(request("INVITE", branch="z9hG4bK-s1"), ALICE)
    fwd = [o for o in out if lines([o])[0].startswith("INVITE")][0]  # type: ignore[list-item]
    assert lines(srv.handle(reply_to(fwd, 180, "Ringing"), BOB)) == []  # type: ignore[arg-type]
    out = continue_with(srv, "RINGING")
    assert lines(out) == ["SIP/2.0 200 continue 1", "SIP/2.0 180 Ringing"]  # type: ignore[arg-type]
    assert parsed(out[1]).header("X-Continued") == "180"  # type: ignore[arg-type]
    assert lines(srv.handle(reply_to(fwd, 200, "OK"), BOB)) == ["SIP/2.0 200 OK"]  # type: ignore[arg-type]


FAILURE_ROUTES = """
request_route {
    if ($hdr(X-Continue) != $null) {
        $var(rc) = t_continue("$sht(susp=>f::index)", "$sht(susp=>f::label)", "$hdr(X-Continue)");
        sl_send_reply("200", "continue $var(rc)");
        exit;
    }
    t_on_failure("SUSPEND");
    t_relay("TARGET");
}
failure_route[SUSPEND] {
    if (t_suspend()) {
        $sht(susp=>f::index) = $T(id_index);
        $sht(susp=>f::label) = $T(id_label);
    }
}
route[RELAY] { $ru = "sip:carol@198.51.100.20:5080"; t_relay("TARGET"); }
""".replace("TARGET", TARGET)


def test_a_transaction_suspended_in_failure_route_gets_a_new_branch_when_continued() -> None:
    srv = server(FAILURE_ROUTES, MODS)
    out = srv.handle(request("INVITE", branch="z9hG4bK-s1"), ALICE)
    fwd = [o for o in out if lines([o])[0].startswith("INVITE")][0]  # type: ignore[list-item]
    acked = srv.handle(reply_to(fwd, 486, "Busy Here"), BOB)
    assert lines(acked) == ["ACK sip:bob@198.51.100.20:5080 SIP/2.0"]  # type: ignore[arg-type]
    out = continue_with(srv, "RELAY")
    assert lines(out) == [  # type: ignore[arg-type]
        "SIP/2.0 200 continue 1", "INVITE sip:carol@198.51.100.20:5080 SIP/2.0"]
    answered = srv.handle(reply_to(out[1], 200, "OK", to_tag="c1"), BOB)  # type: ignore[arg-type]
    assert lines(answered) == ["SIP/2.0 200 OK"]  # type: ignore[arg-type]
