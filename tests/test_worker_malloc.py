"""A worker's C heap does not keep what it frees (issue 19's long fuzz run), `kampy.net.malloc`.
Each case runs in a fresh interpreter, as a worker starts, so that what this test process allocated
before does not count."""
from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import time

from kampy.net.malloc import TRIM_PERIOD, Heap
from kampy.net.worker import GC_BUSY, collect_periodically
from tests.e2e.kampy_process import REPO

PRELUDE = """
import ctypes, sys, tempfile
from kampy.net.malloc import Heap

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
        "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
heap = Heap.tuned() if sys.argv[1] == "tuned" else None

def rss_anon_kib():
    line = next(x for x in open("/proc/self/status") if x.startswith("RssAnon:"))
    return int(line.split()[1])
"""

# usrloc's timer copies the pages of its table's index that hold keys on each run: all 8 MiB of
# the default capacity once keys are spread over every page
SCAN = PRELUDE + """
from kampy.runtime.shmtable import ShmTable
table = ShmTable(tempfile.mkdtemp() + "/usrloc", capacity=1 << 18)
with table.transaction():
    for n in range(20000):
        table.put(b"aor%d" % n, b"")
before = libc.mallinfo2().arena
for _ in range(3):
    assert len(table.keys(extra_at_most=-1)) == 0
print((libc.mallinfo2().arena - before) // 1024)
"""

# messages freed around the few a transaction still holds: free pages inside the heap
HOLES = PRELUDE + """
blocks = [bytes(4000) for _ in range(4000)]
held = blocks[::16]
del blocks
before = rss_anon_kib()
if heap is not None:
    heap.trim()
print(before - rss_anon_kib())
"""


def _run(script: str, mode: str) -> int:
    proc = subprocess.run([sys.executable, "-c", script, mode], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout)


def test_scanning_a_large_shared_table_leaves_the_heap_as_it_was_in_a_tuned_worker() -> None:
    assert _run(SCAN, "tuned") < 1024


def test_scanning_a_large_shared_table_grows_the_heap_by_its_index_without_the_tuning() -> None:
    # what the tuning prevents, so that the test above cannot pass for another reason
    assert _run(SCAN, "default") >= 6 * 1024


def test_trimming_gives_the_free_pages_inside_the_heap_back() -> None:
    assert _run(HOLES, "tuned") >= 8 * 1024  # of about 15 MiB freed below the blocks still held


def test_free_pages_inside_the_heap_stay_without_trimming() -> None:
    assert _run(HOLES, "default") < 1024


def test_a_busy_worker_trims_its_heap_once_the_period_is_over() -> None:
    heap = Heap.tuned()
    assert heap is not None
    heap.trimmed_at = time.monotonic() - TRIM_PERIOD
    loop = asyncio.new_event_loop()
    gc.disable()  # (this process's own thresholds would collect the objects below before the check)
    try:
        made = [{} for _ in range(GC_BUSY * 2)]  # a busy worker: objects made since the last collection
        collect_periodically(loop, heap=heap)
    finally:
        gc.enable()
        loop.close()
    assert made and time.monotonic() - heap.trimmed_at < 1


def test_a_busy_worker_does_not_trim_its_heap_before_the_period_is_over() -> None:
    heap = Heap.tuned()
    assert heap is not None
    heap.trimmed_at = before = time.monotonic()
    loop = asyncio.new_event_loop()
    try:
        made = [{} for _ in range(GC_BUSY * 2)]
        collect_periodically(loop, heap=heap)
    finally:
        loop.close()
    assert made and heap.trimmed_at == before
