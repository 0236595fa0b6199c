"""Calls with SDP from a sipp caller through a proxy running configs/rtpengine.cfg (rtpengine_manage
offers in the INVITE, answers in the 200, rtpengine_delete in the BYE) to a sipp callee, with the
real rtpengine daemon relaying. Plain functions (no pytest), shared by
tests/e2e/test_rtpengine_sipp.py and bench/rtpengine_calls.py."""
from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e import dualserver
from tests.e2e.dualserver import Server
from tests.e2e.kampy_process import SCENARIOS, free_port, start_server, stop_process
from tests.e2e.sipp_proxy import Run, run_uac
from tests.support.rtpengine import Rtpengine

CFG = dualserver.CONFIGS / "rtpengine.cfg"


@contextmanager
def relay(workdir: Path, ports: int = 4000, log_level: int = 4) -> Iterator[Rtpengine]:
    """The rtpengine daemon, with `ports` media ports (four a call at once)."""
    daemon = Rtpengine(workdir, ports=ports, log_level=log_level).start()
    try:
        yield daemon
    finally:
        daemon.stop()


@contextmanager
def proxy(kind: str, workdir: Path, daemon: Rtpengine, children: int) -> Iterator[Server]:
    """Kamailio 5.6 or kampy on configs/rtpengine.cfg with `children` workers."""
    folder = workdir / kind
    folder.mkdir(parents=True, exist_ok=True)
    server = dualserver.start(kind, CFG, folder, {"RTPENGINE_SOCK": f'"{daemon.url}"'},
                              args=["-n", str(children)])
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def callee(sipp: str, workdir: Path) -> Iterator[tuple[str, int]]:
    """A sipp callee answering every INVITE with SDP; its address."""
    port = free_port()
    proc = start_server([sipp, "-sf", str(SCENARIOS / "call_sdp_uas.xml"), "-t", "u1", "-i", "127.0.0.1",
                         "-p", str(port), "-mp", str(free_port()), "-nostdin", "-buff_size", str(4 << 20),
                         "-bind_local"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
    try:
        time.sleep(0.3)  # let the callee bind its socket before the first INVITE reaches it
        yield ("127.0.0.1", port)
    finally:
        stop_process(proc, timeout=5)


def call_run(sipp: str, server: tuple[str, int], uas: tuple[str, int], workdir: Path, *, calls: int,
             rate: int, timeout: float = 60) -> Run:
    """`calls` calls (INVITE/200/ACK/BYE) at `rate` calls/s to the callee at `uas`, through `server`."""
    return run_uac(sipp, "call_sdp_uac.xml", uas, workdir, calls=calls, rate=rate, service="callee",
                   timeout=timeout, extra=["-rsa", f"{server[0]}:{server[1]}", "-mp", str(free_port())])
