"""presence's handle_subscribe() (RFC 6665, 3856), in-process: the reply and its headers, the first
NOTIFY and its layout, refreshes and the end of a subscription, the errors Kamailio answers, the
expiry timer, the subscription storage modes, and what a NOTIFY's reply does."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from kampy.api import L_NOTICE, python_level
from kampy.testing import Harness
from kampy.testing.messages import NEVER
from tests.presence_helpers import CFG, DOMAIN, load, notifies, pidf, publish, subscribe, watcher

ALICE = f"sip:alice@{DOMAIN}"


@pytest.fixture
def sip() -> Harness:
    with load() as harness:
        yield harness


def test_a_subscribe_gets_200_with_expires_and_the_notifiers_contact(sip: Harness) -> None:
    bob = watcher(sip, "bob", 5011)
    dialog = subscribe(bob, ALICE)
    assert (dialog.status, dialog.reply.msg.reason) == (200, "OK")
    assert dialog.header("expires") == "600"
    assert dialog.header("contact") == "<sip:127.0.0.1:5060;transport=udp>"


def test_the_first_notify_carries_the_published_document_within_the_dialog(sip: Harness) -> None:
    publish(sip, "alice", pidf(ALICE))
    bob = watcher(sip, "bob", 5011)
    dialog = subscribe(bob, ALICE)
    [notify] = notifies(bob)
    lines = notify.data.split(b"\r\n\r\n")[0].decode().split("\r\n")
    to_tag = dialog.reply.msg.to.tag
    assert lines[0] == "NOTIFY sip:bob@127.0.0.11:5011 SIP/2.0"
    assert lines[1].startswith("Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK")
    assert lines[2:] == [
        f"To: <sip:bob@127.0.0.1>;tag={dialog.request.from_.tag}",
        f"From: <sip:alice@127.0.0.1>;tag={to_tag}",
        "CSeq: 2 NOTIFY",
        f"Call-ID: {dialog.request.call_id}",
        f"Content-Length: {len(pidf(ALICE))}",
        f"User-Agent: {sip.core.server_header}",
        "Max-Forwards: 70",
        "Event: presence",
        "Contact: <sip:127.0.0.1:5060;transport=udp>",
        "Subscription-State: active;expires=600",
        "Content-Type: application/pidf+xml",
    ]
    assert notify.msg.body == pidf(ALICE).encode()


def test_without_a_publication_the_notify_has_no_body(sip: Harness) -> None:
    bob = watcher(sip, "bob", 5011)
    subscribe(bob, ALICE)
    [notify] = notifies(bob)
    assert notify.msg.body == b"" and notify.msg.header("content-type") is None


def test_the_watcher_is_recorded_active_in_the_watchers_table(sip: Harness) -> None:
    subscribe(watcher(sip, "bob", 5011), ALICE)
    [row] = sip.tables["watchers"].rows()
    assert (
        row["presentity_uri"],
        row["watcher_username"],
        row["watcher_domain"],
        row["event"],
        row["status"],
        row["reason"],
    ) == (ALICE, "bob", DOMAIN, "presence", 1, "")


def test_write_back_stores_the_dialog_in_active_watchers_at_the_db_update_period(sip: Harness) -> None:
    bob = watcher(sip, "bob", 5011)
    dialog = subscribe(bob, ALICE)
    assert sip.tables["active_watchers"].rows() == []
    sip.advance(100)
    [row] = sip.tables["active_watchers"].rows()
    assert (
        row["callid"],
        row["from_tag"],
        row["to_tag"],
        row["contact"],
        row["local_cseq"],
        row["version"],
        row["status"],
        row["socket_info"],
        row["local_contact"],
        row["updated"],
        row["flags"],
    ) == (
        dialog.request.call_id,
        dialog.request.from_.tag,
        dialog.reply.msg.to.tag,
        bob.contact,
        1,
        1,
        1,
        "udp:127.0.0.1:5060",
        "sip:127.0.0.1:5060;transport=udp",
        -1,
        0,
    )


def test_subs_db_mode_1_writes_the_dialog_at_once() -> None:
    with load(presence={"subs_db_mode": 1}) as sip:
        subscribe(watcher(sip, "bob", 5011), ALICE)
        [row] = sip.tables["active_watchers"].rows()
        # the first NOTIFY's CSeq is not written through (Kamailio skips it for the SUBSCRIBE's own)
        assert (row["version"], row["local_cseq"]) == (1, 0)
        publish(sip, "alice", pidf(ALICE))
        assert (sip.tables["active_watchers"].rows()[0]["local_cseq"]) == 2


def test_subs_db_mode_0_keeps_the_dialogs_in_memory_only() -> None:
    with load(presence={"subs_db_mode": 0}) as sip:
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        sip.advance(100)
        assert sip.tables["active_watchers"].rows() == []
        publish(sip, "alice", pidf(ALICE))
        assert len(notifies(bob)) == 2


def test_subs_db_mode_3_works_on_the_table_only() -> None:
    with load(presence={"subs_db_mode": 3, "notifier_processes": 0}) as sip:
        bob = watcher(sip, "bob", 5011)
        dialog = subscribe(bob, ALICE)
        [row] = sip.tables["active_watchers"].rows()
        assert (row["callid"], row["local_cseq"], row["version"]) == (dialog.request.call_id, 0, 1)
        publish(sip, "alice", pidf(ALICE))
        assert [n.msg.header("cseq") for n in notifies(bob)] == ["1 NOTIFY", "2 NOTIFY"]
        assert (sip.tables["active_watchers"].rows()[0]["local_cseq"]) == 1


def test_subs_db_mode_3_with_notifier_processes_notifies_in_the_notifier_round() -> None:
    with load(presence={"subs_db_mode": 3, "notifier_processes": 1, "send_fast_notify": 0}) as sip:
        bob = watcher(sip, "bob", 5011)
        dialog = subscribe(bob, ALICE)
        assert dialog.status == 200 and notifies(bob) == []
        sip.advance(6)
        [notify] = notifies(bob)
        # the dialog's round (its hash among waitn_time x notifier_poll_rate) comes within 5 s
        assert re.fullmatch(r"active;expires=(59[5-9]|600)", notify.msg.header("subscription-state") or "")


def test_subs_respond_200_0_accepts_with_202() -> None:
    with load(presence={"subs_respond_200": 0}) as sip:
        dialog = subscribe(watcher(sip, "bob", 5011), ALICE)
        assert (dialog.status, dialog.reply.msg.reason) == (202, "OK")


def test_an_expires_below_min_expires_gets_423_with_min_expires() -> None:
    with load(presence={"min_expires": 300}) as sip:
        dialog = subscribe(watcher(sip, "bob", 5011), ALICE, expires=60)
        assert (dialog.status, dialog.reply.msg.reason) == (423, "Interval Too Brief")
        assert dialog.header("min-expires") == "300"


def test_min_expires_action_2_raises_the_expires_to_the_minimum() -> None:
    with load(presence={"min_expires": 300, "min_expires_action": 2}) as sip:
        dialog = subscribe(watcher(sip, "bob", 5011), ALICE, expires=60)
        assert (dialog.status, dialog.header("expires")) == (200, "300")


def test_an_expires_above_max_expires_is_cut() -> None:
    with load(presence={"max_expires": 1200}) as sip:
        assert subscribe(watcher(sip, "bob", 5011), ALICE, expires=7200).header("expires") == "1200"


def test_an_unknown_event_gets_489(sip: Harness) -> None:
    dialog = subscribe(watcher(sip, "bob", 5011), ALICE, event="message-summary")
    assert (dialog.status, dialog.reply.msg.reason) == (489, "Bad Event")
    assert b"\r\nAllow-Events: xcap-diff, presence.winfo, presence\r\n" in dialog.reply.data


def test_an_event_with_parameters_the_package_lacks_gets_489(sip: Harness) -> None:
    assert subscribe(watcher(sip, "bob", 5011), ALICE, event="presence;id=7").status == 489


def test_a_refresh_updates_the_expiry_and_gets_a_notify(sip: Harness) -> None:
    bob = watcher(sip, "bob", 5011)
    dialog = subscribe(bob, ALICE)
    reply = dialog.refresh(1200)
    assert (reply.msg.status, reply.msg.header("expires")) == (200, "1200")
    assert [n.msg.header("subscription-state") for n in notifies(bob)] == [
        "active;expires=600",
        "active;expires=1200",
    ]


def test_an_unsubscribe_ends_the_dialog_with_a_terminated_notify(sip: Harness) -> None:
    bob = watcher(sip, "bob", 5011)
    dialog = subscribe(bob, ALICE)
    reply = dialog.refresh(0)
    assert (reply.msg.status, reply.msg.header("expires")) == (200, "0")
    assert notifies(bob)[-1].msg.header("subscription-state") == "terminated;reason=timeout"
    publish(sip, "alice", pidf(ALICE))
    assert len(notifies(bob)) == 2


def test_a_refresh_of_an_unknown_dialog_gets_481(sip: Harness) -> None:
    bob = watcher(sip, "bob", 5011)
    result = bob.send_request(
        "SUBSCRIBE",
        "sip:127.0.0.1:5060",
        to=ALICE,
        to_tag="nope",
        headers={"Event": "presence", "Expires": "60"},
        contact=f"<{bob.contact}>",
    )
    assert (result.replies[-1].msg.status, result.replies[-1].msg.reason) == (
        481,
        "Subscription does not exist",
    )


def test_a_refresh_with_an_old_cseq_gets_400(sip: Harness) -> None:
    dialog = subscribe(watcher(sip, "bob", 5011), ALICE)
    dialog.cseq = 0
    assert dialog.refresh(300).msg.status == 400


def test_an_expired_subscription_gets_a_terminated_notify_without_body_from_the_timer() -> None:
    with load(presence={"db_update_period": 5}) as sip:
        publish(sip, "alice", pidf(ALICE))
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE, expires=10)
        sip.advance(20)
        last = notifies(bob)[-1]
        assert last.msg.header("subscription-state") == "terminated;reason=timeout"
        assert last.msg.header("cseq") == "3 NOTIFY" and last.msg.body == b""
        assert sip.tables["active_watchers"].rows() == []


def test_a_notify_answered_481_ends_the_subscription() -> None:
    with load() as sip:
        bob = watcher(sip, "bob", 5011, answer=481)
        subscribe(bob, ALICE)
        publish(sip, "alice", pidf(ALICE))
        assert len(notifies(bob)) == 1


def test_a_notify_that_times_out_ends_the_subscription_with_timeout_rm_subs() -> None:
    with load() as sip:
        bob = watcher(sip, "bob", 5011, answer=NEVER)
        subscribe(bob, ALICE)
        sip.advance(40)
        publish(sip, "alice", pidf(ALICE))
        assert len(notifies(bob)) == 1


def test_timeout_rm_subs_0_keeps_a_subscription_whose_notify_timed_out() -> None:
    with load(presence={"timeout_rm_subs": 0}) as sip:
        bob = watcher(sip, "bob", 5011, answer=NEVER)
        subscribe(bob, ALICE)
        sip.advance(40)
        publish(sip, "alice", pidf(ALICE))
        assert len(notifies(bob)) == 2


NOTIFY_REPLY_ROUTE = (
    'modparam("presence", "xavp_cfg", "pres")\n'
    "event_route[presence:notify-reply] {\n"
    '    xlog("L_NOTICE", "notify-reply $notify_reply($rs) $notify_reply($rr) to '
    "$subs(watcher_username)@$subs(watcher_domain) for $subs(uri) cseq $subs(local_cseq) on $rm $cs\\n\");\n"
    '    if ($notify_reply($rs) == 200 && $subs(watcher_username) == "carol") {\n'
    "        $xavp(pres=>delete_subscription) = 1;\n"
    "    }\n"
    "}\n"
)


def test_the_notify_reply_event_route_sees_the_reply_the_notify_and_the_subscription(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with load(CFG + NOTIFY_REPLY_ROUTE) as sip, caplog.at_level(logging.INFO):
        subscribe(watcher(sip, "bob", 5011), ALICE)
        messages = [r.getMessage() for r in caplog.records if "notify-reply" in r.getMessage()]
        assert len(messages) == 1
        assert messages[0].endswith(
            "notify-reply 200 OK to bob@127.0.0.1 for sip:alice@127.0.0.1 cseq 1 on NOTIFY 2"
        )


def test_a_notify_reply_route_that_sets_delete_subscription_ends_it() -> None:
    with load(CFG + NOTIFY_REPLY_ROUTE) as sip:
        bob, carol = watcher(sip, "bob", 5011), watcher(sip, "carol", 5012)
        subscribe(bob, ALICE)
        subscribe(carol, ALICE)
        publish(sip, "alice", pidf(ALICE))
        assert (len(notifies(bob)), len(notifies(carol))) == (2, 1)


def test_a_notify_that_times_out_reaches_the_route_as_a_408(caplog: pytest.LogCaptureFixture) -> None:
    with load(CFG + NOTIFY_REPLY_ROUTE) as sip, caplog.at_level(logging.INFO):
        subscribe(watcher(sip, "bob", 5011, answer=NEVER), ALICE)
        sip.advance(40)
        assert any("notify-reply 408 TIMEOUT to bob@127.0.0.1" in r.getMessage() for r in caplog.records)


def _logged(caplog: pytest.LogCaptureFixture, start: str) -> list[str]:
    return [m.split(": ", 1)[-1] for m in (r.getMessage() for r in caplog.records) if start in m]


def test_subs_after_handle_subscribe_shows_the_subscription(caplog: pytest.LogCaptureFixture) -> None:
    cfg = CFG.replace(
        "handle_subscribe();",
        'handle_subscribe(); xlog("L_NOTICE", "subs $subs(uri) '
        "$subs(event) $subs(expires) $subs(status) $subs(to_user) $subs(from_user) $subs(callid) "
        '$subs(sockinfo) $subs(local_cseq)\\n");',
    )
    with load(cfg) as sip, caplog.at_level(logging.INFO):
        dialog = subscribe(watcher(sip, "bob", 5011), ALICE)
        assert _logged(caplog, "subs ") == [
            f"subs {ALICE} presence 600 1 alice bob {dialog.request.call_id} udp:127.0.0.1:5060 0"
        ]


def test_pres_subs_mode_0_leaves_subs_null(caplog: pytest.LogCaptureFixture) -> None:
    cfg = CFG.replace("handle_subscribe();", 'handle_subscribe(); xlog("L_NOTICE", "subs=$subs(uri)\\n");')
    with load(cfg, presence={"pres_subs_mode": 0}) as sip, caplog.at_level(logging.INFO):
        subscribe(watcher(sip, "bob", 5011), ALICE)
        assert _logged(caplog, "subs=") == ["subs=<null>"]


def test_server_address_is_the_contact_of_replies_and_notifies() -> None:
    with load(presence={"server_address": "sip:presence.example.com"}) as sip:
        bob = watcher(sip, "bob", 5011)
        assert subscribe(bob, ALICE).header("contact") == "<sip:presence.example.com>"
        assert notifies(bob)[0].msg.header("contact") == "<sip:presence.example.com>"


def test_delete_same_subs_replaces_a_dialog_of_the_same_call_id() -> None:
    with load(presence={"delete_same_subs": 1}) as sip:
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE, call_id="same", from_tag="f1")
        subscribe(bob, ALICE, call_id="same", from_tag="f2")
        publish(sip, "alice", pidf(ALICE))
        assert [n.msg.to.tag for n in notifies(bob)] == ["f1", "f2", "f2"]


def test_the_notify_is_logged_at_local_log_level(caplog: pytest.LogCaptureFixture) -> None:
    with load(presence={"local_log_level": 1}) as sip, caplog.at_level(logging.DEBUG):
        dialog = subscribe(watcher(sip, "bob", 5011), ALICE)
        [record] = [r for r in caplog.records if r.getMessage().startswith("NOTIFY ")]
        assert record.getMessage() == (
            f"NOTIFY sip:bob@127.0.0.1 via sip:bob@127.0.0.11:5011 on behalf of "
            f"sip:alice@127.0.0.1 for event presence : {dialog.request.call_id}"
        )
        assert record.levelno == python_level(L_NOTICE)  # Kamailio's level 1


def test_subscriptions_in_active_watchers_are_restored_at_start(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/presence.sqlite"
    with load(db=url, presence={"subs_db_mode": 1}) as before_restart:
        subscribe(watcher(before_restart, "bob", 5011), ALICE)
    with load(db=url) as sip:
        bob = watcher(sip, "bob", 5011)
        publish(sip, "alice", pidf(ALICE))
        # the stored local CSeq is the one written through before the first NOTIFY (Kamailio's)
        assert [n.msg.header("cseq") for n in notifies(bob)] == ["2 NOTIFY"]
