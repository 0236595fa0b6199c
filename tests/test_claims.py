"""The shared claims table: which worker owns a key, one owner however many workers race for it."""
from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from kampy.runtime import claims
from kampy.runtime.claims import ClaimTable


@pytest.fixture
def table(tmp_path: Path) -> ClaimTable:
    t = ClaimTable(tmp_path / "store.claims")
    yield t
    t.close()


def test_a_new_key_is_claimed_by_the_caller(table: ClaimTable) -> None:
    assert table.claim("k1", 1, 60) is None
    assert table.owner("k1") == 1


def test_a_held_key_names_its_owner_to_another_rank(table: ClaimTable) -> None:
    table.claim("k1", 1, 60)
    assert table.claim("k1", 2, 60) == 1


def test_claiming_a_key_again_by_its_owner_keeps_it(table: ClaimTable) -> None:
    table.claim("k1", 1, 60)
    assert table.claim("k1", 1, 60) is None
    assert table.owner("k1") == 1


def test_an_unknown_key_has_no_owner(table: ClaimTable) -> None:
    assert table.owner("nobody") is None


def test_a_released_key_has_no_owner(table: ClaimTable) -> None:
    table.claim("k1", 1, 60)
    assert table.release("k1", 1) is True
    assert table.owner("k1") is None
    assert table.claim("k1", 2, 60) is None


def test_only_the_owner_releases_a_claim(table: ClaimTable) -> None:
    table.claim("k1", 1, 60)
    assert table.release("k1", 2) is False
    assert table.owner("k1") == 1


def test_an_expired_claim_has_no_owner_and_can_be_taken(table: ClaimTable,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    table.claim("k1", 1, 5)
    real = claims.time.monotonic
    monkeypatch.setattr(claims.time, "monotonic", lambda: real() + 10)
    assert table.owner("k1") is None
    assert table.claim("k1", 2, 5) is None
    assert table.owner("k1") == 2


def test_a_second_mapping_of_the_file_sees_the_claims(table: ClaimTable) -> None:
    table.claim("k1", 3, 60)
    other = ClaimTable(table.path)
    try:
        assert other.owner("k1") == 3
        assert other.claim("k1", 4, 60) == 3
    finally:
        other.close()


def _keys_in_one_bucket(count: int) -> list[str]:
    """`count` keys sharing their bucket of level 0."""
    found: dict[int, list[str]] = {}
    i = 0
    while True:
        key = f"key-{i}"
        bucket = found.setdefault(claims.bucket_offset(claims.key_hash(key), 0), [])
        bucket.append(key)
        if len(bucket) == count:
            return bucket
        i += 1


def test_a_key_whose_bucket_is_full_is_claimed_in_the_next_level(table: ClaimTable) -> None:
    keys = _keys_in_one_bucket(claims.WAYS + 1)
    for key in keys[:-1]:
        assert table.claim(key, 1, 60) is None
    assert table.claim(keys[-1], 2, 60) is None
    assert table.owner(keys[-1]) == 2
    assert table.claim(keys[-1], 3, 60) == 2
    assert table.release(keys[-1], 2) is True
    assert table.owner(keys[-1]) is None


def test_a_key_whose_buckets_are_full_in_every_level_is_left_to_the_caller_without_a_claim(
        table: ClaimTable, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(claims, "LEVELS", 1)
    keys = _keys_in_one_bucket(claims.WAYS + 1)
    for key in keys[:-1]:
        assert table.claim(key, 1, 60) is None
    assert table.claim(keys[-1], 2, 60) is None
    assert table.owner(keys[-1]) is None
    assert "bucket full" in caplog.text


def test_a_released_slot_of_a_full_bucket_is_reused_before_another_level(table: ClaimTable) -> None:
    keys = _keys_in_one_bucket(claims.WAYS + 1)
    for key in keys[:-1]:
        table.claim(key, 1, 60)
    table.release(keys[0], 1)
    assert table.claim(keys[-1], 2, 60) is None
    assert table.owner(keys[-1]) == 2
    assert table.levels_used() == 1


def _pages_written(path: Path) -> int:
    data = path.read_bytes()
    page = 4096
    return sum(1 for at in range(0, len(data), page) if data[at:at + page].count(0) != page)


def test_the_pages_written_follow_the_keys_live_at_once_not_all_keys_ever_claimed(table: ClaimTable) -> None:
    # as tm's transactions: a few dozen live at a time, thousands over a run (issue 19's fuzz run)
    live: list[str] = []
    for i in range(5000):
        key = f"z9hG4bK-{i}"
        assert table.claim(key, 1, 60) is None
        live.append(key)
        if len(live) > 50:
            assert table.release(live.pop(0), 1) is True
    assert table.owner(live[-1]) == 1
    # level 0 is 8 pages (and the file's last page): with one level of 65536 buckets, ~1,800 pages
    assert _pages_written(table.path) <= 16


def _race(path: str, rank: int, keys: list[str], barrier, results) -> None:  # type: ignore[no-untyped-def]
    table = ClaimTable(path)
    barrier.wait()
    won = [key for key in keys if table.claim(key, rank, 60) is None]
    results.put((rank, won))
    table.close()


def test_workers_racing_for_the_same_keys_get_one_owner_per_key(tmp_path: Path) -> None:
    if not hasattr(os, "fork"):
        pytest.skip("needs fork")
    ctx = multiprocessing.get_context("fork")
    keys = [f"race-{i}" for i in range(2000)]
    path = str(tmp_path / "race.claims")
    ClaimTable(path).close()
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(path, rank, keys, barrier, results)) for rank in range(1, 5)]
    for p in procs:
        p.start()
    won = dict(results.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    winners = [key for keys_won in won.values() for key in keys_won]
    assert sorted(winners) == sorted(keys)
    table = ClaimTable(path)
    try:
        assert all(table.owner(key) == rank for rank, ks in won.items() for key in ks)
    finally:
        table.close()
