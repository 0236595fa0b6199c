"""Fixtures of the stock-config suite: TLS certificates made once per session, and `stock_play`,
which runs scenario bodies (see scenario.py) and closes every server and namespace it made."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.testing.mariadb import MariaDB
from tests.e2e.stock import certs
from tests.e2e.stock.world import Play


@pytest.fixture(scope="session")
def stock_certs(tmp_path_factory: pytest.TempPathFactory) -> certs.Certificates:
    return certs.make(tmp_path_factory.mktemp("stock-certs"))


@pytest.fixture
def stock_play(tmp_path: Path, mariadb_server: MariaDB, stock_certs: certs.Certificates) -> Iterator[Play]:
    play = Play(tmp_path, mariadb_server, stock_certs)
    yield play
    for stock in play.stocks:
        stock.close()
