"""What SIGUSR1 logs (Kamailio's main process on SIGUSR1): the memory status, at the level `memlog`
when `memlog` <= `debug`, in the parts `mem_summary` selects (its bits, as in Kamailio):

* 1 "Memory status (pkg):" this process's memory as the kernel counts it (/proc/self/status) and
  the Python heap's collections;
* 2 "Memory status (shm):" the shared store: each file's size, each shared table's heap in use;
* 4 "Memory still-in-use summary (pkg):" the kinds of Python objects alive, the most numerous first;
* 8 "Memory still-in-use summary (shm):" the keys in each shared table.
"""
from __future__ import annotations

import collections
import gc
import logging
from pathlib import Path
from typing import Any

from kampy.runtime.loglevels import python_level

log = logging.getLogger("kampy.core")

_STATUS_FIELDS = ("VmPeak", "VmSize", "VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem", "VmData")


def log_memory_status(params: Any, store: Any) -> None:
    """Log the memory status for SIGUSR1 (`params`: memlog, debug, mem_summary, shm_size)."""
    if params.memlog > params.debug:
        return
    level = python_level(params.memlog)
    summary = params.mem_summary
    if summary & 1:
        _lines(level, "Memory status (pkg):", _process_lines())
    if summary & 4:
        _lines(level, "Memory still-in-use summary (pkg):", _object_lines())
    if summary & 2:
        _lines(level, "Memory status (shm):", _store_lines(store, params.shm_size))
    if summary & 8:
        _lines(level, "Memory still-in-use summary (shm):", _table_key_lines(store))


def log_process_memory(level: int = logging.WARNING) -> None:
    """This process's memory status (cfg's `core.mem_dump_pkg` set to its pid)."""
    _lines(level, "Memory status (pkg):", _process_lines())


def log_shared_memory(store: Any, level: int = logging.WARNING) -> None:
    """The shared store's status (cfg's `core.mem_dump_shm`)."""
    _lines(level, "Memory status (shm):", _store_lines(store, None))


def _lines(level: int, title: str, lines: list[str]) -> None:
    log.log(level, "%s", title)
    for line in lines:
        log.log(level, "  %s", line)


def _process_lines() -> list[str]:
    out = []
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in _STATUS_FIELDS:
                out.append(f"{name}: {' '.join(value.split())}")
    except OSError:
        pass
    counts = gc.get_count()
    out.append(f"python gc: objects tracked {len(gc.get_objects())}, pending collections "
               f"{counts[0]}/{counts[1]}/{counts[2]}, frozen {gc.get_freeze_count()}")
    return out


def _object_lines(top: int = 20) -> list[str]:
    kinds = collections.Counter(type(o).__name__ for o in gc.get_objects())
    return [f"{count:>9} {name}" for name, count in kinds.most_common(top)]


def _store_lines(store: Any, heap_size: int | None) -> list[str]:
    files = store.files() if store is not None else []
    out = [f"{f.name}: {f.stat().st_size} bytes" for f in files if f.exists()]
    if heap_size:
        out.append(f"heap of each shared table: {heap_size} bytes (-m)")
    return out or ["no shared store"]


def _table_key_lines(store: Any) -> list[str]:
    from kampy.runtime.shared import AREA_INFIX
    from kampy.runtime.shmtable import ShmTable

    out = []
    for path in store.files() if store is not None else []:
        if AREA_INFIX not in path.name:
            continue
        table = ShmTable(path)
        try:
            out.append(f"{path.name.partition(AREA_INFIX)[2]}: {len(table)} keys, "
                       f"{table.heap_used()} bytes of heap in use")
        finally:
            table.close()
    return out or ["no shared tables"]
