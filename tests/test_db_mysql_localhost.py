"""db_mysql: `localhost` without a port is the server's Unix socket, as libmysqlclient (Kamailio's
client) connects; with a port, or another host, it is TCP."""
from __future__ import annotations

from pathlib import Path

import pytest

from kampy.db import connect
from kampy.db.schema import create_tables
from kampy.db.url import parse_url
from kampy.testing import mariadb
from kampy.modules.db_mysql.driver import local_socket


def socket_of(server: mariadb.MariaDB) -> Path:
    return server.datadir.parent / "mysqld.sock"


def test_localhost_without_a_port_reaches_the_server_through_its_socket(
        mariadb_server: mariadb.MariaDB, mysql_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYSQL_UNIX_PORT", str(socket_of(mariadb_server)))
    name = mysql_url.rsplit("/", 1)[1]
    db = connect(f"mysql://{mariadb.USER}:{mariadb.PASSWORD}@localhost/{name}")
    try:
        create_tables(db, ["mtree"])
        db.insert("mtree", {"tprefix": "1", "tvalue": "via-socket"})
        assert db.query("mtree", ["tvalue"]) == [("via-socket",)]
    finally:
        db.close()


def test_the_socket_is_used_only_for_localhost_without_a_port(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sock = tmp_path / "mysqld.sock"
    sock.touch()
    monkeypatch.setenv("MYSQL_UNIX_PORT", str(sock))
    assert local_socket(parse_url("mysql://u:p@localhost/kamailio")) == str(sock)
    assert local_socket(parse_url("mysql://u:p@localhost:3306/kamailio")) is None
    assert local_socket(parse_url("mysql://u:p@127.0.0.1/kamailio")) is None


def test_without_a_socket_file_localhost_stays_tcp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYSQL_UNIX_PORT", str(tmp_path / "absent.sock"))
    assert local_socket(parse_url("mysql://u:p@localhost/kamailio")) is None
