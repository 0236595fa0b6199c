"""The layout of a shared table's file (kampy/runtime/shmtable.py): its header, index entries,
page counts and heap blocks, and the small functions that read them.

The file is laid out as

* a header: the write sequence, the heap's bump pointer and free lists, counters;
* an index: `capacity` entries of (key hash, block offset, length, size class, flags, extra), open
  addressing with linear probing (a deleted entry leaves a tombstone until the index is rebuilt);
* how many live entries each 4 KiB page of the index holds (16 bits a page): a scan of the keys
  (usrloc's expiry timer) reads only the pages holding some, so it neither copies the whole index
  nor maps the pages of empty entries into the process that scans;
* a heap of blocks in power-of-two size classes, each holding one key and its value.

Each block starts with a CRC-32 of its key and value (see shmtable's docstring for why).
"""
from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from hashlib import blake2b

MAGIC = b"KPYSHT02"
HEADER_SIZE = 4096
CLASSES = 32             # block sizes 2^MIN_SHIFT .. 2^(MIN_SHIFT + CLASSES - 1)
MIN_SHIFT = 6
COUNTERS = 16
MAX_LOAD = 0.7           # live keys per index entry, at most
REBUILD_LOAD = 0.8       # live keys and tombstones per entry that trigger a rebuild of the index
MAX_KEY = 0xFFFF         # bytes of a key, at most
HASHES_KEPT = 4096       # key hashes a process remembers
READ_TRIES = 8           # lock-free attempts before a reader takes the lock

EMPTY, TOMBSTONE = 0, 1

U64 = struct.Struct("<Q")
I64 = struct.Struct("<q")
U16 = struct.Struct("<H")
U32 = struct.Struct("<I")
BLOCK_OVERHEAD = 6      # a block: CRC-32 of the rest, key length, key, value
KLEN_AT = 4
# magic, write sequence, capacity, heap start, heap end, heap top, live keys, tombstones
HEAD = struct.Struct("<8sQQQQQQQ")
SEQ_AT = 8
TOP_AT, LIVE_AT, TOMBS_AT = 40, 48, 56
FREE_AT = HEAD.size
COUNTERS_AT = FREE_AT + 8 * CLASSES
SECRET_AT = COUNTERS_AT + 8 * COUNTERS
SECRET_SIZE = 16
RESERVED_AT = SECRET_AT + SECRET_SIZE  # how far the file's pages are allocated (posix_fallocate)
MOVED_AT = RESERVED_AT + 8  # the generation the table moved to when it grew (0: none)
GEN_AT = MOVED_AT + 8       # this file's generation: <path> is 0, <path>.g<N> is N
RESERVE_STEP = 1 << 20
ENTRY = struct.Struct("<QQIHHq")  # key hash, block offset, length, size class, flags, extra
ENTRY_TAIL = struct.Struct("<QIHHq")  # what a commit rewrites of a live entry (all but the hash)
PAGE = 4096
_PAGE_ENTRIES = PAGE // ENTRY.size   # index entries a page holds (its live ones are counted)

assert GEN_AT + 8 <= HEADER_SIZE


class Torn(Exception):
    """A block that does not hold what its writer wrote: read while a commit changed it (the
    reader retries), or left half-written by a writer that died."""


class TableFull(Exception):
    """The table's index or heap has no room for a write (the write is not made)."""


def key_hash(key: bytes, secret: bytes) -> int:
    """A 64-bit hash of `key` that is never EMPTY or TOMBSTONE. Keyed with the table's random
    `secret` (the same in every process): keys come from the network, and whoever could choose
    keys of one hash could make every lookup walk a long run of entries."""
    h = int.from_bytes(blake2b(key, digest_size=8, key=secret).digest(), "little")
    return h if h > TOMBSTONE else h + 2


def index_pages(capacity: int) -> int:
    """The 4 KiB pages an index of `capacity` entries spans."""
    return -(-capacity // _PAGE_ENTRIES)


def block_key(buf: bytes | mmap.mmap, off: int = 0) -> bytes:
    """The key of the block at `off` of `buf`."""
    start = off + BLOCK_OVERHEAD
    return buf[start:start + U16.unpack_from(buf, off + KLEN_AT)[0]]


def size_class(length: int) -> int:
    return max(0, (length - 1).bit_length() - MIN_SHIFT)


@dataclass
class Item:
    """One key with its value, as `ShmTable.items` gives it."""

    key: bytes
    value: bytes
    extra: int
    flags: int
