"""State shared by all worker processes of one server: Kamailio keeps it in shared memory.

kampy keeps it in one SQLite database on a memory-backed file system (`/dev/shm` when there is one),
created by the first process before it forks the workers; each worker opens its own connection.
Modules use it for what every worker must see at once: usrloc bindings in memory mode, the index of
transactions (which worker owns which), msilo's in-flight messages.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("kampy.shared")


def default_dir() -> Path:
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


class SharedStore:
    """One connection to the server's shared database. Autocommit; statements are atomic."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn = sqlite3.connect(str(self.path), timeout=10, isolation_level=None,
                                     check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute("PRAGMA busy_timeout=10000")

    @classmethod
    def create(cls, directory: str | Path | None = None) -> SharedStore:
        """A new, empty shared database (the first process calls this before forking)."""
        fd, name = tempfile.mkstemp(prefix="kampy-shared-", suffix=".sqlite", dir=directory or default_dir())
        os.close(fd)
        return cls(name)

    def reopen(self) -> SharedStore:
        """A fresh connection to the same database, for a worker after fork."""
        return SharedStore(self.path)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows changed."""
        return self._conn.execute(sql, params).rowcount

    def executescript(self, sql: str) -> None:
        self._conn.executescript(sql)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._conn.execute(sql, params).fetchall()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    def close(self) -> None:
        self._conn.close()

    def remove(self) -> None:
        """Close and delete the database files (the first process, at shutdown)."""
        self.close()
        for suffix in ("", "-wal", "-shm", ".stats"):  # .stats: kampy.stats' counters
            try:
                os.unlink(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass
