"""presence's handle_publish() (RFC 3903), in-process: the presentity row, the 200 with Expires and
SIP-ETag, refreshes and removals by entity tag, the errors Kamailio answers, the NOTIFYs the watchers
get, and the publication cache modes."""

from __future__ import annotations

import re

import pytest

from kampy.testing import Harness
from tests.presence_helpers import DOMAIN, load, notifies, pidf, publish, subscribe, watcher

ALICE = f"sip:alice@{DOMAIN}"


@pytest.fixture
def sip() -> Harness:
    with load() as harness:
        yield harness


def test_a_publish_is_stored_and_answered_with_expires_and_an_entity_tag(sip: Harness) -> None:
    reply = publish(sip, "alice", pidf(ALICE))
    assert reply.msg.status == 200
    assert reply.msg.header("expires") == "3600"
    etag = reply.msg.header("sip-etag")
    assert re.fullmatch(r"a\.\d+\.\d+\.1\.0", etag or "")
    [row] = sip.tables["presentity"].rows()
    assert (row["username"], row["domain"], row["event"], row["etag"], row["sender"], row["priority"]) == (
        "alice",
        DOMAIN,
        "presence",
        etag,
        "",
        0,
    )
    assert row["body"] == pidf(ALICE).encode()
    assert row["expires"] == row["received_time"] + 3600 and row["ruid"].startswith("pres-")


def test_a_refresh_without_body_keeps_the_document_and_counts_the_tag_up(sip: Harness) -> None:
    etag = publish(sip, "alice", pidf(ALICE)).msg.header("sip-etag")
    sip.advance(10)
    reply = publish(sip, "alice", None, expires=600, etag=etag)
    assert reply.msg.status == 200 and reply.msg.header("expires") == "600"
    new = reply.msg.header("sip-etag")
    assert new is not None and new.endswith(".1") and new != etag
    [row] = sip.tables["presentity"].rows()
    assert row["etag"] == new and row["body"] == pidf(ALICE).encode()
    assert row["expires"] == row["received_time"] + 600


def test_an_unknown_entity_tag_gets_412(sip: Harness) -> None:
    reply = publish(sip, "alice", None, etag="a.1.2.3.4")
    assert (reply.msg.status, reply.msg.reason) == (412, "Conditional request failed")


def test_a_publish_without_body_or_entity_tag_gets_400_invalid_request(sip: Harness) -> None:
    reply = publish(sip, "alice", None)
    assert (reply.msg.status, reply.msg.reason) == (400, "Invalid request")


def test_an_unsupported_event_gets_489_with_the_events_allowed(sip: Harness) -> None:
    reply = publish(sip, "alice", pidf(ALICE), event="message-summary")
    assert (reply.msg.status, reply.msg.reason) == (489, "Bad Event")
    assert b"\r\nAllow-Events: xcap-diff, presence.winfo, presence\r\n" in reply.data


def test_a_body_that_is_not_xml_gets_415(sip: Harness) -> None:
    reply = publish(sip, "alice", "<presence><tuple>")
    assert (reply.msg.status, reply.msg.reason) == (415, "Unsupported media type")
    assert sip.tables["presentity"].rows() == []


def test_expires_above_max_expires_is_cut_and_expires_offset_is_taken_off_the_reply() -> None:
    with load(presence={"max_expires": 1200, "expires_offset": 10}) as sip:
        reply = publish(sip, "alice", pidf(ALICE), expires=7200)
        assert reply.msg.header("expires") == "1190"
        [row] = sip.tables["presentity"].rows()
        assert row["expires"] - row["received_time"] == 1200


def test_a_publish_with_expires_zero_withdraws_the_document_and_shows_it_closed(sip: Harness) -> None:
    etag = publish(sip, "alice", pidf(ALICE, tuple_id="phone")).msg.header("sip-etag")
    bob = watcher(sip, "bob", 5011)
    assert subscribe(bob, ALICE).status == 200
    reply = publish(sip, "alice", None, expires=0, etag=etag)
    assert (reply.msg.status, reply.msg.header("expires")) == (200, "0")
    assert sip.tables["presentity"].rows() == []
    last = notifies(bob)[-1]
    assert last.msg.body.decode() == (
        '<?xml version="1.0"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@127.0.0.1">\n'
        '  <tuple xmlns="urn:ietf:params:xml:ns:pidf" id="phone">\n'
        '    <status xmlns="urn:ietf:params:xml:ns:pidf">\n      <basic>closed</basic>\n    </status>\n'
        "  </tuple>\n</presence>\n"
    )


def test_the_watchers_get_the_publications_of_two_devices_aggregated(sip: Harness) -> None:
    bob = watcher(sip, "bob", 5011)
    assert subscribe(bob, ALICE).status == 200
    publish(sip, "alice", pidf(ALICE, "open", "phone"))
    sip.advance(1)
    publish(sip, "alice", pidf(ALICE, "closed", "laptop"))
    body = notifies(bob)[-1].msg.body.decode()
    assert body == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@127.0.0.1">\n'
        '  <tuple id="laptop">\n    <status>\n      <basic>closed</basic>\n    </status>\n  </tuple>\n'
        '\n  <tuple xmlns="urn:ietf:params:xml:ns:pidf" id="phone">\n'
        "    <status>\n      <basic>open</basic>\n    </status>\n  </tuple>\n</presence>\n"
    )


def test_expired_publications_are_withdrawn_by_the_clean_timer() -> None:
    with load(presence={"clean_period": 5}) as sip:
        publish(sip, "alice", pidf(ALICE), expires=10)
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        before = len(notifies(bob))
        sip.advance(16)
        assert sip.tables["presentity"].rows() == []
        withdrawn = notifies(bob)[before:]
        assert [n.msg.header("subscription-state") for n in withdrawn] == ["active;expires=585"]
        assert withdrawn[0].msg.body == b""  # startup_mode 1: an expired document is no document


def test_force_delete_removes_expired_publications_without_notifying() -> None:
    with load(presence={"clean_period": 5, "force_delete": 1}) as sip:
        publish(sip, "alice", pidf(ALICE), expires=10)
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        before = len(notifies(bob))
        sip.advance(16)
        assert sip.tables["presentity"].rows() == [] and len(notifies(bob)) == before


def test_publ_cache_2_keeps_publications_in_memory_only_and_lists_them_over_rpc() -> None:
    with load(presence={"publ_cache": 2}) as sip:
        etag = publish(sip, "alice", pidf(ALICE)).msg.header("sip-etag")
        assert sip.tables["presentity"].rows() == []
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        assert "<basic>open</basic>" in notifies(bob)[0].msg.body.decode()
        [item] = sip.core.rpc.call("presence.presentity_list")
        assert (item["user"], item["domain"], item["event"], item["etag"], item["sender"]) == (
            "alice",
            DOMAIN,
            "presence",
            etag,
            "",
        )
        [full] = sip.core.rpc.call("presence.presentity_list", ["full"])
        assert full["body"] == pidf(ALICE) and full["ruid"].startswith("pres-")


def test_publ_cache_0_reads_the_table_every_time() -> None:
    with load(presence={"publ_cache": 0}) as sip:
        sip.tables["presentity"].insert(
            {
                "username": "alice",
                "domain": DOMAIN,
                "event": "presence",
                "etag": "x.1",
                "expires": 2_000_000_000,
                "received_time": 1,
                "body": pidf(ALICE).encode(),
                "sender": "",
                "priority": 0,
                "ruid": "r1",
            }
        )
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        assert "<basic>open</basic>" in notifies(bob)[0].msg.body.decode()


def test_handle_publish_with_a_sender_uri_does_not_notify_that_watcher() -> None:
    cfg = load.__defaults__[0].replace("handle_publish();", 'handle_publish("sip:bob@127.0.0.11:5011");')
    with load(cfg) as sip:
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        before = len(notifies(bob))
        publish(sip, "alice", pidf(ALICE))
        assert len(notifies(bob)) == before
        assert sip.tables["presentity"].rows()[0]["sender"] == "sip:bob@127.0.0.11:5011"


def test_fetch_rows_reads_the_expired_publications_a_few_at_a_time() -> None:
    with load(presence={"clean_period": 5, "fetch_rows": 1}) as sip:
        for user in ("alice", "bob", "carol"):
            publish(sip, user, pidf(f"sip:{user}@{DOMAIN}"), expires=2)
        sip.advance(6)
        assert sip.tables["presentity"].rows() == []
