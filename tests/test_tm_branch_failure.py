"""tm: t_on_branch_failure() and event_route[tm:branch-failure:<name>] (run for each negative final
reply of a branch before tm decides on the transaction), and tmx's t_reuse_branch() there."""
from __future__ import annotations

import pytest

from kampy.config.pipeline import load_text
from kampy.errors import ConfigError
from tests import reg_helpers as reg
from tests.tmkit import ALICE, BOB, CAROL, HEADER, advance, lines, parsed, reply_to, request, server

PARALLEL = '''
request_route {
  $var(seen) = "s";
  t_on_branch_failure("BF");
  t_on_failure("F");
  append_branch("sip:carol@198.51.100.30:5090");
  t_relay();
}
event_route[tm:branch-failure:BF] {
  $var(seen) = $var(seen) + " bf" + $T_reply_code + "-" + $T_branch_idx;
  if (t_check_status("404")) { $var(seen) = $var(seen) + "(404)"; }
  if (t_branch_timeout()) { $var(seen) = $var(seen) + "(timeout)"; }
  $var(seen) = $var(seen) + "[" + $T_rpl($rr) + "]";
}
failure_route[F] {
  $var(seen) = $var(seen) + " F" + $T_reply_code;
}
'''


def seen(srv) -> str:
    return srv.core.modules["pv"].vars["seen"]


def upstream(out: list) -> list[str]:
    return [line for line in lines(out) if line.startswith("SIP/2.0")]


def invites(out: list) -> list:
    return [o for o in out if o.data.startswith(b"INVITE")]


def test_branch_failure_route_runs_for_each_failed_branch_before_failure_route() -> None:
    srv = server(PARALLEL, 'loadmodule "corex"\n')
    to_bob, to_carol = invites(srv.handle(request("INVITE"), ALICE))
    srv.handle(reply_to(to_bob, 486, "Busy Here"), BOB)
    assert seen(srv) == "s bf486-0[Busy Here]"
    out = srv.handle(reply_to(to_carol, 404, "Not Found"), CAROL)
    assert seen(srv) == "s bf486-0[Busy Here] bf404-1(404)[Not Found] F404"
    assert upstream(out) == ["SIP/2.0 404 Not Found"]


def test_branch_failure_route_does_not_run_for_a_2xx_or_a_provisional() -> None:
    srv = server(PARALLEL, 'loadmodule "corex"\n')
    to_bob, to_carol = invites(srv.handle(request("INVITE"), ALICE))
    srv.handle(reply_to(to_bob, 180, "Ringing"), BOB)
    srv.handle(reply_to(to_carol, 200, "OK"), CAROL)
    assert seen(srv) == "s"


def test_branch_failure_route_runs_for_a_timed_out_branch() -> None:
    srv = server(PARALLEL, 'loadmodule "corex"\nmodparam("tm", "fr_timer", 1000)\n'
                           'modparam("tm", "fr_inv_timer", 2000)\n')
    to_bob, _ = invites(srv.handle(request("INVITE"), ALICE))
    srv.handle(reply_to(to_bob, 603, "Decline"), BOB)
    advance(srv, 3)
    assert seen(srv) == "s bf603-0[Decline] bf408-1(timeout)[] F603"  # a faked 408 has no reply; the 603 wins


def test_a_branch_added_in_branch_failure_route_keeps_the_transaction_open() -> None:
    srv = server('''
request_route { t_on_branch_failure("retry"); t_on_failure("F"); t_relay(); }
event_route[tm:branch-failure:retry] {
  if (t_check_status("503")) { $ru = "sip:backup@198.51.100.30:5090"; t_relay(); }
}
failure_route[F] { $var(failed) = 1; }
''')
    to_bob = invites(srv.handle(request("INVITE"), ALICE))[0]
    out = srv.handle(reply_to(to_bob, 503, "Unavailable"), BOB)
    assert [parsed(o).uri for o in invites(out)] == ["sip:backup@198.51.100.30:5090"]
    assert upstream(out) == []
    out = srv.handle(reply_to(invites(out)[0], 200, "OK"), CAROL)
    assert upstream(out) == ["SIP/2.0 200 OK"]
    assert srv.core.modules["pv"].vars.get("failed") != 1


def test_branches_added_after_the_route_ran_run_it_only_when_set_again() -> None:
    srv = server('''
request_route { $var(seen) = "s"; t_on_branch_failure("BF"); t_on_failure("F"); t_relay(); }
event_route[tm:branch-failure:BF] { $var(seen) = $var(seen) + " bf" + $T_reply_code; }
failure_route[F] {
  $var(seen) = $var(seen) + " F" + $T_reply_code;
  if (t_check_status("486")) { $ru = "sip:carol@198.51.100.30:5090"; t_on_failure("F"); t_relay(); exit; }
  if (t_check_status("480")) {
    $ru = "sip:dave@198.51.100.30:5091"; t_on_branch_failure("BF"); t_relay();
  }
}
''')
    to_bob = invites(srv.handle(request("INVITE"), ALICE))[0]
    to_carol = invites(srv.handle(reply_to(to_bob, 486, "Busy Here"), BOB))[0]
    to_dave = invites(srv.handle(reply_to(to_carol, 480, "Away"), CAROL))[0]
    srv.handle(reply_to(to_dave, 404, "Not Found"), CAROL)
    assert seen(srv) == "s bf486 F486 F480 bf404"


def test_t_on_branch_failure_0_unsets_the_route() -> None:
    srv = server('''
request_route { $var(seen) = "s"; t_on_branch_failure("BF"); t_on_branch_failure("0"); t_relay(); }
event_route[tm:branch-failure:BF] { $var(seen) = "ran"; }
''')
    to_bob = invites(srv.handle(request("INVITE"), ALICE))[0]
    srv.handle(reply_to(to_bob, 486, "Busy Here"), BOB)
    assert seen(srv) == "s"


REUSE = '''
request_route { $var(n) = 0; t_on_branch_failure("again"); t_relay(); }
event_route[tm:branch-failure:again] {
  $var(n) = $var(n) + 1;
  if ($var(n) == 1) { t_reuse_branch(); setbflag(5); t_relay(); }
}
'''


def test_t_reuse_branch_sends_the_failed_branch_again() -> None:
    srv = server(REUSE, 'loadmodule "kex"\n')
    first = invites(srv.handle(request("INVITE", "sip:bob@198.51.100.20:5080"), ALICE))[0]
    out = srv.handle(reply_to(first, 480, "Away"), BOB)
    again = invites(out)
    assert [parsed(o).uri for o in again] == ["sip:bob@198.51.100.20:5080"]
    assert parsed(again[0]).via.branch.endswith(".1")
    assert upstream(out) == []
    out = srv.handle(reply_to(again[0], 486, "Busy Here"), BOB)
    assert upstream(out) == ["SIP/2.0 480 Away"]  # the lower 4xx of the two (t_pick_branch)


def test_t_reuse_branch_outside_branch_failure_route_returns_minus_1() -> None:
    srv = server('request_route { $var(r) = t_reuse_branch(); sl_send_reply("200", "r=$var(r)"); }')
    assert parsed(srv.handle(request("MESSAGE"), ALICE)[0]).reason == "r=-1"


def test_check_accepts_a_branch_failure_route_without_warnings() -> None:
    compiled = load_text(HEADER + '''
request_route { t_on_branch_failure("myroute"); t_relay(); }
event_route[tm:branch-failure:myroute] { t_reuse_branch(); t_next_contact_flow(); t_relay(); }
''', "bf.cfg")
    assert [w for w in compiled.warnings if "not implemented" in str(w)] == []


def test_check_refuses_t_on_branch_failure_of_a_missing_route() -> None:
    with pytest.raises(ConfigError, match=r"event_route\[tm:branch-failure:nope\]"):
        load_text(HEADER + 'request_route { t_on_branch_failure("nope"); t_relay(); }\n', "bf.cfg")


def test_t_on_failure_0_unsets_the_failure_route_too() -> None:
    srv = server('''
request_route { t_on_failure("F"); t_on_failure("0"); $var(set) = t_is_set("failure_route"); t_relay(); }
failure_route[F] { t_reply("500", "Ran"); }
''')
    to_bob = invites(srv.handle(request("INVITE"), ALICE))[0]
    assert upstream(srv.handle(reply_to(to_bob, 486, "Busy Here"), BOB)) == ["SIP/2.0 486 Busy Here"]
    assert srv.core.modules["pv"].vars["set"] == -1


def test_the_doc_example_unregisters_the_contact_of_a_failed_branch_by_its_ruid() -> None:
    params = 'loadmodule "usrloc"\nloadmodule "registrar"\nloadmodule "textops"\n'
    srv = server(r'''
request_route {
  if (is_method("REGISTER")) { save("location"); exit; }
  if (is_method("ACK")) { exit; }
  lookup("location");
  t_on_branch_failure("myroute");
  t_relay();
}
event_route[tm:branch-failure:myroute] {
  if (t_check_status("430|403")) { unregister("location", "$tu", "$T_reply_ruid"); }
}
''', params)
    for n, port in enumerate((5071, 5072)):
        srv.handle(reg.register(contact=f"<sip:alice@10.0.0.1:{port}>", callid=f"reg-{n}"), reg.UA)
    sent = invites(srv.handle(reg.request(), ALICE))
    assert len(sent) == 2
    srv.handle(reply_to(sent[0], 430, "Flow Failed"), BOB)
    srv.handle(reply_to(sent[1], 486, "Busy"), BOB)
    gone = parsed(sent[0]).uri
    left = [parsed(o).uri for o in srv.handle(reg.request("INVITE").replace(b"z9hG4bK-i1", b"z9hG4bK-i2")
                                                  .replace(b"call-1@", b"call-2@"), ALICE)
            if o.data.startswith(b"INVITE")]
    assert left == [parsed(sent[1]).uri] and gone not in left
