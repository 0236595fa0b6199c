"""State shared by all worker processes of one server: Kamailio keeps it in shared memory.

kampy keeps it in one SQLite database on a memory-backed file system (`/dev/shm` when there is one),
created by the first process before it forks the workers; each worker opens its own connection.
Modules use it for what every worker must see at once, such as the statistics' names. What is
written on every request lives beside it in shared memory, where a write costs microseconds rather
than an SQLite transaction: which worker owns which transaction (the hash table of `claims`), and
the key-value tables of `table()` (`kampy.runtime.shmtable`; usrloc keeps its bindings there).

Writers take turns on a lock file (`<db>.lock`, `flock`) before SQLite's own write lock: SQLite makes
a writer that finds the database locked sleep and poll (1, 2, 5, 10 ... ms), which with several
workers on few cores costs far more than the writes; a writer waiting on the lock file is woken by
the kernel the moment the holder is done. Readers (WAL mode) never wait.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from kampy.runtime.claims import ClaimTable
from kampy.runtime.claims import area_path as claims_path
from kampy.runtime.locks import LockSet
from kampy.runtime.shmtable import ShmTable
from kampy.runtime.slotlocks import SlotLocks
from kampy.runtime.snapshot import SharedSnapshot
from kampy.runtime.storefiles import open_companion

log = logging.getLogger("kampy.shared")

STORE_PREFIX = "kampy-shared-"
# the files beside a store's database (`<db><suffix>`): SQLite's WAL and its index, the writers'
# lock, kampy.stats' counters, the claims table, the mark of the server's life; and the shared
# tables (`<db>.area-<name>`) and their slot locks (`<db>.locks-slots-<name>`)
ALIVE_SUFFIX = ".alive"
COMPANION_SUFFIXES = ("-wal", "-shm", ".lock", ".stats", ".claims", ALIVE_SUFFIX, f"{ALIVE_SUFFIX}.new")
AREA_INFIX = ".area-"
LOCKS_INFIX = ".locks-"  # the lock sets (`<db>.locks-<name>`)
_AREA_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def default_dir() -> Path:
    """Where a server's shared store goes: $KAMPY_SHM_DIR when set (a test suite that must not see
    other servers' stores), else /dev/shm when writable, else the temporary directory."""
    chosen = os.environ.get("KAMPY_SHM_DIR")
    if chosen:
        return Path(chosen)
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


class SharedStore:
    """One connection to the server's shared database. Autocommit; statements are atomic;
    `transaction()` groups several into one, serialised with every other writer."""

    def __init__(self, path: str | Path, heap_size: int | None = None) -> None:
        self.path = Path(path)
        self.heap_size = heap_size  # of each shared table (-m); None: the table's own default
        # Opened per connection (a flock belongs to the open file, so each worker needs its own).
        self._lock_fd = open_companion(f"{self.path}.lock")
        self._thread_lock = threading.RLock()
        self._depth = 0  # nesting of write_lock() in this process
        self._in_transaction = False
        self._conn = sqlite3.connect(str(self.path), timeout=10, isolation_level=None,
                                     check_same_thread=False, cached_statements=256)
        with self.write_lock():
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._claims: ClaimTable | None = None
        self._tables: dict[str, ShmTable] = {}
        self._lock_sets: dict[str, LockSet] = {}
        self._slot_locks: dict[str, SlotLocks] = {}
        self._alive_fd = -1

    @property
    def claims(self) -> ClaimTable:
        """The shared table of which worker owns which key (mapped on first use in each process)."""
        if self._claims is None:
            self._claims = ClaimTable(claims_path(self.path))
        return self._claims

    def table(self, name: str, capacity: int = 1 << 18, max_capacity: int = 0) -> ShmTable:
        """The shared-memory table `name` of this server (`kampy.runtime.shmtable`), created by the
        first process that asks, with room for about 0.7 x `capacity` keys; one that is full grows
        (doubling) up to `max_capacity`, when that is larger."""
        table = self._tables.get(name)
        if table is None:
            if not _AREA_NAME.fullmatch(name):
                raise ValueError(f"shared table name {name!r}: letters, digits, '_', '.', '-' only")
            table = self._tables[name] = ShmTable(f"{self.path}{AREA_INFIX}{name}", capacity,
                                                  self.heap_size, max_capacity=max_capacity)
        return table

    def lock_set(self, name: str, size: int) -> LockSet:
        """The set of `size` locks `name` every process of this server shares (Kamailio's lock
        sets in shared memory: `kampy.runtime.locks`); opened on first use in each process."""
        locks = self._lock_sets.get(name)
        if locks is None:
            if not _AREA_NAME.fullmatch(name):
                raise ValueError(f"lock set name {name!r}: letters, digits, '_', '.', '-' only")
            locks = self._lock_sets[name] = LockSet(f"{self.path}{LOCKS_INFIX}{name}", size)
        return locks

    def slot_locks(self, name: str, size: int) -> SlotLocks:
        """The `size` per-slot locks `name` of this server (`kampy.runtime.slotlocks`), shared by
        every worker: Kamailio's per-slot locks of a hash table in shared memory."""
        locks = self._slot_locks.get(name)
        if locks is None:
            if not _AREA_NAME.fullmatch(name):
                raise ValueError(f"slot locks name {name!r}: letters, digits, '_', '.', '-' only")
            locks = self._slot_locks[name] = SlotLocks(f"{self.path}{LOCKS_INFIX}slots-{name}", size)
        return locks

    def snapshot(self, name: str) -> SharedSnapshot:
        """A value (JSON) every worker reads and any may replace, such as a table loaded from the
        database and reloaded over RPC (`kampy.runtime.snapshot`)."""
        return SharedSnapshot(self.table(f"snap.{name}", capacity=256, max_capacity=1 << 16))

    @classmethod
    def create(cls, directory: str | Path | None = None, heap_size: int | None = None) -> SharedStore:
        """A new, empty shared database (the first process calls this before forking). The stores
        that servers killed without a chance to delete them left in the same directory go first.
        `heap_size` bounds each shared table's heap (Kamailio's `-m`)."""
        where = Path(directory or default_dir())
        remove_stale(where)
        fd, name = tempfile.mkstemp(prefix=STORE_PREFIX, suffix=".sqlite", dir=where)
        os.close(fd)
        store = cls(name, heap_size)
        store._mark_alive()
        return store

    def _mark_alive(self) -> None:
        """Hold a shared flock on `<db>.alive` for as long as this process or a fork of it lives:
        the kernel drops it when the last of them exits, however it dies. The mark is locked under
        a name no one looks for, then renamed into place: from the moment it can be seen it is
        held, so `remove_stale` can never take a store being created for a dead one."""
        mark = f"{self.path}{ALIVE_SUFFIX}"
        self._alive_fd = os.open(f"{mark}.new", os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._alive_fd, fcntl.LOCK_SH)
        os.rename(f"{mark}.new", mark)

    def reopen(self) -> SharedStore:
        """A fresh connection to the same database, for a worker after fork."""
        return SharedStore(self.path, self.heap_size)

    def files(self) -> list[Path]:
        """The files of the store that exist now (the database, its companions, its tables)."""
        name = self.path.name
        found = [self.path, *(Path(f"{self.path}{suffix}") for suffix in COMPANION_SUFFIXES)]
        found += list(self.path.parent.glob(f"{name}{AREA_INFIX}*"))
        found += list(self.path.parent.glob(f"{name}{LOCKS_INFIX}*"))
        return [f for f in found if f.exists()]

    def chown(self, uid: int, gid: int) -> None:
        """Give the store's files to the user the server drops its privileges to (-u/-g)."""
        for path in self.files():
            os.chown(path, uid, gid)

    def remove_if_last(self) -> bool:
        """In a worker at exit: let go of the life mark this process inherited and delete the store
        when no process holds it any more (the first process was killed before it could)."""
        if self._alive_fd >= 0:
            os.close(self._alive_fd)
            self._alive_fd = -1
        try:
            fd = os.open(f"{self.path}{ALIVE_SUFFIX}", os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # another process of the server still holds it
        finally:
            os.close(fd)
        log.warning("the main process is gone: the last worker deletes the shared store %s", self.path)
        _unlink_store(self.path)
        return True

    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        """Hold the writers' lock (re-entrant): no other worker writes until it is released."""
        with self._thread_lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic read-modify-write across workers (Kamailio's hash-slot lock): the writers'
        lock, then an immediate SQLite transaction; committed at the end, rolled back on an
        exception. Nested calls join the outer transaction."""
        with self.write_lock():
            if self._in_transaction:
                yield
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._in_transaction = True
            try:
                yield
            except BaseException:
                self._in_transaction = False
                self._conn.execute("ROLLBACK")
                raise
            self._in_transaction = False
            self._conn.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement (a write: under the writers' lock); returns the number of rows changed."""
        with self._thread_lock:  # write_lock() inlined: this is on every request's path
            if self._depth:
                return self._conn.execute(sql, params).rowcount
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._depth = 1
            try:
                return self._conn.execute(sql, params).rowcount
            finally:
                self._depth = 0
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def executescript(self, sql: str) -> None:
        with self.write_lock():
            self._conn.executescript(sql)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._conn.execute(sql, params).fetchall()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.write_lock():
            self._conn.executemany(sql, rows)

    def trace(self, callback: Callable[[str], object] | None) -> None:
        """Pass every SQL statement this connection runs to `callback` (None: stop); for tests."""
        self._conn.set_trace_callback(callback)

    def close(self) -> None:
        self._conn.close()
        if self._claims is not None:
            self._claims.close()
            self._claims = None
        for table in self._tables.values():
            table.close()
        self._tables = {}
        for locks in self._lock_sets.values():
            locks.close()
        self._lock_sets = {}
        for locks in self._slot_locks.values():
            locks.close()
        self._slot_locks = {}
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def remove(self) -> None:
        """Close and delete the database files (the first process, at shutdown). `close()` keeps the
        life mark: the first process closes its connection before it forks the workers."""
        self.close()
        if self._alive_fd >= 0:
            os.close(self._alive_fd)
            self._alive_fd = -1
        _unlink_store(self.path)


def _unlink_store(path: Path) -> None:
    """Delete the files of the store at `path`: the database, its companions, its tables."""
    name = path.name
    areas = [p.name[len(name):] for infix in (AREA_INFIX, LOCKS_INFIX)
             for p in path.parent.glob(f"{name}{infix}*")]
    for suffix in ("", *COMPANION_SUFFIXES, *areas):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass


def remove_stale(directory: Path) -> list[Path]:
    """Delete the stores in `directory` whose server is gone (killed before it could delete its
    store): no process holds the flock of its life mark. A store with no life mark is left alone
    (nothing tells whether it is in use). Returns those deleted."""
    removed = []
    for mark in directory.glob(f"{STORE_PREFIX}*.sqlite{ALIVE_SUFFIX}"):
        try:
            fd = os.open(mark, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live server holds it
        finally:
            os.close(fd)
        store = Path(str(mark)[:-len(ALIVE_SUFFIX)])
        log.warning("removing the shared store of a kampy server that is gone: %s", store)
        _unlink_store(store)
        removed.append(store)
    return removed
