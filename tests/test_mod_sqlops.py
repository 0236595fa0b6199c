"""sqlops: sql_query() and $dbr, sql_xquery(), sql_pvquery(), sql_result_free(), $sqlrows,
{sql.val*}, several connections and the start-up rules, on SQLite and on MariaDB (the values'
types as Kamailio's drivers report them are compared with Kamailio 5.6 in
tests/e2e/test_misc_modules_kamailio.py)."""
from __future__ import annotations

import time
from typing import Any

import pytest

from kampy.db import connect, create_tables

ORDERED = "select domain, did from domain order by id"
HEAD = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "sqlops.so"
modparam("sqlops", "sqlcon", "ca=>{url}")
{params}
request_route {{
    {body}
    sl_send_reply("200", "OK");
}}
"""


@pytest.fixture
def domains(db_url: str) -> str:
    with connect(db_url) as db:
        create_tables(db, ["domain"])
        db.insert("domain", {"domain": "example.test", "did": "d1"})
        db.insert("domain", {"domain": "other.test", "did": None})
    return db_url


def run(kampy_cfg: Any, url: str, body: str, params: str = "") -> Any:
    sip = kampy_cfg(HEAD.format(url=url, params=params, body=body), db=None)
    return sip.send_request("OPTIONS", "sip:a@example.test")


def test_sql_query_keeps_the_rows_in_the_result(kampy_cfg: Any, domains: str) -> None:
    result = run(kampy_cfg, domains, f'$avp(rc) = sql_query("ca", "{ORDERED}", "ra"); '
                                     "$avp(rows) = $dbr(ra=>rows); $avp(cols) = $dbr(ra=>cols); "
                                     "$avp(c0) = $dbr(ra=>colname[0]); $avp(v) = $dbr(ra=>[1,0]); "
                                     "$var(i) = 0; $var(j) = 1; $avp(w) = $dbr(ra=>[$var(i),$var(j)]);")
    assert [result.avp(n) for n in ("rc", "rows", "cols", "c0", "v", "w")] == [
        1, 2, 2, "domain", "other.test", "d1"]


def test_a_null_value_an_index_out_of_range_and_a_freed_result_are_null(kampy_cfg: Any, domains: str) -> None:
    result = run(kampy_cfg, domains, f'sql_query("ca", "{ORDERED}", "ra"); '
                                     "$avp(n) = $dbr(ra=>[1,1]) == $null; "
                                     "$avp(o) = $dbr(ra=>[5,0]) == $null; "
                                     'sql_result_free("ra"); $avp(rows) = $dbr(ra=>rows);')
    assert (result.avp("n"), result.avp("o"), result.avp("rows")) == (1, 1, 0)


def test_return_codes_say_rows_no_rows_and_no_result_asked(kampy_cfg: Any, domains: str) -> None:
    result = run(kampy_cfg, domains, '$avp(a) = sql_query("ca", "select * from domain where id < 0", "ra"); '
                                     '$avp(b) = sql_query("ca", "select * from domain"); '
                                     '$avp(c) = sql_query("ca", "select nonsense from nowhere", "ra");')
    assert (result.avp("a"), result.avp("b"), result.avp("c")) == (2, 3, -1)


def test_sqlrows_is_the_number_of_rows_a_statement_changed(kampy_cfg: Any, domains: str) -> None:
    result = run(kampy_cfg, domains, '$avp(rc) = sql_query("ca", "update domain set did = \'x\'"); '
                                     "$avp(n) = $sqlrows(ca);")
    assert (result.avp("rc"), result.avp("n")) == (2, 2)


def test_sql_xquery_adds_each_row_to_the_xavp_by_column_name(kampy_cfg: Any, domains: str) -> None:
    result = run(kampy_cfg, domains, f'$avp(rc) = sql_xquery("ca", "{ORDERED}", '
                                     '"ra"); $avp(d0) = $xavp(ra=>domain); $avp(d1) = $xavp(ra[1]=>domain); '
                                     "$avp(null) = $xavp(ra[1]=>did) == $null; $avp(n) = $cnt($xavp(ra));")
    assert [result.avp(n) for n in ("rc", "d0", "d1", "null", "n")] == [1, "example.test", "other.test", 1, 2]


def test_sql_pvquery_assigns_the_columns_from_the_last_row_to_the_first(kampy_cfg: Any, domains: str) -> None:
    result = run(kampy_cfg, domains, f'$avp(rc) = sql_pvquery("ca", "{ORDERED}", '
                                     '"$var(d), $avp(did)"); $avp(d) = $var(d);')
    assert result.avp("rc") == 1
    assert result.avp("d") == "example.test"       # a $var holds the first row's, assigned last
    assert result.avps["did"] == ["d1"]             # the NULL of the second row left the AVP alone


def test_sql_pvquery_of_the_documentation(kampy_cfg: Any, domains: str) -> None:
    result = run(kampy_cfg, domains, '$avp(rc) = sql_pvquery("ca", '
                                     '"select \'col1\', 2, NULL, \'sip:test@example.com\'", '
                                     '"$var(a), $avp(col2), $xavp(item[0]=>s), $ru"); $avp(a) = $var(a); '
                                     "$avp(ru) = $ru;")
    assert [result.avp(n) for n in ("rc", "a", "col2", "ru")] == [1, "col1", 2, "sip:test@example.com"]


def test_sql_pvquery_needs_a_variable_for_each_column(kampy_cfg: Any, domains: str) -> None:
    result = run(kampy_cfg, domains, f'$avp(rc) = sql_pvquery("ca", "{ORDERED}", "$var(d)");')
    assert result.avp("rc") == -1


def test_a_read_only_variable_is_refused_at_load(kampy_cfg: Any, domains: str) -> None:
    with pytest.raises(Exception, match=r"result variable \[2\] is read-only"):
        run(kampy_cfg, domains, 'sql_pvquery("ca", "select 1, 2", "$var(a), $rm");')


def test_an_unknown_connection_is_refused_at_load(kampy_cfg: Any, domains: str) -> None:
    with pytest.raises(Exception, match=r"invalid connection \[cb\]"):
        run(kampy_cfg, domains, 'sql_query("cb", "select 1");')


def test_sql_val_transformations_quote_for_sql(kampy_cfg: Any, domains: str) -> None:
    result = run(kampy_cfg, domains, "$var(s) = \"it's\"; $var(i) = 5; "
                                     "$avp(a) = $(var(s){sql.val}); $avp(b) = $(var(i){sql.val}); "
                                     "$avp(c) = $(avp(none){sql.val}); $avp(d) = $(avp(none){sql.val.int}); "
                                     "$avp(e) = $(avp(none){sql.val.str});")
    assert [result.avp(n) for n in "abcde"] == ["'it\\'s'", "5", "NULL", "0", "''"]


def test_a_value_longer_than_half_tr_buf_size_fails_sql_val(kampy_cfg: Any, domains: str) -> None:
    result = run(kampy_cfg, domains, '$var(s) = "0123456789"; $avp(a) = $(var(s){sql.val}) == $null;',
                 'modparam("sqlops", "tr_buf_size", 20)')
    assert result.avp("a") == 1


def test_several_connections_reach_their_own_databases(kampy_cfg: Any, domains: str, tmp_path: Any) -> None:
    other = f"sqlite://{tmp_path}/other.db"
    with connect(other) as db:
        db.execute("create table t (v varchar(10))")
        db.execute("insert into t values ('from cb')")
    result = run(kampy_cfg, domains, 'sql_query("cb", "select v from t", "rb"); $avp(v) = $dbr(rb=>[0,0]); '
                                     'sql_query("ca", "select count(*) from domain", "ra"); '
                                     "$avp(n) = $dbr(ra=>[0,0]);",
                 f'modparam("sqlops", "sqlcon", "cb=>{other}")')
    assert result.avp("v") == "from cb"
    assert str(result.avp("n")) == "2"  # a BIGINT (MySQL's count) is a string in $dbr


def test_a_datetime_column_is_seconds_since_the_epoch(kampy_cfg: Any, domains: str) -> None:
    result = run(kampy_cfg, domains, 'sql_query("ca", "select last_modified from domain order by id", "ra"); '
                                     "$avp(t) = $dbr(ra=>[0,0]);")
    assert result.avp("t") == int(time.mktime(time.strptime("2000-01-01 00:00:01", "%Y-%m-%d %H:%M:%S")))


def test_a_duplicate_connection_name_is_refused(kampy_cfg: Any, domains: str) -> None:
    with pytest.raises(Exception, match=r"duplicate connection name \[ca\]"):
        run(kampy_cfg, domains, "", f'modparam("sqlops", "sqlcon", "ca=>{domains}")')


def test_a_failed_connection_stops_the_start_unless_connect_mode_is_1(kampy_cfg: Any, tmp_path: Any) -> None:
    bad = "mysql://kamailio:kamailiorw@127.0.0.1:1/nowhere"
    with pytest.raises(Exception, match=r"failed to connect to the database \[ca\]"):
        run(kampy_cfg, bad, "")
    result = run(kampy_cfg, bad, '$avp(rc) = sql_query("ca", "select 1", "ra");',
                 'modparam("sqlops", "connect_mode", 1)')
    assert result.avp("rc") == -2


def test_sql_query_async_without_async_workers_is_dropped_as_kamailio_drops_it(kampy_cfg: Any,
                                                                              mysql_url: str) -> None:
    with connect(mysql_url) as db:
        create_tables(db, ["domain"])
        db.insert("domain", {"domain": "example.test"})
    result = run(kampy_cfg, mysql_url, '$avp(rc) = sql_query_async("ca", "delete from domain");')
    assert result.avp("rc") == 1
    time.sleep(0.3)
    with connect(mysql_url) as db:
        assert len(db.query("domain")) == 1


def test_sql_query_async_runs_on_mysql_and_is_refused_on_sqlite(kampy_cfg: Any, domains: str) -> None:
    result = run(kampy_cfg, domains, '$avp(rc) = sql_query_async("ca", "delete from domain");',
                 "async_workers=1")
    if domains.startswith("sqlite"):
        assert result.avp("rc") == -1
        return
    assert result.avp("rc") == 1
    deadline = time.monotonic() + 5
    with connect(domains) as db:
        while db.query("domain") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert db.query("domain") == []
