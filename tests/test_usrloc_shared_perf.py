"""Guards for the cost of usrloc in shared memory: a lookup reads one record however many bindings
there are, save() commits once and writes each thing once, the expiry timer reads only the records
that hold an expired contact (no timing: what reaches the shared table is counted)."""
from __future__ import annotations

import logging

import pytest

from kampy.runtime.shared import SharedStore
from kampy.runtime.shmtable import ShmTable
from kampy.modules.usrloc.storage import SharedStorage
from kampy.modules.usrloc.ucontact import UContact
from tests.reg_helpers import NOW, FakeClock, config, register, send, server

BINDINGS = 10_000


@pytest.fixture
def filled(store: SharedStore) -> SharedStorage:
    storage = SharedStorage(store, "location")
    with storage.lock():
        for i in range(BINDINGS):
            storage.insert(UContact(aor=f"u{i}", contact=f"sip:u{i}@10.0.0.1", ruid=f"uloc-{i}",
                                    expires=NOW + i % 100))
    return storage


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> list[list[bytes]]:
    """The keys each commit of any shared table writes (or deletes), in order."""
    seen: list[list[bytes]] = []
    original = ShmTable._commit

    def spy(self: ShmTable) -> None:
        if self._writes:
            seen.append(list(self._writes))
        original(self)

    monkeypatch.setattr(ShmTable, "_commit", spy)
    return seen


def test_lookup_among_many_bindings_finds_the_one(filled: SharedStorage) -> None:
    [c] = filled.contacts("u1234")
    assert c.contact == "sip:u1234@10.0.0.1" and c.ruid == "uloc-1234"
    assert filled.count_contacts() == filled.count_aors() == BINDINGS


def test_a_contact_is_found_by_its_ruid_among_many(filled: SharedStorage) -> None:
    found = filled.by_ruid("uloc-4321")
    assert found is not None and found.aor == "u4321"


def test_save_of_a_new_aor_commits_once_writing_its_record_and_two_ruids(store: SharedStore,
                                                                         commits: list[list[bytes]]) -> None:
    srv = server(config(), shared=store)
    reply = send(srv, register(contact="<sip:alice@10.0.0.1:5070>, <sip:alice@10.0.0.2:5070>"))
    assert reply.startswith(b"SIP/2.0 200 OK")
    assert reply.count(b";expires=3600") == 2
    [keys] = commits
    assert sorted(k[:1] for k in keys) == [b"A", b"R", b"R"]
    assert b"Aalice" in keys


def test_expiry_reads_only_the_records_holding_an_expired_contact_one_lock_each(
        store: SharedStore, commits: list[list[bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    srv = server(config(usrloc='"timer_interval", 10'), clock, shared=store)
    storage = srv.core.modules["usrloc"].domain("location").shared
    with storage.lock():
        for i in range(BINDINGS):
            storage.insert(UContact(aor=f"u{i}", contact=f"sip:u{i}@10.0.0.1", ruid=f"uloc-{i}",
                                    expires=NOW + 5 if i % 2 else NOW + 3600))
    commits.clear()
    listed: list[int] = []
    original = ShmTable.keys

    def spy(self: ShmTable, **kw):  # type: ignore[no-untyped-def]
        found = original(self, **kw)
        listed.append(len(found))
        return found

    monkeypatch.setattr(ShmTable, "keys", spy)
    clock.advance(11)
    srv.run_timers()
    assert storage.count_contacts() == BINDINGS // 2
    assert srv.core.stats.get("usrloc:location_expires") == BINDINGS // 2
    assert listed == [BINDINGS // 2]
    # a transaction per record: a save in another worker never waits for the whole expiry
    assert len(commits) == BINDINGS // 2
    assert all(sorted(k[:1] for k in keys) == [b"A", b"R"] for keys in commits)


def test_a_save_that_does_not_fit_in_shared_memory_answers_500_and_changes_nothing(
        store: SharedStore, caplog: pytest.LogCaptureFixture) -> None:
    store.table("usrloc.location", capacity=16)  # room for 11 keys: an AoR and a ruid per user
    srv = server(config(), shared=store)
    for n in range(5):
        assert send(srv, register(user=f"u{n}", contact=f"<sip:u{n}@10.0.0.1>")).startswith(b"SIP/2.0 200")
    with caplog.at_level(logging.ERROR, "kampy.usrloc"):
        reply = send(srv, register(user="u5", contact="<sip:u5@10.0.0.1>"))
    assert reply.startswith(b"SIP/2.0 500")
    assert "out of shared memory" in caplog.text
    ul = srv.core.modules["usrloc"]
    assert ul.contacts("u5") == [] and ul.domain("location").shared.count_aors() == 5
    refresh = send(srv, register(user="u0", contact="<sip:u0@10.0.0.1>", expires=60, cseq=2))
    assert refresh.startswith(b"SIP/2.0 200")  # a binding already there still updates
