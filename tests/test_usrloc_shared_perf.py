"""Guards for the cost of usrloc in the shared store: its statements use indexes however many
bindings there are, save() does not read back what it just wrote, the expiry is one statement,
and the shared store's writers take turns (no statement, no timing)."""
from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from kampy.runtime.shared import SharedStore
from modules.usrloc.storage import _BY_AOR, _BY_RUID, _EXPIRED, SharedStorage
from modules.usrloc.ucontact import UContact
from tests.reg_helpers import NOW, FakeClock, config, register, send, server

BINDINGS = 10_000


@pytest.fixture
def store() -> Iterator[SharedStore]:
    s = SharedStore.create()
    try:
        yield s
    finally:
        s.remove()


@pytest.fixture
def filled(store: SharedStore) -> SharedStorage:
    storage = SharedStorage(store, "location")
    with storage.lock():
        for i in range(BINDINGS):
            storage.insert(UContact(aor=f"u{i}", contact=f"sip:u{i}@10.0.0.1", ruid=f"uloc-{i}",
                                    expires=NOW + i % 100))
    return storage


def plan(store: SharedStore, sql: str, params: tuple) -> str:
    return " | ".join(str(row[-1]) for row in store.query("EXPLAIN QUERY PLAN " + sql, params))


@pytest.mark.parametrize(("sql", "params", "index"), [
    (_BY_AOR, ("location", "u5000"), "usrloc_contact_aor"),
    (_BY_RUID, ("location", "uloc-5000"), "sqlite_autoindex_usrloc_contact"),
    (_EXPIRED, ("location", NOW), "usrloc_contact_expires"),
    ("DELETE FROM usrloc_contact WHERE domain = ? AND expires != 0 AND expires <= ?", ("location", NOW),
     "usrloc_contact_expires"),
], ids=["lookup-by-aor", "by-ruid", "expired", "delete-expired"])
def test_statements_use_an_index_with_many_bindings(filled: SharedStorage, sql: str, params: tuple,
                                                     index: str) -> None:
    text = plan(filled.store, sql, params)
    assert index in text, text
    assert "SCAN usrloc_contact" not in text.replace(f"SCAN usrloc_contact USING INDEX {index}", ""), text
    assert filled.count_contacts() == BINDINGS


def test_lookup_among_many_bindings_finds_the_one(filled: SharedStorage) -> None:
    [c] = filled.contacts("u1234")
    assert c.contact == "sip:u1234@10.0.0.1" and c.ruid == "uloc-1234"


def test_expiry_removes_every_expired_binding_in_one_statement(store: SharedStore) -> None:
    clock = FakeClock()
    srv = server(config(usrloc='"timer_interval", 10'), clock, shared=store)
    storage = srv.core.api("usrloc").domain("location").shared
    with storage.lock():
        for i in range(BINDINGS):
            storage.insert(UContact(aor=f"u{i}", contact=f"sip:u{i}@10.0.0.1", ruid=f"uloc-{i}",
                                    expires=NOW + 5 if i % 2 else NOW + 3600))
    statements: list[str] = []
    clock.advance(11)
    store.trace(statements.append)
    srv.run_timers()
    store.trace(None)
    assert storage.count_contacts() == BINDINGS // 2
    assert srv.core.stats.get("usrloc:location-expires") == BINDINGS // 2
    assert len([s for s in statements if "usrloc_contact" in s]) == 1, statements


def test_save_of_a_new_aor_reads_it_once_and_writes_it_once(store: SharedStore) -> None:
    srv = server(config(), shared=store)
    statements: list[str] = []
    store.trace(statements.append)
    reply = send(srv, register(contact="<sip:alice@10.0.0.1:5070>, <sip:alice@10.0.0.2:5070>"))
    store.trace(None)
    assert reply.startswith(b"SIP/2.0 200 OK")
    assert reply.count(b";expires=3600") == 2
    usrloc = [s.split()[0] for s in statements if "usrloc_contact" in s]
    assert usrloc == ["SELECT", "INSERT", "INSERT"], statements
    assert [s.split()[0] for s in statements].count("BEGIN") == 1


def test_a_writer_waits_for_another_workers_transaction(store: SharedStore) -> None:
    store.execute("CREATE TABLE t (x INTEGER)")
    other = store.reopen()
    done = threading.Event()

    def write() -> None:
        other.execute("INSERT INTO t VALUES (2)")
        done.set()

    try:
        with store.transaction():
            store.execute("INSERT INTO t VALUES (1)")
            writer = threading.Thread(target=write)
            writer.start()
            assert not done.wait(0.2)  # blocked on the writers' lock, not failed
            assert other.query("SELECT x FROM t") == []  # uncommitted: invisible to other workers
        writer.join(10)
        assert done.is_set()
        assert sorted(other.query("SELECT x FROM t")) == [(1,), (2,)]
    finally:
        other.close()


def test_a_failed_transaction_is_rolled_back_and_releases_the_lock(store: SharedStore) -> None:
    store.execute("CREATE TABLE t (x INTEGER)")
    with pytest.raises(RuntimeError), store.transaction():
        store.execute("INSERT INTO t VALUES (1)")
        raise RuntimeError("boom")
    other = store.reopen()
    try:
        other.execute("INSERT INTO t VALUES (2)")
        assert other.query("SELECT x FROM t") == [(2,)]
    finally:
        other.close()
