"""A database that goes away: calls fail within a bounded time with DBError, and the pool recovers
when the server returns. A second private MariaDB is used so the shared one keeps running."""
from __future__ import annotations

import os
import signal
import sqlite3
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from kampy.db import Database, DBError, Reason, connect, create_tables
from kampy.testing import mariadb
from kampy.modules.db_mysql.driver import Connector

BOUND = 10.0  # seconds a call may take to fail once the server is gone
FAST = 0.01  # seconds a call may take to fail while the server is known to be down
BACK_WITHIN = 1.0  # seconds after the server answers again until calls succeed again


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


def back_after(call: object, within: float = BACK_WITHIN + 0.5) -> float:
    """Call until it succeeds (within `within` s); how long that took."""
    started = time.monotonic()
    while True:
        try:
            call()  # type: ignore[operator]
            return time.monotonic() - started
        except DBError:
            if time.monotonic() - started > within:
                raise
            time.sleep(0.01)


def stop_every_thread(pid: int, within: float = 5.0) -> None:
    """SIGSTOP `pid` and wait until each of its threads is stopped: kill() returns before they are,
    and a thread of mariadbd still running would answer the next statement."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        states = []
        for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
            try:
                states.append(stat.read_text().rpartition(")")[2].split()[0])
            except OSError:  # a thread that just ended
                continue
        if states and all(state in "Tt" for state in states):
            return
        time.sleep(0.005)
    raise AssertionError(f"process {pid} did not stop within {within} s")


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
    assert back_after(lambda: spare_db.insert("silo", {"username": "bob"})) < BACK_WITHIN
    assert spare_db.query("silo", ["username"], order_by="id") == [("alice",), ("bob",)]


def test_calls_fail_at_once_while_the_server_is_known_to_be_down(spare_server: mariadb.MariaDB,
                                                                 spare_db: Database) -> None:
    spare_server.stop()
    timed_failure(lambda: spare_db.insert("silo", {"username": "first"}))  # finds it down
    failures = [timed_failure(lambda: spare_db.insert("silo", {"username": "x"})) for _ in range(200)]
    assert all(error.reason is Reason.CONNECTION and error.transient for error, _ in failures)
    assert sorted(took for _, took in failures)[-3] < FAST  # 99 %: a scheduling hiccup is no failure


def test_calls_succeed_again_within_a_second_of_the_server_answering(spare_server: mariadb.MariaDB,
                                                                     spare_db: Database) -> None:
    spare_server.stop()
    timed_failure(lambda: spare_db.query("silo", ["id"]))
    time.sleep(2)  # the probe has backed off to its longest interval
    spare_server.restart()
    assert back_after(lambda: spare_db.query("silo", ["id"])) < BACK_WITHIN


def test_outage_leaves_no_failed_insert_stored(spare_server: mariadb.MariaDB, spare_db: Database) -> None:
    spare_server.stop()
    for i in range(20):
        with pytest.raises(DBError):
            spare_db.insert("silo", {"username": f"lost{i}"})
    spare_server.restart()
    back_after(lambda: spare_db.insert("silo", {"username": "after"}))
    assert spare_db.query("silo", ["username"]) == [("after",)]


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
        stop_every_thread(spare_server.process.pid)
        try:
            failures = [timed_failure(call) for call in (
                lambda: db.query("silo", ["id"]),
                lambda: db.insert("silo", {"username": "bob"}),
                lambda: db.update("silo", {"username": "x"}, {"snd_time": 1}))]
        finally:
            os.kill(spare_server.process.pid, signal.SIGCONT)
        for error, took in failures:
            assert error.transient and took < BOUND
        back_after(lambda: db.query("silo", ["id"]), within=BOUND)  # its probe waited out the stop
        assert db.query("silo", ["username"]) == []


def test_connecting_to_nothing_fails_fast() -> None:
    url = f"mysql://kamailio:kamailiorw@127.0.0.1:{mariadb.free_port()}/kamailio"
    error, took = timed_failure(lambda: connect(url))
    assert error.reason is Reason.CONNECTION
    assert "***" in str(error) and "kamailiorw" not in str(error)
    assert took < BOUND


def test_connections_use_no_tls_unless_opt_ssl_mode_asks(mariadb_server: mariadb.MariaDB) -> None:
    # PyMySQL's default (TLS if the server offers it) builds an SSL context and loads the CA bundle
    # for every connection it makes: ~20 ms of CPU for each reconnection attempt in an outage
    con = Connector(0)(**_arguments(mariadb_server))
    try:
        assert con.ssl is False and not hasattr(con, "ctx")
    finally:
        con.close()


def test_opt_ssl_mode_checks_the_certificate_from_4_and_the_host_name_at_5() -> None:
    required, verify_ca, verify_identity = (Connector(mode).tls["ssl"] for mode in (3, 4, 5))
    assert required.verify_mode == ssl.CERT_NONE
    assert verify_ca.verify_mode == ssl.CERT_REQUIRED and not verify_ca.check_hostname
    assert verify_identity.verify_mode == ssl.CERT_REQUIRED and verify_identity.check_hostname


def test_opt_ssl_mode_required_refuses_a_server_without_tls(mariadb_server: mariadb.MariaDB) -> None:
    with pytest.raises(pymysql.err.OperationalError) as info:
        Connector(3)(**_arguments(mariadb_server))
    assert info.value.args[0] == 2026


def test_opt_ssl_mode_preferred_connects_without_tls_to_a_server_without_it(
        mariadb_server: mariadb.MariaDB) -> None:
    con = Connector(2)(**_arguments(mariadb_server))
    try:
        con.ping(reconnect=False)
    finally:
        con.close()


def _arguments(server: mariadb.MariaDB) -> dict[str, object]:
    return {"host": "127.0.0.1", "port": server.port, "user": mariadb.USER, "password": mariadb.PASSWORD,
            "database": mariadb.DATABASE, "connect_timeout": 2}


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
