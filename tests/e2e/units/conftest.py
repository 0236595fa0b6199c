"""Fixtures for the tests of Kamailio's own unit-test suite (see harness.py)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.units.harness import UnitServer


@pytest.fixture
def unit_server(tmp_path: Path) -> Iterator[Callable[..., UnitServer]]:
    """`unit_server(cfg_text, name)`: a UnitServer in namespaces of its own, closed at the end
    (`cfg_text` None: the server runs Debian's default config)."""
    made: list[UnitServer] = []

    def make(cfg: str | None, name: str = "unit") -> UnitServer:
        server = UnitServer(tmp_path, cfg, name)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()
