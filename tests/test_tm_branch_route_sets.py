"""tm: t_on_failure / t_on_reply called in branch_route set the transaction's routes (Kamailio's
t_on_*() set T's when T is known), so its later replies and failure run them; a forwarding uses up
the branch_route set for it (t_forward_nonack resets T's on_branch); a branch keeps the onreply and
failure routes T had when it was created (Kamailio's uac[].on_reply, uac[].on_failure)."""
from __future__ import annotations

from tests.tmkit import ALICE, BOB, CAROL, lines, reply_to, request, server


def test_t_on_failure_in_branch_route_runs_that_failure_route() -> None:
    srv = server('''
request_route { t_on_branch("B"); t_relay(); }
branch_route[B] { t_on_failure("F"); }
failure_route[F] { t_reply("480", "From Failure Route"); }
''')
    fwd = srv.handle(request(), ALICE)[0]
    assert lines(srv.handle(reply_to(fwd, 404, "Not Found"), BOB)) == ["SIP/2.0 480 From Failure Route"]


def test_t_on_reply_in_branch_route_runs_that_onreply_route() -> None:
    srv = server('''
request_route { t_on_branch("B"); t_relay(); }
branch_route[B] { t_on_reply("R"); }
onreply_route[R] { $var(seen) = $T_reply_code; }
''')
    fwd = srv.handle(request(), ALICE)[0]
    srv.handle(reply_to(fwd, 200, "OK"), BOB)
    assert srv.core.modules["pv"].vars["seen"] == 200


def test_a_forwarding_uses_up_its_branch_route() -> None:
    srv = server('''
request_route { t_on_failure("F"); t_on_branch("B"); t_relay(); }
branch_route[B] { $var(n) = $var(n) + 1; }
failure_route[F] {
    if (t_is_set("branch_route")) { $var(set) = "yes"; }
    $ru = "sip:carol@198.51.100.30:5090";
    t_relay();
}
''')
    fwd = srv.handle(request(), ALICE)[0]
    srv.handle(reply_to(fwd, 404, "Not Found"), BOB)
    assert srv.core.modules["pv"].vars["n"] == 1 and srv.core.modules["pv"].vars["set"] != "yes"


def test_each_branch_keeps_the_onreply_route_set_when_it_was_created() -> None:
    srv = server('''
request_route {
    append_branch("sip:carol@198.51.100.30:5090"); t_on_reply("R1"); t_on_branch("B"); t_relay();
}
branch_route[B] { if ($T_branch_idx == 1) { t_on_reply("R2"); } }
onreply_route[R1] { $var(r1) = $T_reply_code; }
onreply_route[R2] { $var(r2) = $T_reply_code; }
''', 'loadmodule "corex"\n')
    to_bob, to_carol = srv.handle(request(), ALICE)[:2]
    srv.handle(reply_to(to_bob, 180, "Ringing"), BOB)
    srv.handle(reply_to(to_carol, 183, "Progress", to_tag="ct1"), CAROL)
    assert (srv.core.modules["pv"].vars["r1"], srv.core.modules["pv"].vars["r2"]) == (180, 183)
