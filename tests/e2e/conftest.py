"""Fixtures for end-to-end tests: `kampy run` as a subprocess on free loopback ports."""
from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.dualserver import Started
from tests.e2e.kampy_process import CONFIGS, STARTED, Kampy, next_serial, start_kampy
from tests.e2e.proxy import TARGETS, NotAvailable, Pair, Proxy, registered_pair, start_proxy

OPTIONS_CFG = CONFIGS / "options.cfg"
LOG_TAIL = 12000  # characters of each server's log shown with a failure

StartKampy = Callable[..., Kampy]
_FIRST_SERIAL = pytest.StashKey[int]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):  # type: ignore[no-untyped-def]
    item.stash[_FIRST_SERIAL] = next_serial()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """A failing e2e test shows the end of the log (stderr) of every server it started and of every
    server still running (module fixtures)."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    first = item.stash.get(_FIRST_SERIAL, 0)
    for serial, server in STARTED:
        if serial < first and server.stopped:
            continue
        try:
            text = server.output()
        except OSError as exc:
            text = f"(cannot read {server.log_path}: {exc})"
        code = server.proc.poll()
        state = "running" if code is None else f"exit code {code}"
        report.sections.append((f"server log {server.log_path} (pid {server.proc.pid}, {state})",
                                text[-LOG_TAIL:]))


@pytest.fixture
def running_kampy(tmp_path: Path) -> Iterator[StartKampy]:
    """`running_kampy(cfg_text_or_path, host=, port=, protos=, args=)` starts kampy and waits until
    it is ready; every kampy started is stopped (by its PID) when the test ends."""
    started: list[Kampy] = []

    def start(cfg: str | Path = OPTIONS_CFG, **kwargs: object) -> Kampy:
        kampy = start_kampy(cfg, tmp_path, **kwargs)  # type: ignore[arg-type]
        started.append(kampy)
        return kampy

    yield start
    for kampy in started:  # also those a test stopped or killed itself: whatever is left in the group
        kampy.stop()


@pytest.fixture
def dual_servers() -> Iterator[Started]:
    """`dual_servers.start(kind, cfg, workdir, defines)` or `for server in dual_servers.each(cfg,
    workdir)`: Kamailio 5.6 or kampy on the same config (tests/e2e/dualserver.py); every server
    started is stopped (by its PID) when the test ends."""
    started = Started()
    yield started
    started.stop_all()


@pytest.fixture(scope="module")
def options_kampy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kampy]:
    """One kampy running configs/options.cfg (OPTIONS -> 200, Max-Forwards 0 -> 483) over UDP and
    TCP, shared by the tests of a module."""
    kampy = start_kampy(OPTIONS_CFG, tmp_path_factory.mktemp("kampy"))
    yield kampy
    kampy.stop()


@pytest.fixture(scope="session")
def sipp() -> str:
    path = shutil.which("sipp")
    if path is None:
        pytest.skip("sipp is not installed (Debian package sip-tester)")
    return path


@pytest.fixture(scope="module", params=TARGETS)
def proxy(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """configs/proxy.cfg run by Kamailio 5.6 (-n 4), by kampy with one worker and with four."""
    target = request.param
    try:
        server = start_proxy(target, tmp_path_factory.mktemp(target))
    except NotAvailable as exc:
        if target == "kamailio":
            pytest.skip(str(exc))
        pytest.xfail(f"kampy cannot run proxy.cfg yet: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pair(proxy: Proxy) -> Iterator[Pair]:
    """A caller and a callee registered with `proxy`, with fresh names."""
    p = registered_pair(proxy.addr)
    yield p
    p.close()
