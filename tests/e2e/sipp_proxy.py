"""sipp against the proxy of configs/proxy.cfg: REGISTERs, and MESSAGEs from a sipp caller relayed to
a sipp callee. Plain functions (no pytest), shared by tests/e2e/test_proxy_sipp.py and bench/stateful.py."""
from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.kampy_process import SCENARIOS, free_port, start_server, stop_process
from tests.e2e.proxy import UA, unique

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Run:
    """One sipp run: calls created, succeeded and failed, how long it took, and sipp's exit code."""

    created: int
    succeeded: int
    failed: int
    seconds: float
    exit_code: int
    output: str = ""

    @property
    def rate(self) -> float:
        """Calls that succeeded per second."""
        return self.succeeded / self.seconds if self.seconds > 0 else 0.0


def sipp_counts(stat: Path) -> tuple[int, int, int]:
    """(calls created, succeeded, failed) from the last line of a sipp -trace_stat file."""
    try:
        lines = stat.read_text().splitlines()
    except OSError:
        return 0, 0, 0
    if len(lines) < 2:
        return 0, 0, 0
    names, last = lines[0].split(";"), lines[-1].split(";")
    return tuple(int(last[names.index(n)]) for n in  # type: ignore[return-value]
                 ("TotalCallCreated", "SuccessfulCall(C)", "FailedCall(C)"))


def run_uac(sipp: str, scenario: str | Path, target: tuple[str, int], workdir: Path, *, calls: int, rate: int,
            service: str | None = None, timeout: float = 60, local: tuple[str, int] | None = None,
            prefix: Sequence[str] = (), extra: Sequence[str] = ()) -> Run:
    """Run `scenario` (a name in SCENARIOS, or a path) for `calls` calls at `rate` calls/s against
    `target`, from `local` (127.0.0.1 and a free port by default), the command after `prefix` (to run
    it in a namespace) and with `extra` sipp options; bounded by `timeout`."""
    stat = workdir / f"{Path(scenario).stem}-{free_port()}.csv"
    host, port = local or ("127.0.0.1", free_port())
    cmd = [*prefix, sipp, "-sf", str(SCENARIOS / scenario), "-t", "u1", "-i", host, "-p", str(port),
           "-m", str(calls), "-r", str(rate), "-l", str(max(100, rate * 10)), "-timeout", f"{int(timeout)}s",
           "-nostdin", "-trace_stat", "-stf", str(stat), "-fd", "1", "-buff_size", str(4 << 20)]
    if service:
        cmd += ["-s", service]
    cmd += extra
    cmd.append(f"{target[0]}:{target[1]}")
    start = time.monotonic()
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30, cwd=workdir)
    seconds = time.monotonic() - start
    created, ok, failed = sipp_counts(stat)
    return Run(created, ok, failed, seconds, result.returncode, result.stdout[-2000:] + result.stderr[-2000:])


def register_run(sipp: str, proxy: tuple[str, int], workdir: Path, *, calls: int, rate: int,
                 timeout: float = 60) -> Run:
    """REGISTERs of `calls` distinct users."""
    return run_uac(sipp, "register_200.xml", proxy, workdir, calls=calls, rate=rate, timeout=timeout)


def message_run(sipp: str, proxy: tuple[str, int], workdir: Path, *, calls: int, rate: int,
                timeout: float = 60) -> Run:
    """MESSAGEs from a sipp caller through the proxy to a sipp callee registered under a fresh name."""
    port = free_port()
    user = unique("uas")
    uas = start_server([sipp, "-sf", str(SCENARIOS / "message_uas.xml"), "-t", "u1", "-i", "127.0.0.1",
                        "-p", str(port), "-nostdin", "-buff_size", str(4 << 20), "-bind_local"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
    try:
        time.sleep(0.3)  # let the callee bind its socket before the first MESSAGE reaches it
        registrar = UA(user, proxy)
        registrar.contact = f"sip:{user}@127.0.0.1:{port}"
        reply = registrar.register()
        registrar.close()
        if reply.status != 200:
            raise RuntimeError(f"REGISTER of the sipp callee: {reply}")
        return run_uac(sipp, "message_uac.xml", proxy, workdir, calls=calls, rate=rate, service=user,
                       timeout=timeout)
    finally:
        stop_process(uas, timeout=5)
