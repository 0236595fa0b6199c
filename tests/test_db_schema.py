"""`kampy db create` builds Kamailio 5.6's tables exactly as kamdbctl does (compared with the SQL
scripts of the Debian packages, run into a second database), and `kampy db version`."""
from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.synchronize
import re
import sqlite3
from pathlib import Path

import pytest

from kampy.cli import main
from kampy.db import TABLES, DBError, check_table_version, connect
from kampy.testing.mariadb import MariaDB

KAMAILIO_SQL = Path("/usr/share/kamailio")
MODULES = sorted({t.module for t in TABLES.values()})

needs_scripts = pytest.mark.skipif(not (KAMAILIO_SQL / "mysql").is_dir(),
                                   reason="Kamailio's SQL scripts (kamailio-mysql-modules) not installed")


def kamailio_script(dialect: str, module: str) -> str:
    return (KAMAILIO_SQL / dialect / f"{module}-create.sql").read_text()


def statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";\n") if s.strip()]


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
                "sql": " ".join(con.execute("SELECT sql FROM sqlite_master WHERE name = ?",
                                            (table,)).fetchone()[0].split()),
            }
        out["version rows"] = sorted(con.execute("SELECT table_name, table_version FROM version"))
        return out
    finally:
        con.close()


@needs_scripts
def test_sqlite_tables_match_kamdbctls(tmp_path: Path) -> None:
    assert main(["db", "create", "--db-url", f"sqlite://{tmp_path}/kampy.db"]) == 0
    reference = sqlite3.connect(tmp_path / "kamailio.db")
    for module in ["standard", *[m for m in MODULES if m != "standard"]]:
        reference.executescript(kamailio_script("db_sqlite", module))
    reference.close()
    assert sqlite_structure(tmp_path / "kampy.db") == sqlite_structure(tmp_path / "kamailio.db")


def mysql_structure(server: MariaDB, database: str) -> dict[str, object]:
    con = server.connect(database=database, user="root", password="")
    try:
        with con.cursor() as cur:
            cur.execute("SHOW TABLES")
            tables = sorted(r[0] for r in cur.fetchall())
            out: dict[str, object] = {}
            for table in tables:
                cur.execute(f"SHOW CREATE TABLE `{table}`")
                out[table] = re.sub(r" AUTO_INCREMENT=\d+", "", cur.fetchone()[1])
            cur.execute("SELECT table_name, table_version FROM version ORDER BY table_name")
            out["version rows"] = cur.fetchall()
            return out
    finally:
        con.close()


@needs_scripts
def test_mysql_tables_match_kamdbctls(mariadb_server: MariaDB, mysql_url: str) -> None:
    assert main(["db", "create", "--db-url", mysql_url]) == 0
    root = mariadb_server.connect(database=None, user="root", password="")
    with root.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS kamdbctl_ref")
        cur.execute("CREATE DATABASE kamdbctl_ref CHARACTER SET utf8mb4")
        cur.execute("USE kamdbctl_ref")
        for module in ["standard", *[m for m in MODULES if m != "standard"]]:
            for statement in statements(kamailio_script("mysql", module)):
                cur.execute(statement)
    try:
        ours = mysql_structure(mariadb_server, mysql_url.rsplit("/", 1)[1])
        assert ours == mysql_structure(mariadb_server, "kamdbctl_ref")
        assert set(ours) == set(TABLES) | {"version rows"}
    finally:
        with root.cursor() as cur:
            cur.execute("DROP DATABASE kamdbctl_ref")
        root.close()


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
