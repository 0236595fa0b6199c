"""Which worker owns a key: a hash table in shared memory, Kamailio's shared transaction table in
miniature. tm claims each new transaction's key here, so a retransmission, CANCEL or ACK that another
worker receives is handed to the owner.

The table is a memory-mapped file next to the shared store (`<store>.claims`): `BUCKETS` buckets of
`WAYS` slots; a slot holds a 64-bit hash of the key (0: empty), the owner's rank and when the claim
expires (seconds of the system-wide monotonic clock, a safety net for a worker that died holding
claims).

The buckets form `LEVELS` levels: 256 buckets, then 256, 512, ... 32768. A key may live in one bucket
of each level (each level's own bits of its hash name it) and is claimed in the lowest level with a
free slot; the file's last word says how many levels were ever used, which lookups read. So the pages
the processes touch (and the file's pages) follow the most keys live at once: a few hundred live
transactions stay in level 0's 32 KiB however many were claimed over time, where a single level of
65536 buckets had every page of its 8 MiB touched after some ten thousand transactions.

* `owner` reads without a lock: a claim writes rank and expiry before the hash, and a release clears
  the hash first, so a reader never sees a hash with another key's rank;
* `claim` and `release` take the table's flock for the few microseconds of one bucket update, so two
  workers claiming one key at the same moment get one owner;
* a key whose buckets are full in every level is not claimed (the caller owns it without the table's
  help, and a warning is logged once): with 512k slots that takes hundreds of thousands of live keys.
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
FIRST_LEVEL = 256   # buckets of levels 0 and 1; each level after them twice the one before
LEVELS = 9          # 256 + 256 + 512 + ... + 32768 = BUCKETS
_LEVEL_SHIFT = 6    # level k's bucket: bits 6k.. of the hash
_SLOT = struct.Struct("<QiI")   # key hash, owner rank, expiry (whole seconds, monotonic clock)
_TAIL = struct.Struct("<iI")    # rank and expiry: written before the hash
_HASH = struct.Struct("<Q")
_BUCKET_SIZE = _SLOT.size * WAYS
_LEVELS_AT = BUCKETS * _BUCKET_SIZE  # how many levels were ever used (grows only)
_SIZE = _LEVELS_AT + _HASH.size


def _level_buckets(level: int) -> tuple[int, int]:
    """The first bucket of `level` and how many it has."""
    if level == 0:
        return 0, FIRST_LEVEL
    start = FIRST_LEVEL << (level - 1)
    return start, start


def area_path(store_path: str | Path) -> Path:
    """The file holding the claims of the server whose shared store is at `store_path`."""
    return Path(f"{store_path}.claims")


def key_hash(key: str) -> int:
    """A 64-bit hash of `key`, never 0 (0 marks an empty slot); the same in every process."""
    digest = hashlib.blake2b(as_bytes(key), digest_size=8).digest()
    return int.from_bytes(digest, "little") or 1


def bucket_offset(h: int, level: int) -> int:
    """The offset of the bucket of level `level` where a key of hash `h` may live."""
    start, count = _level_buckets(level)
    return (start + ((h >> (_LEVEL_SHIFT * level)) & (count - 1))) * _BUCKET_SIZE


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
        h = key_hash(key)
        wanted = _HASH.pack(h)
        m = self._map
        levels = _HASH.unpack_from(m, _LEVELS_AT)[0]
        base, level = (h & (FIRST_LEVEL - 1)) * _BUCKET_SIZE, 0  # bucket_offset(h, 0), inline
        while True:
            bucket = m[base:base + _BUCKET_SIZE]
            at = bucket.find(wanted)  # in C: most requests are no one's (a new transaction, a REGISTER)
            while at >= 0:
                if at % _SLOT.size == 0:
                    _, rank, expires = _SLOT.unpack_from(bucket, at)
                    if expires > int(time.monotonic()):
                        return rank
                at = bucket.find(wanted, at + 1)
            level += 1
            if level >= levels or level >= LEVELS:
                return None
            base = bucket_offset(h, level)

    def levels_used(self) -> int:
        """How many levels keys were ever claimed in (lookups look in these)."""
        return min(LEVELS, _HASH.unpack_from(self._map, _LEVELS_AT)[0])

    def claim(self, key: str, rank: int, ttl: float) -> int | None:
        """Make `rank` the owner of `key` for at most `ttl` seconds, unless another rank holds it:
        None when `rank` owns it now (or already did), else the owner's rank."""
        h = key_hash(key)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            now = int(time.monotonic())
            levels = self.levels_used()
            free = -1
            for level in range(levels):
                base = bucket_offset(h, level)
                for way, (slot_hash, owner, expires) in self._slots(base):
                    if slot_hash == h and expires > now:
                        return None if owner == rank else owner
                    if free < 0 and (slot_hash == 0 or expires <= now):
                        free = base + way * _SLOT.size
            if free < 0:
                if levels == LEVELS:
                    self._full(key)
                    return None
                free = bucket_offset(h, levels)  # a level no key was claimed in yet: all free
                _HASH.pack_into(self._map, _LEVELS_AT, levels + 1)  # before the key: readers look there
            at = free
            _HASH.pack_into(self._map, at, 0)
            _TAIL.pack_into(self._map, at + _HASH.size, rank, now + max(1, int(ttl)))
            _HASH.pack_into(self._map, at, h)
            return None
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def release(self, key: str, rank: int) -> bool:
        """Drop `rank`'s claim on `key`; False when it held none."""
        h = key_hash(key)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            for level in range(self.levels_used()):
                base = bucket_offset(h, level)
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
