"""A test run killed before its clean-up (SIGKILL, a CI timeout) leaves servers running; the next
run stops them at its start (tests/support/leftovers.py), and only those: a server whose test
run is still going (another engineer's suite beside this one) is left alone."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.kampy_process import group_members
from tests.support import leftovers

REPO = Path(__file__).resolve().parent.parent
# A test run: starts a server the way the e2e tests do, prints its pid, then waits to be killed.
RUNNER = f"""
import subprocess, sys, time
sys.path.insert(0, {str(REPO)!r})
from tests.e2e.kampy_process import start_server
server = start_server([sys.executable, "-c", "import time; time.sleep(300)"], stdin=subprocess.DEVNULL)
print(server.pid, flush=True)
time.sleep(300)
"""


def _run() -> tuple[subprocess.Popen[str], int]:
    runner = subprocess.Popen([sys.executable, "-c", RUNNER], stdout=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL)
    assert runner.stdout is not None
    return runner, int(runner.stdout.readline())


def _kill(runner: subprocess.Popen[str]) -> None:
    runner.send_signal(signal.SIGKILL)
    runner.wait()


def _gone(pgid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_servers_of_a_killed_run_are_stopped_by_the_next(tmp_path):
    runner, server = _run()
    _kill(runner)
    assert group_members(server) == [server]  # nobody stopped it
    done = leftovers.stop_orphaned_servers()
    assert f"killed the process group of server pid {server}, left by a test run that is gone" in done
    assert _gone(server)
    assert not (leftovers.RECORDS / f"{server}.json").exists()


def test_servers_of_a_run_going_on_beside_this_one_are_left_alone(tmp_path):
    runner, server = _run()
    try:
        leftovers.stop_orphaned_servers()
        assert group_members(server) == [server]
    finally:
        _kill(runner)
        leftovers.stop_orphaned_servers()
        assert _gone(server)


def test_a_stopped_server_leaves_no_record():
    from tests.e2e.kampy_process import start_server, stop_process

    proc = start_server([sys.executable, "-c", "import time; time.sleep(300)"], stdin=subprocess.DEVNULL)
    assert (leftovers.RECORDS / f"{proc.pid}.json").exists()
    stop_process(proc, timeout=5)
    assert not (leftovers.RECORDS / f"{proc.pid}.json").exists()
    assert group_members(proc.pid) == []
