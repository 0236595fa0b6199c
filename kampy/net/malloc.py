"""A worker's C heap (glibc's malloc), which holds the Python objects larger than 512 bytes and
what C code allocates: two settings keep what a busy worker frees from staying in its RSS.

* glibc serves a request of M_MMAP_THRESHOLD bytes or more with a mapping of its own, unmapped
  when freed; but once such a block is freed it raises the threshold to the block's size (up to
  32 MiB), so the next blocks that size come from the heap and stay in it when freed. usrloc's
  timer copies its 8 MiB index on each run: from the second run on, the worker running it kept
  8 MiB more heap (bench/fuzz.py, 2026-12-07). Setting the threshold fixes it and ends the raising.
* Free memory inside the heap goes back to the system only from its top: a message a transaction
  keeps for seconds holds the pages below it. `malloc_trim(0)` returns every free page inside
  it; a busy worker does that every TRIM_PERIOD seconds (a fraction of a millisecond each time).
"""
from __future__ import annotations

import ctypes
import logging
import time

log = logging.getLogger("kampy.net")

M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024  # glibc's default, fixed
TRIM_PERIOD = 10.0


class Heap:
    """glibc's malloc in this process; `tuned()` is None where there is none (musl, macOS)."""

    def __init__(self, libc: ctypes.CDLL) -> None:
        self._libc = libc
        self.trimmed_at = time.monotonic()

    @classmethod
    def tuned(cls) -> Heap | None:
        """This process's heap with the mmap threshold fixed at MMAP_THRESHOLD."""
        try:
            libc = ctypes.CDLL(None)
            if not libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD):
                return None
            libc.malloc_trim  # noqa: B018 - present in every glibc that has mallopt
        except (OSError, AttributeError):
            log.debug("no glibc malloc to tune")
            return None
        return cls(libc)

    def trim(self) -> None:
        self._libc.malloc_trim(0)
        self.trimmed_at = time.monotonic()

    def trim_now_and_then(self, period: float = TRIM_PERIOD) -> None:
        if time.monotonic() - self.trimmed_at >= period:
            self.trim()
