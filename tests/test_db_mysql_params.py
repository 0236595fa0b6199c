"""db_mysql's parameters reach the connections the modules open (modparam("db_mysql", ...)):
update_affected_found, seen through sqlops' $sqlrows, insert_delayed, server_timezone,
auto_reconnect and unsigned_type, on the real MariaDB."""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest

from kampy.api import Socket
from kampy.config.pipeline import load_text
from kampy.db import Database, DBError, Reason, connect, create_tables
from kampy.testing import mariadb
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


# auto_reconnect: Kamailio 5.6 sets libmysqlclient's MYSQL_OPT_RECONNECT and tries a query up to 3
# times when it is 1; with 0 a lost connection stays lost for the process (km_my_con.c, km_dbase.c)

def kill_connections(server: mariadb.MariaDB, db: Database) -> None:
    """End the server side of `db`'s connection (as a restart of the server would)."""
    ((ident,),) = db.raw_query("SELECT CONNECTION_ID()")
    server.as_root(f"KILL {ident}")


def test_a_lost_connection_is_reconnected_by_default(mariadb_server: mariadb.MariaDB, mysql_url: str) -> None:
    with connect(mysql_url) as db:
        create_tables(db, ["location"])
        kill_connections(mariadb_server, db)
        assert db.query("version", ["table_version"], {"table_name": "location"}) == [(9,)]


def test_with_auto_reconnect_0_a_lost_connection_is_not_reconnected(mariadb_server: mariadb.MariaDB,
                                                                      mysql_url: str) -> None:
    with connect(mysql_url, options={"auto_reconnect": 0, "timeout_interval": 1}) as db:
        create_tables(db, ["location"])
        kill_connections(mariadb_server, db)
        for _ in range(2):  # the server answers, but this connection is gone for good
            with pytest.raises(DBError) as failure:
                db.query("version", ["table_name"])
            assert failure.value.reason is Reason.CONNECTION


# unsigned_type: how an unsigned integer column's values read (km_res.c, db_str2int, db_str2longlong)

@pytest.fixture
def unsigned_db(mysql_url: str) -> str:
    with connect(mysql_url) as db:
        db.execute("CREATE TABLE u (i INT UNSIGNED, b BIGINT UNSIGNED, s INT)")
        db.execute("INSERT INTO u VALUES (3000000000, 5, -7)")
    return mysql_url


def test_by_default_an_unsigned_int_above_2_31_reads_as_a_negative_int(unsigned_db: str) -> None:
    with connect(unsigned_db) as db:
        result = db.execute("SELECT i, b, s FROM u")
        assert result.rows == [(3000000000 - 2**32, 5, -7)]
        assert result.types == ["INT", "BIGINT", "INT"]


def test_by_default_an_unsigned_bigint_above_2_63_fails_the_query(unsigned_db: str) -> None:
    with connect(unsigned_db) as db:
        db.execute("UPDATE u SET b = 18446744073709551615")
        with pytest.raises(DBError, match="out of range") as failure:
            db.raw_query("SELECT b FROM u")
        assert failure.value.reason is Reason.DATA


def test_unsigned_type_1_reads_unsigned_columns_as_uint_and_ubigint(unsigned_db: str) -> None:
    with connect(unsigned_db, options={"unsigned_type": 1}) as db:
        db.execute("UPDATE u SET b = 18446744073709551615")
        result = db.execute("SELECT i, b, s FROM u")
        assert result.rows == [(3000000000, 18446744073709551615, -7)]
        assert result.types == ["UINT", "UBIGINT", "INT"]
