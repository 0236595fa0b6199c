"""What kampy reports where Kamailio reports its memory managers (core.shmmem, the `shmem:`
statistics, pkg.stats, mod.stats).

kampy has no memory pools of its own, so each report measures what stands in for one:

* shared memory ("shm") is the shared store: its files on the memory file system. `total` is their
  size, `real_used` the bytes the kernel holds for them (touched pages), `used` the bytes handed out
  inside them (each shared table's heap in use, the SQLite pages in use), `free` what is left of
  `total`, `fragments` the number of files, `max_used` the highest `real_used` reported so far;
* private memory ("pkg") is a process's own memory as the kernel counts it (/proc/PID/status):
  `total_size` its virtual size, `real_used` its resident size, `used` its anonymous resident
  memory (the Python heap), `free` the difference, `total_frags` its mappings (/proc/PID/maps);
* per module (mod.stats): in "pkg", the bytes of the objects the module instance holds, by
  attribute; in "shm", the heap in use of each shared table the module named after itself.
"""
from __future__ import annotations

import gc
import logging
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_MAX_SQL = "CREATE TABLE IF NOT EXISTS kampy_memory (id INTEGER PRIMARY KEY CHECK (id = 0), max_used INTEGER)"


@dataclass(frozen=True)
class MemoryStatus:
    total: int
    free: int
    used: int
    real_used: int
    max_used: int
    fragments: int


def store_memory(store: Any) -> MemoryStatus:
    """The shared store's memory (see the module's doc), and its high-water mark updated."""
    files = store.files()
    total = real = used = 0
    for path in files:
        try:
            st = path.stat()
        except OSError:
            continue
        total += st.st_size
        real += min(st.st_blocks * 512, st.st_size)
    for name in table_names(store):
        used += table_heap(store, name)
    used += _sqlite_used(store)
    used = min(used, real) if real else used
    return MemoryStatus(total, max(total - real, 0), used, real, _high_water(store, real), len(files))


def table_names(store: Any) -> list[str]:
    """The names of the store's shared tables (a grown table's older generations left out)."""
    from kampy.runtime.shared import AREA_INFIX

    names = []
    for path in store.files():
        name = path.name.partition(AREA_INFIX)[2]
        if name and not re.search(r"\.g\d+$", name):
            names.append(name)
    return sorted(names)


def table_heap(store: Any, name: str) -> int:
    """Bytes of shared table `name`'s heap in use (its current generation)."""
    return table_usage(store, name)[0]


def table_usage(store: Any, name: str) -> tuple[int, int]:
    """(heap bytes in use, keys) of shared table `name` (its current generation)."""
    from kampy.runtime.shared import AREA_INFIX
    from kampy.runtime.shmtable import ShmTable

    try:
        table = ShmTable(f"{store.path}{AREA_INFIX}{name}")
    except (OSError, ValueError):
        return 0, 0
    try:
        return table.heap_used(), len(table)
    finally:
        table.close()


def _sqlite_used(store: Any) -> int:
    try:
        pages = store.query("PRAGMA page_count")[0][0]
        free = store.query("PRAGMA freelist_count")[0][0]
        size = store.query("PRAGMA page_size")[0][0]
    except Exception:
        return 0
    return int((pages - free) * size)


def _high_water(store: Any, real_used: int) -> int:
    store.execute(_MAX_SQL)
    store.execute("INSERT INTO kampy_memory (id, max_used) VALUES (0, ?) ON CONFLICT(id) DO UPDATE "
                  "SET max_used = MAX(max_used, excluded.max_used)", (real_used,))
    return int(store.query("SELECT max_used FROM kampy_memory WHERE id = 0")[0][0])


@dataclass(frozen=True)
class ProcessMemory:
    total_size: int
    used: int
    real_used: int
    free: int
    total_frags: int


def process_memory(pid: int) -> ProcessMemory | None:
    """Process `pid`'s memory from /proc (None when it is gone)."""
    fields: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            parts = value.split()
            if parts and parts[0].isdigit():
                fields[name] = int(parts[0]) * (1024 if parts[-1] == "kB" else 1)
        with open(f"/proc/{pid}/maps", "rb") as maps:
            frags = sum(1 for _ in maps)
    except OSError:
        return None
    total = fields.get("VmSize", 0)
    real = fields.get("VmRSS", 0)
    return ProcessMemory(total, fields.get("RssAnon", real), real, max(total - real, 0), frags)


def object_sizes(instance: Any, stop: set[int]) -> list[tuple[str, int, int]]:
    """(attribute, bytes, objects) of what `instance` holds, each object counted once: the
    containers and plain values reachable from it, not classes, functions, modules or the objects
    whose ids are in `stop` (the core, other modules)."""
    seen = set(stop) | {id(instance)}
    out = []
    for name, value in sorted(vars(instance).items()):
        out.append((name, *_deep_size(value, seen)))
    return [item for item in out if item[1]]


_OPAQUE = (type, types.ModuleType, types.BuiltinFunctionType, types.FunctionType, types.MethodType,
           logging.Logger)


def _deep_size(root: Any, seen: set[int]) -> tuple[int, int]:
    total = count = 0
    todo = [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, _OPAQUE):
            continue
        seen.add(id(obj))
        try:
            total += sys.getsizeof(obj)
        except TypeError:
            continue
        count += 1
        if isinstance(obj, (str, bytes, int, float, bool)) or obj is None:
            continue
        todo.extend(gc.get_referents(obj))
    return total, count


def shared_items(store: Any, owner: str) -> list[tuple[str, int, int]]:
    """(table, heap bytes in use, keys) of the shared tables named after `owner` (`usrloc.location`);
    for "core", also the shared store's own database, counters and transaction claims (one each)."""
    out = [(name, *table_usage(store, name)) for name in table_names(store)
           if name == owner or name.startswith((f"{owner}.", f"{owner}_"))]
    if owner == "core":
        out.append(("shared store database", _sqlite_used(store), 1))
        for suffix, label in ((".stats", "statistics"), (".claims", "transaction claims")):
            path = Path(f"{store.path}{suffix}")
            if path.exists():
                out.append((label, path.stat().st_size, 1))
    return out
