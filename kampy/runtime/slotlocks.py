"""Locks shared by every worker, one per slot of a hash table: Kamailio's per-slot `gen_lock_t`s in
shared memory, re-entrant for the process holding them (htable's ht_slot_lock).

The locks are byte-range locks (Linux open-file-description locks, `F_OFD_SETLKW`) on bytes
1..size of a file beside the shared store (`SharedStore.slot_locks`). They belong to this object's
own open of the file, so two workers, or two servers in one test process, exclude each other; the
kernel drops them when the holder dies. A process may take a slot it holds again (it then releases
it as many times), and may take every slot at once (`hold_all`, for a walk over the whole table)
while holding some: what it held stays held when the walk lets go.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

from kampy.runtime.storefiles import open_companion

_OFD_SETLKW = getattr(fcntl, "F_OFD_SETLKW", None)  # Linux; elsewhere only this process is serialised


def _flock(kind: int, start: int, length: int) -> bytes:
    # struct flock: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid (+ padding)
    packed = struct.pack("hhqqi", kind, os.SEEK_SET, start, length, 0)
    return packed + b"\0" * (32 - len(packed)) if len(packed) < 32 else packed


class SlotLocks:
    """`size` exclusive locks (slots 0..size-1) shared by every process that opens `path`."""

    def __init__(self, path: str | Path, size: int) -> None:
        self.path = str(path)
        self.size = max(1, size)
        self._fd = -1
        self._pid = 0
        self._held: dict[int, int] = {}  # slot -> how many times this process took it
        self._all = 0                    # nesting of hold_all()
        self._mutex = threading.RLock()  # this process's threads take turns (one open file)

    def _file(self) -> int:
        if self._pid != os.getpid():  # a forked child opens its own: the parent's locks are not its
            self._fd = open_companion(self.path)
            self._pid = os.getpid()
            self._held.clear()
            self._all = 0
        return self._fd

    def _lock(self, kind: int, start: int, length: int) -> None:
        if _OFD_SETLKW is not None and length > 0:
            fcntl.fcntl(self._file(), _OFD_SETLKW, _flock(kind, 1 + start, length))

    def held(self, slot: int) -> bool:
        """Whether this process holds `slot` (or every slot)."""
        return self._pid == os.getpid() and (self._all > 0 or slot in self._held)

    def acquire(self, slot: int) -> None:
        """Take `slot`, waiting for another process that holds it."""
        self._mutex.acquire()
        self._file()
        depth = self._held.get(slot, 0)
        if depth == 0 and self._all == 0:
            try:
                self._lock(fcntl.F_WRLCK, slot, 1)
            except BaseException:
                self._mutex.release()
                raise
        self._held[slot] = depth + 1

    def release(self, slot: int) -> None:
        """Let go of `slot` once (a slot this process does not hold: nothing happens)."""
        if self._pid != os.getpid() or slot not in self._held:
            return
        depth = self._held[slot] - 1
        if depth:
            self._held[slot] = depth
        else:
            del self._held[slot]
            if self._all == 0:
                self._lock(fcntl.F_UNLCK, slot, 1)
        self._mutex.release()

    @contextlib.contextmanager
    def hold(self, slot: int) -> Iterator[None]:
        self.acquire(slot)
        try:
            yield
        finally:
            self.release(slot)

    @contextlib.contextmanager
    def hold_all(self) -> Iterator[None]:
        """Every slot at once (waiting for each other process's), for a walk over the whole table."""
        with self._mutex:
            self._file()
            if self._all == 0:
                self._lock(fcntl.F_WRLCK, 0, self.size)
            self._all += 1
            try:
                yield
            finally:
                self._all -= 1
                if self._all == 0:
                    self._unlock_all_but_held()

    def _unlock_all_but_held(self) -> None:
        start = 0
        for slot in sorted(self._held):
            self._lock(fcntl.F_UNLCK, start, slot - start)
            start = slot + 1
        self._lock(fcntl.F_UNLCK, start, self.size - start)

    def close(self) -> None:
        if self._fd >= 0 and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = -1
        self._pid = 0
        self._held.clear()
        self._all = 0
