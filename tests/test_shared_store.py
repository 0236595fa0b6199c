"""The shared store's SQLite database (kampy.runtime.shared): its writers take turns, and a failed
transaction leaves nothing behind."""
from __future__ import annotations

import threading

import pytest

from kampy.runtime.shared import SharedStore


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
