"""Database URLs as Kamailio writes them, and finding a driver by URL scheme."""
from __future__ import annotations

from pathlib import Path

import pytest

from kampy.db import DBError, Reason, connect, driver_for, parse_url


def test_mysql_url_with_port() -> None:
    u = parse_url("mysql://kamailio:kamailiorw@127.0.0.1:3307/kamailio")
    assert (u.scheme, u.user, u.password, u.host, u.port, u.database) == (
        "mysql", "kamailio", "kamailiorw", "127.0.0.1", 3307, "kamailio")


def test_mysql_url_without_port_or_password() -> None:
    u = parse_url("mysql://kamailio@localhost/kamailio")
    assert (u.user, u.password, u.host, u.port) == ("kamailio", None, "localhost", None)


def test_mysql_url_keeps_an_at_sign_in_the_user_and_decodes_escapes() -> None:
    u = parse_url("mysql://user@example.org:p%40ss@[::1]:3306/db?x=1")
    assert (u.user, u.password, u.host, u.port, u.database) == ("user@example.org", "p@ss", "::1", 3306, "db")


def test_redacted_url_hides_the_password() -> None:
    assert parse_url("mysql://u:secret@h/db").redacted() == "mysql://u:***@h/db"


@pytest.mark.parametrize(("url", "path"), [
    ("sqlite:///var/lib/kamailio/db.sqlite", "/var/lib/kamailio/db.sqlite"),
    ("sqlite:////var/lib/kamailio/db.sqlite", "/var/lib/kamailio/db.sqlite"),
    ("sqlite://relative/dir/db.sqlite", "relative/dir/db.sqlite"),
    ("sqlite:///tmp/x.db?journal=wal", "/tmp/x.db"),
])
def test_sqlite_url_paths(url: str, path: str) -> None:
    assert parse_url(url).database == path


@pytest.mark.parametrize("url", ["kamailio", "mysql://host", "mysql://u:p@/db", "mysql://h:99999/db",
                                 "sqlite://", "://x/y"])
def test_malformed_urls_are_refused_with_reason_url(url: str) -> None:
    with pytest.raises(DBError) as info:
        parse_url(url)
    assert info.value.reason is Reason.URL


def test_driver_is_found_through_the_module_loader() -> None:
    from kampy.modules.db_mysql.driver import MySQLDriver
    from kampy.modules.db_sqlite.driver import SQLiteDriver

    assert isinstance(driver_for("sqlite"), SQLiteDriver)
    assert isinstance(driver_for("mysql"), MySQLDriver)


def test_unknown_scheme_names_the_missing_module() -> None:
    with pytest.raises(DBError, match="db_postgres") as info:
        connect("postgres://u:p@h/db")
    assert info.value.reason is Reason.DRIVER


def test_relative_sqlite_url_opens_from_the_working_directory(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    with connect("sqlite://sub/kampy.db", create_missing=True) as db:
        assert db.table_version("silo") == 8
    assert (tmp_path / "sub" / "kampy.db").is_file()


def test_sqlite_in_a_missing_directory_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(DBError, match="cannot use SQLite database") as info:
        connect(f"sqlite://{tmp_path}/no/such/dir/x.db")
    assert info.value.reason is Reason.CONNECTION
