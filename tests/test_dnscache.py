"""The shared DNS cache keeps no entry for good but the permanent ones (issue 19's fuzz run looked up
hundreds of made-up names, each remembered as not existing): expired entries are removed at a put
once SWEEP_PERIOD has passed since the last removal."""
from __future__ import annotations

from kampy.runtime.dnscache import SWEEP_PERIOD, DnsCache, LocalTable


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cache_with(clock: Clock) -> tuple[DnsCache, LocalTable]:
    table = LocalTable()
    return DnsCache(lambda: table, clock), table


def names(table: LocalTable) -> list[str]:
    return sorted(item.key.decode().split("\x1f")[0] for item in table.items())


def test_negative_entries_of_names_looked_up_once_are_removed_after_they_expire() -> None:
    clock = Clock()
    cache, table = cache_with(clock)
    for n in range(100):
        cache.put(f"made-up{n}.example.com", "A", [], 10)
    clock.now += SWEEP_PERIOD
    cache.put("next.example.com", "A", [], 10)
    assert names(table) == ["next.example.com"]


def test_entries_still_live_and_permanent_ones_stay() -> None:
    clock = Clock()
    cache, table = cache_with(clock)
    cache.put("live.test", "A", ["192.0.2.1"], SWEEP_PERIOD * 2)
    cache.put("static.test", "A", ["192.0.2.2"], 1, permanent=True)
    cache.put("gone.test", "A", [], 1)
    clock.now += SWEEP_PERIOD
    cache.put("next.test", "A", [], 10)
    assert names(table) == ["live.test", "next.test", "static.test"]


def test_expired_entries_wait_for_the_sweep_period() -> None:
    clock = Clock()
    cache, table = cache_with(clock)
    cache.put("gone.test", "A", [], 1)
    clock.now += SWEEP_PERIOD / 2
    cache.put("next.test", "A", [], 10)
    assert names(table) == ["gone.test", "next.test"]
