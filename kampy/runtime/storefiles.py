"""Opening the files of a shared store (its lock, its tables, the statistics and claims areas).

A worker builds its server, modules and control sockets with root's rights and gives them up
afterwards (as Kamailio's mod_init runs as root and its children as `-u`); a file such a worker
creates beside the store's database goes to the database's owner, as SQLite gives its WAL files,
so the workers that run as `-u` later can open it.
"""
from __future__ import annotations

import os
from pathlib import Path

DATABASE_SUFFIX = ".sqlite"


def open_companion(path: str | Path, flags: int = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC) -> int:
    fd = os.open(path, flags, 0o600)
    if os.geteuid() == 0:
        database = str(path).partition(DATABASE_SUFFIX)[0] + DATABASE_SUFFIX
        try:
            owner = os.stat(database)
        except OSError:
            return fd
        if (owner.st_uid, owner.st_gid) != (0, 0):
            os.fchown(fd, owner.st_uid, owner.st_gid)
    return fd
