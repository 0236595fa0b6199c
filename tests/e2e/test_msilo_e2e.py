"""`kampy run samples/msilo.cfg` over UDP with Python user agents: store and dump on SQLite and
MariaDB, the database stopped under traffic, and SIGKILL in the middle of a dump of 1,000 messages."""
from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.db import connect, create_tables
from tests.e2e.kampy_process import REPO, Kampy, free_port, start_kampy
from tests.e2e.msilo_ua import UA

SAMPLE = REPO / "samples" / "msilo.cfg"


def start_sample(tmp_path: Path, db_url: str, port: int | None = None, **more: str) -> Kampy:
    port = port or free_port()
    defines = {"DBURL": f'"{db_url}"', "LISTEN_UDP": f"udp:127.0.0.1:{port}",
               "LISTEN_TCP": f"tcp:127.0.0.1:{port}", "MSILO_PROXY": f'"sip:127.0.0.1:{port}"',
               "MSILO_CONTACT": f'"Contact: <sip:registrar@127.0.0.1:{port}>;msilo=yes\\r\\n"', **more}
    args = [a for name, value in defines.items() for a in ("-A", f"{name}={value}")]
    return start_kampy(SAMPLE, tmp_path, port=port, args=args)


def wait_for(check, timeout: float = 20, step: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return bool(check())


def silo_rows(db_url: str) -> list[tuple]:
    with connect(db_url) as db:
        return db.query("silo", ["id", "body"], order_by="id")


def kill_all(kampy: Kampy) -> None:
    """SIGKILL the supervisor and every worker (its process group): the server dies at once, as in
    a crash. stop_process waits until the group is gone and deletes the shared store left behind."""
    kampy.stop(signal.SIGKILL)


@pytest.fixture
def uas() -> Iterator[dict[str, UA]]:
    agents = {"alice": UA("alice"), "bob": UA("bob")}
    yield agents
    for ua in agents.values():
        ua.close()


@pytest.fixture(params=["sqlite", "mysql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/msilo.sqlite"
    return request.getfixturevalue("mysql_url_with_tables")


def test_message_for_an_offline_user_is_stored_and_delivered_on_register(tmp_path: Path, db_url: str,
                                                                         uas: dict[str, UA]) -> None:
    alice, bob = uas["alice"], uas["bob"]
    kampy = start_sample(tmp_path, db_url)
    try:
        assert alice.register(kampy) == 200
        assert alice.message(kampy, "bob", "Hello Bob, ünïcode") == 202
        assert wait_for(lambda: alice.bodies() == [b"*** User bob is offline!"])
        assert len(silo_rows(db_url)) == 1
        assert bob.register(kampy) == 200
        assert wait_for(lambda: len(bob.bodies()) == 1)
        assert bob.bodies()[0].endswith("] Hello Bob, ünïcode".encode())
        assert bob.bodies()[0].startswith(b"[Offline message - ")
        assert wait_for(lambda: silo_rows(db_url) == [])
        assert bob.message(kampy, "alice", "online now") == 200  # delivered directly, not stored
    finally:
        kampy.stop()


def test_a_refused_dump_stays_stored_and_is_sent_again(tmp_path: Path, uas: dict[str, UA]) -> None:
    db_url = f"sqlite://{tmp_path}/msilo.sqlite"
    alice, bob = uas["alice"], uas["bob"]
    kampy = start_sample(tmp_path, db_url)
    try:
        assert alice.message(kampy, "bob", "try twice") == 202
        bob.answer = 480
        assert bob.register(kampy) == 200
        assert wait_for(lambda: len(bob.received) == 1)
        time.sleep(0.5)
        assert len(silo_rows(db_url)) == 1  # not deleted, and not stored a second time
        bob.answer = 200
        assert bob.register(kampy) == 200
        assert wait_for(lambda: silo_rows(db_url) == [])
    finally:
        kampy.stop()


@pytest.fixture
def mysql_url_with_tables(mysql_url: str) -> str:
    with connect(mysql_url) as db:
        create_tables(db)
    return mysql_url


def test_database_stopped_under_traffic_gives_503_then_storing_resumes(tmp_path: Path, mariadb_server,  # type: ignore[no-untyped-def]
                                                                      mysql_url_with_tables: str,
                                                                      uas: dict[str, UA]) -> None:
    mysql_url = mysql_url_with_tables
    alice, carol = uas["alice"], UA("carol")
    kampy = start_sample(tmp_path, mysql_url)
    try:
        assert alice.message(kampy, "bob", "before") == 202
        mariadb_server.stop()
        try:
            started = time.monotonic()
            assert alice.message(kampy, "bob", "during", ) == 503
            assert time.monotonic() - started < 10
            assert carol.register(kampy) == 200  # SIP is still answered
            assert alice.message(kampy, "bob", "during 2") == 503
        finally:
            mariadb_server.restart()
        assert wait_for(lambda: alice.message(kampy, "bob", "after") == 202, 30, 0.5)
        assert [r[1] for r in silo_rows(mysql_url)][:1] == [b"before"]
        assert b"after" in [r[1] for r in silo_rows(mysql_url)]
    finally:
        carol.close()
        kampy.stop()


def test_sigkill_during_a_dump_of_1000_messages_loses_and_duplicates_nothing_unacknowledged(
        tmp_path: Path, uas: dict[str, UA]) -> None:
    db_url = f"sqlite://{tmp_path}/msilo.sqlite"
    with connect(db_url, create_missing=True) as db:
        now = int(time.time())
        db.execute("BEGIN")
        for i in range(1000):
            db.insert("silo", {"src_addr": "sip:alice@example.test", "dst_addr": "sip:bob@example.test",
                               "username": "bob", "domain": "example.test", "inc_time": now,
                               "exp_time": now + 3600, "snd_time": 0, "ctype": "application/x-n",
                               "body": f"n{i:04d}".encode(), "extra_hdrs": ""})
        db.execute("COMMIT")
    bob = uas["bob"]
    port = free_port()
    # claims lapse after 3 x check_time: the rows in flight at the kill go out again 3 s later
    kampy = start_sample(tmp_path, db_url, port, MSILO_CHECK_TIME="1")
    try:
        assert bob.register(kampy) == 200
        assert wait_for(lambda: len(silo_rows(db_url)) <= 900, 60, 0.05)
        bob.answer = None  # stop acknowledging, then crash the server mid-dump
        kill_all(kampy)
    finally:
        if not kampy.stopped:
            kampy.stop()
    acked = {b[:5] for b in bob.bodies()[:len(bob.answered)]}
    left = {r[1] for r in silo_rows(db_url)}
    deleted = {f"n{i:04d}".encode() for i in range(1000)} - left
    assert deleted <= acked, "a row was deleted without a 2xx"
    assert len(left) < 1000
    bob.answer = 200
    bob.forget()
    kampy = start_sample(tmp_path, db_url, free_port(), MSILO_CHECK_TIME="1")
    try:
        # bob registers again every second: the rows whose claim has lapsed go out
        assert wait_for(lambda: bob.register(kampy) == 200 and silo_rows(db_url) == [], 120, 1.0), \
            f"{len(silo_rows(db_url))} message(s) still stored; bob got {len(bob.received)}"
        assert left <= set(bob.bodies())
    finally:
        kampy.stop()
