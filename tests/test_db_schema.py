"""`kampy db` makes Kamailio 5.6's tables exactly as kamdbctl does: its SQL is Kamailio's scripts
(those of Debian's kamailio-{mysql,sqlite,postgres}-modules), and Debian's `kamdbctl create`, run
into a second database, gives the same tables, columns, types, defaults, keys and version rows."""
from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.synchronize
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from kampy.cli import main
from kampy.db import GROUPS, SETS, TABLES, DBError, check_table_version, connect, tables_of
from kampy.db.ddl import create_script
from kampy.testing.mariadb import MariaDB
from tests.support import kamctl

KAMAILIO_SQL = Path("/usr/share/kamailio")
SCRIPT_DIRS = {"mysql": "mysql", "sqlite": "db_sqlite", "postgres": "postgres"}


@pytest.mark.parametrize("dialect", sorted(SCRIPT_DIRS))
def test_every_groups_sql_is_kamailios_script(dialect: str) -> None:
    different = [group for group, tables in GROUPS.items()
                 if create_script([TABLES[t] for t in tables], dialect)
                 != (KAMAILIO_SQL / SCRIPT_DIRS[dialect] / f"{group}-create.sql").read_text()]
    assert different == []


def test_db_sql_prints_a_groups_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "sql", "--dialect", "sqlite", "presence"]) == 0
    assert capsys.readouterr().out == (KAMAILIO_SQL / "db_sqlite" / "presence-create.sql").read_text()


def test_the_schema_has_every_table_kamdbctl_creates() -> None:
    assert len(TABLES) == 70
    assert {"subscriber", "acc", "acc_cdrs", "missed_calls", "address", "trusted", "dbaliases", "speed_dial",
            "domain", "domain_attrs", "htable", "location", "location_attrs", "version", "presentity",
            "active_watchers", "watchers", "xcap", "pua", "dispatcher", "dialog", "dialog_vars", "uacreg",
            "dialplan", "grp", "re_grp", "uri", "usr_preferences", "silo", "aliases", "mtree",
            "mtrees"} <= set(TABLES)
    assert list(SETS) == ["standard", "presence", "extra", "dbuid"]


def test_table_versions_are_kamailio_5_6s() -> None:
    assert {n: TABLES[n].version for n in ("subscriber", "location", "acc", "missed_calls", "address",
                                           "dialog", "presentity", "htable", "silo")} == {
        "subscriber": 7, "location": 9, "acc": 5, "missed_calls": 4, "address": 6, "dialog": 7,
        "presentity": 5, "htable": 2, "silo": 8}


INFORMATION_SCHEMA = {
    "tables": "SELECT table_name, engine, table_collation FROM information_schema.tables "
              "WHERE table_schema = %s ORDER BY table_name",
    "columns": "SELECT table_name, ordinal_position, column_name, column_type, column_default, is_nullable, "
               "character_set_name, collation_name, column_key, extra FROM information_schema.columns "
               "WHERE table_schema = %s ORDER BY table_name, ordinal_position",
    "indexes": "SELECT table_name, index_name, non_unique, seq_in_index, column_name, index_type "
               "FROM information_schema.statistics WHERE table_schema = %s "
               "ORDER BY table_name, index_name, seq_in_index",
    "constraints": "SELECT table_name, constraint_name, constraint_type FROM "
                   "information_schema.table_constraints WHERE table_schema = %s "
                   "ORDER BY table_name, constraint_name",
}


def mysql_structure(server: MariaDB, database: str) -> dict[str, Any]:
    con = server.connect(database=database, user="root", password="")
    try:
        with con.cursor() as cur:
            out: dict[str, Any] = {}
            for name, query in INFORMATION_SCHEMA.items():
                cur.execute(query, (database,))
                out[name] = cur.fetchall()
            cur.execute("SELECT table_name, table_version FROM version ORDER BY table_name")
            out["version rows"] = cur.fetchall()
            return out
    finally:
        con.close()


def test_db_create_on_mariadb_makes_what_kamdbctl_create_makes(mariadb_server: MariaDB, mysql_url: str,
                                                               tmp_path: Path) -> None:
    assert main(["db", "create", "--db-url", mysql_url]) == 0
    reference = f"kamdbctl_{uuid.uuid4().hex[:10]}"
    kamctl.kamdbctl_create_mysql(tmp_path / "home", mariadb_server, reference)
    try:
        ours = mysql_structure(mariadb_server, mysql_url.rsplit("/", 1)[1])
        theirs = mysql_structure(mariadb_server, reference)
        assert len(theirs["tables"]) == len(TABLES)
        for part in theirs:
            assert ours[part] == theirs[part], part
    finally:
        mariadb_server.as_root(f"DROP DATABASE IF EXISTS {reference}")


def sqlite_structure(path: Path) -> dict[str, object]:
    con = sqlite3.connect(path)
    try:
        out: dict[str, object] = {}
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            indexes = con.execute(f"PRAGMA index_list({table})").fetchall()
            out[table] = {
                "columns": con.execute(f"PRAGMA table_info({table})").fetchall(),
                "indexes": sorted((i[1], i[2], i[3], tuple(c[2] for c in con.execute(
                    f"PRAGMA index_info('{i[1]}')"))) for i in indexes),
                "sql": con.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0],
            }
        out["version rows"] = sorted(con.execute("SELECT table_name, table_version FROM version"))
        return out
    finally:
        con.close()


def test_db_create_on_sqlite_makes_what_kamdbctl_create_makes(tmp_path: Path) -> None:
    # Debian's kamdbctl for SQLite knows no uid tables: it creates the standard, presence and extra sets
    assert main(["db", "create", "--db-url", f"sqlite://{tmp_path}/kampy.db",
                 "--sets", "standard,presence,extra"]) == 0
    kamctl.run("kamdbctl", "create", env=kamctl.rc_env(tmp_path / "home",
                                                       kamctl.sqlite_settings(tmp_path / "kamailio.db")))
    ours, theirs = sqlite_structure(tmp_path / "kampy.db"), sqlite_structure(tmp_path / "kamailio.db")
    assert len(theirs) == len(TABLES) - len(tables_of(sets=["dbuid"])) + 1
    assert ours == theirs


def test_db_create_makes_only_the_requested_tables_and_version(db_url: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "create", "--db-url", db_url, "--tables", "silo,location"]) == 0
    assert "created version, silo, location" in capsys.readouterr().out
    with connect(db_url) as db:
        assert db.query("version", ["table_name", "table_version"], order_by="table_name") == [
            ("location", 9), ("silo", 8), ("version", 1)]
        assert not db.table_exists("subscriber")


def test_db_create_leaves_existing_tables_and_their_rows(db_url: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "create", "--db-url", db_url, "--tables", "silo"]) == 0
    with connect(db_url) as db:
        db.insert("silo", {"username": "alice"})
    assert main(["db", "create", "--db-url", db_url, "--tables", "silo"]) == 0
    assert "already exist" in capsys.readouterr().out
    with connect(db_url) as db:
        assert db.query("silo", ["username"]) == [("alice",)]
        assert db.raw_query("SELECT COUNT(*) FROM version") == [(2,)]


def test_db_create_refuses_an_unknown_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "create", "--db-url", f"sqlite://{tmp_path}/x.db", "--tables", "silo,nope"]) == 1
    assert "unknown table(s) nope" in capsys.readouterr().err


def test_db_version_prints_a_tables_version(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["db", "create", "--db-url", db_url, "--tables", "silo"])
    capsys.readouterr()
    assert main(["db", "version", "--db-url", db_url, "silo"]) == 0
    assert capsys.readouterr().out == "8\n"
    assert main(["db", "version", "--db-url", db_url, "location"]) == 1
    assert "no version row for table 'location'" in capsys.readouterr().err


def test_missing_sqlite_file_is_created_with_the_standard_tables(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "new.db"
    with caplog.at_level(logging.INFO, logger="kampy.db"), \
            connect(f"sqlite://{path}", create_missing=True) as db:
        check_table_version(db, "silo", 8)
        check_table_version(db, "location", 9)
    assert path.is_file()
    assert any("did not exist" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)


def test_existing_sqlite_file_is_not_touched_by_create_missing(tmp_path: Path) -> None:
    path = tmp_path / "mine.db"
    sqlite3.connect(path).execute("CREATE TABLE mine (x INTEGER)").connection.close()
    with connect(f"sqlite://{path}", create_missing=True) as db:
        assert not db.table_exists("version")
        with pytest.raises(DBError, match="kampy db create"):
            check_table_version(db, "silo", 8)


def test_mysql_database_is_never_created_implicitly(mysql_url: str) -> None:
    with connect(mysql_url, create_missing=True) as db:
        assert not db.table_exists("version")
        with pytest.raises(DBError, match="kampy db create"):
            check_table_version(db, "silo", 8)


def _start_like_a_worker(url: str, barrier: multiprocessing.synchronize.Barrier,
                         results: multiprocessing.Queue[str]) -> None:
    barrier.wait()
    try:
        with connect(url, create_missing=True) as db:
            check_table_version(db, "silo", 8)
            check_table_version(db, "location", 9)
        results.put("ok")
    except Exception as exc:  # reported to the test, which shows it
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_creating_a_new_sqlite_file_at_once_all_get_the_tables(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    for attempt in range(4):
        path = tmp_path / f"new{attempt}.db"
        barrier, results = ctx.Barrier(6), ctx.Queue()
        procs = [ctx.Process(target=_start_like_a_worker, args=(f"sqlite://{path}", barrier, results))
                 for _ in range(6)]
        for proc in procs:
            proc.start()
        outcomes = [results.get(timeout=30) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
        assert outcomes == ["ok"] * 6
        with sqlite3.connect(path) as con:
            rows = con.execute("SELECT table_name, count(*) FROM version GROUP BY table_name").fetchall()
        assert sorted(rows) == sorted((name, 1) for name in TABLES)


def version_rows(url: str) -> list[tuple[str, int]]:
    with connect(url) as db:
        return sorted(db.query("version", ["table_name", "table_version"]))


def test_db_create_with_groups_makes_those_groups_tables(db_url: str) -> None:
    assert main(["db", "create", "--db-url", db_url, "--groups", "acc,auth_db"]) == 0
    assert version_rows(db_url) == [("acc", 5), ("acc_cdrs", 2), ("missed_calls", 4), ("subscriber", 7),
                                    ("version", 1)]


def test_db_add_tables_creates_one_groups_tables(db_url: str) -> None:
    assert main(["db", "add-tables", "--db-url", db_url, "presence"]) == 0
    assert [t for t, _ in version_rows(db_url)] == sorted(
        ["version", "presentity", "active_watchers", "watchers", "xcap", "pua"])


def test_db_presence_creates_the_presence_set_with_rls(db_url: str) -> None:
    assert main(["db", "presence", "--db-url", db_url]) == 0
    assert {t for t, _ in version_rows(db_url)} == {"version", *tables_of(sets=["presence"])}
    assert "rls_watchers" in tables_of(sets=["presence"])


def test_db_create_refuses_an_unknown_group(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "create", "--db-url", db_url, "--groups", "acc,nope"]) == 2
    assert "unknown table group 'nope'" in capsys.readouterr().err


def test_db_drop_removes_the_tables_and_their_version_rows_only(db_url: str) -> None:
    assert main(["db", "create", "--db-url", db_url, "--groups", "acc,auth_db"]) == 0
    with connect(db_url) as db:
        db.execute("CREATE TABLE mine (x INTEGER)")
    assert main(["db", "drop", "--db-url", db_url, "--groups", "acc"]) == 0
    assert version_rows(db_url) == [("subscriber", 7), ("version", 1)]
    with connect(db_url) as db:
        assert not db.table_exists("acc") and not db.table_exists("missed_calls")
        assert db.table_exists("subscriber") and db.table_exists("mine")


def test_db_drop_without_a_selection_drops_every_kamailio_table(db_url: str) -> None:
    assert main(["db", "create", "--db-url", db_url]) == 0
    with connect(db_url) as db:
        db.execute("CREATE TABLE mine (x INTEGER)")
    assert main(["db", "drop", "--db-url", db_url]) == 0
    with connect(db_url) as db:
        assert [t for t in TABLES if db.table_exists(t)] == []
        assert db.table_exists("mine")


def test_db_reinit_empties_the_tables(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "create", "--db-url", db_url, "--tables", "subscriber"]) == 0
    with connect(db_url) as db:
        db.insert("subscriber", {"username": "alice", "domain": "example.org"})
    assert main(["db", "reinit", "--db-url", db_url, "--tables", "subscriber"]) == 0
    assert "dropped subscriber" in capsys.readouterr().out
    with connect(db_url) as db:
        assert db.query("subscriber") == []
    assert version_rows(db_url) == [("subscriber", 7), ("version", 1)]
