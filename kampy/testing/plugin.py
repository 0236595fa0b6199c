"""The kampy pytest plugin (entry point `pytest11`: `kampy = kampy.testing.plugin`).

Fixtures:
  kampy_cfg        factory: `kampy_cfg(cfg, aliases=..., defines=..., modparams=..., standins=...,
                   db=..., listen=...)` ->
                   a `Harness`, closed after the test
  kampy_mariadb    a private MariaDB server for the session (skips the test when MariaDB is not
                   installed)
  kampy_mysql_url  a new, empty database on it for one test, with Kamailio's tables created by
                   the harness when a config uses it: `kampy_cfg(cfg, db=kampy_mysql_url)`
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kampy.testing.harness import Harness
from kampy.testing.result import Status


@pytest.fixture
def kampy_cfg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Harness]]:
    """Load a kamailio.cfg (a path, or its text) for the test; every harness made is closed at
    the end. Keyword arguments are those of `Harness.load`."""
    made: list[Harness] = []

    def load(cfg: str | Path, **kwargs: Any) -> Harness:
        kwargs.setdefault("workdir", tmp_path_factory.mktemp("kampy"))
        harness = Harness.load(cfg, **kwargs)
        made.append(harness)
        return harness

    yield load
    for harness in made:
        harness.close()


@pytest.fixture(scope="session")
def kampy_mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A MariaDB server on 127.0.0.1 with its own data directory, for the whole session."""
    from kampy.testing import mariadb

    if mariadb.server_binary() is None:
        pytest.skip("MariaDB is not installed (Debian package mariadb-server)")
    server = mariadb.start(tmp_path_factory.mktemp("mariadb"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kampy_mysql_url(kampy_mariadb: Any) -> Iterator[str]:
    """The URL of a new, empty database on the session's MariaDB, dropped after the test."""
    from kampy.testing import mariadb

    with mariadb.fresh_database(kampy_mariadb) as url:
        yield url


def pytest_assertrepr_compare(op: str, left: object, right: object) -> list[str] | None:
    """`assert result.status == 202` failing shows the request, the routes taken and the reply."""
    status = left if isinstance(left, Status) else right if isinstance(right, Status) else None
    if status is None or status.result is None:
        return None
    other = right if status is left else left
    result = status.result
    return [f"reply status {int(status)} {op} {other!r}", *result.summary(), "",
            *result.describe().splitlines()]
