"""acc to a database, in-process, on SQLite and on MariaDB: the acc and missed_calls rows, extra
columns, time_mode columns, renamed columns, multi-leg rows, the script's acc_db_request()."""
from __future__ import annotations

import datetime as dt
import time

import pytest

from kampy.api import Database
from kampy.db import connect, create_tables
from kampy.errors import ConfigError
from tests.acckit import FLAGS, acc_lines, acc_server, call, capture
from tests.tmkit import ALICE, request

DB_FLAGS = '''
modparam("acc", "db_flag", 1)
modparam("acc", "db_missed_flag", 2)
modparam("acc", "failed_transaction_flag", 3)
'''
CORE = ["method", "from_tag", "to_tag", "callid", "sip_code", "sip_reason"]
WHEN = dt.datetime.fromtimestamp(1_800_000_000).strftime("%Y-%m-%d %H:%M:%S")
SCRIPT = '''request_route {
    acc_db_request("202 Taken", "acc");
    sl_send_reply("202", "Accepted");
}'''


def params(url: str, extra: str = "") -> str:
    return DB_FLAGS + f'modparam("acc", "db_url", "{url}")\n' + extra


def header(url: str) -> str:
    return f'loadmodule "{"db_sqlite" if url.startswith("sqlite") else "db_mysql"}"\n'


def rows(db: Database, table: str, columns: list[str] = CORE, order: str | None = "id") -> list[tuple]:
    return [tuple(r) for r in db.query(table, columns, order_by=order)]


def add_columns(db: Database, table: str, *columns: str, kind: str = "VARCHAR(64)") -> None:
    for column in columns:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def test_an_answered_call_is_a_row_of_acc(db: Database, db_url: str) -> None:
    with acc_server(params(db_url), header=header(db_url)) as srv:
        call(srv, 200, "OK")
    assert rows(db, "acc", CORE + ["time"]) == [("INVITE", "al1", "bt1", "call-1@192.0.2.10", "200", "OK",
                                                 _time(db, "acc"))]
    assert str(_time(db, "acc"))[:19] == WHEN
    assert rows(db, "missed_calls") == []


def _time(db: Database, table: str) -> object:
    return db.query(table, ["time"])[0][0]


def test_a_busy_call_is_a_missed_call_and_a_failed_transaction(db: Database, db_url: str) -> None:
    with acc_server(params(db_url), header=header(db_url)) as srv:
        call(srv, 486, "Busy Here")
    busy = ("INVITE", "al1", "bt1", "call-1@192.0.2.10", "486", "Busy Here")
    assert rows(db, "missed_calls") == [busy]
    assert rows(db, "acc") == [busy]


def test_db_extra_fills_extra_columns_and_missing_values_are_empty(db: Database, db_url: str) -> None:
    add_columns(db, "acc", "src_user", "ua")
    with acc_server(params(db_url, 'modparam("acc", "db_extra", "src_user=$fU;ua=$hdr(User-Agent)")\n'),
                    header=header(db_url)) as srv:
        call(srv, 200, "OK")
    assert rows(db, "acc", ["src_user", "ua"]) == [("alice", "")]


def test_acc_extra_nullable_writes_null_for_missing_values(db: Database, db_url: str) -> None:
    add_columns(db, "acc", "src_user", "ua")
    extra = ('modparam("acc", "db_extra", "src_user=$fU;ua=$hdr(User-Agent)")\n'
             'modparam("acc", "acc_extra_nullable", 1)\n')
    with acc_server(params(db_url, extra), header=header(db_url)) as srv:
        call(srv, 200, "OK")
    assert rows(db, "acc", ["src_user", "ua"]) == [("alice", None)]


def test_multi_leg_info_writes_a_row_per_leg(db: Database, db_url: str) -> None:
    add_columns(db, "acc", "leg_src", "leg_dst")
    routes = 'request_route { setflag(1); $avp(src) = "a"; $avp(dst) = "b"; $avp(src) = "c"; t_relay(); }'
    legs = 'modparam("acc", "multi_leg_info", "leg_src=$avp(src);leg_dst=$avp(dst)")\n'
    with acc_server(params(db_url, legs), routes, header(db_url)) as srv:
        call(srv, 200, "OK")
    assert rows(db, "acc", ["sip_code", "leg_src", "leg_dst"]) == [("200", "c", "b"), ("200", "a", "")]


@pytest.mark.parametrize(("mode", "columns", "kind", "expected"), [
    (1, ["time_attr", "time_exten"], "INT", (1_800_000_000, 250000)),
    (2, ["time_attr"], "DOUBLE", (1_800_000_000.25,)),
    (4, ["time_attr"], "VARCHAR(64)", ("2027-01-15 08:00:00",)),
])
def test_time_mode_fills_the_time_columns(db: Database, db_url: str, mode, columns, kind, expected) -> None:
    add_columns(db, "acc", *columns, kind=kind)
    with acc_server(params(db_url, f'modparam("acc", "time_mode", {mode})\n'), header=header(db_url)) as srv:
        srv.core.clock.now = 1_800_000_000.25
        call(srv, 200, "OK")
    assert rows(db, "acc", columns) == [expected]


def test_the_columns_may_be_renamed(db: Database, db_url: str) -> None:
    db.execute("CREATE TABLE calls (m VARCHAR(16), ft VARCHAR(64), tt VARCHAR(64), ci VARCHAR(64), "
               "c VARCHAR(3), r VARCHAR(64), t DATETIME)")
    names = dict(zip(["method", "from_tag", "to_tag", "callid", "sip_code", "sip_reason", "time"],
                     ["m", "ft", "tt", "ci", "c", "r", "t"], strict=True))
    extra = "".join(f'modparam("acc", "acc_{k}_column", "{v}")\n' for k, v in names.items())
    extra += 'modparam("acc", "db_table_acc", "calls")\n'
    with acc_server(params(db_url, extra), header=header(db_url)) as srv:
        call(srv, 200, "OK")
    assert rows(db, "calls", ["m", "ft", "tt", "ci", "c", "r"], order=None) == [
        ("INVITE", "al1", "bt1", "call-1@192.0.2.10", "200", "OK")]


def test_the_table_names_may_hold_pseudo_variables(db: Database, db_url: str) -> None:
    db.execute("CREATE TABLE missed_alice AS SELECT * FROM missed_calls WHERE 1 = 0")
    with acc_server(params(db_url, 'modparam("acc", "db_table_missed_calls", "missed_$fU")\n'),
                    header=header(db_url)) as srv:
        call(srv, 486, "Busy Here")
    assert rows(db, "missed_alice", ["callid", "sip_code"]) == [("call-1@192.0.2.10", "486")]


def test_acc_db_request_writes_the_request_to_the_table(db: Database, db_url: str) -> None:
    with acc_server(params(db_url), SCRIPT, header(db_url)) as srv:
        srv.handle(request("MESSAGE"), ALICE)
    assert rows(db, "acc") == [("MESSAGE", "al1", "", "call-1@192.0.2.10", "202", "Taken")]


def test_acc_request_logs_and_writes_a_row(db: Database, db_url: str, caplog) -> None:
    capture(caplog)
    routes = SCRIPT.replace('acc_db_request("202 Taken", "acc")', 'acc_request("202 Taken", "acc")')
    with acc_server(params(db_url), routes, header(db_url)) as srv:
        srv.handle(request("MESSAGE"), ALICE)
    assert rows(db, "acc") == [("MESSAGE", "al1", "", "call-1@192.0.2.10", "202", "Taken")]
    assert len(acc_lines(caplog)) == 1


def test_a_failed_insert_is_logged_and_the_call_goes_on(db: Database, db_url: str, caplog) -> None:
    capture(caplog)
    with acc_server(params(db_url, 'modparam("acc", "db_table_acc", "no_such_table")\n') + FLAGS,
                    header=header(db_url)) as srv:
        out = call(srv, 200, "OK")
    assert out[0].data.startswith(b"SIP/2.0 200 OK")
    assert any(r.getMessage().startswith("failed to insert into database") for r in caplog.records)


def test_a_database_that_cannot_be_reached_stops_the_start(tmp_path) -> None:
    url = f"sqlite://{tmp_path}/no/such/dir/acc.db"
    with pytest.raises(ConfigError, match="could not open database connection"):
        with acc_server(params(url), header=header(url)):
            pass


def test_db_insert_mode_1_is_insert_delayed_on_mysql_and_a_plain_insert_on_sqlite(db: Database, db_url: str,
                                                                                   caplog) -> None:
    """MariaDB takes INSERT DELAYED for a MyISAM table only (Kamailio's db_mysql sends the same)."""
    capture(caplog)
    mysql = db_url.startswith("mysql")
    if mysql:
        db.execute("ALTER TABLE acc ENGINE=MyISAM")
    with acc_server(params(db_url, 'modparam("acc", "db_insert_mode", 1)\n'), header=header(db_url)) as srv:
        call(srv, 200, "OK")
    deadline = time.monotonic() + 5
    while not rows(db, "acc") and time.monotonic() < deadline:
        time.sleep(0.05)  # the server writes a delayed row when it gets to it
    assert rows(db, "acc") == [("INVITE", "al1", "bt1", "call-1@192.0.2.10", "200", "OK")]


def test_db_insert_mode_1_on_an_innodb_table_loses_the_row_as_kamailio_does(mysql_url: str, caplog) -> None:
    capture(caplog)
    with connect(mysql_url) as db:
        create_tables(db, ["acc"])
        delayed = params(mysql_url, 'modparam("acc", "db_insert_mode", 1)\n')
        with acc_server(delayed, header=header(mysql_url)) as srv:
            call(srv, 200, "OK")
        assert rows(db, "acc") == []
    assert any(r.getMessage().startswith("failed to insert delayed into database: MySQL error 1616")
               for r in caplog.records)


# the argument handling is the same on every backend
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
TABLE_SCRIPT = '''request_route {
    $var(t) = "acc";
    if (!acc_db_request("202 Taken", "TABLE")) { sl_send_reply("500", "Not Accounted"); exit; }
    sl_send_reply("202", "Accepted");
}'''


@SQLITE_ONLY
def test_acc_db_request_table_starting_with_a_pseudo_variable_is_that_variable_alone(
        db: Database, db_url: str) -> None:
    # acc_fixup: fixup_var_pve_str_12 ("$var(t) x" is $var(t))
    with acc_server(params(db_url), TABLE_SCRIPT.replace("TABLE", "$var(t) x"), header(db_url)) as srv:
        out = srv.handle(request("MESSAGE"), ALICE)
    assert out[0].data.startswith(b"SIP/2.0 202 Accepted")
    assert rows(db, "acc") == [("MESSAGE", "al1", "", "call-1@192.0.2.10", "202", "Taken")]


@SQLITE_ONLY
def test_acc_db_request_table_from_an_unset_pseudo_variable_fails(db: Database, db_url: str, caplog) -> None:
    capture(caplog)
    with acc_server(params(db_url), TABLE_SCRIPT.replace("TABLE", "$avp(none)"), header(db_url)) as srv:
        out = srv.handle(request("MESSAGE"), ALICE)
    assert out[0].data.startswith(b"SIP/2.0 500 Not Accounted")
    assert "cannot get acc db table name" in caplog.text
    assert rows(db, "acc") == []


@SQLITE_ONLY
def test_acc_db_request_with_an_empty_table_is_refused_at_load(db_url: str) -> None:
    with pytest.raises(ConfigError, match="acc_db_request\\(\\): bad argument 2: first parameter is empty"):
        with acc_server(params(db_url), TABLE_SCRIPT.replace('"TABLE"', '""'), header(db_url)):
            pass
