"""Sets of locks every process of a server shares (Kamailio's `gen_lock_set_t` in shared memory).

A set is one file beside the shared store; lock `i` is a POSIX byte-range lock (`fcntl`) on byte
`i` of it. The kernel gives such a lock to one process at a time, wakes a waiter the moment it is
released, and releases it when its holder dies, so a crashed worker never leaves a lock taken.

A process that already holds lock `i` would get it again from the kernel (POSIX locks belong to
the process): the set remembers which locks this process holds, so `try_acquire` of one of them
fails as Kamailio's does and `acquire` of one says so instead of deadlocking as Kamailio would.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from kampy.runtime.storefiles import open_companion


class LockSet:
    def __init__(self, path: str | Path, size: int) -> None:
        if size <= 0:
            raise ValueError(f"a lock set needs at least one lock, not {size}")
        self.path = Path(path)
        self.size = size
        self._fd = open_companion(self.path)
        self._pid = os.getpid()
        self._held: set[int] = set()

    def _index(self, index: int) -> int:
        if not 0 <= index < self.size:
            raise IndexError(f"lock {index} of a set of {self.size}")
        if self._pid != os.getpid():  # a fork holds none of its parent's locks
            self._pid = os.getpid()
            self._held = set()
        return index

    def held(self, index: int) -> bool:
        """Whether this process holds lock `index`."""
        return self._index(index) in self._held

    def acquire(self, index: int) -> bool:
        """Wait for lock `index` and take it; False (at once) when this process holds it already."""
        if self.held(index):
            return False
        fcntl.lockf(self._fd, fcntl.LOCK_EX, 1, index)
        self._held.add(index)
        return True

    def try_acquire(self, index: int) -> bool:
        """Take lock `index` if it is free: False when another process, or this one, holds it."""
        if self.held(index):
            return False
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, index)
        except OSError:
            return False
        self._held.add(index)
        return True

    def release(self, index: int) -> None:
        """Release lock `index` (nothing happens when this process does not hold it)."""
        self._held.discard(self._index(index))
        fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, index)

    def close(self) -> None:
        """Close the file: the kernel releases every lock of it this process held."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            self._held = set()
