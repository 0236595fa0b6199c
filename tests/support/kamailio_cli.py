"""Running kampy and Kamailio 5.6 with Kamailio's command line, side by side, and daemons started so.

A daemon is not a child of the test: it is found by its pid file, and `Daemon.stop` ends it by that
PID and then whatever is left of its process group (the session daemonizing opened), never by name.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.kampy_process import REPO, group_members, process_stats
from tests.support import shared_files

KAMAILIO = "/usr/sbin/kamailio"
KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"
TIMEOUT = 60


@contextlib.contextmanager
def logging_kept() -> Iterator[None]:
    """Around an in-process `kampy [options]`: it sets up the process's logging as a started server
    would (a handler on the root logger, the `kampy` loggers' levels); put everything back."""
    import logging

    from kampy.cmdline import logsetup

    names = ["", "kampy", "kampy.listen"]
    levels = {n: logging.getLogger(n).level for n in names}
    try:
        yield
    finally:
        logsetup.close()
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def kampy_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "kampy", *args]


def kamailio_cmd(*args: str) -> list[str]:
    return [KAMAILIO, *args]


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """A short command (a check, an error, a daemon's start) with its output."""
    kwargs.setdefault("timeout", TIMEOUT)
    kwargs.setdefault("cwd", REPO)
    return subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,  # type: ignore[call-overload]
                          **kwargs)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state = next((f[0] for p, f in process_stats() if p == pid), "X")
    return state not in "ZX"


def wait_until(done: Callable[[], bool], timeout: float) -> bool:
    """Whether `done()` came true within `timeout` s."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def wait_gone(pid: int, timeout: float = 15) -> bool:
    return wait_until(lambda: not pid_alive(pid), timeout)


@dataclass
class Daemon:
    """A server daemonized by its own start (`kampy -P FILE ...`): its main process and group."""

    pid: int
    pgid: int
    pid_file: Path | None = None

    @classmethod
    def from_pid_file(cls, path: Path) -> Daemon:
        pid = int(path.read_text().split()[0])
        return cls(pid, os.getpgid(pid), path)

    def members(self) -> list[int]:
        return group_members(self.pgid)

    def workers(self) -> list[int]:
        return [p for p in self.members() if p != self.pid]

    def stores(self) -> set[Path]:
        return shared_files.open_stores(self.members())

    def send(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> bool:
        """`sig` to the main process; True when the whole group is gone within `timeout` s. What is
        left of the group afterwards gets SIGKILL (the test fails on the returned False)."""
        self.send(sig)
        gone = wait_gone(self.pid, timeout) and self._group_gone(timeout)
        self.kill_rest()
        return gone

    def _group_gone(self, timeout: float) -> bool:
        return wait_until(lambda: not self.members(), timeout)

    def kill_rest(self) -> None:
        for pid in self.members():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._group_gone(10)


def listening_block(stdout: str) -> str:
    """The "Listening on ... Aliases: ..." text a start or a check prints."""
    start = stdout.find("Listening on")
    return stdout[start:] if start >= 0 else ""
