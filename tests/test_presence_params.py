"""presence's parameters not shown elsewhere, each by what it changes: cseq_offset (how far a
refresh's CSeq may lag), retrieve_order_by (the order documents are aggregated in),
subs_remove_match (how a subscription is found for removal), the table names of presence and
presence_xml."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from kampy.api import SharedStore, Subscription
from kampy.testing.db import Tables
from kampy.modules.presence.shtable import SubsTable
from tests.presence_helpers import DOMAIN, load, notifies, pidf, publish, subscribe, watcher

ALICE = f"sip:alice@{DOMAIN}"


def test_a_refresh_whose_cseq_lags_within_cseq_offset_is_accepted() -> None:
    with load(presence={"cseq_offset": 2}) as sip:
        dialog = subscribe(watcher(sip, "bob", 5011), ALICE)
        dialog.cseq = 0  # stored 1: 0 + 2 > 1
        assert dialog.refresh(300).msg.status == 200


def test_a_refresh_whose_cseq_lags_beyond_cseq_offset_gets_400() -> None:
    with load(presence={"cseq_offset": 1}) as sip:
        dialog = subscribe(watcher(sip, "bob", 5011), ALICE)
        dialog.cseq = -1  # stored 1: refresh sends 0, 0 + 1 <= 1
        assert dialog.refresh(300).msg.status == 400


def _aggregated_ids(**presence: object) -> list[str]:
    with load(presence={"retrieve_order": 1, **presence}) as sip:
        for tuple_id in ("first", "second", "third"):
            publish(sip, "alice", pidf(ALICE, "open", tuple_id))
            sip.advance(1)
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        return re.findall(r'<tuple[^>]* id="(\w+)"', notifies(bob)[0].msg.body.decode())


def test_retrieve_order_by_orders_the_documents_aggregated() -> None:
    # the last document read is the base, the others' tuples follow, the last read first
    assert _aggregated_ids(retrieve_order_by="received_time") == ["third", "second", "first"]
    assert _aggregated_ids(retrieve_order_by="received_time desc") == ["first", "second", "third"]


def _table(tmp_path: Path, remove_match: int) -> SubsTable:
    shared = SharedStore(tmp_path / "shared.db")
    return SubsTable(shared, 16, lambda name: None, lambda a, b: a == b, remove_match, 0)


def _stored(table: SubsTable, callid: str) -> Subscription:
    subs = Subscription(pres_uri=ALICE, callid=callid, to_tag="tt", from_tag="ft", local_cseq=4, expires=600)
    table.insert(subs, "presence", 0)
    return subs


def test_subs_remove_match_0_removes_the_subscription_of_the_to_tag(tmp_path: Path) -> None:
    table = _table(tmp_path, 0)
    _stored(table, "c1")
    assert table.delete(ALICE, "presence", "tt", "other", "other") == 5
    assert table.search("c1", "tt", "ft") is None


def test_subs_remove_match_1_removes_only_the_subscription_of_all_three_dialog_ids(tmp_path: Path) -> None:
    table = _table(tmp_path, 1)
    _stored(table, "c1")
    assert table.delete(ALICE, "presence", "tt", "other", "other") == -1
    assert table.delete(ALICE, "presence", "tt", "ft", "c1") == 5
    assert table.search("c1", "tt", "ft") is None


RENAMED = {
    "presentity": "my_presentity",
    "active_watchers": "my_active_watchers",
    "watchers": "my_watchers",
    "xcap": "my_xcap",
}


def _renamed_tables(tmp_path: Path) -> str:
    """An SQLite database with Kamailio's tables and copies of presence's under other names (with
    their version rows, as kamdbctl would make them)."""
    path = tmp_path / "renamed.sqlite"
    url = f"sqlite://{path}"
    Tables.create(url)
    with sqlite3.connect(path) as conn:
        for table, renamed in RENAMED.items():
            (schema,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
            conn.execute(schema.replace(table, renamed, 1))
            (version,) = conn.execute(
                "SELECT table_version FROM version WHERE table_name = ?", (table,)
            ).fetchone()
            conn.execute("INSERT INTO version (table_name, table_version) VALUES (?, ?)", (renamed, version))
    return url


def test_the_table_parameters_name_the_tables_presence_and_presence_xml_use(tmp_path: Path) -> None:
    presence = {
        "presentity_table": "my_presentity",
        "active_watchers_table": "my_active_watchers",
        "watchers_table": "my_watchers",
        "subs_db_mode": 1,
    }
    presence_xml = {"xcap_table": "my_xcap", "force_active": 0, "integrated_xcap_server": 1}
    with load(db=_renamed_tables(tmp_path), presence=presence, presence_xml=presence_xml) as sip:
        sip.tables["my_xcap"].insert(
            {
                "username": "alice",
                "domain": DOMAIN,
                "doc": ALLOW_BOB,
                "doc_type": 2,
                "etag": "e1",
                "source": 1,
                "doc_uri": "/pres-rules/users/sip:alice@127.0.0.1/index",
                "port": 0,
            }
        )
        publish(sip, "alice", pidf(ALICE))
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        assert notifies(bob)[0].msg.header("subscription-state") == "active;expires=600"
        for table, renamed in RENAMED.items():
            assert sip.tables[table].rows() == [], table
            if table != "xcap":
                assert len(sip.tables[renamed].rows(columns=["id"])) == 1, renamed


ALLOW_BOB = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<cr:ruleset xmlns="urn:ietf:params:xml:ns:pres-rules" '
    b'xmlns:pr="urn:ietf:params:xml:ns:pres-rules" xmlns:cr="urn:ietf:params:xml:ns:common-policy">\n'
    b'  <cr:rule id="r1"><cr:conditions><cr:identity><cr:one id="sip:bob@127.0.0.1"/></cr:identity>'
    b"</cr:conditions><cr:actions><pr:sub-handling>allow</pr:sub-handling></cr:actions></cr:rule>\n"
    b"</cr:ruleset>\n"
)


def test_the_notifier_round_comes_every_1_over_notifier_poll_rate_within_waitn_time() -> None:
    notifier = {"subs_db_mode": 3, "notifier_processes": 1, "send_fast_notify": 0, "waitn_time": 1}
    with load(presence={**notifier, "notifier_poll_rate": 4}) as sip:
        started = sip.clock.time()
        bob = watcher(sip, "bob", 5011)
        subscribe(bob, ALICE)
        sip.advance(1.0)
        [notify] = notifies(bob)
        ticks = (notify.time - started) * 4
        assert 0 < notify.time - started <= 1.0 and abs(ticks - round(ticks)) < 1e-6
