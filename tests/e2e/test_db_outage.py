"""A database outage under load, samples/msilo.cfg on a MariaDB of its own that the test stops for 3 s
and starts again, MESSAGEs for an offline user at 50/s throughout: every MESSAGE is answered, the 503s
of the outage come at once, 202s are back within a second of the server's return, memory stays flat
and every 202 has its row. bench/db_outage.py runs it for 30 s at 100/s beside Kamailio."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from kampy.db import connect, create_tables
from kampy.testing import mariadb
from tests.e2e import db_outage, msilo_sample


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    directory = tmp_path_factory.mktemp("outage")
    server = mariadb.start(directory / "mariadb")
    try:
        with connect(server.url) as db:
            create_tables(db)
        kampy = msilo_sample.start("kampy", directory, server.url)
        try:
            result = db_outage.run(kampy, server.stop, server.restart, lambda: db_outage.stored(server.url),
                                   rate=50, before=1.5, down=3.0, after=2.5)
        finally:
            kampy.stop()
        yield result.figures()
    finally:
        server.stop()


def test_every_message_is_answered_through_the_outage(outage: dict) -> None:
    assert outage["sent"] > 300 and outage["unanswered"] == 0, outage


def test_messages_are_accepted_before_the_outage(outage: dict) -> None:
    assert set(outage["statuses"]["before"]) == {"202"}, outage


def test_messages_get_503_while_the_database_is_down(outage: dict) -> None:
    down = outage["statuses"]["down"]
    assert set(down) <= {"202", "503"} and down["503"] > 0.9 * sum(down.values()), outage


def test_the_503s_of_the_outage_come_at_once(outage: dict) -> None:
    # bench/db_outage.py holds the 10 ms target for every one; here, on a machine shared with other
    # test runs, the median with room and a p99 no scheduling hiccup reaches (it was seconds)
    assert outage["down_503_ms"]["median"] < 5 and outage["down_503_ms"]["p99"] < 50, outage


def test_202s_are_back_within_a_second_of_the_database(outage: dict) -> None:
    assert outage["first_202_after_s"] is not None and outage["first_202_after_s"] < 1.0, outage
    assert outage["last_503_after_s"] < 1.0 and outage["statuses"]["back"]["202"] > 100, outage


def test_no_accepted_message_is_lost(outage: dict) -> None:
    assert outage["accepted"] > 0 and outage["lost"] == 0, outage


def test_memory_stays_flat_through_the_outage(outage: dict) -> None:
    assert outage["rss_mib"]["max"] - outage["rss_mib"]["at_stop"] < 10, outage
