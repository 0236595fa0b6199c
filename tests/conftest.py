from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.db import Database, connect, create_tables
from kampy.runtime.shared import SharedStore
from kampy.testing import mariadb
from tests.support.basetemp import pytest_configure
from tests.support.hygiene import pytest_sessionfinish, pytest_sessionstart, pytest_terminal_summary

# The session deletes the shared stores (/dev/shm/kampy-shared-*) it leaves and stops the servers it
# started, and fails if a store was left by a process that died (see tests/support/hygiene.py).
__all__ = ["pytest_configure", "pytest_sessionfinish", "pytest_sessionstart", "pytest_terminal_summary"]



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
    """A fresh, empty database in the shared MariaDB, owned by the kamailio account, for one test.
    The teardown opens its own root connection, so a test may restart the server."""
    with mariadb.fresh_database(mariadb_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "mysql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend: a new SQLite file, a new MariaDB database."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/kampy.db"
    return request.getfixturevalue("mysql_url")


@pytest.fixture(params=["sqlite", "mysql"])
def silo_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database for msilo on each backend: a new SQLite file (msilo creates its tables), a new
    MariaDB database holding the silo table."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/silo.db"
    url = request.getfixturevalue("mysql_url")
    with connect(url) as db:
        create_tables(db, ["silo"])
    return url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A connected database holding Kamailio's standard tables."""
    database = connect(db_url)
    create_tables(database)
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def store() -> Iterator[SharedStore]:
    """A new shared store, as a server's first process creates it; removed with its tables after."""
    s = SharedStore.create()
    try:
        yield s
    finally:
        s.remove()


@pytest.fixture(autouse=True)
def kampy_log_levels_restored() -> Iterator[None]:
    """The levels of the kampy loggers as they were before the test: a config's `debug`, or a
    test that sets it at run time (`corex.debug`, `cfg.set_now_int core debug`), changes them for
    the whole process, and the next test's log records would be filtered by it."""
    names = [name for name in list(logging.root.manager.loggerDict) if name.startswith("kampy.")]
    loggers = [logging.getLogger("kampy"), *(logging.getLogger(name) for name in names)]
    levels = [(logger, logger.level) for logger in loggers]
    yield
    for logger, level in levels:
        logger.setLevel(level)

