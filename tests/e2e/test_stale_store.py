"""`kampy run` after a kampy that was killed with SIGKILL: the dead server's shared store (in
/dev/shm) is removed when the new supervisor starts, at once, because its owner is gone; the
store of a server that is alive is never touched."""
from __future__ import annotations

import os
import signal
import time

from tests.e2e.kampy_process import group_members, running_kampy, start_kampy
from tests.support import shared_files

CFG = 'loadmodule "sl.so"\nrequest_route {\n    sl_send_reply("200", "OK");\n}\n'


def _store_of(pid: int) -> list:
    stores = shared_files.open_stores(group_members(pid))
    assert len(stores) == 1, stores
    return sorted(stores)


def test_a_new_kampy_removes_the_store_of_one_killed_with_sigkill(tmp_path, monkeypatch):
    # a directory of their own: any other kampy starting on this machine would remove the dead store
    monkeypatch.setenv("KAMPY_SHM_DIR", str(tmp_path))
    dead = start_kampy(CFG, tmp_path, protos=("udp",), args=("-n", "1"))
    (store,) = _store_of(dead.pid)
    os.killpg(dead.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while group_members(dead.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    dead.stop()  # reaps it; its group is gone, so the store stays where it was left
    assert shared_files.files_of(store)
    with running_kampy(CFG, tmp_path, protos=("udp",), args=("-n", "1")) as new:
        assert not shared_files.files_of(store)
        assert f"removing the shared store of a kampy server that is gone: {store}" in new.output()


def test_a_new_kampy_leaves_the_store_of_a_running_one_alone(tmp_path):
    with running_kampy(CFG, tmp_path, protos=("udp",), args=("-n", "1")) as first:
        (store,) = _store_of(first.pid)
        with running_kampy(CFG, tmp_path, protos=("udp",), args=("-n", "1")) as second:
            assert shared_files.files_of(store)
            assert store not in shared_files.open_stores(group_members(second.pid))
