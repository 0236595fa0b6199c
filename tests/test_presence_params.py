"""presence's parameters not shown elsewhere, each by what it changes: cseq_offset (how far a
refresh's CSeq may lag), retrieve_order_by (the order documents are aggregated in),
subs_remove_match (how a subscription is found for removal), the table names."""

from __future__ import annotations

import re
from pathlib import Path

from kampy.api import SharedStore, Subscription
from modules.presence.shtable import SubsTable
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
