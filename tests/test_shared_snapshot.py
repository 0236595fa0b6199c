"""SharedSnapshot: a value every worker reads and any worker replaces (domain and permissions keep
their tables in one, as Kamailio keeps them in shared memory and swaps them on a reload)."""
from __future__ import annotations

from kampy.runtime.shared import SharedStore


def test_a_published_value_is_read_by_every_worker(store: SharedStore) -> None:
    one, two = store.snapshot("t"), store.reopen().snapshot("t")
    assert two.read() == (0, None)
    generation = one.publish({"domains": ["example.test"]})
    assert two.generation == generation == 1
    assert two.read() == (1, {"domains": ["example.test"]})


def test_a_new_value_replaces_the_old_one_with_a_new_generation(store: SharedStore) -> None:
    snap = store.snapshot("t")
    snap.publish([1])
    reader = store.reopen().snapshot("t")
    assert reader.read() == (1, [1])
    snap.publish([2])
    assert reader.read() == (2, [2])


def test_publish_once_keeps_the_first_value(store: SharedStore) -> None:
    store.snapshot("t").publish_once(lambda: "first")
    store.reopen().snapshot("t").publish_once(lambda: "second")
    assert store.snapshot("t").read() == (1, "first")


def test_a_value_larger_than_the_table_is_cut_in_chunks_and_the_table_grows(store: SharedStore) -> None:
    big = ["x" * 100] * 20_000  # about 2 MB of JSON
    store.snapshot("big").publish(big)
    assert store.reopen().snapshot("big").read() == (1, big)


def test_the_old_chunks_go_once_replaced(store: SharedStore) -> None:
    snap = store.snapshot("t")
    snap.publish(["a" * 70_000])
    snap.publish(["b"])
    assert sorted(snap.table.keys()) == [b"2.0", b"meta", b"next"]
