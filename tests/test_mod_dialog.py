"""The dialog module in-process: a call tracked from INVITE to BYE, its states, timers, profiles,
variables, event routes, statistics and dlg.* RPCs (kampy.testing's phones, fake clock)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from kampy.testing import Harness

BOB = "sip:bob@example.test"

PROXY = '''
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "dialog.so"
modparam("dialog", "profiles_with_value", "caller")
modparam("dialog", "profiles_no_value", "calls")
modparam("dialog", "dlg_flag", 4)
modparam("dialog", "send_bye", 0)
%s
request_route {
    if (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; }
    if (has_totag()) {
        if (loose_route()) {
            if (is_method("BYE")) {
                $var(v) = $dlg_var(color);
                xlog("L_INFO", "bye color=$var(v) state=$dlg(state)\\n");
            }
            t_relay(); exit;
        }
        if (is_method("ACK")) { if (t_check_trans()) t_relay(); exit; }
        sl_send_reply("404", "Not here");
        exit;
    }
    if (is_method("INVITE")) {
        %s
        record_route();
    }
    $du = "sip:192.0.2.20:5062";
    t_relay();
}
event_route[dialog:start] { xlog("L_INFO", "dialog start $dlg(callid) h=$dlg(h_entry):$dlg(h_id)\\n"); }
event_route[dialog:end] { xlog("L_INFO", "dialog end $dlg(callid)\\n"); }
event_route[dialog:failed] { xlog("L_INFO", "dialog failed $dlg(callid)\\n"); }
'''

MANAGE = '''
        dlg_manage();
        set_dlg_profile("calls");
        set_dlg_profile("caller", "$fU");
        get_profile_size("caller", "$fU", "$var(n)");
        if ($var(n) > 2) { sl_send_reply("503", "Too many calls"); exit; }
        $dlg_var(color) = "blue";
'''


def proxy(params: str = "", invite: str = MANAGE) -> str:
    return PROXY % (params, invite)


@pytest.fixture
def sip() -> Iterator[Harness]:
    with Harness.load(proxy()) as harness:
        yield harness


def _states(sip: Harness) -> list[int]:
    return [d["state"] for d in sip.rpc("dlg.list")]


def test_a_call_is_tracked_from_invite_to_bye(sip: Harness) -> None:
    sip.ua(BOB, "192.0.2.20:5062", answer=[180, 200])
    call = sip.invite(BOB)
    assert _states(sip) == [3]
    call.ack()
    assert _states(sip) == [4]
    assert sip.stat("dialog:active_dialogs") == 1

    call.bye()

    assert sip.rpc("dlg.list") == []
    assert sip.stat("dialog:active_dialogs") == 0
    assert sip.stat("dialog:processed_dialogs") == 1


def test_the_record_route_carries_the_dialog_id(sip: Harness) -> None:
    sip.ua(BOB, "192.0.2.20:5062")
    call = sip.invite(BOB)
    dlg = sip.rpc("dlg.list")[0]
    did = format(dlg["h_entry"], "x")[::-1] + "." + format(dlg["h_id"], "x")[::-1]
    assert f";did={did}" in call.result.forwarded[0].header("Record-Route")


def test_a_rejected_call_fails_runs_dialog_failed_and_goes_with_its_transaction(
        sip: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    sip.ua(BOB, "192.0.2.20:5062", answer=[180, 486])
    sip.invite(BOB, call_id="rejected-1")

    assert [d["state"] for d in sip.rpc("dlg.list")] == [5]  # wait_ack: until the transaction goes
    sip.advance(40)
    assert sip.rpc("dlg.list") == []
    assert sip.stat("dialog:failed_dialogs") == 1
    assert sip.stat("dialog:early_dialogs") == 0
    assert any("dialog failed rejected-1" in r.getMessage() for r in caplog.records)


def test_start_and_end_event_routes_see_the_dialog(sip: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    sip.ua(BOB, "192.0.2.20:5062")
    call = sip.invite(BOB, call_id="events-1")
    call.ack()
    call.bye()
    text = [r.getMessage() for r in caplog.records]
    start = next(i for i, t in enumerate(text) if "dialog start events-1 h=" in t)
    end = next(i for i, t in enumerate(text) if t.endswith("dialog end events-1"))
    assert start < end


def test_a_dialog_variable_set_at_invite_is_seen_at_bye(sip: Harness,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    sip.ua(BOB, "192.0.2.20:5062")
    call = sip.invite(BOB)
    call.ack()
    assert sip.rpc("dlg.list")[0]["variables"] == [{"color": "blue"}]
    call.bye()
    assert any("bye color=blue state=5" in r.getMessage() for r in caplog.records)


def test_profiles_count_concurrent_calls_and_refuse_the_third(sip: Harness) -> None:
    sip.ua(BOB, "192.0.2.20:5062")
    calls = [sip.invite(BOB) for _ in range(2)]
    for call in calls:
        call.ack()
    assert sip.rpc("dlg.profile_get_size", ["caller", "alice"]) == 2
    assert sip.rpc("dlg.profile_get_size", ["calls"]) == 2

    third = sip.invite(BOB)

    assert third.status == 503
    assert sip.rpc("dlg.profile_get_size", ["calls"]) == 2
    calls[0].bye()
    assert sip.rpc("dlg.profile_get_size", ["caller", "alice"]) == 1


def test_the_dialog_times_out_and_ends(sip: Harness) -> None:
    with Harness.load(proxy('modparam("dialog", "default_timeout", 30)')) as h:
        h.ua(BOB, "192.0.2.20:5062")
        call = h.invite(BOB)
        call.ack()
        h.advance(20)
        assert len(h.rpc("dlg.list")) == 1
        h.advance(15)
        assert h.rpc("dlg.list") == []
        assert h.stat("dialog:expired_dialogs") == 1
        assert h.stat("dialog:active_dialogs") == 0


def test_a_timeout_with_send_bye_sends_bye_to_both_sides() -> None:
    cfg = proxy('modparam("dialog", "default_timeout", 30)', "$dlg_ctx(timeout_bye) = 1;" + MANAGE)
    with Harness.load(cfg) as h:
        h.ua(BOB, "192.0.2.20:5062")
        call = h.invite(BOB)
        call.ack()
        result = h.advance(31)
        byes = [s for s in result.sent if s.msg is not None and getattr(s.msg, "method", "") == "BYE"]
        assert sorted(s.dest for s in byes) == ["udp:192.0.2.10:5060", "udp:192.0.2.20:5062"]
        assert h.rpc("dlg.list") == []
        assert h.stat("dialog:expired_dialogs") == 1


def test_dlg_end_dlg_sends_bye_to_both_sides(sip: Harness) -> None:
    sip.ua(BOB, "192.0.2.20:5062")
    call = sip.invite(BOB)
    call.ack()
    dlg = sip.rpc("dlg.list")[0]

    sip.rpc("dlg.end_dlg", [dlg["h_entry"], dlg["h_id"]])

    assert sip.rpc("dlg.list") == []
    assert sip.stat("dialog:active_dialogs") == 0


def test_dlg_end_dlg_of_an_unknown_dialog_is_a_404_fault(sip: Harness) -> None:
    from kampy.api import RpcFault
    with pytest.raises(RpcFault) as fault:
        sip.rpc("dlg.end_dlg", [1, 99])
    assert fault.value.code == 404


def test_dlg_list_has_kamailios_fields(sip: Harness) -> None:
    sip.ua(BOB, "192.0.2.20:5062")
    call = sip.invite(BOB, call_id="fields-1")
    call.ack()
    dlg = sip.rpc("dlg.list")[0]
    assert list(dlg) == ["h_entry", "h_id", "ref", "call-id", "from_uri", "to_uri", "state", "start_ts",
                         "init_ts", "end_ts", "duration", "timeout", "lifetime", "dflags", "sflags", "iflags",
                         "caller", "callee", "profiles", "variables"]
    assert dlg["call-id"] == "fields-1"
    assert dlg["lifetime"] == 43200
    assert dlg["profiles"] == [{"caller": "alice"}, "calls"]  # newest first, as Kamailio
    assert list(dlg["caller"]) == ["tag", "contact", "cseq", "route_set", "socket"]
    assert dlg["callee"]["contact"] == "sip:bob@192.0.2.20:5062"


def test_the_dlg_flag_creates_the_dialog_at_t_relay() -> None:
    with Harness.load(proxy("", "setflag(4);")) as h:
        h.ua(BOB, "192.0.2.20:5062")
        call = h.invite(BOB)
        call.ack()
        assert _states(h) == [4]
        call.bye()
        assert h.rpc("dlg.list") == []


def test_stats_active_counts_by_state(sip: Harness) -> None:
    sip.ua(BOB, "192.0.2.20:5062")
    sip.invite(BOB).ack()
    sip.invite(BOB)
    assert sip.rpc("dlg.stats_active") == {"starting": 0, "connecting": 0, "answering": 1, "ongoing": 1,
                                           "all": 2}


def test_with_wait_ack_0_a_failed_dialog_goes_at_once() -> None:
    with Harness.load(proxy('modparam("dialog", "wait_ack", 0)')) as sip:
        sip.ua(BOB, "192.0.2.20:5062", answer=486)
        sip.invite(BOB)
        assert sip.rpc("dlg.list") == []
