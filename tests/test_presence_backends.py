"""presence's tables on both backends kampy speaks, SQLite and the real MariaDB the suite starts: a
publication stored, refreshed and withdrawn; subscriptions written through and in DB-only mode (with
db_table_lock_type 1, which makes a change exclusive among kampy's workers without MySQL's LOCK
TABLES); the watchers table."""

from __future__ import annotations

import pytest

from tests.presence_helpers import DOMAIN, load, notifies, pidf, publish, subscribe, watcher

ALICE = f"sip:alice@{DOMAIN}"


@pytest.fixture(params=["sqlite", "mysql"])
def backend(request: pytest.FixtureRequest) -> str:
    """What Harness.load takes as `db`: its SQLite template, or a fresh MariaDB database."""
    if request.param == "sqlite":
        return "sqlite"
    return request.getfixturevalue("mysql_url")


def test_a_publication_is_stored_refreshed_and_withdrawn(backend: str) -> None:
    with load(db=backend) as sip:
        etag = publish(sip, "alice", pidf(ALICE)).msg.header("sip-etag")
        [row] = sip.tables["presentity"].rows()
        assert (row["etag"], bytes(row["body"])) == (etag, pidf(ALICE).encode())
        sip.advance(5)
        refreshed = publish(sip, "alice", pidf(ALICE, "closed"), etag=etag).msg.header("sip-etag")
        [row] = sip.tables["presentity"].rows()
        assert row["etag"] == refreshed != etag and b"<basic>closed</basic>" in bytes(row["body"])
        assert publish(sip, "alice", None, expires=0, etag=refreshed).msg.status == 200
        assert sip.tables["presentity"].rows() == []


def test_a_subscription_written_through_is_in_active_watchers_and_watchers(backend: str) -> None:
    with load(db=backend, presence={"subs_db_mode": 1}) as sip:
        dialog = subscribe(watcher(sip, "bob", 5011), ALICE)
        [row] = sip.tables["active_watchers"].rows()
        assert (row["presentity_uri"], row["callid"], row["to_tag"], row["status"]) == (
            ALICE,
            dialog.request.call_id,
            dialog.reply.msg.to.tag,
            1,
        )
        [watcher_row] = sip.tables["watchers"].rows()
        assert (watcher_row["watcher_username"], watcher_row["status"]) == ("bob", 1)
        assert dialog.refresh(0).msg.status == 200
        assert sip.tables["active_watchers"].rows() == []


def test_db_only_mode_notifies_publications_with_the_table_lock(backend: str) -> None:
    presence = {"subs_db_mode": 3, "notifier_processes": 0, "db_table_lock_type": 1}
    with load(db=backend, presence=presence) as sip:
        bob = watcher(sip, "bob", 5011)
        dialog = subscribe(bob, ALICE)
        assert publish(sip, "alice", pidf(ALICE)).msg.status == 200
        assert dialog.refresh(300).msg.status == 200
        assert [n.msg.header("cseq") for n in notifies(bob)] == ["1 NOTIFY", "2 NOTIFY", "3 NOTIFY"]
        [row] = sip.tables["active_watchers"].rows()
        assert row["local_cseq"] == 2
