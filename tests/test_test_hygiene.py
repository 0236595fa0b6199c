"""The suite leaves nothing behind: servers are stopped with every process they forked
(tests/e2e/kampy_process.py), shared stores (/dev/shm/kampy-shared-*) are deleted by the harness
and by the session (tests/support/hygiene.py)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kampy.testing import Harness
from tests.e2e import kampy_process
from tests.e2e.kampy_process import RUNNING, group_members, start_server, stop_process
from tests.support import shared_files

REPO = Path(__file__).resolve().parent.parent

# A leader that forks a child; each ignores SIGTERM when asked to; both print their PID, then wait.
TREE = textwrap.dedent("""
    import os, signal, sys, time
    leader_ignores, child_ignores = sys.argv[1] == "1", sys.argv[2] == "1"
    if os.fork() == 0:
        if child_ignores:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.write(1, b"%d\\n" % os.getpid())
        time.sleep(300)
        os._exit(0)
    if leader_ignores:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.write(1, b"%d\\n" % os.getpid())
    time.sleep(300)
""")


def _tree(leader_ignores: bool, child_ignores: bool) -> tuple[subprocess.Popen[bytes], list[int]]:
    proc = start_server([sys.executable, "-c", TREE, str(int(leader_ignores)), str(int(child_ignores))],
                        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        pids = sorted(int(proc.stdout.readline()) for _ in range(2))
        assert sorted(group_members(proc.pid)) == pids
    except BaseException:
        stop_process(proc, timeout=1)
        raise
    return proc, pids


def _assert_group_gone(pgid: int, pids: list[int]) -> None:
    assert group_members(pgid) == []
    for pid in pids:  # gone, or a zombie waiting for whoever reaps orphans here
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        assert state in "ZX", f"pid {pid} of group {pgid} is still running (state {state})"
    if not _zombies(pgid):  # zombies (not reaped yet) would still take a signal
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)
    assert pgid not in RUNNING


def _zombies(pgid: int) -> list[int]:
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            found.append(int(name))
    return found


def test_start_server_gives_the_server_a_session_and_process_group_of_its_own() -> None:
    proc = start_server(["sleep", "300"], stdin=subprocess.DEVNULL)
    try:
        assert os.getpgid(proc.pid) == proc.pid != os.getpgrp()
        assert os.getsid(proc.pid) == proc.pid
        assert RUNNING[proc.pid] is proc
    finally:
        stop_process(proc)
    _assert_group_gone(proc.pid, [proc.pid])


def test_stop_process_ends_what_the_shell_left_in_its_group() -> None:
    """The leader exits on SIGTERM; its background children would be orphans."""
    proc = start_server(["sh", "-c", "sleep 300 & sleep 300 & echo started; wait"], stdout=subprocess.PIPE,
                        stdin=subprocess.DEVNULL)
    assert proc.stdout is not None and proc.stdout.readline() == b"started\n"
    children = [p for p in group_members(proc.pid) if p != proc.pid]
    assert len(children) == 2
    assert stop_process(proc) == -signal.SIGTERM
    _assert_group_gone(proc.pid, children)


def test_stop_process_kills_the_group_when_the_server_ignores_sigterm() -> None:
    """Like a Kamailio hung in a futex: neither it nor its child stops on SIGTERM."""
    proc, pids = _tree(leader_ignores=True, child_ignores=True)
    started = time.monotonic()
    assert stop_process(proc, timeout=1) == -signal.SIGKILL
    assert time.monotonic() - started < 10
    _assert_group_gone(proc.pid, pids)


def test_stop_process_kills_a_child_that_outlives_its_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server stops on SIGTERM, its child ignores SIGTERM: the child gets SIGKILL."""
    monkeypatch.setattr(kampy_process, "GROUP_GRACE", 0.5)
    proc, pids = _tree(leader_ignores=False, child_ignores=True)
    assert stop_process(proc) == -signal.SIGTERM
    _assert_group_gone(proc.pid, pids)


def test_stop_process_deletes_the_store_of_a_server_killed_with_sigkill() -> None:
    """A SIGKILLed kampy cannot delete its shared store: stop_process does, having seen it open."""
    code = ("import sys, time\nfrom kampy.runtime.shared import SharedStore\n"
            "store = SharedStore.create()\nstore.claims\nprint(store.path, flush=True)\ntime.sleep(300)\n")
    proc = start_server([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                        stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    base = Path(proc.stdout.readline().decode().strip())
    names = {f.name for f in shared_files.files_of(base)}
    assert names >= {base.name, f"{base.name}.lock", f"{base.name}.claims"}
    assert stop_process(proc, signal.SIGKILL) == -signal.SIGKILL
    assert shared_files.files_of(base) == []


def test_a_harness_deletes_its_private_store_on_close(tmp_path: Path) -> None:
    harness = Harness.load('loadmodule "sl.so"\nrequest_route { sl_send_reply("200", "OK"); }\n')
    base = harness.core.shared.path
    harness.core.stats  # noqa: B018
    assert shared_files.files_of(base)
    harness.close()
    assert shared_files.files_of(base) == []
    harness.close()  # again: nothing to do


# ------------------------------------------------------------ the session's own check

CONFTEST = """
from tests.support.hygiene import pytest_sessionfinish, pytest_sessionstart, pytest_terminal_summary
"""

LEAKS = """
import subprocess, sys
from pathlib import Path

from kampy.runtime.shared import SharedStore
from tests.tmkit import server

KEEP = []


def test_forgets_its_store(tmp_path):
    store = SharedStore.create()  # never removed
    Path("{out}", "forgotten").write_text(str(store.path))


def test_keeps_a_server_alive(tmp_path):
    srv = server('request_route {{ sl_send_reply("200", "OK"); }}')
    KEEP.append(srv)  # referenced until exit: its private store would go only then
    Path("{out}", "kept").write_text(str(srv.core.shared.path))


def test_a_process_dies_without_deleting_its_store(tmp_path):
    if {orphan}:
        code = "from kampy.runtime.shared import SharedStore; print(SharedStore.create().path)"
        path = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        Path("{out}", "orphan").write_text(path.strip())
"""


@pytest.mark.parametrize("orphan", [False, True], ids=["own-stores", "orphaned-store"])
def test_the_session_deletes_its_stores_and_fails_on_an_orphaned_one(tmp_path: Path, orphan: bool) -> None:
    out = tmp_path / "out"
    out.mkdir()
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(CONFTEST)
    (suite / "test_leaks.py").write_text(LEAKS.format(out=out, orphan=orphan))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
                         cwd=suite, capture_output=True, text=True, timeout=120,
                         # stores of their own: a kampy started elsewhere on this machine would remove
                         # the orphan (its owner is gone) before the session could find it
                         env={**os.environ, "PYTHONPATH": str(REPO), "KAMPY_SHM_DIR": str(tmp_path)})
    report = run.stdout + run.stderr
    assert "3 passed" in report, report
    stores = [Path((out / n).read_text()) for n in ("forgotten", "kept", "orphan") if (out / n).exists()]
    assert len(stores) == (3 if orphan else 2)
    for base in stores:
        assert shared_files.files_of(base) == [], report
    if orphan:
        assert run.returncode == 1, report
        assert "left behind by the test session" in report and stores[-1].name in report, report
    else:
        assert run.returncode == 0, report
        assert "left behind" not in report, report
