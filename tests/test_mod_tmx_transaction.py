"""tmx: $T(...), $T_branch(...), $T_reply_ruid, t_cancel_branches, t_drop, t_flush_xflags and
precheck_trans on tm's transactions (in-process, tests/tmkit.py)."""
from __future__ import annotations

import pytest

from tests.tmkit import ALICE, BOB, CAROL, advance, lines, reply_to, request, server

CAROL_URI = "sip:carol@198.51.100.30:5090"


def vars_of(srv) -> dict:  # type: ignore[no-untyped-def]
    return srv.core.modules["pv"].vars


def test_t_id_label_and_index_are_the_transaction_ids() -> None:
    srv = server('request_route { if ($T(id_label) == $null) { $var(before) = "null"; } t_newtran(); '
                 '$var(label) = $T(id_label); $var(index) = $T(id_index); t_reply("200", "OK"); }')
    srv.handle(request(), ALICE)
    v = vars_of(srv)
    assert v["before"] == "null"
    assert isinstance(v["label"], int) and 0 <= v["index"] < 65536


def test_t_id_label_n_creates_the_transaction() -> None:
    srv = server('request_route { $var(label) = $T(id_label_n); t_reply("202", "Accepted"); }')
    out = srv.handle(request(), ALICE)
    assert lines(out) == ["SIP/2.0 202 Accepted"]
    assert isinstance(vars_of(srv)["label"], int)


def test_t_reply_code_and_type_in_failure_route() -> None:
    srv = server('request_route { t_on_failure("F"); t_relay(); }\n'
                 'failure_route[F] { $var(code) = $T(reply_code); $var(type) = $T(reply_type); '
                 '$var(reason) = $T(reply_reason); }')
    fwd = srv.handle(request(), ALICE)[0]
    srv.handle(reply_to(fwd, 486, "Busy Here"), BOB)
    v = vars_of(srv)
    assert (v["code"], v["type"], v["reason"]) == (486, 0, "Busy Here")


def test_t_reply_type_is_1_for_a_local_timeout_reply() -> None:
    srv = server('request_route { t_on_failure("F"); t_relay(); }\n'
                 'failure_route[F] { $var(type) = $T(reply_type); $var(code) = $T(reply_code); }')
    srv.handle(request(), ALICE)
    advance(srv, 40)
    assert (vars_of(srv)["code"], vars_of(srv)["type"]) == (408, 1)


def test_t_branch_flags_and_reply_ruid_in_failure_route() -> None:
    srv = server('loadmodule "kex"\nrequest_route { setbflag(3); t_on_failure("F"); t_relay(); }\n'
                 'failure_route[F] { $var(flags) = $T_branch(flags); $var(ruid) = $T_reply_ruid; }')
    fwd = srv.handle(request(), ALICE)[0]
    srv.handle(reply_to(fwd, 404, "Not Found"), BOB)
    assert vars_of(srv)["flags"] == 8 and vars_of(srv)["ruid"] == ""


def test_t_branch_ruid_and_uri_of_a_forked_branch_in_onreply_route() -> None:
    srv = server('loadmodule "corex"\n'
                 f'request_route {{ append_branch("{CAROL_URI}"); $branch(ruid) = "ruid-carol"; '
                 't_on_reply("R"); t_relay(); }\n'
                 'onreply_route[R] { $var(uri) = $T_branch(uri); $var(ruid) = $T_branch(ruid); '
                 '$var(rruid) = $T_reply_ruid; }')
    out = srv.handle(request("INVITE"), ALICE)
    srv.handle(reply_to(out[2], 180, "Ringing"), CAROL)
    v = vars_of(srv)
    assert (v["uri"], v["ruid"], v["rruid"]) == (CAROL_URI, "ruid-carol", "ruid-carol")


def test_t_branch_uri_outside_onreply_route_is_null() -> None:
    srv = server('request_route { t_newtran(); if ($T_branch(uri) == $null) { $var(uri) = "null"; } '
                 't_reply("200", "OK"); }')
    srv.handle(request(), ALICE)
    assert vars_of(srv)["uri"] == "null"


FORK_CANCEL = ('loadmodule "corex"\n'
               f'request_route {{ append_branch("{CAROL_URI}"); t_on_reply("R"); t_relay(); }}\n'
               'onreply_route[R] { if ($rs == "183") { $var(rc) = t_cancel_branches("{}"); } }')


def test_t_cancel_branches_others_cancels_the_other_ringing_branch() -> None:
    srv = server(FORK_CANCEL.replace("{}", "others"))
    out = srv.handle(request("INVITE"), ALICE)
    srv.handle(reply_to(out[2], 180, "Ringing", to_tag="ct"), CAROL)
    sent = srv.handle(reply_to(out[1], 183, "Session Progress"), BOB)
    assert f"CANCEL {CAROL_URI} SIP/2.0" in lines(sent)
    assert "CANCEL sip:bob@198.51.100.20:5080 SIP/2.0" not in lines(sent)
    assert vars_of(srv)["rc"] == 1


def test_t_cancel_branches_this_cancels_every_pending_branch_as_kamailio_5_6() -> None:
    srv = server(FORK_CANCEL.replace("{}", "this"))
    out = srv.handle(request("INVITE"), ALICE)
    srv.handle(reply_to(out[2], 180, "Ringing", to_tag="ct"), CAROL)
    sent = srv.handle(reply_to(out[1], 183, "Session Progress"), BOB)
    assert "CANCEL sip:bob@198.51.100.20:5080 SIP/2.0" in lines(sent)
    assert f"CANCEL {CAROL_URI} SIP/2.0" in lines(sent)


def test_t_cancel_branches_this_on_a_final_reply_cancels_nothing_and_is_true() -> None:
    srv = server('loadmodule "corex"\n'
                 f'request_route {{ append_branch("{CAROL_URI}"); t_on_reply("R"); t_relay(); }}\n'
                 'onreply_route[R] { if ($rs == "486") { $var(rc) = t_cancel_branches("this"); } }')
    out = srv.handle(request("INVITE"), ALICE)
    srv.handle(reply_to(out[2], 180, "Ringing", to_tag="ct"), CAROL)
    sent = srv.handle(reply_to(out[1], 486, "Busy Here"), BOB)
    assert not [line for line in lines(sent) if line.startswith("CANCEL")]
    assert vars_of(srv)["rc"] == 1


def test_t_cancel_branches_all_without_pending_branches_is_false() -> None:
    srv = server('request_route { t_on_reply("R"); t_relay(); }\n'
                 'onreply_route[R] { $var(rc) = t_cancel_branches("all"); }')
    out = srv.handle(request("INVITE"), ALICE)
    srv.handle(reply_to(out[1], 200, "OK"), BOB)
    assert vars_of(srv)["rc"] == -1


def test_t_cancel_branches_refuses_an_unknown_mode() -> None:
    with pytest.raises(Exception, match="invalid param"):
        server('request_route { t_relay(); }\nonreply_route[R] { t_cancel_branches("some"); }')


def test_t_drop_releases_the_transaction_without_replying() -> None:
    srv = server('request_route { t_newtran(); t_drop(); $var(after) = 1; }')
    assert srv.handle(request(), ALICE) == []
    assert vars_of(srv).get("after") != 1
    assert srv.handle(request(), ALICE) == []  # the retransmission is absorbed: nothing was sent
    counters = srv.core.modules["tm"].total_counters
    assert counters()["deleted"] == 0
    advance(srv, 10)  # the wait timer
    assert counters()["deleted"] == 1


def test_t_drop_without_a_transaction_fails() -> None:
    srv = server('request_route { $var(rc) = t_drop("404"); sl_send_reply("200", "OK"); }')
    srv.handle(request(), ALICE)
    assert vars_of(srv)["rc"] == -1


SERIAL = ('loadmodule "corex"\n'
          'request_route { t_on_failure("F1"); t_relay(); }\n'
          'failure_route[F1] { setxflag(7); {} $ru = "sip:carol@198.51.100.30:5090"; t_on_failure("F2"); '
          't_relay(); }\n'
          'failure_route[F2] { if (isxflagset(7)) { $var(x) = 1; } else { $var(x) = 2; } }')


def serial_call(routes: str) -> int:
    srv = server(routes)
    fwd = srv.handle(request("INVITE"), ALICE)[1]
    second = srv.handle(reply_to(fwd, 480, "Unavailable"), BOB)[-1]
    srv.handle(reply_to(second, 486, "Busy Here"), CAROL)
    return int(vars_of(srv)["x"])


def test_t_flush_xflags_keeps_failure_route_xflags_for_the_next_failure_route() -> None:
    assert serial_call(SERIAL.replace("{}", "t_flush_xflags();")) == 1


def test_failure_route_xflags_are_not_kept_without_t_flush_xflags() -> None:
    assert serial_call(SERIAL.replace("{}", "")) == 2


def test_onreply_route_xflags_reach_failure_route() -> None:
    srv = server('loadmodule "corex"\n'
                 'request_route { t_on_reply("R"); t_on_failure("F"); t_relay(); }\n'
                 'onreply_route[R] { if ($rs == "180") { setxflag(9); } }\n'
                 'failure_route[F] { if (isxflagset(9)) { $var(x) = 1; } else { $var(x) = 2; } }')
    fwd = srv.handle(request("INVITE"), ALICE)[1]
    srv.handle(reply_to(fwd, 180, "Ringing"), BOB)
    srv.handle(reply_to(fwd, 480, "Unavailable"), BOB)
    assert vars_of(srv)["x"] == 1


def test_xflags_set_before_t_relay_reach_failure_route() -> None:
    srv = server('loadmodule "corex"\n'
                 'request_route { setxflag(2); t_on_failure("F"); t_relay(); }\n'
                 'failure_route[F] { if (isxflagset(2)) { $var(x) = 1; } else { $var(x) = 0; } }')
    fwd = srv.handle(request(), ALICE)[0]
    srv.handle(reply_to(fwd, 480, "Unavailable"), BOB)
    assert vars_of(srv)["x"] == 1


def test_precheck_trans_0_makes_t_precheck_trans_fail_with_minus_2() -> None:
    srv = server('request_route { $var(rc) = t_precheck_trans(); sl_send_reply("200", "OK"); }',
                 'modparam("tmx", "precheck_trans", 0)')
    srv.handle(request(), ALICE)
    assert vars_of(srv)["rc"] == -2


def test_precheck_trans_default_lets_t_precheck_trans_look() -> None:
    srv = server('request_route { $var(rc) = t_precheck_trans(); sl_send_reply("200", "OK"); }')
    srv.handle(request(), ALICE)
    assert vars_of(srv)["rc"] == -1
