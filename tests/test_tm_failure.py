"""tm: failure_route, its pseudo-variables and what it may do (new branches, t_reply)."""
from __future__ import annotations

from tests.tmkit import ALICE, BOB, CAROL, lines, parsed, reply_to, request, server

ROUTES = '''
request_route { t_on_failure("F"); t_relay(); }
failure_route[F] {
    $var(code) = $T_reply_code;
    $var(reason) = $T_reply_reason;
    $var(ou) = $ou;
    if (t_check_status("405")) {
        $ru = "sip:voicemail@198.51.100.40:5060";
        t_relay();
        exit;
    }
    if (t_check_status("486")) {
        t_reply("202", "Stored");
    }
}
'''


def test_failure_route_runs_on_405_with_reply_code_and_relays_new_branch() -> None:
    srv = server(ROUTES)
    fwd = srv.handle(request(), ALICE)[0]
    out = srv.handle(reply_to(fwd, 405, "Method Not Allowed"), BOB)
    assert lines(out) == ["MESSAGE sip:voicemail@198.51.100.40:5060 SIP/2.0"]
    assert parsed(out[0]).via.branch.endswith(".1")
    script_vars = srv.core.modules["pv"].vars
    assert script_vars["code"] == 405 and script_vars["reason"] == "Method Not Allowed"
    assert script_vars["ou"] == "sip:bob@198.51.100.20:5080"


def test_reply_of_the_new_branch_goes_upstream() -> None:
    srv = server(ROUTES)
    fwd = srv.handle(request(), ALICE)[0]
    second = srv.handle(reply_to(fwd, 405, "Method Not Allowed"), BOB)[0]
    out = srv.handle(reply_to(second, 200, "OK"), BOB)
    assert lines(out) == ["SIP/2.0 200 OK"]


def test_t_reply_in_failure_route_replies_instead_of_the_branch_reply() -> None:
    srv = server(ROUTES)
    fwd = srv.handle(request(), ALICE)[0]
    out = srv.handle(reply_to(fwd, 486, "Busy Here"), BOB)
    assert lines(out) == ["SIP/2.0 202 Stored"]
    assert ";tag=" in parsed(out[0]).header("to")


def test_failure_route_without_new_branch_lets_the_best_reply_go_upstream() -> None:
    srv = server(ROUTES)
    fwd = srv.handle(request(), ALICE)[0]
    out = srv.handle(reply_to(fwd, 404, "Not Here"), BOB)
    assert lines(out) == ["SIP/2.0 404 Not Here"]
    assert srv.core.modules["pv"].vars["code"] == 404


def test_t_is_canceled_and_t_branch_timeout_in_failure_route() -> None:
    srv = server('''
request_route { t_on_failure("F"); t_relay(); }
failure_route[F] { if (t_branch_timeout()) { $var(timeout) = 1; } if (!t_is_canceled()) { $var(nc) = 1; } }
''', 'modparam("tm", "fr_timer", 2000)\n')
    srv.handle(request(), ALICE)
    from tests.tmkit import advance
    out = advance(srv, 3)
    assert lines(out)[-1] == "SIP/2.0 408 Request Timeout"
    assert srv.core.modules["pv"].vars["timeout"] == 1 and srv.core.modules["pv"].vars["nc"] == 1


def test_flags_set_in_failure_route_stay_with_the_transaction() -> None:
    """As Kamailio copies the failure route's flags back into t->uas.request: the next failure_route
    sees them."""
    srv = server('''request_route { t_on_failure("F"); t_relay(); }
failure_route[F] { setflag(5); $ru = "sip:carol@198.51.100.30:5090"; t_on_failure("G"); t_relay(); }
failure_route[G] { if (isflagset(5)) { $var(kept) = 1; } else { $var(kept) = 0; } }''')
    fwd = srv.handle(request(), ALICE)[0]
    second = srv.handle(reply_to(fwd, 486, "Busy Here"), BOB)[0]
    srv.handle(reply_to(second, 486, "Busy Here"), CAROL)
    assert srv.core.modules["pv"].vars["kept"] == 1


def test_a_new_du_in_failure_route_forks_the_same_ruri_again() -> None:
    # pv_set_dsturi() marks the R-URI new (ruri_mark_new): the unchanged R-URI goes to the new $du
    srv = server('''
request_route { t_on_failure("F"); t_relay(); }
failure_route[F] { $du = "sip:198.51.100.77:5070"; t_relay(); }
''')
    fwd = srv.handle(request(), ALICE)[0]
    out = srv.handle(reply_to(fwd, 503, "Unavailable"), BOB)
    assert lines(out) == ["MESSAGE sip:bob@198.51.100.20:5080 SIP/2.0"]
    assert (out[0].host, out[0].port) == ("198.51.100.77", 5070)
