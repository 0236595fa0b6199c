from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
