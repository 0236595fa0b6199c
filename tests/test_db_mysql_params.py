"""db_mysql's parameters reach the connections the modules open (modparam("db_mysql", ...)):
here update_affected_found, seen through sqlops' $sqlrows on the real MariaDB."""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest

from kampy.api import Socket
from kampy.config.pipeline import load_text
from kampy.db import DBError, connect, create_tables
from kampy.runtime.server import Server
from tests.reg_helpers import UA, FakeClock

ROUTE = r'''
request_route {
    sql_query("ca", "UPDATE version SET table_version = 9 WHERE table_name = 'location'");
    xlog("L_INFO", "affected=$sqlrows(ca)\n");
    exit;
}
'''


@pytest.fixture
def version_db(mysql_url: str) -> str:
    with connect(mysql_url) as db:
        create_tables(db, ["location"])  # its version row says 9 already
    return mysql_url


def run(url: str, params: str) -> Iterator[Server]:
    cfg = ('loadmodule "db_mysql"\nloadmodule "xlog"\nloadmodule "sqlops"\n' + params
           + f'modparam("sqlops", "sqlcon", "ca=>{url}")\n' + ROUTE)
    srv = Server.from_config(load_text(cfg, "t.cfg"), sockets=[Socket("udp", "127.0.0.1", 5060)],
                             clock=FakeClock())
    srv.child_init(1)
    try:
        yield srv
    finally:
        srv.core.modules["db_mysql"].destroy()  # the driver's parameters are the process's


def affected(srv: Server, caplog: pytest.LogCaptureFixture) -> list[str]:
    with caplog.at_level("INFO"):
        srv.handle(b"OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n"
                   b"From: <sip:b@127.0.0.1>;tag=1\r\nTo: <sip:a@127.0.0.1>\r\nCall-ID: c1\r\n"
                   b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                   UA)
    return [r.getMessage().rsplit(" ", 1)[-1] for r in caplog.records if "affected=" in r.getMessage()]


def test_update_affected_found_counts_the_rows_an_update_matched(version_db: str,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    for srv in run(version_db, 'modparam("db_mysql", "update_affected_found", 1)\n'):
        assert affected(srv, caplog) == ["affected=1"]


def test_by_default_an_update_counts_the_rows_it_changed(version_db: str,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    for srv in run(version_db, ""):
        assert affected(srv, caplog) == ["affected=0"]


def test_insert_delayed_makes_the_inserts_insert_delayed(mysql_url: str) -> None:
    # MariaDB takes INSERT DELAYED for MyISAM tables only: an InnoDB table refuses it (error 1616)
    with connect(mysql_url) as db:
        db.execute("CREATE TABLE innodb_t (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB")
    with connect(mysql_url, options={"insert_delayed": 1}) as db, pytest.raises(DBError, match="DELAYED"):
        db.insert("innodb_t", {"v": 1})


def test_without_insert_delayed_an_innodb_table_takes_the_insert(mysql_url: str) -> None:
    with connect(mysql_url) as db:
        db.execute("CREATE TABLE innodb_t (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB")
        db.insert("innodb_t", {"v": 1})
        assert db.query("innodb_t", ["v"]) == [(1,)]


def test_insert_delayed_inserts_into_a_myisam_table(mysql_url: str) -> None:
    with connect(mysql_url) as db:
        db.execute("CREATE TABLE myisam_t (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=MyISAM")
    with connect(mysql_url, options={"insert_delayed": 1}) as db:
        db.insert("myisam_t", {"v": 7})
        deadline = time.monotonic() + 5  # the server writes a delayed row when the table is free
        while not db.query("myisam_t", ["v"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert db.query("myisam_t", ["v"]) == [(7,)]


@pytest.fixture
def far_time_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """kampy's local time far from the server's (UTC+12:45), put back after the test."""
    monkeypatch.setenv("TZ", "Pacific/Chatham")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def stored_time(url: str, options: dict) -> tuple[dt.datetime, dt.datetime]:
    """(the value stored for 1_700_000_000, what the server's FROM_UNIXTIME makes of it)."""
    with connect(url, options=options) as db:
        db.execute("CREATE TABLE IF NOT EXISTS times (v DATETIME)")
        db.insert("times", {"v": dt.datetime.fromtimestamp(1_700_000_000)})
        ((stored,),) = db.query("times", ["v"])
        ((server,),) = db.raw_query("SELECT FROM_UNIXTIME(1700000000)")
        return stored, server


def test_server_timezone_sends_times_as_from_unixtime(mysql_url: str, far_time_zone: None) -> None:
    stored, server = stored_time(mysql_url, {"server_timezone": 1})
    assert stored == server != dt.datetime.fromtimestamp(1_700_000_000)


def test_without_server_timezone_times_are_kampys_local_wall_time(mysql_url: str,
                                                                  far_time_zone: None) -> None:
    stored, server = stored_time(mysql_url, {})
    assert stored == dt.datetime.fromtimestamp(1_700_000_000) != server
