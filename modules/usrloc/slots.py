"""Kamailio's udomain slot locks (lock_udomain), for the order of usrloc's database writes.

In db_mode 1 a change is written to the shared store under its writers' lock and to the database
once that lock is released, so that a slow or hung database holds up only the requests that write
the same bindings, never every worker's shared-store writes. Two changes of one AoR must still reach
the database in the order they were made in memory (an update written after the delete that
followed it would bring a deleted binding back): a change takes its AoR's slot lock before the
shared store's lock and keeps it until its database write is done, as Kamailio keeps the slot locked
across its write-through query.

The slots are byte-range locks (Linux open-file-description locks, `F_OFD_SETLKW`) on bytes
1..2^hash_size of the shared store's lock file. They are independent of the `flock` the shared store
takes on that file, belong to this process's own open of the file (so two workers, or two `Server`s
in one test process, exclude each other), and go away with the file when the store is removed.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

_OFD_SETLKW = getattr(fcntl, "F_OFD_SETLKW", None)  # Linux; elsewhere only this process is serialised


def _flock(kind: int, start: int, length: int) -> bytes:
    # struct flock: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid (+ padding)
    packed = struct.pack("hhqqi", kind, os.SEEK_SET, start, length, 0)
    return packed + b"\0" * (32 - len(packed)) if len(packed) < 32 else packed


class SlotLocks:
    """2^bits exclusive locks shared by every process that opens `path`."""

    def __init__(self, path: str | Path, bits: int) -> None:
        self.path = str(path)
        self.size = 1 << max(0, min(bits, 20))
        self._fd = -1
        self._pid = 0
        self._mutex = threading.RLock()  # the threads of this process take turns (one open file)

    def slot(self, domain: str, aor: str) -> int:
        return zlib.crc32(f"{domain}\0{aor}".encode()) & (self.size - 1)

    def _file(self) -> int:
        if self._pid != os.getpid():  # opened per process: a forked child must not share the parent's
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextlib.contextmanager
    def hold(self, slot: int | None) -> Iterator[None]:
        """Hold one slot (None: every slot, for a change not tied to one AoR)."""
        start, length = (1, self.size) if slot is None else (1 + slot, 1)
        with self._mutex:
            if _OFD_SETLKW is None:
                yield
                return
            fd = self._file()
            fcntl.fcntl(fd, _OFD_SETLKW, _flock(fcntl.F_WRLCK, start, length))
            try:
                yield
            finally:
                fcntl.fcntl(fd, _OFD_SETLKW, _flock(fcntl.F_UNLCK, start, length))

    def close(self) -> None:
        if self._fd >= 0 and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = -1
        self._pid = 0
