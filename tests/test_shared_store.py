"""The shared store (kampy.runtime.shared): its writers take turns, a failed transaction leaves
nothing behind, and the store of a server that was killed is removed by the next one."""
from __future__ import annotations

import fcntl
import logging
import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from kampy.runtime.shared import ALIVE_SUFFIX, SharedStore


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


def _orphan(directory: Path) -> Path:
    """A store created by a process that then dies without deleting it (as a SIGKILLed kampy)."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.SimpleQueue()

    def child() -> None:
        queue.put(str(SharedStore.create(directory).path))
        os._exit(0)

    process = ctx.Process(target=child)
    process.start()
    path = Path(queue.get())
    process.join(10)
    return path


def test_a_new_store_removes_the_store_of_a_server_that_died_at_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    dead = _orphan(tmp_path)  # just now: its owner is gone, so there is no reason to wait
    with caplog.at_level(logging.WARNING, "kampy.shared"):
        store = SharedStore.create(tmp_path)
    try:
        assert not dead.exists() and not Path(f"{dead}{ALIVE_SUFFIX}").exists()
        assert "a kampy server that is gone" in caplog.text
    finally:
        store.remove()


@pytest.mark.parametrize("closed", [False, True], ids=["open", "connection-closed"])
def test_the_store_of_a_live_server_is_never_removed(tmp_path: Path, closed: bool) -> None:
    live = SharedStore.create(tmp_path)
    if closed:
        live.close()  # as the supervisor does before it forks the workers
    other = SharedStore.create(tmp_path)
    try:
        assert live.path.exists()
    finally:
        other.remove()
        live.remove()


def test_a_stores_life_mark_is_held_from_the_moment_it_can_be_seen(tmp_path: Path) -> None:
    store = SharedStore.create(tmp_path)
    try:
        assert [p.name for p in tmp_path.glob("*.alive*")] == [f"{store.path.name}{ALIVE_SUFFIX}"]
        fd = os.open(f"{store.path}{ALIVE_SUFFIX}", os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    finally:
        store.remove()
