"""The processes of a server (Kamailio's process table): each records itself in the shared store,
so any worker answers core.ps/core.psx/core.psa and pkg.stats for all of them."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kampy.runtime.core import Core

MAIN_PROCESS = "main process - attendant"
_PROCS_SCHEMA = ("CREATE TABLE IF NOT EXISTS kampy_procs (rank INTEGER PRIMARY KEY, pid INTEGER NOT NULL, "
                 "dsc TEXT NOT NULL)")


def record_process(store: Any, rank: int, description: str) -> None:
    """Record process `rank` (0: the main process) in the shared store (core.psx/core.ps list it)."""
    store.execute(_PROCS_SCHEMA)
    store.execute("INSERT OR REPLACE INTO kampy_procs (rank, pid, dsc) VALUES (?, ?, ?)",
                  (rank, os.getpid(), description))


def register_process(core: Core, description: str) -> None:
    """Record this worker in the shared store (what core.psx/core.ps list)."""
    record_process(core.shared, core.rank, description)


def processes(core: Core) -> list[tuple[int, int, int, str]]:
    """(index, pid, rank, description) of every process of the server, the main process first."""
    core.shared.execute(_PROCS_SCHEMA)
    rows = core.shared.query("SELECT rank, pid, dsc FROM kampy_procs ORDER BY rank")
    if not rows:
        rows = [(core.rank, os.getpid(), f"worker rank={core.rank}")]
    return [(i, pid, rank, dsc) for i, (rank, pid, dsc) in enumerate(rows)]


