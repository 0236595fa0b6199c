"""Session hooks that make a test run leave nothing behind: no shared store in /dev/shm, no server.

tests/conftest.py imports these hooks (`from tests.support.hygiene import ...`), so they run for
every session that collects tests/ (samples/tests included when run together).

At the start of the session: what an earlier run that was killed left is cleaned up (its servers,
its shared stores whose owner is gone: tests/support/leftovers.py); the shared stores then present
are noted (another kampy, or another test session, may be using them: they are never touched),
every `SharedStore.create()` of this process and of its forks is recorded, and SIGTERM (as
`timeout` sends it) becomes a KeyboardInterrupt, so that fixtures are torn down and the servers
they started are stopped.

At the end (after the fixtures' teardown):
  * a server started by tests/e2e/kampy_process.start_server and still running is stopped (with its
    process group), and reported as an error;
  * the stores this process or its forks created and nobody removed are deleted (a `Core` still
    referenced would delete its private store only at exit, a fork that ends with os._exit never);
  * a store that appeared during the session, is still there and is held open by no live process
    (checked twice, half a second apart) was left by a process of the session that died without
    deleting it (a kampy killed with SIGKILL): it is deleted and reported as an error.
An error makes the session fail (exit status 1).
"""
from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from kampy.runtime.shared import SharedStore
from tests.support import leftovers, shared_files

_state: dict[str, Any] = {}


def _recording_create(original: Any, record: str) -> Any:
    def create(cls: type[SharedStore], directory: str | Path | None = None, **kwargs: Any) -> SharedStore:
        store = original(cls, directory, **kwargs)
        with contextlib.suppress(OSError):  # one write per line: appends from forks do not interleave
            fd = os.open(record, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, f"{store.path}\n".encode())
            finally:
                os.close(fd)
        return store

    return classmethod(create)


def _terminate(signum: int, frame: object) -> None:
    if os.getpid() != _state.get("pid"):  # a fork of the test process: die of it as usual
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    raise KeyboardInterrupt(f"got {signal.Signals(signum).name}")


def pytest_sessionstart(session: pytest.Session) -> None:
    if _state.get("active"):  # imported by more than one conftest
        return
    # what an earlier run killed before its own clean-up left: its servers, then its stores
    earlier = leftovers.stop_orphaned_servers()
    _state["earlier"] = earlier + leftovers.remove_dead_stores(shared_files.store_dirs())
    fd, record = tempfile.mkstemp(prefix="kampy-test-stores-", suffix=".txt")
    os.close(fd)
    original = SharedStore.__dict__["create"].__func__
    SharedStore.create = _recording_create(original, record)  # type: ignore[method-assign]
    _state.update(active=True, pid=os.getpid(), record=record, original=original,
                  before=shared_files.stores(shared_files.store_files()), errors=[])
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)
        _state["sigterm"] = True


@pytest.hookimpl(trylast=True)  # after the runner's own sessionfinish has torn the fixtures down
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _state.get("active") or _state.get("pid") != os.getpid():
        return
    _state["active"] = False
    errors: list[str] = _state["errors"]
    errors += _stop_servers()
    gc.collect()  # a Core nobody references deletes its private store now
    errors += _sweep_stores()
    SharedStore.create = classmethod(_state["original"])  # type: ignore[method-assign]
    with contextlib.suppress(OSError):
        os.unlink(_state["record"])
    if _state.pop("sigterm", False) and signal.getsignal(signal.SIGTERM) is _terminate:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if errors and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    earlier = _state.get("earlier")
    if earlier:
        terminalreporter.section("cleaned up at the start: left by an earlier run", sep="-")
        for line in earlier:
            terminalreporter.line(line)
    errors = _state.get("errors")
    if errors:
        terminalreporter.section("left behind by the test session", sep="=", red=True, bold=True)
        for line in errors:
            terminalreporter.line(line, red=True)


def _stop_servers() -> list[str]:
    kampy_process = sys.modules.get("tests.e2e.kampy_process")
    if kampy_process is None:
        return []
    commands = {pid: " ".join(map(str, proc.args))[:200] for pid, proc in kampy_process.RUNNING.items()}
    return [f"server still running at the end of the session, stopped now: pid {pid} ({commands[pid]})"
            for pid in kampy_process.stop_all()]


def _sweep_stores() -> list[str]:
    me = os.getpid()
    try:
        recorded = {Path(line) for line in Path(_state["record"]).read_text().splitlines() if line}
    except OSError:
        recorded = set()
    errors = []
    held = shared_files.holders(exclude=[me])
    for base in sorted(recorded):
        if not shared_files.files_of(base):
            continue
        if base in held:
            errors.append(f"{base}: made by this session, still open in pid {sorted(held[base])}")
            continue
        shared_files.remove_store(base)
    new = shared_files.stores(shared_files.store_files()) - _state["before"] - recorded
    orphans = {b for b in new if b not in held}
    if orphans:
        time.sleep(0.5)  # a kampy starting right now may hold no file for a moment (fork -> reopen)
        held = shared_files.holders(exclude=[me])
        for base in sorted(orphans - held.keys()):
            removed = shared_files.remove_store(base)
            if removed:
                errors.append(f"{base}: appeared during the session and was held by no process at its end "
                              f"(a server that died without deleting it?); deleted {len(removed)} file(s)")
    return errors
