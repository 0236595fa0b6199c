"""kex's memory reports: the `shmem:` statistics, pkg.stats, pkg.info and mod.stats, with Kamailio's
reply structures (src/modules/kex/pkg_stats.c, mod_stats.c, core_stats.c).

kampy has no memory pools; what each report measures instead is said in the README (the shared
store for "shm", each process's memory as the kernel counts it for "pkg", the objects and shared
tables of each module for mod.stats).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from kampy.api import CoreAPI, RpcFault, process_memory, store_memory

SHMEM_STATS = {"total_size": "total", "used_size": "used", "real_used_size": "real_used",
               "max_used_size": "max_used", "free_size": "free", "fragments": "fragments"}
PKG_FILTERS = ("pid", "rank", "index")


class MemoryReports:
    """The part of kex that reports memory; `core` is kex's view of the core."""

    def __init__(self, core: CoreAPI) -> None:
        self.core = core
        for name, field in SHMEM_STATS.items():
            core.stats.register_gauge(f"shmem:{name}", self._shm_reader(field))

    def _shm_reader(self, field: str) -> Callable[[], int]:
        return lambda: int(asdict(store_memory(self.core.shared))[field])

    # ------------------------------------------------------------ pkg.*

    def pkg_stats(self, *params: Any) -> list[dict[str, Any]]:
        procs = self.core.processes()
        wanted = procs
        if params:
            kind = params[0]
            if kind not in PKG_FILTERS:
                raise RpcFault(500, "Invalid filter type")
            if len(params) < 2 or not isinstance(params[1], int):
                raise RpcFault(500, "One more parameter expected")
            value = params[1]
            if kind == "pid":
                wanted = [p for p in procs if p[1] == value]
                if not wanted:
                    raise RpcFault(500, "No such pid")
            elif kind == "rank":
                wanted = [p for p in procs if p[2] == value]
            else:
                wanted = [p for p in procs if p[0] == value]
        out = []
        for index, pid, rank, desc in wanted:
            mem = process_memory(pid)
            if mem is None:
                continue
            out.append({"entry": index, "pid": pid, "rank": rank, "used": mem.used, "free": mem.free,
                        "real_used": mem.real_used, "total_size": mem.total_size,
                        "total_frags": mem.total_frags, "desc": desc})
        return out

    def pkg_info(self, *_: Any) -> dict[str, Any]:
        mem = process_memory(os.getpid())
        return {"name": "pymalloc", "size": mem.total_size if mem is not None else 0}

    # ------------------------------------------------------------ mod.*

    def mod_stats(self, *params: Any, counts: bool = False) -> list[Any]:
        if not params or not isinstance(params[0], str):
            raise RpcFault(500, 'Module name or "all" needed')
        if len(params) < 2 or not isinstance(params[1], str):
            raise RpcFault(500, '"pkg" or "shm" or "all" needed')
        name, kind = params[0], params[1]  # a kind other than pkg/shm/all prints neither
        names = ["core", *self._module_names()] if name == "all" else [name]
        out: list[Any] = []
        for module in names:
            found = self.core.module_memory(module) or ([], [])
            out.append(f"Module: {module}")
            if kind in ("pkg", "all"):
                out.append(_items(found[0], counts))
            if kind in ("shm", "all"):
                out.append(_items(found[1], counts))
            out.append("")
        return out

    def _module_names(self) -> list[str]:
        return list(reversed(self.core.rpc.call("core.modules")))


def _items(items: list[tuple[str, int, int]], counts: bool) -> dict[str, Any]:
    """One struct of mod.stats: each item's bytes (mem_statsx: "bytes (objects)"), then `Total`."""
    struct: dict[str, Any] = {}
    for name, size, number in items:
        struct[name] = f"{size} ({number})" if counts else size
    struct["Total"] = sum(size for _, size, _ in items)
    return struct
