from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.db import Database, connect, create_tables
from tests.support import mariadb

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[mariadb.MariaDB]:
    """A real MariaDB on 127.0.0.1 with its own data directory, for the whole session."""
    server = mariadb.start(tmp_path_factory.mktemp("mariadb"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mysql_url(mariadb_server: mariadb.MariaDB) -> Iterator[str]:
    """A fresh, empty database in the shared MariaDB, owned by the kamailio account, for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    root = mariadb_server.connect(database=None, user="root", password="")
    with root.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        cur.execute(f"GRANT ALL ON {name}.* TO '{mariadb.USER}'@'%'")
    try:
        yield mariadb_server.url.rsplit("/", 1)[0] + "/" + name
    finally:
        with root.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        root.close()


@pytest.fixture(params=["sqlite", "mysql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend: a new SQLite file, a new MariaDB database."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/kampy.db"
    return request.getfixturevalue("mysql_url")


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A connected database holding Kamailio's standard tables."""
    database = connect(db_url)
    create_tables(database)
    try:
        yield database
    finally:
        database.close()
