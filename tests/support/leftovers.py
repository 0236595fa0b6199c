"""What an earlier test run left because it was killed before it could clean up (SIGKILL, a CI
timeout): servers it started (kampy, Kamailio, sipp) and shared stores in /dev/shm.

Every server `tests/e2e/kampy_process.start_server` starts is recorded in a file of its own under
the temporary directory, naming the server (pid and start time) and the test process that started
it (the same); `stop_process` deletes the record once the server's group is gone. At the start of a
session, a record whose test process is gone names a server nobody will stop: its process group is
killed, if that same process still leads it. Records of a test process that is alive belong to a
run going on beside this one (other engineers run suites on this machine) and are left alone, as
are the shared stores whose owner is alive (`kampy.runtime.shared.remove_stale` checks its flock).
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
import time
from pathlib import Path

from kampy.runtime.shared import remove_stale

RECORDS = Path(tempfile.gettempdir()) / "kampy-test-servers"


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks since boot), which tells it apart from a later process
    given the same pid; None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[19])


def record_server(pid: int) -> None:
    RECORDS.mkdir(mode=0o700, exist_ok=True)
    me = os.getpid()
    entry = {"pid": pid, "start": start_time(pid), "runner": me, "runner_start": start_time(me)}
    (RECORDS / f"{pid}.json").write_text(json.dumps(entry))


def forget_server(pid: int) -> None:
    with contextlib.suppress(OSError):
        (RECORDS / f"{pid}.json").unlink()


def _alive(pid: int, started: int | None) -> bool:
    return started is not None and start_time(pid) == started


def stop_orphaned_servers() -> list[str]:
    """Kill the process groups of servers whose test run is gone; return what was done."""
    done = []
    for path in sorted(RECORDS.glob("*.json")) if RECORDS.is_dir() else []:
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if _alive(entry["runner"], entry["runner_start"]):
            continue  # a run going on beside this one
        pid = entry["pid"]
        with contextlib.suppress(ProcessLookupError):
            if _alive(pid, entry["start"]) and os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
                done.append(f"killed the process group of server pid {pid}, left by a test run that is gone")
        path.unlink(missing_ok=True)
    if done:
        time.sleep(0.2)  # let the kernel release their files before the stores are looked at
    return done


def remove_dead_stores(directories: list[Path]) -> list[str]:
    return [f"removed the shared store {store}: its owner is gone"
            for d in directories for store in remove_stale(d)]
