"""Start `kampy run` as a subprocess on free loopback ports and stop it with everything it forked.

Plain functions (no pytest), so the namespace helper script and bench/ can use them too.

Every server the tests start (kampy, Kamailio, sipp) goes through `start_server`: it runs in a
session, and so a process group, of its own, and `stop_process` ends that whole group. Nothing is
ever signalled by name, only the groups started here.
"""
from __future__ import annotations

import atexit
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

from tests.support import leftovers, shared_files

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


# The servers started by `start_server` and not stopped yet, by PID (which is their process group).
RUNNING: dict[int, subprocess.Popen[bytes]] = {}
# Shared stores that `stop_process` found open in a group it stopped and had to delete itself.
SWEPT_STORES: list[Path] = []
GROUP_GRACE = 5.0  # seconds the rest of a group gets, after its leader exited, between SIGTERM and SIGKILL


def start_server(cmd: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen(cmd, **kwargs)` in a new session (so a new process group led by the server),
    remembered until `stop_process` ends the group. Signals for the test run's own process group
    (Ctrl-C, `timeout`) no longer reach the server: the fixtures, and `stop_all` at exit, stop it."""
    proc: subprocess.Popen[bytes] = subprocess.Popen(list(cmd), start_new_session=True, **kwargs)
    RUNNING[proc.pid] = proc
    leftovers.record_server(proc.pid)  # if this run is killed, the next one stops it
    return proc


def process_stats() -> Iterator[tuple[int, list[str]]]:
    """(pid, the fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, ...) of every
    process there is."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        yield int(name), stat[stat.rindex(")") + 2:].split()


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group `pgid`."""
    return [pid for pid, fields in process_stats() if int(fields[2]) == pgid and fields[0] not in "ZX"]


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15) -> int:
    """Stop a server this test run started and everything it forked; return the server's exit code.

    `sig` goes to the server itself (kampy's supervisor and Kamailio's main process stop their own
    workers: that shutdown is part of what the tests check), SIGKILL to its whole group at once (a
    crash). If the server has not exited after
    `timeout` s, its whole process group gets SIGKILL; if it exited but left processes in its
    group, they get SIGTERM, then SIGKILL after GROUP_GRACE s. The server is reaped only after its
    group is empty, so its PID (the group's ID) cannot be reused meanwhile. A shared store found
    open in the group and still there afterwards (a SIGKILLed kampy cannot delete it) is deleted."""
    own_group = RUNNING.get(proc.pid) is proc
    if not own_group and proc.returncode is not None:  # stopped already
        return proc.returncode
    if not own_group:
        log.warning("pid %d was not started by start_server: stopping it alone", proc.pid)
    members = group_members(proc.pid) if own_group else []
    stores = shared_files.open_stores(members)
    if sig == signal.SIGKILL:
        _signal(proc, own_group, sig)
    elif proc.returncode is None and not _exited(proc, 0):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
    if not _exited(proc, timeout):
        log.warning("pid %d did not stop %gs after %s: killing its process group", proc.pid, timeout,
                    signal.Signals(sig).name)
        _signal(proc, own_group, signal.SIGKILL)
    if own_group:
        left = group_members(proc.pid)
        if left:
            log.warning("pid %d exited and left %s in its process group: terminating them", proc.pid, left)
            _signal(proc, own_group, signal.SIGTERM)
            if not _group_gone(proc.pid, GROUP_GRACE):
                _signal(proc, own_group, signal.SIGKILL)
                if not _group_gone(proc.pid, 10):
                    raise RuntimeError(f"process group {proc.pid} survives SIGKILL: "
                                       f"{group_members(proc.pid)}")
    code = proc.wait()
    if own_group:
        del RUNNING[proc.pid]
        leftovers.forget_server(proc.pid)
    for base in stores:
        if shared_files.remove_store(base):
            SWEPT_STORES.append(base)
    return code


def stop_all() -> list[int]:
    """Stop every server `start_server` started and `stop_process` did not stop (at exit, or when
    a session ends); return the PIDs of those that were still running (or had left processes)."""
    running = []
    for proc in list(RUNNING.values()):
        if not _exited(proc, 0) or group_members(proc.pid):
            running.append(proc.pid)
        try:
            stop_process(proc, timeout=5)
        except Exception:  # at exit: stop the others anyway
            log.exception("stopping pid %d", proc.pid)
    return running


atexit.register(stop_all)


def _exited(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Whether the server has exited, waiting up to `timeout` s, without reaping it."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.returncode is not None:
            return True
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:  # reaped elsewhere: poll() records it
            proc.poll()
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _signal(proc: subprocess.Popen[bytes], own_group: bool, sig: int) -> None:
    """`sig` to the server's process group (to the server alone if it has none of its own). The
    group ID cannot have been reused: the server is not reaped yet, or members are left in it."""
    with contextlib.suppress(ProcessLookupError):
        if own_group:
            os.killpg(proc.pid, sig)
        elif proc.returncode is None:
            os.kill(proc.pid, sig)


def _group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


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
        """Signal the process (by PID), wait for it and its process group; return its exit code."""
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
        proc = start_server(kampy_command(cfg_path, *listen, *args), cwd=REPO, stdout=out,
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
            kampy.stop()  # its workers, if any are left
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
