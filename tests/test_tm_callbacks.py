"""tm's transaction callbacks (TmAPI.register_tmcb, Kamailio's TMCB_* types) on proxied
transactions, as a module needing tm (tests/support/modules/tmprobe) registers and sees them."""
from __future__ import annotations

from pathlib import Path

from kampy.api import (
    TMCB_ACK_NEG_IN,
    TMCB_DESTROY,
    TMCB_E2EACK_IN,
    TMCB_E2EACK_RETR_IN,
    TMCB_E2ECANCEL_IN,
    TMCB_LOCAL_F,
    TMCB_ON_BRANCH_FAILURE,
    TMCB_ON_FAILURE,
    TMCB_REQ_RETR_IN,
    TMCB_REQUEST_FWDED,
    TMCB_REQUEST_OUT,
    TMCB_REQUEST_PENDING,
    TMCB_REQUEST_SENT,
    TMCB_RESPONSE_FWDED,
    TMCB_RESPONSE_IN,
    TMCB_RESPONSE_OUT,
    TMCB_RESPONSE_READY,
    TMCB_RESPONSE_SENT,
    TMCB_RETR_F,
    TYPE_LOCAL_ACK,
    TYPE_LOCAL_CANCEL,
    TYPE_REQUEST,
    RouteType,
)
from kampy.runtime.server import Server
from tests.tmkit import ALICE, BOB, CAROL, advance, lines, parsed, reply_to, request, server

PROBE_DIR = Path(__file__).parent / "support" / "modules"
RELAY = '''
request_route {
    if ($rU == "busy") { t_newtran(); t_reply("486", "Busy Here"); exit; }
    if ($rU == "fork") { append_branch("sip:carol@198.51.100.30:5090"); }
    t_relay();
}
'''
FAILURE = '''
request_route { append_branch("sip:carol@198.51.100.30:5090"); t_on_failure("F"); t_relay(); }
failure_route[F] { $var(failure_route) = 1; }
'''
BRANCHES = '''
request_route { append_branch("sip:carol@198.51.100.30:5090"); t_on_branch("B"); t_relay(); }
branch_route[B] { append_hf("X-Branch: $ru\\r\\n"); }
'''


def probed(routes: str, types: int = 0, params: str = "") -> tuple[Server, object]:
    """A server with tmprobe registering the callbacks `types` on every new transaction."""
    srv = server(routes, f'loadpath "{PROBE_DIR}"\nloadmodule "tmprobe"\nloadmodule "textops"\n'
                         f'loadmodule "corex"\nmodparam("tmprobe", "types", {types})\n' + params)
    return srv, srv.core.modules["tmprobe"]


def fork(srv: Server) -> tuple:
    return tuple(srv.handle(request(ruri="sip:fork@198.51.100.20:5080"), ALICE))


# ------------------------------------------------------------------ requests


def test_request_in_runs_for_each_new_transaction_with_its_request_and_context() -> None:
    srv, probe = probed(RELAY)
    srv.handle(request(), ALICE)
    srv.handle(request(), ALICE)  # a retransmission: no new transaction
    srv.handle(request("OPTIONS", branch="z9hG4bK-a2", cseq=2), ALICE)
    assert [(e.type, e.req, e.route) for e in probe.events] == [
        ("TMCB_REQUEST_IN", "MESSAGE", RouteType.REQUEST), ("TMCB_REQUEST_IN", "OPTIONS", RouteType.REQUEST)]


def test_callbacks_registered_before_the_transaction_exists_move_to_it() -> None:
    srv, probe = probed(f"request_route {{ tmprobe_watch({TMCB_RESPONSE_OUT}); t_relay(); }}",
                        params='modparam("tmprobe", "request_in", 0)\n')
    fwd = srv.handle(request(), ALICE)[0]
    srv.handle(reply_to(fwd, 200, "OK"), BOB)
    assert [(e.type, e.rpl, e.code) for e in probe.events] == [("TMCB_RESPONSE_OUT", 200, 200)]


def test_req_retr_in_sees_a_retransmission_tm_absorbs() -> None:
    srv, probe = probed(RELAY, TMCB_REQ_RETR_IN)
    srv.handle(request(), ALICE)
    srv.handle(request(), ALICE)
    assert [(e.type, e.req) for e in probe.events[1:]] == [("TMCB_REQ_RETR_IN", "MESSAGE")]


def test_request_fwded_runs_per_branch_after_branch_route_with_the_branch_context() -> None:
    srv, probe = probed(BRANCHES, TMCB_REQUEST_FWDED | TMCB_REQUEST_OUT)
    srv.handle(request(), ALICE)
    assert [(e.type, e.branch, e.route) for e in probe.events[1:]] == [
        ("TMCB_REQUEST_FWDED", 0, RouteType.BRANCH), ("TMCB_REQUEST_OUT", 0, None),
        ("TMCB_REQUEST_FWDED", 1, RouteType.BRANCH), ("TMCB_REQUEST_OUT", 1, None)]


def test_request_out_gives_what_was_sent_and_where() -> None:
    srv, probe = probed(RELAY, TMCB_REQUEST_OUT)
    srv.handle(request(), ALICE)
    (out,) = probe.named("TMCB_REQUEST_OUT")
    assert (out.sent, out.dst, out.code, out.flags, out.req) == ("MESSAGE sip:bob@198.51.100.20:5080 SIP/2.0",
                                                                 ("udp", "198.51.100.20", 5080), TYPE_REQUEST,
                                                                 0, "MESSAGE")


def test_request_sent_runs_for_the_request_its_retransmissions_and_the_ack_tm_sends() -> None:
    srv, probe = probed(RELAY, TMCB_REQUEST_SENT)
    invite = srv.handle(request("INVITE"), ALICE)[1]
    advance(srv, 0.6)  # timer A: the INVITE again
    srv.handle(reply_to(invite, 486, "Busy Here"), BOB)
    assert [(e.sent.split()[0], e.code, e.flags) for e in probe.named("TMCB_REQUEST_SENT")] == [
        ("INVITE", TYPE_REQUEST, 0), ("INVITE", TYPE_REQUEST, TMCB_RETR_F),
        ("ACK", TYPE_LOCAL_ACK, TMCB_LOCAL_F)]


def test_request_out_and_sent_run_for_the_cancel_tm_sends_on_a_branch() -> None:
    srv, probe = probed(RELAY, TMCB_REQUEST_OUT | TMCB_REQUEST_SENT)
    invite = srv.handle(request("INVITE"), ALICE)[1]
    srv.handle(reply_to(invite, 180, "Ringing"), BOB)
    del probe.events[:]
    srv.handle(request("CANCEL", cseq=1), ALICE)
    seen = [(e.type, e.sent.split()[0], e.code, e.flags) for e in probe.events if e.type != "TMCB_REQUEST_IN"]
    assert seen == [
        ("TMCB_REQUEST_OUT", "CANCEL", TYPE_LOCAL_CANCEL, TMCB_LOCAL_F),
        ("TMCB_REQUEST_SENT", "CANCEL", TYPE_LOCAL_CANCEL, TMCB_LOCAL_F)]


def test_e2ecancel_in_runs_on_the_invite_transaction_with_the_cancel() -> None:
    srv, probe = probed(RELAY, TMCB_E2ECANCEL_IN)
    invite = srv.handle(request("INVITE"), ALICE)[1]
    srv.handle(reply_to(invite, 180, "Ringing"), BOB)
    srv.handle(request("CANCEL", cseq=1), ALICE)
    assert [(e.type, e.method, e.req) for e in probe.named("TMCB_E2ECANCEL_IN")] == [
        ("TMCB_E2ECANCEL_IN", "INVITE", "CANCEL")]


# ------------------------------------------------------------------ replies


def test_response_in_sees_every_reply_of_a_branch_retransmissions_too() -> None:
    srv, probe = probed(RELAY, TMCB_RESPONSE_IN)
    invite = srv.handle(request("INVITE"), ALICE)[1]
    for code in (180, 200, 200):
        srv.handle(reply_to(invite, code, "Reason"), BOB)
    reply = RouteType.CORE_ONREPLY  # the reply's own context, as reply_route had it
    assert [(e.rpl, e.code, e.branch, e.req, e.route) for e in probe.named("TMCB_RESPONSE_IN")] == [
        (180, 180, 0, "INVITE", reply), (200, 200, 0, "INVITE", reply), (200, 200, 0, "INVITE", reply)]


def test_response_fwded_runs_for_a_provisional_or_2xx_of_the_branch_being_relayed() -> None:
    srv, probe = probed(RELAY, TMCB_RESPONSE_FWDED)
    to_bob, to_carol = fork(srv)
    srv.handle(reply_to(to_bob, 404, "Not Found"), BOB)
    srv.handle(reply_to(to_carol, 180, "Ringing"), CAROL)
    srv.handle(reply_to(to_carol, 486, "Busy Here"), CAROL)  # relayed as the best, but not "forwarded"
    assert [(e.rpl, e.branch) for e in probe.named("TMCB_RESPONSE_FWDED")] == [(180, 1)]


def test_response_ready_and_out_run_for_each_relayed_reply_once_per_2xx_to_tag() -> None:
    srv, probe = probed(RELAY, TMCB_RESPONSE_READY | TMCB_RESPONSE_OUT,
                        'modparam("tm", "reply_relay_mode", 0)')
    invite = srv.handle(request("INVITE"), ALICE)[1]
    for code in (180, 200, 200):  # the second 200: a retransmission, relayed but no news
        srv.handle(reply_to(invite, code, "Reason"), BOB)
    assert [(e.type, e.rpl, e.flags, e.branch) for e in probe.events[1:]] == [
        ("TMCB_RESPONSE_READY", 180, 0, 0), ("TMCB_RESPONSE_OUT", 180, 0, 0),
        ("TMCB_RESPONSE_READY", 200, 0, 0), ("TMCB_RESPONSE_OUT", 200, 0, 0)]


def test_a_2xx_relayed_after_the_final_reply_runs_only_response_ready_by_default() -> None:
    """reply_relay_mode 1 (RPS_PUSHED_AFTER_COMPLETION): not the transaction's reply, so no To-tag
    bookkeeping either: a retransmitted 200 is news to TMCB_RESPONSE_READY, as in Kamailio 5.6.3."""
    srv, probe = probed(RELAY, TMCB_RESPONSE_READY | TMCB_RESPONSE_OUT)
    invite = srv.handle(request("INVITE"), ALICE)[1]
    for code in (200, 200):
        srv.handle(reply_to(invite, code, "Reason"), BOB)
    assert [(e.type, e.rpl) for e in probe.events[1:]] == [
        ("TMCB_RESPONSE_READY", 200), ("TMCB_RESPONSE_OUT", 200), ("TMCB_RESPONSE_READY", 200)]


def test_response_out_runs_for_a_final_reply_of_tm_its_100_is_request_pending() -> None:
    srv, probe = probed(RELAY, TMCB_RESPONSE_OUT | TMCB_REQUEST_PENDING)
    srv.handle(request("INVITE", ruri="sip:busy@198.51.100.20:5080"), ALICE)
    srv.handle(request("INVITE", ruri="sip:bob@198.51.100.20:5080", branch="z9hG4bK-b2"), ALICE)
    seen = [(e.type, e.code, e.rpl, e.flags, e.sent) for e in probe.events if e.type != "TMCB_REQUEST_IN"]
    assert seen == [("TMCB_RESPONSE_OUT", 486, None, TMCB_LOCAL_F, "SIP/2.0 486 Busy Here"),
                    ("TMCB_REQUEST_PENDING", 100, None, TMCB_LOCAL_F,
                     "SIP/2.0 100 trying -- your call is important to us")]


def test_response_sent_runs_for_each_reply_sent_retransmissions_too() -> None:
    srv, probe = probed(RELAY, TMCB_RESPONSE_SENT)
    srv.handle(request("INVITE", ruri="sip:busy@198.51.100.20:5080"), ALICE)
    advance(srv, 0.6)  # timer G: the 486 again
    assert [(e.code, e.flags, e.dst) for e in probe.named("TMCB_RESPONSE_SENT")] == [
        (486, TMCB_LOCAL_F, ("udp", "192.0.2.10", 5070)), (486, TMCB_RETR_F, ("udp", "192.0.2.10", 5070))]


def test_ack_neg_in_sees_the_ack_of_a_negative_reply() -> None:
    srv, probe = probed(RELAY, TMCB_ACK_NEG_IN)
    busy = srv.handle(request("INVITE", ruri="sip:busy@198.51.100.20:5080"), ALICE)[-1]
    to_tag = parsed(busy).to.tag
    srv.handle(request("ACK", ruri="sip:busy@198.51.100.20:5080", to_tag=to_tag), ALICE)
    assert [(e.type, e.req, e.status) for e in probe.events[1:]] == [("TMCB_ACK_NEG_IN", "ACK", 486)]


def test_on_branch_failure_runs_for_each_negative_final_reply_of_a_branch() -> None:
    srv, probe = probed(RELAY, TMCB_ON_BRANCH_FAILURE)
    to_bob, to_carol = fork(srv)
    srv.handle(reply_to(to_bob, 404, "Not Found"), BOB)
    srv.handle(reply_to(to_carol, 486, "Busy Here"), CAROL)
    assert [(e.rpl, e.code, e.branch) for e in probe.named("TMCB_ON_BRANCH_FAILURE")] == [
        (404, 404, 0), (486, 486, 1)]


def test_on_failure_runs_once_all_branches_failed_before_failure_route() -> None:
    srv, probe = probed(FAILURE, TMCB_ON_FAILURE)
    to_bob, to_carol = srv.handle(request(), ALICE)
    srv.handle(reply_to(to_bob, 486, "Busy Here"), BOB)
    assert probe.named("TMCB_ON_FAILURE") == []
    srv.handle(reply_to(to_carol, 404, "Not Found"), CAROL)
    (failure,) = probe.named("TMCB_ON_FAILURE")
    assert (failure.rpl, failure.code, failure.branch, failure.req, failure.route) == (
        404, 404, 1, "MESSAGE", RouteType.FAILURE)  # t_pick_branch: a 404 beats a 486
    assert srv.core.modules["pv"].vars["failure_route"] == 1


def test_on_failure_runs_without_a_failure_route_and_the_best_reply_still_goes_upstream() -> None:
    srv, probe = probed(RELAY, TMCB_ON_FAILURE)
    to_bob, to_carol = fork(srv)
    srv.handle(reply_to(to_bob, 486, "Busy Here"), BOB)
    out = srv.handle(reply_to(to_carol, 404, "Not Found"), CAROL)
    assert [e.code for e in probe.named("TMCB_ON_FAILURE")] == [404]
    assert lines(out) == ["SIP/2.0 404 Not Found"]


def test_on_failure_sees_a_timeout_as_a_408_without_a_reply() -> None:
    srv, probe = probed(RELAY, TMCB_ON_FAILURE)
    srv.handle(request(), ALICE)
    advance(srv, 31)
    assert [(e.code, e.rpl) for e in probe.named("TMCB_ON_FAILURE")] == [(408, None)]


def test_e2eack_in_sees_the_ack_of_a_relayed_2xx_then_e2eack_retr_in_its_copies() -> None:
    srv, probe = probed(RELAY, TMCB_E2EACK_IN | TMCB_E2EACK_RETR_IN)
    invite = srv.handle(request("INVITE"), ALICE)[1]
    srv.handle(reply_to(invite, 200, "OK", to_tag="bt1"), BOB)
    ack = request("ACK", branch="z9hG4bK-ack1", to_tag="bt1")  # end to end: a branch of its own
    srv.handle(ack, ALICE)
    srv.handle(ack, ALICE)
    srv.handle(request("ACK", branch="z9hG4bK-ack2", to_tag="other"), ALICE)  # another dialog's
    assert [(e.type, e.req, e.method, e.status) for e in probe.events[1:]] == [
        ("TMCB_E2EACK_IN", "ACK", "INVITE", 200), ("TMCB_E2EACK_RETR_IN", "ACK", "INVITE", 200)]


def test_destroy_runs_once_when_the_transaction_is_freed() -> None:
    srv, probe = probed(RELAY, TMCB_DESTROY)
    fwd = srv.handle(request(), ALICE)[0]
    srv.handle(reply_to(fwd, 200, "OK"), BOB)
    assert probe.named("TMCB_DESTROY") == []
    advance(srv, 10)
    assert [(e.method, e.status) for e in probe.named("TMCB_DESTROY")] == [("MESSAGE", 200)]
