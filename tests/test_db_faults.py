"""A database that goes away: calls fail within a bounded time with DBError, and the pool recovers
when the server returns. A second private MariaDB is used so the shared one keeps running."""
from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.db import Database, DBError, Reason, connect, create_tables
from kampy.testing import mariadb

BOUND = 10.0  # seconds a call may take to fail once the server is gone


@pytest.fixture(scope="module")
def spare_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[mariadb.MariaDB]:
    server = mariadb.start(tmp_path_factory.mktemp("spare-mariadb"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def spare_db(spare_server: mariadb.MariaDB) -> Iterator[Database]:
    if spare_server.process.poll() is not None:
        spare_server.restart()
    db = connect(spare_server.url, options={"timeout_interval": 1})
    for table in ("silo", "version"):
        db.execute(f"DROP TABLE IF EXISTS {table}")
    create_tables(db, ["silo"])
    try:
        yield db
    finally:
        db.close()


def timed_failure(call: object) -> tuple[DBError, float]:
    started = time.monotonic()
    with pytest.raises(DBError) as info:
        call()  # type: ignore[operator]
    return info.value, time.monotonic() - started


def test_stopped_server_fails_a_query_within_bounded_time(spare_server: mariadb.MariaDB,
                                                          spare_db: Database) -> None:
    spare_db.insert("silo", {"username": "alice"})
    spare_server.stop()
    error, took = timed_failure(lambda: spare_db.query("silo", ["id"]))
    assert error.reason is Reason.CONNECTION and error.transient
    assert took < BOUND


def test_stopped_server_fails_an_insert_within_bounded_time(spare_server: mariadb.MariaDB,
                                                            spare_db: Database) -> None:
    spare_db.insert("silo", {"username": "alice"})
    spare_server.stop()
    error, took = timed_failure(lambda: spare_db.insert("silo", {"username": "bob"}))
    assert error.reason is Reason.CONNECTION
    assert took < BOUND


def test_pool_reconnects_when_the_server_comes_back(spare_server: mariadb.MariaDB,
                                                    spare_db: Database) -> None:
    spare_db.insert("silo", {"username": "alice"})
    spare_server.stop()
    with pytest.raises(DBError):
        spare_db.query("silo", ["id"])
    spare_server.restart()
    spare_db.insert("silo", {"username": "bob"})
    assert spare_db.query("silo", ["username"], order_by="id") == [("alice",), ("bob",)]


def test_insert_after_a_server_restart_succeeds_without_a_failed_call(spare_server: mariadb.MariaDB,
                                                                      spare_db: Database) -> None:
    spare_db.insert("silo", {"username": "alice"})
    spare_server.restart()
    time.sleep(1.1)  # the pooled connection is now idle long enough to be checked before use
    spare_db.insert("silo", {"username": "bob"})
    assert spare_db.raw_query("SELECT COUNT(*) FROM silo") == [(2,)]


def test_session_settings_are_applied_again_after_reconnecting(spare_server: mariadb.MariaDB,
                                                               spare_db: Database) -> None:
    spare_server.restart()
    spare_db.query("silo", ["id"])  # idempotent: retried on a new connection
    ((mode,),) = spare_db.raw_query("SELECT @@SESSION.sql_mode")
    assert "STRICT_ALL_TABLES" in mode


def test_hung_server_fails_each_call_within_bounded_time(spare_server: mariadb.MariaDB,
                                                        spare_db: Database) -> None:
    with connect(spare_server.url) as db:  # the default timeout_interval (2 s)
        db.query("silo", ["id"])
        os.kill(spare_server.process.pid, signal.SIGSTOP)
        try:
            failures = [timed_failure(call) for call in (
                lambda: db.query("silo", ["id"]),
                lambda: db.insert("silo", {"username": "bob"}),
                lambda: db.update("silo", {"username": "x"}, {"snd_time": 1}))]
        finally:
            os.kill(spare_server.process.pid, signal.SIGCONT)
        for error, took in failures:
            assert error.transient and took < BOUND
        assert db.query("silo", ["username"]) == []


def test_connecting_to_nothing_fails_fast() -> None:
    url = f"mysql://kamailio:kamailiorw@127.0.0.1:{mariadb.free_port()}/kamailio"
    error, took = timed_failure(lambda: connect(url))
    assert error.reason is Reason.CONNECTION
    assert "***" in str(error) and "kamailiorw" not in str(error)
    assert took < BOUND


def test_wrong_password_is_a_clear_error(mariadb_server: mariadb.MariaDB) -> None:
    url = f"mysql://kamailio:wrong@127.0.0.1:{mariadb_server.port}/kamailio"
    error, _ = timed_failure(lambda: connect(url))
    assert "access denied" in str(error).lower()


def test_sqlite_write_lock_held_elsewhere_fails_after_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    with connect(f"sqlite://{path}", create_missing=True, options={"busy_timeout": 0.5}) as db:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            error, took = timed_failure(lambda: db.insert("silo", {"username": "x"}))
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert error.reason is Reason.LOCKED and 0.4 < took < BOUND
        db.insert("silo", {"username": "x"})


def test_sqlite_uses_a_wal_journal(tmp_path: Path) -> None:
    with connect(f"sqlite://{tmp_path}/wal.db", create_missing=True) as db:
        assert db.raw_query("PRAGMA journal_mode") == [("wal",)]
