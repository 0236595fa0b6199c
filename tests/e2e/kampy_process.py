"""Start `kampy run` as a subprocess on free loopback ports and stop it by its PID.

Plain functions (no pytest), so the namespace helper script and bench/ can use them too.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
CONFIGS = Path(__file__).resolve().parent / "configs"
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
READY_MARK = "ready: "

# Every server started by these helpers in this process (kampy, Kamailio), oldest first, with a
# serial number: the e2e conftest attaches the logs of the servers a failing test started, and of
# those still running (module fixtures), to its report.
STARTED: list[tuple[int, Any]] = []
_serials = itertools.count(1)


def track(server: Any) -> Any:
    """Remember `server` (anything with `proc`, `log_path`, `stopped` and `output()`)."""
    del STARTED[:-100]
    STARTED.append((next(_serials), server))
    return server


def next_serial() -> int:
    """The serial the next tracked server will get."""
    return STARTED[-1][0] + 1 if STARTED else 1


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15) -> int:
    """Signal a server this test started (by its PID), wait for it, SIGKILL it if it lingers;
    return its exit code."""
    if proc.poll() is None:
        os.kill(proc.pid, sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait()


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP on `host` (kampy listens on both)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(50):
        with socket.socket(family, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = tcp.getsockname()[1]
            with socket.socket(family, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


@dataclass
class Kampy:
    """A running `kampy run`: where it listens, its process, what it logged."""

    proc: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path
    stopped: bool = field(default=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def addr(self) -> tuple[str, int]:
        return (self.host, self.port)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Signal the process (by PID) and wait for it; return its exit code."""
        code = stop_process(self.proc, sig, timeout)
        self.stopped = True
        return code

    def worker_pids(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def rss_kib(self) -> int:
        """VmRSS of the kampy process plus its workers, in KiB."""
        return sum(rss_kib(pid) for pid in [self.pid, *self.worker_pids()])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def write_config(cfg: str | Path, directory: Path) -> Path:
    """A config path: `cfg` itself if it names a file, else `cfg` (text) written to `directory`."""
    if isinstance(cfg, Path) or (isinstance(cfg, str) and "\n" not in cfg and Path(cfg).is_file()):
        return Path(cfg)
    path = directory / "kampy.cfg"
    path.write_text(cfg)
    return path


def kampy_command(cfg_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "kampy", "run", "-f", str(cfg_path), "-E", *args]


def start_kampy(cfg: str | Path, directory: Path, *, host: str = "127.0.0.1", port: int | None = None,
                protos: Sequence[str] = ("udp", "tcp"), args: Sequence[str] = (),
                ready_timeout: float = 30) -> Kampy:
    """Start `kampy run` listening on `host:port` (free ports if not given) and wait until it is ready."""
    port = port or free_port(host)
    cfg_path = write_config(cfg, directory)
    bracketed = f"[{host}]" if ":" in host else host
    listen = [a for proto in protos for a in ("-l", f"{proto}:{bracketed}:{port}")]
    log_path = directory / f"kampy-{port}.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(kampy_command(cfg_path, *listen, *args), cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    kampy = track(Kampy(proc, host, port, log_path))
    _wait_ready(kampy, ready_timeout)
    return kampy


def _wait_ready(kampy: Kampy, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if READY_MARK in kampy.output():
            return
        if kampy.proc.poll() is not None:
            raise RuntimeError(f"kampy exited with {kampy.proc.returncode}:\n{kampy.output()}")
        time.sleep(0.05)
    kampy.stop(signal.SIGKILL)
    raise RuntimeError(f"kampy not ready after {timeout}s:\n{kampy.output()}")


@contextlib.contextmanager
def running_kampy(cfg: str | Path, directory: Path, **kwargs: object) -> Iterator[Kampy]:
    kampy = start_kampy(cfg, directory, **kwargs)  # type: ignore[arg-type]
    try:
        yield kampy
    finally:
        if not kampy.stopped:
            kampy.stop()
