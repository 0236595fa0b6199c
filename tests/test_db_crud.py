"""Operations by table and column, on SQLite and on a real MariaDB (the `db` fixture runs both)."""
from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import time

import pytest

from kampy.db import Database, DBError, Reason, check_table_version, connect, create_tables

NUL_BODY = b"\x00hello\x00\xff\xfe binary \x00"
SQL_TEXT = "'; DROP TABLE silo; --"


def store(db: Database, user: str = "alice", **extra: object) -> int:
    row = {"src_addr": "sip:bob@example.org", "dst_addr": f"sip:{user}@example.org", "username": user,
           "domain": "example.org", "inc_time": 100, "exp_time": 200, "body": b"hi"}
    row.update(extra)
    return db.insert("silo", row)


def test_insert_returns_the_new_rows_id(db: Database) -> None:
    first, second = store(db), store(db)
    assert first >= 1 and second == first + 1


def test_query_returns_selected_columns_of_matching_rows(db: Database) -> None:
    mid = store(db, "alice")
    store(db, "carol")
    assert db.query("silo", ["id", "username", "ctype", "snd_time"], {"username": "alice"}) == [
        (mid, "alice", "text/plain", 0)]


def test_bytes_body_with_nul_bytes_comes_back_byte_for_byte(db: Database) -> None:
    mid = store(db, body=NUL_BODY)
    assert db.query("silo", ["body"], {"id": mid}) == [(NUL_BODY,)]


def test_utf8_text_including_four_byte_characters_round_trips(db: Database) -> None:
    text = "Grüße, 世界 😀"
    mid = store(db, src_addr=f"sip:{text}@example.org", body=text.encode())
    assert db.query("silo", ["src_addr", "body"], {"id": mid}) == [(f"sip:{text}@example.org", text.encode())]


def test_sql_looking_text_is_stored_and_matched_verbatim(db: Database) -> None:
    mid = store(db, SQL_TEXT, extra_hdrs=SQL_TEXT)
    assert db.query("silo", ["username", "extra_hdrs"], {"username": SQL_TEXT}) == [(SQL_TEXT, SQL_TEXT)]
    assert db.query("silo", ["id"]) == [(mid,)]


NOT_UTF8 = "sip:al\udcffice@example.org"  # the byte 0xFF as surrogateescape keeps it


def test_sqlite_stores_a_string_that_is_not_utf8_as_text_holding_its_bytes(tmp_path) -> None:
    with connect(f"sqlite://{tmp_path}/k.db", create_missing=True) as db:
        mid = store(db, NOT_UTF8, src_addr=NOT_UTF8)
        assert db.raw_query("SELECT typeof(src_addr), hex(src_addr) FROM silo") == [
            ("text", b"sip:al\xffice@example.org".hex().upper())]
        assert db.query("silo", ["id", "src_addr"], {"username": NOT_UTF8}) == [(mid, NOT_UTF8)]


def test_sqlite_reads_text_that_is_not_utf8_written_by_another_program(tmp_path) -> None:
    with connect(f"sqlite://{tmp_path}/k.db", create_missing=True) as db:
        db.execute("INSERT INTO silo (username, src_addr) VALUES ('u', CAST(? AS TEXT))",
                   (b"sip:\xfe@x",))
        assert db.query("silo", ["src_addr"], {"username": "u"}) == [("sip:\udcfe@x",)]


def test_a_parameter_marker_inside_a_literal_is_not_a_parameter(tmp_path) -> None:
    with connect(f"sqlite://{tmp_path}/k.db", create_missing=True) as db:
        db.execute("INSERT INTO silo (username, src_addr) VALUES ('?', ?)", (NOT_UTF8,))
        assert db.raw_query("SELECT username, src_addr FROM silo") == [("?", NOT_UTF8)]


def test_mysql_refuses_a_string_that_is_not_utf8_as_a_data_error(mysql_url: str) -> None:
    with connect(mysql_url) as db:
        create_tables(db, ["silo"])
        with pytest.raises(DBError) as err:
            store(db, src_addr=NOT_UTF8)
        assert err.value.reason is Reason.DATA
        assert db.query("silo", ["id"]) == []


def test_none_value_matches_null(db: Database) -> None:
    db.insert("location", {"ruid": "r1", "username": "alice", "domain": None, "contact": "sip:a@h"})
    db.insert("location", {"ruid": "r2", "username": "alice", "domain": "d", "contact": "sip:a@h"})
    assert db.query("location", ["ruid"], {"domain": None}) == [("r1",)]
    assert db.query("location", ["ruid"], [("domain", "!=", None)]) == [("r2",)]


def test_conditions_with_operators_combine_with_and(db: Database) -> None:
    ids = [store(db, f"u{i}", exp_time=i) for i in range(6)]
    rows = db.query("silo", ["id"], [("exp_time", ">=", 2), ("exp_time", "<", 5), ("username", "!=", "u3")],
                    order_by="id")
    assert rows == [(ids[2],), (ids[4],)]
    assert db.query("silo", ["username"], [("id", "IN", ids[:2])], order_by="id") == [("u0",), ("u1",)]
    assert db.query("silo", ["username"], [("username", "LIKE", "u5%")]) == [("u5",)]


def test_order_by_and_limit(db: Database) -> None:
    for i in (3, 1, 2):
        store(db, f"u{i}", inc_time=i)
    assert db.query("silo", ["inc_time"], order_by="inc_time DESC", limit=2) == [(3,), (2,)]
    assert db.query("silo", ["inc_time"], order_by=["username"], limit=1) == [(1,)]


def test_update_sets_values_and_returns_affected_rows(db: Database) -> None:
    store(db, "alice")
    store(db, "alice")
    store(db, "bob")
    assert db.update("silo", {"username": "alice"}, {"snd_time": 42, "body": b"new"}) == 2
    assert db.query("silo", ["snd_time", "body"], {"username": "alice"}) == [(42, b"new")] * 2


def test_delete_returns_deleted_rows(db: Database) -> None:
    keep, gone = store(db, "alice"), store(db, "bob")
    assert db.delete("silo", {"id": gone}) == 1
    assert db.delete("silo", {"id": gone}) == 0
    assert db.query("silo", ["id"]) == [(keep,)]


def test_raw_query_takes_the_drivers_placeholder(db: Database) -> None:
    store(db, "alice")
    sql = f"SELECT COUNT(*) FROM silo WHERE username = {db.dialect.placeholder}"
    assert db.raw_query(sql, ["alice"]) == [(1,)]


def test_datetime_values_round_trip(db: Database) -> None:
    when = dt.datetime(2031, 2, 3, 4, 5, 6)
    db.insert("location", {"ruid": "r1", "username": "a", "contact": "sip:a@h", "expires": when})
    db.insert("location", {"ruid": "r2", "username": "b", "contact": "sip:b@h"})
    rows = db.query("location", ["expires"], order_by="ruid")
    assert rows == [(when,), (dt.datetime(2030, 5, 28, 21, 32, 15),)]


@pytest.mark.parametrize("name", ["silo; DROP TABLE silo", "silo`", 'a"b', "", "1abc"])
def test_invalid_identifier_is_refused_before_any_sql(db: Database, name: str) -> None:
    with pytest.raises(DBError) as info:
        db.query(name, ["id"])
    assert info.value.reason is Reason.USAGE


def test_invalid_operator_is_refused(db: Database) -> None:
    with pytest.raises(DBError, match="operator"):
        db.query("silo", ["id"], [("id", "= 1 OR 1 =", 1)])


def test_unique_constraint_violation_is_an_integrity_error(db: Database) -> None:
    db.insert("subscriber", {"username": "alice", "domain": "d"})
    with pytest.raises(DBError) as info:
        db.insert("subscriber", {"username": "alice", "domain": "d"})
    assert info.value.reason is Reason.INTEGRITY


def test_mysql_refuses_a_value_too_long_instead_of_truncating(mysql_url: str) -> None:
    with connect(mysql_url) as db:
        db.execute("CREATE TABLE t (name VARCHAR(4) NOT NULL, b BLOB)")
        with pytest.raises(DBError) as info:
            db.insert("t", {"name": "12345"})
        assert info.value.reason is Reason.DATA
        with pytest.raises(DBError):
            db.insert("t", {"name": "x", "b": b"\x00" * 70000})
        assert db.query("t") == []


def test_table_version_reads_the_version_table(db: Database) -> None:
    assert db.table_version("silo") == 8
    assert db.table_version("location") == 9
    assert db.table_version("version") == 1
    assert db.table_version("no_such_table") is None


def test_query_on_a_missing_table_names_kampy_db_create(db: Database) -> None:
    with pytest.raises(DBError, match="kampy db create") as info:
        db.query("no_such_table", ["id"])
    assert info.value.reason is Reason.MISSING_TABLE


def test_check_table_version_accepts_the_expected_version(db: Database) -> None:
    check_table_version(db, "silo", 8)


def test_check_table_version_refuses_a_wrong_version(db: Database) -> None:
    db.update("version", {"table_name": "silo"}, {"table_version": 7})
    with pytest.raises(DBError, match=r"version 7.*needs version 8.*kampy db create") as info:
        check_table_version(db, "silo", 8)
    assert info.value.reason is Reason.VERSION


def test_check_table_version_names_kampy_db_create_when_the_row_is_missing(db: Database) -> None:
    db.delete("version", {"table_name": "silo"})
    with pytest.raises(DBError, match=r"kampy db create --db-url .* --tables silo"):
        check_table_version(db, "silo", 8)


def test_check_table_version_names_kampy_db_create_on_an_empty_database(db_url: str) -> None:
    with connect(db_url) as empty, pytest.raises(DBError, match="kampy db create") as info:
        check_table_version(empty, "silo", 8)
    assert info.value.reason is Reason.MISSING_TABLE


def test_check_table_version_refuses_a_listed_but_missing_table(db: Database) -> None:
    db.execute("DROP TABLE silo")
    with pytest.raises(DBError, match="does not exist.*kampy db create"):
        check_table_version(db, "silo", 8)


def test_async_run_keeps_the_event_loop_serving(db: Database) -> None:
    async def main() -> tuple[list[tuple], int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        await db.run(time.sleep, 0.3)  # a slow database call, as the loop sees it
        rows = await db.run(db.query, "version", ["table_version"], {"table_name": "silo"})
        task.cancel()
        return rows, ticks

    rows, ticks = asyncio.run(main())
    assert rows == [(8,)]
    assert ticks >= 10


def test_mysql_slow_statement_does_not_block_asyncio_callers(mysql_url: str) -> None:
    async def main(db: Database) -> float:
        started = time.monotonic()
        slow = asyncio.create_task(db.run(db.raw_query, "SELECT SLEEP(0.5)"))
        await asyncio.sleep(0.05)
        fast = time.monotonic() - started
        await slow
        return fast

    with connect(mysql_url) as db:
        assert asyncio.run(main(db)) < 0.3


def _insert_many(url: str, worker: int, count: int) -> None:
    with connect(url) as db:
        for i in range(count):
            db.insert("silo", {"username": f"w{worker}", "domain": "d", "inc_time": i})


def test_concurrent_worker_processes_all_store(db: Database) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_insert_many, args=(db.url.text, w, 50)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 4
    assert db.raw_query("SELECT COUNT(*) FROM silo") == [(200,)]


def _use_inherited(db: Database) -> None:
    db.insert("silo", {"username": "child"})


def test_a_forked_child_opens_its_own_connection(db: Database) -> None:
    store(db, "parent")
    child = multiprocessing.get_context("fork").Process(target=_use_inherited, args=(db,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    store(db, "after")  # an insert is never retried: the parent's session must have survived
    assert db.query("silo", ["username"], order_by="id") == [("parent",), ("child",), ("after",)]
