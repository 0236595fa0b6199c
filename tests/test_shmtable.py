"""The shared-memory key-value table (kampy.runtime.shmtable): what every worker of a server sees
at once, written in transactions, read without a lock."""
from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.runtime.shared import AREA_INFIX, SharedStore
from kampy.runtime.shmlayout import SEQ_AT, U64, TableFull, Torn, key_hash
from kampy.runtime.shmtable import ShmTable


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "table"


@pytest.fixture
def table(path: Path) -> Iterator[ShmTable]:
    t = ShmTable(path, capacity=1024)
    try:
        yield t
    finally:
        t.close()


def test_a_value_put_is_read_back_with_its_extra_and_flags(table: ShmTable) -> None:
    table.put(b"alice", b"sip:alice@10.0.0.1", extra=42, flags=1)
    assert table.get(b"alice") == (b"sip:alice@10.0.0.1", 42, 1)


def test_a_key_never_put_reads_as_none(table: ShmTable) -> None:
    table.put(b"alice", b"x")
    assert table.get(b"bob") is None


def test_another_opener_of_the_file_sees_a_committed_write(path: Path, table: ShmTable) -> None:
    other = ShmTable(path)
    try:
        table.put(b"alice", b"one")
        assert other.get(b"alice") == (b"one", 0, 0)
        other.put(b"alice", b"two")
        assert table.get(b"alice") == (b"two", 0, 0)
    finally:
        other.close()


def test_writes_in_a_transaction_are_seen_by_others_only_when_it_ends(path: Path, table: ShmTable) -> None:
    other = ShmTable(path)
    try:
        with table.transaction():
            table.put(b"alice", b"one")
            assert table.get(b"alice") == (b"one", 0, 0)  # its own writes
            assert other.get(b"alice") is None
        assert other.get(b"alice") == (b"one", 0, 0)
    finally:
        other.close()


def test_a_transaction_that_raises_leaves_nothing_behind(table: ShmTable) -> None:
    table.put(b"alice", b"one")
    with pytest.raises(RuntimeError), table.transaction():
        table.put(b"alice", b"two")
        table.put(b"bob", b"one")
        table.add(0, 5)
        raise RuntimeError("boom")
    assert table.get(b"alice") == (b"one", 0, 0)
    assert table.get(b"bob") is None
    assert table.counter(0) == 0


def test_a_deleted_key_is_gone_and_can_come_back(table: ShmTable) -> None:
    table.put(b"alice", b"one")
    table.delete(b"alice")
    assert table.get(b"alice") is None
    assert len(table) == 0
    table.put(b"alice", b"two")
    assert table.get(b"alice") == (b"two", 0, 0)


def test_counters_add_up_across_openers(path: Path, table: ShmTable) -> None:
    other = ShmTable(path)
    try:
        table.add(1, 3)
        other.add(1, -1)
        assert table.counter(1) == other.counter(1) == 2
    finally:
        other.close()


def test_many_inserts_and_deletes_keep_every_live_key_findable(path: Path) -> None:
    table = ShmTable(path, capacity=64)  # tombstones pile up and force rebuilds of the index
    try:
        live: dict[bytes, bytes] = {}
        for n in range(2000):
            key = f"k{n % 40}".encode()
            if key in live and n % 3 == 0:
                table.delete(key)
                del live[key]
            else:
                table.put(key, f"v{n}".encode())
                live[key] = f"v{n}".encode()
        assert len(table) == len(live)
        for key, value in live.items():
            assert table.get(key) == (value, 0, 0)
    finally:
        table.close()


def test_a_full_index_refuses_the_whole_write(path: Path) -> None:
    table = ShmTable(path, capacity=16)  # room for 11 keys
    try:
        for n in range(11):
            table.put(f"k{n}".encode(), b"v")
        with pytest.raises(TableFull):
            with table.transaction():
                table.put(b"k0", b"changed")
                table.put(b"new", b"v")
        assert table.get(b"k0") == (b"v", 0, 0)
        assert table.get(b"new") is None
        table.put(b"k0", b"changed")  # an update needs no new entry
        assert table.get(b"k0") == (b"changed", 0, 0)
    finally:
        table.close()


def test_a_full_heap_refuses_the_whole_write_and_frees_what_it_took(path: Path) -> None:
    table = ShmTable(path, capacity=64, heap_size=4096)
    try:
        table.put(b"a", b"x" * 1000)
        used = table.heap_used()
        with pytest.raises(TableFull):
            with table.transaction():
                table.put(b"b", b"y" * 1000)
                table.put(b"c", b"z" * 3000)
        assert table.get(b"b") is None and table.get(b"c") is None
        table.put(b"b", b"y" * 1000)  # the block the failed write took is free again
        assert table.heap_used() == used + 1024
    finally:
        table.close()


def test_rewriting_a_value_of_the_same_size_reuses_its_memory(table: ShmTable) -> None:
    table.put(b"alice", b"x" * 300)
    used = table.heap_used()
    for n in range(1000):
        table.put(b"alice", bytes([n % 256]) * 300)
    assert table.heap_used() == used + 512  # the old and the new block take turns


def test_items_are_picked_by_prefix_extra_and_flags(table: ShmTable) -> None:
    table.put(b"Aalice", b"1", extra=10, flags=1)
    table.put(b"Abob", b"2", extra=20)
    table.put(b"Rx", b"3", extra=5)
    assert sorted(i.key for i in table.items(prefix=b"A")) == [b"Aalice", b"Abob"]
    assert [i.key for i in table.items(prefix=b"A", extra_at_most=15)] == [b"Aalice"]
    assert [i.value for i in table.items(flags_any=1)] == [b"1"]


def test_a_commit_a_dead_writer_left_half_done_is_noticed_and_the_table_goes_on(
        table: ShmTable, caplog: pytest.LogCaptureFixture) -> None:
    table.put(b"alice", b"one")
    seq = U64.unpack_from(table._map, SEQ_AT)[0]
    U64.pack_into(table._map, SEQ_AT, seq + 1)  # odd: as if a writer died while committing
    with caplog.at_level(logging.ERROR, "kampy.shared"):
        assert table.get(b"alice") == (b"one", 0, 0)  # readers give up waiting and take the lock
        table.put(b"bob", b"two")
    assert "died while committing" in caplog.text
    assert table.get(b"bob") == (b"two", 0, 0)


def _writer(path: str, worker: int, rounds: int) -> None:
    table = ShmTable(path)
    for n in range(rounds):
        token = f"<{worker}.{n}>".encode()
        with table.transaction():
            table.put(f"key{n % 7}".encode(), token * (1 + n % 50))  # sizes change: blocks move
            table.add(0, 1)
    table.close()


def test_readers_never_see_a_torn_value_while_other_processes_write(path: Path) -> None:
    table = ShmTable(path)
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_writer, args=(str(path), w, 3000)) for w in range(2)]
    for w in writers:
        w.start()
    reads = 0
    try:
        while any(w.is_alive() for w in writers) or reads < 1000:
            found = table.get(f"key{reads % 7}".encode())
            reads += 1
            if found is None:
                continue
            value = found[0]
            token = value[:value.index(b">") + 1]
            assert value == token * (len(value) // len(token)), value[:200]
    finally:
        for w in writers:
            w.join(30)
    assert [w.exitcode for w in writers] == [0, 0]
    assert table.counter(0) == 6000
    table.close()


def test_the_shared_store_removes_its_tables_with_itself() -> None:
    store = SharedStore.create()
    table = store.table("usrloc.location")
    table.put(b"alice", b"one")
    path = table.path
    assert path.name.endswith(f"{AREA_INFIX}usrloc.location") and path.exists()
    worker = store.reopen()
    assert worker.table("usrloc.location").get(b"alice") == (b"one", 0, 0)
    worker.close()
    store.remove()
    assert not path.exists()
    assert not os.path.exists(store.path)


def test_a_table_name_cannot_leave_the_store_directory() -> None:
    store = SharedStore.create()
    try:
        with pytest.raises(ValueError):
            store.table("../escape")
    finally:
        store.remove()


def _increments(table: ShmTable, key: bytes, times: int) -> None:
    for _ in range(times):
        with table.transaction():
            found = table.get(key)
            table.put(key, str(int(found[0]) + 1 if found else 1).encode())


def test_a_fork_using_its_parents_table_still_takes_turns_with_the_parent(path: Path) -> None:
    table = ShmTable(path)
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_increments, args=(table, b"n", 3000))
    child.start()
    _increments(table, b"n", 3000)
    child.join(30)
    assert child.exitcode == 0
    assert table.get(b"n") == (b"6000", 0, 0)  # no read-modify-write was lost
    table.close()


def test_each_table_hashes_with_a_secret_of_its_own(tmp_path: Path) -> None:
    one, two = ShmTable(tmp_path / "one"), ShmTable(tmp_path / "two")
    again = ShmTable(tmp_path / "one")
    try:
        assert key_hash(b"alice", one._secret) != key_hash(b"alice", two._secret)
        assert again._secret == one._secret  # every opener of a table hashes alike
    finally:
        for t in (one, two, again):
            t.close()


def test_keys_are_listed_without_waiting_for_a_writer(path: Path, table: ShmTable) -> None:
    table.put(b"Aalice", b"1", extra=10)
    table.put(b"Abob", b"2", extra=20)
    table.put(b"Rx", b"3", extra=5)
    writer = ShmTable(path)
    listed: list[list[bytes]] = []
    try:
        with writer.transaction():  # another opener holds the lock
            thread = threading.Thread(target=lambda: listed.append(table.keys(prefix=b"A", extra_at_most=15)))
            thread.start()
            thread.join(5)
            assert not thread.is_alive(), "keys() waited for the writer's lock"
    finally:
        writer.close()
    assert listed == [[b"Aalice"]]


def _no_space(fd: int, offset: int, length: int) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_file_system_refuses_the_write_instead_of_killing_the_process(
        table: ShmTable, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "posix_fallocate", _no_space)
    with pytest.raises(TableFull, match="No space left"):
        table.put(b"alice", b"x" * 100)
    assert table.get(b"alice") is None
    monkeypatch.undo()
    table.put(b"alice", b"x" * 100)  # room again: the table goes on
    assert table.get(b"alice") == (b"x" * 100, 0, 0)


def test_a_table_with_no_room_for_its_index_is_not_created(path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "posix_fallocate", _no_space)
    with pytest.raises(TableFull, match="No space left"):
        ShmTable(path)
    assert path.stat().st_size == 0  # the next opener starts afresh
    monkeypatch.undo()
    table = ShmTable(path)
    table.put(b"alice", b"one")
    assert table.get(b"alice") == (b"one", 0, 0)
    table.close()


def test_a_block_that_does_not_hold_what_was_written_is_never_returned(table: ShmTable) -> None:
    table.put(b"alice", b"sip:alice@10.0.0.1")
    at = table._find(table._hash(b"alice"), b"alice")
    off = U64.unpack_from(table._map, at + 8)[0]
    table._map[off + 6 + len(b"alice") + 2] ^= 0xFF  # a byte of the value changes behind its back
    with pytest.raises(Torn):
        table.get(b"alice")


# ------------------------------------------------------------------ growing


def test_a_growable_table_that_is_full_grows_and_keeps_every_key(path: Path) -> None:
    table = ShmTable(path, capacity=16, heap_size=4096, max_capacity=1024)  # room for 11 keys at first
    try:
        for n in range(300):
            table.put(f"k{n}".encode(), b"v" * (n % 50), extra=n, flags=n % 3)
        assert table.capacity == 512 and table.generation == 5
        assert all(table.get(f"k{n}".encode()) == (b"v" * (n % 50), n, n % 3) for n in range(300))
        assert len(table) == 300
    finally:
        table.close()


def test_counters_move_with_a_growth(path: Path) -> None:
    table = ShmTable(path, capacity=16, max_capacity=64)
    try:
        table.add(3, 42)
        for n in range(20):
            table.put(f"k{n}".encode(), b"v")
        assert table.generation == 1 and table.counter(3) == 42
    finally:
        table.close()


def test_a_table_stops_growing_at_its_max_capacity(path: Path) -> None:
    table = ShmTable(path, capacity=16, max_capacity=32)  # 11, then 22 keys
    try:
        for n in range(22):
            table.put(f"k{n}".encode(), b"v")
        with pytest.raises(TableFull, match="32 entries is the most it may grow to"):
            table.put(b"one more", b"v")
        assert table.get(b"one more") is None and table.get(b"k21") == (b"v", 0, 0)
    finally:
        table.close()


def _grower(path: str, count: int) -> None:
    table = ShmTable(path, capacity=16, max_capacity=4096)
    for n in range(count):
        table.put(f"child{n}".encode(), b"c")
    table.close()


def test_another_process_follows_the_table_where_it_grew(path: Path) -> None:
    table = ShmTable(path, capacity=16, max_capacity=4096)
    try:
        table.put(b"parent", b"p")
        child = multiprocessing.get_context("fork").Process(target=_grower, args=(str(path), 1000))
        child.start()
        child.join(60)
        assert child.exitcode == 0
        assert table.get(b"child999") == (b"c", 0, 0) and table.get(b"parent") == (b"p", 0, 0)
        table.put(b"after", b"a")  # written where the child left the table
        again = ShmTable(path, capacity=16, max_capacity=4096)  # a process that opens it later
        assert again.get(b"after") == (b"a", 0, 0) and len(again) == 1002
        again.close()
    finally:
        table.close()


def test_the_generations_of_a_grown_table_go_with_its_store(tmp_path: Path) -> None:
    store = SharedStore.create(tmp_path)
    table = store.table("grows", capacity=16, max_capacity=256)
    for n in range(100):
        table.put(f"k{n}".encode(), b"v")
    assert table.generation >= 2
    store.remove()
    assert list(tmp_path.iterdir()) == []


def _put_one(path: str) -> None:
    table = ShmTable(path, capacity=16, max_capacity=4096)
    table.put(b"from the child", b"c")
    table.close()


def test_a_process_that_grew_the_table_leaves_no_lock_behind(path: Path) -> None:
    table = ShmTable(path, capacity=16, max_capacity=4096)
    try:
        for n in range(100):
            table.put(f"k{n}".encode(), b"v")
        child = multiprocessing.get_context("fork").Process(target=_put_one, args=(str(path),))
        child.start()
        child.join(20)
        assert child.exitcode == 0
        assert table.get(b"from the child") == (b"c", 0, 0)
    finally:
        table.close()


def test_blocks_freed_before_a_growth_are_reused_after_it(path: Path) -> None:
    table = ShmTable(path, capacity=16, heap_size=8192, max_capacity=256)
    try:
        for n in range(10):
            table.put(f"k{n}".encode(), bytes([n]) * 100)
        for n in range(0, 10, 2):
            table.delete(f"k{n}".encode())
        used = table.heap_used()
        for n in range(10, 30):
            table.put(f"k{n}".encode(), bytes([n]) * 100)  # grows, then takes the 5 freed blocks first
        assert table.generation >= 1
        assert table.heap_used() == used + (20 - 5) * 128
        expected = {f"k{n}".encode(): bytes([n]) * 100 for n in [*range(1, 10, 2), *range(10, 30)]}
        assert all(table.get(k) == (v, 0, 0) for k, v in expected.items()) and len(table) == len(expected)
    finally:
        table.close()
