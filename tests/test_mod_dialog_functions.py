"""The dialog module's functions, pseudo-variables, RPCs and API, in-process: what each returns and
changes, with Kamailio's names and codes."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.api import (DLGCB_CONFIRMED, DLGCB_CREATED, DLGCB_EXPIRED, DLGCB_FAILED, DLGCB_TERMINATED,
                       DialogInfo, RpcFault)
from kampy.testing import Harness
from tests.test_mod_dialog import BOB, proxy

WITHIN = '''
route[WITHIN] {
    xlog("L_INFO", "within $rm known=$var(k) status=$DLG_status flag3=$var(f) in_calls=$var(p)\\n");
}
'''

INVITE = '''
        dlg_manage();
        set_dlg_profile("calls");
        set_dlg_profile("caller", "$fU");
        if ($rU == "flagged") { dlg_setflag(3); }
        if (dlg_isflagset(3)) { $var(f) = 1; } else { $var(f) = 0; }
        if (is_in_profile("caller", "$fU")) { $var(p) = 1; } else { $var(p) = 0; }
        if ($rU == "unset") { unset_dlg_profile("calls"); }
        xlog("L_INFO", "invite flag3=$var(f) in_caller=$var(p) ctx_set=$dlg_ctx(set) count=$DLG_count\\n");
'''


def _cfg(params: str = "", invite: str = INVITE) -> str:
    cfg = proxy(params, invite)
    return cfg.replace('''            t_relay(); exit;
        }''', '''            if (is_known_dlg()) { $var(k) = 1; } else { $var(k) = 0; }
            if (dlg_isflagset(3)) { $var(f) = 1; } else { $var(f) = 0; }
            if (is_in_profile("calls")) { $var(p) = 1; } else { $var(p) = 0; }
            route(WITHIN);
            if (is_method("MESSAGE")) { dlg_bye("all"); sl_send_reply("200", "Hung up"); exit; }
            if (is_method("NOTIFY")) {
                dlg_refer("caller", "sip:carol@example.test"); sl_send_reply("200", "Referred"); exit;
            }
            t_relay(); exit;
        }''', 1) + WITHIN


@pytest.fixture
def sip() -> Iterator[Harness]:
    with Harness.load(_cfg()) as harness:
        harness.ua(BOB, "192.0.2.20:5062")
        yield harness


def _lines(caplog: pytest.LogCaptureFixture, start: str) -> list[str]:
    return [r.getMessage().split(": ", 1)[-1] for r in caplog.records if start in r.getMessage()]


def test_a_dialog_flag_set_at_invite_is_seen_within_the_dialog(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    with Harness.load(_cfg()) as sip:
        sip.ua("sip:flagged@example.test", "192.0.2.20:5062")
        call = sip.invite("sip:flagged@example.test")
        call.ack()
        call.request("INFO")
        assert _lines(caplog, "invite flag3") == ["invite flag3=1 in_caller=1 ctx_set=1 count=0"]
        assert _lines(caplog, "within INFO") == ["within INFO known=1 status=4 flag3=1 in_calls=1"]
        assert sip.rpc("dlg.list")[0]["sflags"] == 8


def test_unset_dlg_profile_takes_the_dialog_out(sip: Harness) -> None:
    sip.ua("sip:unset@example.test", "192.0.2.20:5062")
    sip.invite("sip:unset@example.test").ack()
    assert sip.rpc("dlg.profile_get_size", ["calls"]) == 0
    assert sip.rpc("dlg.profile_get_size", ["caller", "alice"]) == 1
    assert sip.rpc("dlg.list")[0]["profiles"] == [{"caller": "alice"}]


def test_dlg_bye_in_the_script_ends_the_dialog(sip: Harness) -> None:
    call = sip.invite(BOB)
    call.ack()
    result = call.request("MESSAGE")
    byes = [s.dest for s in result.sent if getattr(s.msg, "method", "") == "BYE"]
    assert sorted(byes) == ["udp:192.0.2.10:5060", "udp:192.0.2.20:5062"]
    assert sip.rpc("dlg.list") == []


def test_an_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(Exception, match="profile <nosuch> not defined"):
        Harness.load(_cfg(invite='dlg_manage(); set_dlg_profile("nosuch");'))


def test_a_profile_with_values_needs_a_value(sip: Harness) -> None:
    refuse = 'dlg_manage(); if (!set_dlg_profile("caller")) { sl_send_reply("500", "E"); exit; }'
    with Harness.load(_cfg(invite=refuse)) as h:
        h.ua(BOB, "192.0.2.20:5062")
        assert h.invite(BOB).status == 500


def test_dlg_list_match_finds_by_call_id_prefix(sip: Harness) -> None:
    sip.invite(BOB, call_id="match-1").ack()
    sip.invite(BOB, call_id="other-1").ack()
    found = sip.rpc("dlg.list_match", ["callid", "sw", "match-"])
    assert [d["call-id"] for d in found] == ["match-1"]
    with pytest.raises(RpcFault) as fault:
        sip.rpc("dlg.list_match", ["callid", "gt", "1"])
    assert (fault.value.code, fault.value.message) == (500, "Matching operator not supported")


def test_dlg_is_alive_answers_for_a_confirmed_dialog_only(sip: Harness) -> None:
    call = sip.invite(BOB, call_id="alive-1")
    view = call.caller_view
    with pytest.raises(RpcFault) as fault:
        sip.rpc("dlg.is_alive", ["alive-1", view.local_tag, view.remote_tag])
    assert fault.value.message == "Dialog not in confirmed state"
    call.ack()
    assert sip.rpc("dlg.is_alive", ["alive-1", view.local_tag, view.remote_tag]) == "Alive"


def test_dlg_briefing_prints_the_fields_asked(sip: Harness) -> None:
    call = sip.invite(BOB, call_id="brief-1")
    call.ack()
    brief = sip.rpc("dlg.briefing", ["cs"])
    assert [(list(b), b["call-id"], b["state"]) for b in brief] == [
        (["h_entry", "h_id", "call-id", "state"], "brief-1", 4)]


def test_dlg_terminate_dlg_ends_it_by_call_id_and_tags(sip: Harness) -> None:
    call = sip.invite(BOB, call_id="term-1")
    call.ack()
    view = call.caller_view
    sip.rpc("dlg.terminate_dlg", ["term-1", view.local_tag, view.remote_tag])
    assert sip.rpc("dlg.list") == []


def test_dlg_set_state_forces_the_end_of_a_confirmed_dialog(sip: Harness) -> None:
    call = sip.invite(BOB, call_id="state-1")
    call.ack()
    view = call.caller_view
    assert sip.rpc("dlg.set_state", ["state-1", view.local_tag, view.remote_tag, 5]) == "Done"
    assert sip.rpc("dlg.list") == []
    assert sip.stat("dialog:active_dialogs") == 0


def test_dlg_profile_list_shows_the_dialogs_of_a_profile(sip: Harness) -> None:
    sip.invite(BOB, call_id="plist-1").ack()
    assert [d["call-id"] for d in sip.rpc("dlg.profile_list", ["caller", "alice"])] == ["plist-1"]
    assert sip.rpc("dlg.profile_list", ["caller", "nobody"]) == []
    with pytest.raises(RpcFault) as fault:
        sip.rpc("dlg.profile_get_size", ["nosuch"])
    assert (fault.value.code, fault.value.message) == (404, "Profile not found: nosuch")


def test_dlg_set_timeout_by_profile_changes_the_lifetime() -> None:
    invite = INVITE + 'if ($rU == "short") { dlg_set_timeout_by_profile("caller", "$fU", "5"); }'
    with Harness.load(_cfg(invite=invite)) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        sip.ua("sip:short@example.test", "192.0.2.20:5062")
        sip.invite(BOB).ack()
        sip.invite("sip:short@example.test").ack()
        assert sorted(d["lifetime"] for d in sip.rpc("dlg.list")) == [5, 5]


def test_the_timeout_avp_sets_the_lifetime() -> None:
    with Harness.load(_cfg('modparam("dialog", "timeout_avp", "$avp(to)")',
                           "$avp(to) = 20;" + INVITE)) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        sip.invite(BOB).ack()
        assert sip.rpc("dlg.list")[0]["lifetime"] == 20
        sip.advance(21)
        assert sip.rpc("dlg.list") == []


def test_a_request_within_the_dialog_restarts_its_timer() -> None:
    with Harness.load(_cfg('modparam("dialog", "default_timeout", 30)')) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        call = sip.invite(BOB)
        call.ack()
        sip.advance(20)
        call.request("INFO")
        sip.advance(20)
        assert len(sip.rpc("dlg.list")) == 1


def test_timeout_noreset_keeps_the_first_timeout() -> None:
    params = 'modparam("dialog", "default_timeout", 30)\nmodparam("dialog", "timeout_noreset", 1)'
    with Harness.load(_cfg(params)) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        call = sip.invite(BOB)
        call.ack()
        sip.advance(20)
        call.request("INFO")
        sip.advance(11)
        assert sip.rpc("dlg.list") == []


def test_an_unanswered_early_dialog_goes_after_early_timeout() -> None:
    with Harness.load(_cfg('modparam("dialog", "early_timeout", 10)')) as sip:
        sip.ua(BOB, "192.0.2.20:5062", answer=180)
        sip.invite(BOB)
        sip.advance(80)
        assert [d["state"] for d in sip.rpc("dlg.list")] == [2]
        sip.advance(11)  # the clean timer runs every 90 seconds
        assert sip.rpc("dlg.list") == []


def test_a_cancelled_call_fails(sip: Harness) -> None:
    sip.ua("sip:ring@example.test", "192.0.2.20:5062", answer=180)
    sip.send_request("INVITE", "sip:ring@example.test", call_id="cx-1", branch="z9hG4bK-cx1", from_tag="f1")
    sip.send_request("CANCEL", "sip:ring@example.test", call_id="cx-1", branch="z9hG4bK-cx1", from_tag="f1")
    assert [d["state"] for d in sip.rpc("dlg.list")] == [5]
    assert sip.stat("dialog:failed_dialogs") == 1


def test_the_api_callbacks_follow_the_dialog(sip: Harness) -> None:
    seen: list[tuple[int, str, int]] = []
    api = sip.module("dialog")
    kinds = DLGCB_CREATED | DLGCB_CONFIRMED | DLGCB_TERMINATED | DLGCB_FAILED | DLGCB_EXPIRED
    assert api.register_dlgcb(kinds, lambda dlg, kind, _: seen.append((kind, dlg.call_id, dlg.state))) == 0
    call = sip.invite(BOB, call_id="api-1")
    call.ack()
    call.bye()
    assert seen == [(DLGCB_CREATED, "api-1", 1), (DLGCB_CONFIRMED, "api-1", 4),
                    (DLGCB_TERMINATED, "api-1", 5)]


def test_the_api_counts_dialogs_by_a_variable(sip: Harness) -> None:
    api = sip.module("dialog")
    sip.invite(BOB, call_id="cnt-1").ack()
    sip.invite(BOB, call_id="cnt-2").ack()
    dialogs = sip.rpc("dlg.list")
    first = DialogInfo(dialogs[0]["h_entry"], dialogs[0]["h_id"], "", "", "", "", "", "", 0)
    assert api.set_dlg_var(first, "dst", "sip:gw1") == 0
    assert api.count_dialogs("dst", "sip:gw1") == 1
    assert api.get_dlg_var(first, "dst") == "sip:gw1"
    assert api.count_dialogs("dst", "sip:gw2") == 0


def test_the_timeout_route_runs_with_the_dialog_before_the_bye(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    invite = '$dlg_ctx(timeout_route) = "DLGTIMEOUT"; $dlg_ctx(timeout_bye) = 1;' + INVITE
    routes = 'route[DLGTIMEOUT] { xlog("L_INFO", "timeout of $dlg(callid) ctx_set=$dlg_ctx(set)\\n"); }'
    with Harness.load(_cfg('modparam("dialog", "default_timeout", 10)', invite) + routes) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        sip.invite(BOB, call_id="toroute-1").ack()
        result = sip.advance(11)
        assert _lines(caplog, "timeout of") == ["timeout of toroute-1 ctx_set=1"]
        assert len([s for s in result.sent if getattr(s.msg, "method", "") == "BYE"]) == 2


def test_dlg_dump_file_appends_a_json_line_per_dialog(sip: Harness, tmp_path: Path) -> None:
    sip.invite(BOB, call_id="dump-1").ack()
    sip.rpc("dlg.dump_file", [str(tmp_path / "dlg.json")])
    (item,) = [json.loads(line) for line in (tmp_path / "dlg.json").read_text().splitlines()]
    assert (item["call_id"], item["state"]) == ("dump-1", 4)
    assert item["profiles"] == {"calls": "", "caller": "alice"}


def test_dlg_dlg_list_shows_the_dialogs_of_a_call_id(sip: Harness) -> None:
    call = sip.invite(BOB, call_id="bycid-1")
    call.ack()
    sip.invite(BOB, call_id="bycid-2").ack()
    assert [d["call-id"] for d in sip.rpc("dlg.dlg_list", ["bycid-1"])] == ["bycid-1"]
    assert sip.rpc("dlg.dlg_list", ["bycid-1", "not-the-tag"]) == []
    assert len(sip.rpc("dlg.dlg_list", ["bycid-1", call.caller_view.local_tag])) == 1


def test_dlg_remote_profile_entries_count_until_they_expire() -> None:
    invite = ('$var(exp) = 100 + $Ts; dlg_remote_profile("add", "caller", "alice", "peer-1", "$var(exp)");'
              + INVITE)
    with Harness.load(_cfg(invite=invite)) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        sip.invite(BOB).ack()
        assert sip.rpc("dlg.profile_get_size", ["caller", "alice"]) == 2  # ours and the remote one
        assert len(sip.rpc("dlg.profile_list", ["caller", "alice"])) == 1
        sip.advance(101)
        assert sip.rpc("dlg.profile_get_size", ["caller", "alice"]) == 1


def test_lreq_callee_headers_go_in_the_bye_to_the_callee_only() -> None:
    with Harness.load(_cfg('modparam("dialog", "lreq_callee_headers", "X-Callee: yes")')) as sip:
        bob = sip.ua(BOB, "192.0.2.20:5062")
        sip.invite(BOB).ack()
        alice = sip.ua_at("192.0.2.10:5060")
        assert alice is not None
        dlg = sip.rpc("dlg.list")[0]
        sip.rpc("dlg.end_dlg", [dlg["h_entry"], dlg["h_id"]])
        (to_bob,) = [r.msg for r in bob.requests if r.msg.method == "BYE"]
        (to_alice,) = [r.msg for r in alice.requests if r.msg.method == "BYE"]
        assert (to_bob.header("X-Callee"), to_alice.header("X-Callee")) == ("yes", None)


def test_keep_proxy_rr_keeps_this_proxys_record_route_in_the_callees_route_set() -> None:
    with Harness.load(_cfg('modparam("dialog", "keep_proxy_rr", 1)')) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        sip.invite(BOB).ack()
        dlg = sip.rpc("dlg.list")[0]
        assert ";did=" in dlg["callee"]["route_set"]
        assert dlg["caller"]["route_set"] == ""


def test_without_keep_proxy_rr_the_route_sets_leave_this_proxy_out(sip: Harness) -> None:
    sip.invite(BOB).ack()
    dlg = sip.rpc("dlg.list")[0]
    assert (dlg["callee"]["route_set"], dlg["caller"]["route_set"]) == ("", "")


def test_with_timer_procs_the_timeout_still_ends_the_dialog() -> None:
    params = 'modparam("dialog", "timer_procs", 1)\nmodparam("dialog", "default_timeout", 20)'
    with Harness.load(_cfg(params)) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        sip.invite(BOB).ack()
        sip.advance(21)
        assert sip.rpc("dlg.list") == []


KA = 'modparam("dialog", "ka_timer", 10)\nmodparam("dialog", "ka_interval", 30)\n'


def test_keepalives_go_to_both_sides_every_ka_interval() -> None:
    invite = 'dlg_set_property("ka-src"); dlg_set_property("ka-dst");' + INVITE
    with Harness.load(_cfg(KA, invite)) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        sip.invite(BOB).ack()
        result = sip.advance(41)
        options = sorted(s.dest for s in result.sent if getattr(s.msg, "method", "") == "OPTIONS")
        assert options == ["udp:192.0.2.10:5060", "udp:192.0.2.20:5062"]
        assert [d["state"] for d in sip.rpc("dlg.list")] == [4]  # both answered


def test_a_keepalive_answered_481_ends_the_dialog_ten_seconds_later() -> None:
    invite = 'dlg_set_property("ka-dst");' + INVITE
    with Harness.load(_cfg(KA, invite)) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        sip.invite(BOB).ack()
        sip.ua(BOB, "192.0.2.20:5062")  # a phone there that does not know the call: 481
        sip.advance(35)  # the keep-alive at 30 s
        dlg = sip.rpc("dlg.list")[0]
        assert dlg["lifetime"] == 10
        sip.advance(6)
        assert sip.rpc("dlg.list") == []


def test_an_unknown_property_is_a_config_error() -> None:
    with pytest.raises(Exception, match="unknown property value 'ka-both'"):
        Harness.load(_cfg(invite='dlg_manage(); dlg_set_property("ka-both");'))


def test_dlg_refer_sends_refer_to_the_other_side_then_bye() -> None:
    with Harness.load(_cfg()) as sip:
        bob = sip.ua(BOB, "192.0.2.20:5062")
        call = sip.invite(BOB)
        call.ack()
        alice = sip.ua_at("192.0.2.10:5060")
        assert alice is not None
        call.request("NOTIFY")
        methods = [r.msg.method for r in bob.requests]
        assert methods[-2:] == ["REFER", "BYE"]
        refer = [r.msg for r in bob.requests if r.msg.method == "REFER"][0]
        assert refer.header("Refer-To") == "sip:carol@example.test"
        assert refer.header("Referred-By") == "sip:controller@kamailio.org"
        assert "REFER" not in [r.msg.method for r in alice.requests]


def test_dlg_bridge_calls_from_then_refers_it_to_to(sip: Harness) -> None:
    carol = sip.ua("sip:carol@example.test", "192.0.2.30:5064")
    sip.rpc("dlg.bridge_dlg", ["sip:carol@192.0.2.30:5064", "sip:dave@example.test"])
    methods = [r.msg.method for r in carol.requests]
    assert methods == ["INVITE", "ACK", "REFER", "BYE"]
    invite = carol.requests[0].msg
    assert invite.header("From").startswith("<sip:controller@kamailio.org>")
    assert invite.body.startswith(b"v=0\r\no=kamailio-bridge")
    assert carol.requests[2].msg.header("Refer-To") == "sip:dave@example.test"


def _created_after_xlog(caplog: pytest.LogCaptureFixture, params: str) -> list[int]:
    """For each DLGCB_CREATED: how many of the INVITE route's xlog lines (which follow dlg_manage()
    and precede t_relay()) had been logged when it ran."""
    caplog.set_level("INFO")
    with Harness.load(_cfg(params)) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        seen: list[int] = []
        sip.module("dialog").register_dlgcb(
            DLGCB_CREATED, lambda dlg, kind, _: seen.append(len(_lines(caplog, "invite flag3"))))
        sip.invite(BOB)
        return seen


def test_dlgcb_created_runs_in_dlg_manage(caplog: pytest.LogCaptureFixture) -> None:
    assert _created_after_xlog(caplog, "") == [0]


def test_with_initial_cbs_inscript_0_dlgcb_created_runs_at_t_relay(caplog: pytest.LogCaptureFixture) -> None:
    assert _created_after_xlog(caplog, 'modparam("dialog", "initial_cbs_inscript", 0)') == [1]


def test_get_profile_size_into_a_read_only_variable_fails_without_a_500() -> None:
    invite = 'dlg_manage(); if (!get_profile_size("calls", "$ci")) { sl_send_reply("403", "No size"); exit; }'
    with Harness.load(_cfg(invite=invite)) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        assert sip.invite(BOB).status == 403


def test_a_hash_size_that_is_no_power_of_2_is_rounded_down(caplog: pytest.LogCaptureFixture) -> None:
    with Harness.load(_cfg('modparam("dialog", "hash_size", 1000)')) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        sip.invite(BOB).ack()
        assert sip.rpc("dlg.list")[0]["h_entry"] < 512
    assert any("rounding from 1000 to 512" in r.getMessage() for r in caplog.records)
