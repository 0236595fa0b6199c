"""dialog's DMQ replication in-process (enable_dmq, Kamailio 5.6's dlg_dmq.c): the KDMQ requests to
the `dialog` peer as a call goes, in the JSON Kamailio writes (tests/data/dialog_dmq/ holds what a
Kamailio 5.6.3 node sent), and what the node does with the dialogs other nodes send: listed, in
their profiles, never ended by this node. tests/e2e/test_dialog_dmq.py runs it on the wire."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kampy.testing import NEVER
from tests.support import dmqkit
from tests.support.dmqkit import PEER, config, sent_to, without_dmq

BOB = "sip:bob@example.test"
DATA = Path(__file__).parent / "data" / "dialog_dmq"
KAMAILIO_BODIES = (DATA / "kamailio_bodies.txt").read_text().splitlines()
SYNC_REQUEST, SYNCED, NEW, EARLY, CONFIRMED, DELETED, DELETED_SYNCED, RM, RM_SYNCED = KAMAILIO_BODIES

PARAMS = """modparam("dialog", "enable_dmq", 1)
modparam("dialog", "profiles_with_value", "callee")
modparam("dialog", "profiles_no_value", "calls")
"""
ROUTE = """    if (has_totag()) {
        if (loose_route()) {
            if (is_method("INVITE") && $hdr(X-Move) != $null) set_dlg_profile("callee", "$hdr(X-Move)");
            t_relay();
            exit;
        }
        if (is_method("ACK")) { if (t_check_trans()) t_relay(); exit; }
        sl_send_reply("404", "Not here");
        exit;
    }
    if (is_method("INVITE")) {
        dlg_manage();
        set_dlg_profile("calls");
        set_dlg_profile("callee", "$rU");
        $dlg_var(caller) = $fU;
        record_route();
    }
    $du = "sip:192.0.2.20:5062";
    t_relay();"""


def dialog_config(params: str = "") -> str:
    return config(["rr", "siputils", "textops", "dmq", "dialog"], ROUTE, PARAMS + params)


def join(sip: Any) -> Any:
    """The other node joins the bus; its phone-like stand-in answers what is sent to it 200."""
    if sip.ua_at(f"{PEER}:5060") is None:
        sip.ua(f"sip:dialog@{PEER}", f"{PEER}:5060", answer=200)
    return dmqkit.join(sip)


def bodies(result: Any) -> list[str]:
    """The bodies of the KDMQ requests to the other node's `dialog` peer (not their retransmissions)."""
    found: dict[tuple[str | None, str | None], str] = {}
    for msg in sent_to(result, "dialog"):
        found.setdefault((msg.header("Call-ID"), msg.header("CSeq")), msg.body.decode())
    return list(found.values())


def names(body: str) -> list[str]:
    """The member names of a JSON object in order, a name given twice listed twice."""
    return [name for name, _ in json.loads(body, object_pairs_hook=list)]


def kdmq(sip: Any, body: str) -> int:
    """The other node sends `body` to the `dialog` peer: the status of the reply."""
    result = kdmq_result(sip, body)
    return result.responses[0].status if result.responses else sip.advance(0.05).responses[0].status


def kdmq_result(sip: Any, body: str) -> Any:
    return dmqkit.kdmq(sip, "dialog", body)


def listed(sip: Any) -> list[dict[str, Any]]:
    return sip.rpc("dlg.list")


def size(sip: Any, profile: str, value: str | None = None) -> int:
    return sip.module("dialog").store.profile_size(profile, value)


@pytest.fixture
def sip(kampy_cfg: Any) -> Any:
    harness = kampy_cfg(dialog_config())
    join(harness)
    harness.ua(BOB, "192.0.2.20:5062", answer=NEVER)
    return harness


# ------------------------------------------------------------ what a call sends


def test_a_call_sends_update_early_confirmed_deleted_and_rm_with_kamailios_members(sip: Any) -> None:
    call = sip.invite(BOB)
    sent = bodies(call.result)
    sent += bodies(call.ringing())
    sent += bodies(call.answer())
    sent += bodies(call.ack())
    sent += bodies(call.bye())
    sent += bodies(sip.advance(10))
    assert [names(b) for b in sent] == [names(NEW), names(EARLY), names(CONFIRMED), names(DELETED), names(RM)]


def test_the_update_carries_the_dialog_its_variables_and_profiles(sip: Any) -> None:
    call = sip.invite(BOB)
    [update] = [json.loads(b) for b in bodies(call.result)]
    [dlg] = listed(sip)
    assert (update["action"], update["h_entry"], update["h_id"], update["state"]) == (1, dlg["h_entry"],
                                                                                       dlg["h_id"], 1)
    assert (update["callid"], update["from_uri"], update["to_uri"], update["tag1"], update["cseq1"]) == (
        dlg["call-id"], "sip:alice@example.test", BOB, dlg["caller"]["tag"], "1")
    assert update["vars"] == {"caller": "alice"}
    assert json.loads(update["profiles"]) == {"profiles": [{"name": "callee", "value": "bob"},
                                                           {"name": "calls"}]}


def test_the_confirmed_state_carries_both_legs(sip: Any) -> None:
    call = sip.invite(BOB)
    call.answer()
    [state] = [json.loads(b) for b in bodies(call.ack())]
    [dlg] = listed(sip)
    assert (state["state"], state["start_ts"], state["lifetime"]) == (4, dlg["start_ts"], 43200)
    callee = dlg["callee"]
    assert (state["tag2"], state["contact2"], state["cseq2"]) == (callee["tag"], callee["contact"], "0")


def test_a_reinvite_after_a_profile_change_sends_the_dialog_again(sip: Any) -> None:
    call = sip.invite(BOB)
    call.answer()
    call.ack()
    assert bodies(call.reinvite()) == []
    [update] = [json.loads(b) for b in bodies(call.request("INVITE", headers={"X-Move": "carol"}))]
    assert (update["action"], update["state"]) == (1, 4)
    assert json.loads(update["profiles"])["profiles"][0] == {"name": "callee", "value": "carol"}


def test_a_failed_call_sends_its_deleted_state_and_goes(sip: Any) -> None:
    call = sip.invite(BOB)
    call.ringing()
    sent = bodies(call.reject(486)) + bodies(sip.advance(40))
    assert [json.loads(b)["action"] for b in sent] == [2, 3]
    assert [json.loads(b)["state"] for b in sent] == [5, 5]


def test_joining_the_bus_asks_for_the_dialogs(kampy_cfg: Any) -> None:
    sip = kampy_cfg(dialog_config())
    assert bodies(join(sip)) == [SYNC_REQUEST]


def test_a_sync_request_is_answered_with_every_dialog(sip: Any) -> None:
    call = sip.invite(BOB)
    call.answer()
    call.ack()
    sent = bodies(kdmq_result(sip, SYNC_REQUEST)) + bodies(sip.advance(0.05))
    assert [names(b) for b in sent] == [names(SYNCED)]


# ------------------------------------------------------------ what other nodes send


def test_kamailios_new_dialog_is_listed_with_its_ids_and_profiles(sip: Any) -> None:
    assert kdmq(sip, NEW) == 200
    [dlg] = listed(sip)
    sent = json.loads(NEW)
    assert (dlg["h_entry"], dlg["h_id"], dlg["call-id"], dlg["state"]) == (sent["h_entry"], sent["h_id"],
                                                                            sent["callid"], 1)
    assert (dlg["dflags"], dlg["iflags"], dlg["caller"]["socket"]) == (1152, 64, None)  # as Kamailio lists it
    assert dlg["variables"] == [{"caller": "alice"}]
    assert (size(sip, "calls"), size(sip, "callee", "carol")) == (1, 1)


def test_kamailios_states_are_followed_and_its_rm_removes_the_dialog(sip: Any) -> None:
    for body in (NEW, EARLY, CONFIRMED):
        assert kdmq(sip, body) == 200
    [dlg] = listed(sip)
    left = dlg["timeout"] - int(sip.clock.time())
    assert (dlg["state"], dlg["callee"]["tag"], left) == (4, "callee1", 43200)
    assert kdmq(sip, DELETED) == 200
    assert (listed(sip)[0]["state"], size(sip, "calls")) == (5, 0)
    assert kdmq(sip, RM) == 200
    assert listed(sip) == []


def test_a_synced_confirmed_dialog_counts_as_active(sip: Any) -> None:
    assert kdmq(sip, SYNCED) == 200
    assert (listed(sip)[0]["state"], sip.stat("dialog:active_dialogs")) == (4, 1)
    assert kdmq(sip, RM_SYNCED) == 200
    assert (listed(sip), sip.stat("dialog:active_dialogs")) == ([], 1)  # RM's state is 5: as Kamailio


def test_a_replicated_dialog_is_not_sent_back(sip: Any) -> None:
    for body in (NEW, EARLY, CONFIRMED, DELETED):
        kdmq(sip, body)
    assert bodies(sip.advance(1)) == []
    kdmq(sip, RM)
    assert bodies(sip.advance(1)) == []


def test_a_replicated_dialog_timing_out_sends_no_bye(kampy_cfg: Any) -> None:
    sip = kampy_cfg(dialog_config('modparam("dialog", "send_bye", 1)'))
    join(sip)
    kdmq(sip, NEW)
    kdmq(sip, CONFIRMED.replace('"lifetime":43200', '"lifetime":5'))
    out = sip.advance(7)
    assert [s.msg.method for s in out.forwarded if s.msg.method == "BYE"] == []
    assert [json.loads(b)["action"] for b in bodies(out)] == [2, 3]  # its end and removal, as Kamailio
    assert listed(sip) == []


def test_a_bye_through_this_node_ends_a_replicated_dialog_here_and_at_the_others(sip: Any) -> None:
    for body in (NEW, EARLY, CONFIRMED):
        kdmq(sip, body)
    sent = json.loads(NEW)
    did = f"{sent['h_entry']:x}"[::-1] + "." + f"{sent['h_id']:x}"[::-1]
    sip.ua("sip:callee@192.0.2.20", "192.0.2.20:5062", answer=200)
    out = sip.send_request("BYE", "sip:callee@192.0.2.20:5062", from_="sip:alice@example.test",
                           to="sip:carol@example.test", call_id=sent["callid"], from_tag="caller1",
                           to_tag="callee1", headers={"Route": f"<sip:127.0.0.1:5060;lr;did={did}>"})
    assert [s.msg.method for s in out.forwarded if s.msg.method == "BYE"] == ["BYE"]
    assert [(json.loads(b)["action"], json.loads(b)["state"]) for b in bodies(out)] == [(2, 5), (3, 5)]
    assert listed(sip) == []


def test_a_backwards_state_is_ignored(sip: Any) -> None:
    kdmq(sip, NEW)
    kdmq(sip, CONFIRMED)
    assert kdmq(sip, EARLY) == 200
    assert listed(sip)[0]["state"] == 4


def test_a_state_or_rm_of_an_unknown_dialog_is_answered_500(sip: Any) -> None:
    assert (kdmq(sip, CONFIRMED), kdmq(sip, RM)) == (500, 500)


def test_a_dialog_in_the_wrong_hash_entry_is_refused_500(sip: Any) -> None:
    doc = json.loads(NEW)
    doc["h_entry"] = (doc["h_entry"] + 1) % 4096
    assert kdmq(sip, json.dumps(doc)) == 500
    assert listed(sip) == []


def test_a_body_that_is_not_json_is_answered_400(sip: Any) -> None:
    assert kdmq(sip, "{oops") == 400


def test_enable_dmq_without_the_dmq_module_is_refused(kampy_cfg: Any) -> None:
    cfg = without_dmq(dialog_config())
    with pytest.raises(Exception, match="cannot load dmq api"):
        kampy_cfg(cfg)
