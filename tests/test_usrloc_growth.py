"""usrloc's shared table grows: it starts at 2^(hash_size + 8) index entries and doubles when full, so
the bindings a server holds are not limited by a size chosen at start; the growth is logged and
counted (`usrloc:location_shm_grown`, created at the first growth), a change refused by a table that
cannot grow is counted in `usrloc:location_shm_full`."""
from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.queues

import pytest

from kampy.runtime.shared import SharedStore
from tests.reg_helpers import config, register, send, server

SMALL = '"hash_size", 2'  # 1024 entries at first: 716 keys, 358 AoRs of one contact


def _register_many(srv, count: int) -> list[bytes]:  # type: ignore[no-untyped-def]
    return [send(srv, register(user=f"u{n}", contact=f"<sip:u{n}@10.0.0.1>", callid=f"c{n}"))
            for n in range(count)]


def test_registrations_beyond_the_initial_size_all_fit(store: SharedStore) -> None:
    srv = server(config(usrloc=SMALL), shared=store)
    replies = _register_many(srv, 3000)
    assert all(r.startswith(b"SIP/2.0 200") for r in replies)
    ul = srv.core.modules["usrloc"]
    assert ul.domain("location").shared.count_aors() == 3000
    assert [c.contact for c in ul.contacts("u0")] == ["sip:u0@10.0.0.1"]
    assert [c.contact for c in ul.contacts("u2999")] == ["sip:u2999@10.0.0.1"]


def test_a_growth_is_logged_and_counted(store: SharedStore, caplog: pytest.LogCaptureFixture) -> None:
    srv = server(config(usrloc=SMALL), shared=store)
    with caplog.at_level(logging.WARNING, "kampy.shared"):
        _register_many(srv, 1000)
    assert srv.core.stats.get("usrloc:location_shm_grown") == 2  # 1024 -> 2048 -> 4096 entries
    assert "shared table" in caplog.text and "grew to 4096 entries" in caplog.text


def _other_worker(path: str, result: multiprocessing.queues.Queue) -> None:  # type: ignore[type-arg]
    """A second worker (a process of its own, as after the fork): what it sees, what it saves."""
    srv = server(config(usrloc=SMALL), shared=SharedStore(path), rank=2, workers=2)
    ul = srv.core.offered("usrloc")
    seen = [c.contact for c in ul.contacts("u999")]
    reply = send(srv, register(user="late", contact="<sip:late@10.0.0.2>", callid="l"))
    result.put((seen, reply[:14]))


def test_another_worker_sees_and_saves_bindings_after_a_growth(store: SharedStore) -> None:
    first = server(config(usrloc=SMALL), shared=store, rank=1, workers=2)
    _register_many(first, 1000)
    ctx = multiprocessing.get_context("fork")
    result = ctx.Queue()
    worker = ctx.Process(target=_other_worker, args=(str(store.path), result))
    worker.start()
    seen, reply = result.get(timeout=60)
    worker.join(10)
    assert seen == ["sip:u999@10.0.0.1"] and reply == b"SIP/2.0 200 OK"
    assert [c.contact for c in first.core.offered("usrloc").contacts("late")] == ["sip:late@10.0.0.2"]
    assert first.core.modules["usrloc"].domain("location").shared.count_aors() == 1001


def test_a_change_refused_by_a_full_table_is_counted(store: SharedStore) -> None:
    store.table("usrloc.location", capacity=16)  # made first, fixed: room for 11 keys
    srv = server(config(), shared=store)
    _register_many(srv, 6)
    assert srv.core.stats.get("usrloc:location_shm_full") == 1
