"""A database outage under load, samples/msilo.cfg on a MariaDB of its own that the test stops for 3 s
and starts again, MESSAGEs for an offline user at 50/s throughout: every MESSAGE is answered, the 503s
of the outage come at once, 202s are back within a second of the server's return, memory stays flat
and every 202 has its row. bench/db_outage.py runs it for 30 s at 100/s beside Kamailio."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from kampy.db import connect, create_tables
from kampy.testing import mariadb
from tests.e2e import db_outage, msilo_sample
from tests.e2e.kampy_process import rss_kib


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[mariadb.MariaDB]:
    server = mariadb.start(tmp_path_factory.mktemp("outage-mariadb"))
    try:
        with connect(server.url) as db:
            create_tables(db)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def outage(database: mariadb.MariaDB, tmp_path_factory: pytest.TempPathFactory) -> dict:
    directory = tmp_path_factory.mktemp("outage")
    kampy = msilo_sample.start("kampy", directory, database.url)
    try:
        result = db_outage.run(kampy, database.stop, database.restart, lambda: db_outage.stored(database.url),
                               rate=50, before=1.5, down=3.0, after=2.5)
    finally:
        kampy.stop()
    return result.figures()


@pytest.fixture(scope="module")
def growth_while_down(database: mariadb.MariaDB, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One worker, the database stopped, MESSAGEs at 250/s: the worker's RSS once its live
    transactions are at their steady number (they wait 5 s after their 503: 1,500 MESSAGEs, 6 s),
    and after 1,000 more."""
    kampy = msilo_sample.start("kampy", tmp_path_factory.mktemp("growth"), database.url, children=1)
    try:
        database.stop()
        worker = db_outage.worker_pids(kampy)[-1]
        statuses = db_outage.burst(kampy, 1500, rate=250, settle=0)
        before = rss_kib(worker)
        statuses += db_outage.burst(kampy, 1000, rate=250, settle=1)
        after = rss_kib(worker)
        return {"statuses": dict(Counter(statuses)), "rss_before_kib": before, "rss_after_kib": after}
    finally:
        kampy.stop()
        database.restart()


def test_every_message_is_answered_through_the_outage(outage: dict) -> None:
    assert outage["sent"] > 300 and outage["unanswered"] == 0, outage


def test_messages_are_accepted_before_the_outage(outage: dict) -> None:
    assert set(outage["statuses"]["before"]) == {"202"}, outage


def test_messages_get_503_while_the_database_is_down(outage: dict) -> None:
    down = outage["statuses"]["down"]
    assert set(down) <= {"202", "503"} and down["503"] > 0.9 * sum(down.values()), outage


def test_the_503s_of_the_outage_come_at_once(outage: dict) -> None:
    # bench/db_outage.py holds the 10 ms target for every one; here, on a machine shared with other
    # test runs (the suite runs in two workers), the median with room and a p99 that scheduling
    # hiccups stay under (69 and 112 ms seen at load 10) while a reconnect per request does not
    # (the 503s took seconds then)
    assert outage["down_503_ms"]["median"] < 5 and outage["down_503_ms"]["p99"] < 250, outage


def test_202s_are_back_within_a_second_of_the_database(outage: dict) -> None:
    assert outage["first_202_after_s"] is not None and outage["first_202_after_s"] < 1.0, outage
    assert outage["last_503_after_s"] < 1.0 and outage["statuses"]["back"]["202"] > 100, outage


def test_no_accepted_message_is_lost(outage: dict) -> None:
    assert outage["accepted"] > 0 and outage["lost"] == 0, outage


def test_memory_stays_flat_through_the_outage(outage: dict) -> None:
    assert outage["rss_mib"]["max"] - outage["rss_mib"]["at_stop"] < 10, outage


def test_a_worker_does_not_grow_with_the_messages_it_refuses_while_the_database_is_down(
        growth_while_down: dict) -> None:
    # the cyclic garbage of each refused MESSAGE (its transaction, once freed) used to wait for a
    # collection of the oldest generation: +11 MB here (2026-12-07, about 11 KB per MESSAGE); a busy
    # worker collects it each second now (+1-4 MB: up to a second of garbage, the allocator's slack)
    assert growth_while_down["statuses"].get(503, 0) > 2400, growth_while_down
    growth = growth_while_down["rss_after_kib"] - growth_while_down["rss_before_kib"]
    assert growth < 6 * 1024, growth_while_down  # KiB
