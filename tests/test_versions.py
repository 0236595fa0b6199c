"""One place for versions (kampy/version.py): kampy's own, and the Kamailio version kampy behaves
as, which is the installed Kamailio's (5.6.3, Debian 12). `core.info` reports real values."""
from __future__ import annotations

import json

import subprocess
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from kampy.config.pipeline import load_text
from kampy.config.preprocess import preprocess_text
from kampy.rpc import JsonRpc
from kampy.runtime.context import Socket
from kampy.runtime.server import Server
from kampy.version import KAMAILIO_VERSION_TEXT, KAMPY_VERSION, source_id, version_string
from tests.pv_helpers import get, make_ctx

REPO = Path(__file__).resolve().parent.parent


def test_the_installed_distribution_has_kampys_version():
    assert version("kampy") == KAMPY_VERSION


def test_kampys_version_is_written_in_one_file_only():
    where = ["kampy", "modules", "tests", "setup.cfg"]
    found = subprocess.run(["git", "grep", "--untracked", "-lF", f'"{KAMPY_VERSION}"', "--", *where],
                           cwd=REPO, capture_output=True, text=True).stdout.split()
    assert found == ["kampy/version.py"]


def test_the_kamailio_version_is_the_installed_kamailios():
    out = subprocess.run(["/usr/sbin/kamailio", "-v"], capture_output=True, text=True, timeout=30).stdout
    assert f"version: kamailio {KAMAILIO_VERSION_TEXT} " in out


def test_the_preprocessor_defines_the_kamailio_version():
    defines = preprocess_text(";\n").defines
    major, minor, patch = KAMAILIO_VERSION_TEXT.split(".")
    expected = {f"KAMAILIO_{major}", f"KAMAILIO_{major}_{minor}", f"KAMAILIO_{major}_{minor}_{patch}"}
    assert expected <= set(defines)


def test_version_pseudo_variable_reports_the_kamailio_version_and_kampys_full_version():
    ctx = make_ctx()
    assert get(ctx, "$version(num)") == KAMAILIO_VERSION_TEXT
    assert get(ctx, "$version(full)") == version_string()
    assert get(ctx, "$version(hash)") == source_id()


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server.from_config(load_text('loadmodule "kex"\n;\n'),
                             sockets=[Socket("udp", "127.0.0.1", 5060), Socket("tcp", "127.0.0.1", 5060)])
    yield srv
    srv.shutdown()


def rpc(server: Server, method: str) -> object:
    body = json.dumps({"jsonrpc": "2.0", "method": method, "id": 1}).encode()
    return JsonRpc(server.core.rpc).handle(body)["result"]


def test_core_version_is_the_full_version(server):
    assert rpc(server, "core.version") == version_string()
    assert version_string().startswith(f"kampy {KAMPY_VERSION} (")


def test_core_info_reports_this_checkouts_revision_and_the_sockets_in_use(server):
    info = rpc(server, "core.info")
    assert set(info) == {"version", "id", "compiler", "compiled", "flags"}  # Kamailio's keys
    assert info["version"] == f"kampy {KAMPY_VERSION}"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    assert info["id"] == head[:12]
    assert info["compiler"].startswith(("CPython 3.", "PyPy 3."))
    assert info["compiled"]
    assert info["flags"].startswith("USE_UDP, USE_TCP, ") and "WORKERS=1" in info["flags"]
