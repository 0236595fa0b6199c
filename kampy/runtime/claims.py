"""Which worker owns a key: a hash table in shared memory, Kamailio's shared transaction table in
miniature. tm claims each new transaction's key here, so a retransmission, CANCEL or ACK that another
worker receives is handed to the owner.

The table is a memory-mapped file next to the shared store (`<store>.claims`): `BUCKETS` buckets of
`WAYS` slots; a slot holds a 64-bit hash of the key (0: empty), the owner's rank and when the claim
expires (seconds of the system-wide monotonic clock, a safety net for a worker that died holding
claims). A key lives in the bucket its hash names.

* `owner` reads without a lock: a claim writes rank and expiry before the hash, and a release clears
  the hash first, so a reader never sees a hash with another key's rank;
* `claim` and `release` take the table's flock for the few microseconds of one bucket update, so two
  workers claiming one key at the same moment get one owner;
* a key whose bucket is full is not claimed (the caller owns it without the table's help, and a
  warning is logged once): with 512k slots that takes hundreds of thousands of live keys.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import mmap
import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from kampy.runtime.storefiles import open_companion
from kampy.sip.text import as_bytes

log = logging.getLogger("kampy.shared")

BUCKETS = 1 << 16
WAYS = 8
_SLOT = struct.Struct("<QiI")   # key hash, owner rank, expiry (whole seconds, monotonic clock)
_TAIL = struct.Struct("<iI")    # rank and expiry: written before the hash
_HASH = struct.Struct("<Q")
_BUCKET_SIZE = _SLOT.size * WAYS
_SIZE = BUCKETS * _BUCKET_SIZE


def area_path(store_path: str | Path) -> Path:
    """The file holding the claims of the server whose shared store is at `store_path`."""
    return Path(f"{store_path}.claims")


def key_hash(key: str) -> int:
    """A 64-bit hash of `key`, never 0 (0 marks an empty slot); the same in every process."""
    digest = hashlib.blake2b(as_bytes(key), digest_size=8).digest()
    return int.from_bytes(digest, "little") or 1


def _locate(key: str) -> tuple[int, int]:
    """The key's hash and the offset of its bucket."""
    h = key_hash(key)
    return h, (h & (BUCKETS - 1)) * _BUCKET_SIZE


class ClaimTable:
    """One process's mapping of the claims file (each worker opens its own after the fork)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd = open_companion(self.path)
        if os.fstat(self._fd).st_size < _SIZE:
            os.ftruncate(self._fd, _SIZE)  # every opener asks for the same size: no race to lose
        self._map = mmap.mmap(self._fd, _SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self._warned_full = False

    def owner(self, key: str) -> int | None:
        """The rank that holds `key`, or None."""
        h, base = _locate(key)
        bucket = self._map[base:base + _BUCKET_SIZE]
        wanted = _HASH.pack(h)
        at = bucket.find(wanted)  # in C: most requests are no one's (a new transaction, a REGISTER)
        while at >= 0:
            if at % _SLOT.size == 0:
                _, rank, expires = _SLOT.unpack_from(bucket, at)
                if expires > int(time.monotonic()):
                    return rank
            at = bucket.find(wanted, at + 1)
        return None

    def claim(self, key: str, rank: int, ttl: float) -> int | None:
        """Make `rank` the owner of `key` for at most `ttl` seconds, unless another rank holds it:
        None when `rank` owns it now (or already did), else the owner's rank."""
        h, base = _locate(key)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            now = int(time.monotonic())
            free = -1
            for way, (slot_hash, owner, expires) in self._slots(base):
                if slot_hash == h and expires > now:
                    return None if owner == rank else owner
                if free < 0 and (slot_hash == 0 or expires <= now):
                    free = way
            if free < 0:
                self._full(key)
                return None
            at = base + free * _SLOT.size
            _HASH.pack_into(self._map, at, 0)
            _TAIL.pack_into(self._map, at + _HASH.size, rank, now + max(1, int(ttl)))
            _HASH.pack_into(self._map, at, h)
            return None
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def release(self, key: str, rank: int) -> bool:
        """Drop `rank`'s claim on `key`; False when it held none."""
        h, base = _locate(key)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            for way, (slot_hash, owner, _expires) in self._slots(base):
                if slot_hash == h and owner == rank:
                    _HASH.pack_into(self._map, base + way * _SLOT.size, 0)
                    return True
            return False
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _slots(self, base: int) -> Iterator[tuple[int, tuple[int, int, int]]]:
        """(way, (hash, rank, expiry)) of each slot of the bucket at `base`."""
        return enumerate(_SLOT.iter_unpack(self._map[base:base + _BUCKET_SIZE]))

    def _full(self, key: str) -> None:
        if not self._warned_full:
            self._warned_full = True
            log.warning("claims table: bucket full, %r (and any later key of a full bucket) is owned "
                        "without the table: another worker will not find it", key[:80])

    def close(self) -> None:
        if self._fd >= 0:
            self._map.close()
            os.close(self._fd)
            self._fd = -1
