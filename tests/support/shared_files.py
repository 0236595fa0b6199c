"""The files of kampy's shared stores (`kampy-shared-*.sqlite` and its `-wal`, `-shm`, `.lock`,
`.stats`, `.claims`, `.area-<table>`, in /dev/shm or the temporary directory), for the suite's clean-up.

Plain functions (no pytest): tests/e2e/kampy_process.py (and so bench/) uses them too. They only
ever remove a store that a caller names, never one by pattern alone: other kampy servers (and
other test sessions) on this machine keep their stores in the same directory.
"""
from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from kampy.runtime.shared import AREA_INFIX, COMPANION_SUFFIXES, LOCKS_INFIX, STORE_PREFIX, default_dir

PREFIX = STORE_PREFIX
# A store's database path ends in .sqlite; its companions append to that path.
_COMPANIONS = "|".join(map(re.escape, COMPANION_SUFFIXES))
_STORE = re.compile(rf"^({re.escape(PREFIX)}[^/]*?\.sqlite)"
                    rf"(?:{_COMPANIONS}|{re.escape(AREA_INFIX)}[^/]+|{re.escape(LOCKS_INFIX)}[^/]+)?$")


def store_dirs() -> list[Path]:
    """Where `SharedStore.create()` puts stores: /dev/shm when writable, else the temporary dir."""
    dirs = [default_dir(), Path(tempfile.gettempdir())]
    return list(dict.fromkeys(d.resolve() for d in dirs))


def base_of(path: str | Path) -> Path | None:
    """The database path of the store a file belongs to (`.../kampy-shared-x.sqlite`), or None."""
    p = Path(path)
    m = _STORE.match(p.name)
    return p.with_name(m.group(1)) if m else None


def store_files(dirs: Iterable[Path] | None = None) -> set[Path]:
    """Every file of a kampy shared store present now."""
    found: set[Path] = set()
    for d in dirs if dirs is not None else store_dirs():
        try:
            names = os.listdir(d)
        except OSError:
            continue
        found.update(d / n for n in names if n.startswith(PREFIX) and base_of(n) is not None)
    return found


def stores(files: Iterable[Path]) -> set[Path]:
    """The stores (database paths) the given files belong to."""
    return {b for f in files if (b := base_of(f)) is not None}


def files_of(base: Path) -> list[Path]:
    """The files of the store at `base` that exist."""
    try:
        names = os.listdir(base.parent)
    except OSError:
        return []
    return [base.parent / n for n in names
            if n.startswith(base.name) and (b := base_of(n)) is not None and b.name == base.name]


def remove_store(base: Path) -> list[Path]:
    """Delete every file of the store at `base`; return those deleted."""
    removed = []
    for f in files_of(base):
        try:
            f.unlink()
            removed.append(f)
        except FileNotFoundError:
            pass
    return removed


def open_stores(pids: Iterable[int]) -> set[Path]:
    """The stores of which a file is open (or mapped) in one of `pids`."""
    found: set[Path] = set()
    for pid in pids:
        found |= stores(_open_files(pid))
    return found


def holders(exclude: Iterable[int] = ()) -> dict[Path, set[int]]:
    """Store -> the live processes (other than `exclude`) that have one of its files open or mapped."""
    skip = set(exclude)
    held: dict[Path, set[int]] = {}
    for pid in _pids():
        if pid in skip:
            continue
        for base in stores(_open_files(pid)):
            held.setdefault(base, set()).add(pid)
    return held


def newest_mtime(base: Path) -> float:
    """The latest modification time of the store's files (0 when none is left)."""
    times = []
    for f in files_of(base):
        try:
            times.append(f.stat().st_mtime)
        except FileNotFoundError:
            pass
    return max(times, default=0.0)


def _pids() -> list[int]:
    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


def _open_files(pid: int) -> set[str]:
    """Paths of the shared-store files open (fd) or mapped (maps) in `pid`."""
    paths: set[str] = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if PREFIX in target:
                paths.add(target.removesuffix(" (deleted)"))
    except OSError:
        return paths
    try:
        with open(f"/proc/{pid}/maps") as maps:
            for line in maps:
                if PREFIX in line:
                    paths.add(line.split(None, 5)[-1].strip().removesuffix(" (deleted)"))
    except OSError:
        pass
    return paths
