"""A key → bytes table in shared memory, for state every worker must see at once (usrloc's bindings):
Kamailio keeps such tables in its shared memory pool, with a lock per hash slot.

The table is a memory-mapped file next to the shared store (`<store>.area-<name>`), laid out as
kampy/runtime/shmlayout.py says: a header, an index with open addressing, live-entry counts per
index page, and a heap of blocks in power-of-two size classes.

Writers take turns on the file's flock and change the table only in `transaction()`s: the writes
are kept in this process until the block ends, then applied at once (an exception discards them,
so a failed read-modify-write leaves nothing behind). While a commit changes the index the write
sequence is odd; a reader (no lock) copies an entry and its block and keeps the copy only if the
sequence was even and unchanged meanwhile, which a commit overlapping the copy always changes. So
reads never wait for a writer, and a writer holds the lock only for its own read-modify-write.

Each block starts with a CRC-32 of its key and value, and a reader that finds it wrong retries as
for a moved sequence: so a reader never returns a value it saw half-changed, even where the CPU lets
another core see a writer's stores out of order (the sequence check alone relies on x86-64's order).

`extra` and `flags` are the caller's, per key (usrloc keeps a record's soonest expiry in `extra`, so
the expiry timer lists candidates from the index alone). The size is fixed when the file is created,
as Kamailio's shared memory pool is; the heap's pages are allocated (posix_fallocate) a megabyte at
a time as it grows, so a full file system refuses a write rather than killing the writer.
"""
from __future__ import annotations

import contextlib
import fcntl
import itertools
import logging
import mmap
import os
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from threading import get_ident
from zlib import crc32
from kampy.memo import BoundedCache
from kampy.runtime.shmlayout import (
    CLASSES, COUNTERS, EMPTY, HASHES_KEPT, HEADER_SIZE, Item, MAGIC, MAX_KEY, MAX_LOAD, MIN_SHIFT,
    READ_TRIES, REBUILD_LOAD, RESERVE_STEP, TOMBSTONE, TableFull, Torn, BLOCK_OVERHEAD, COUNTERS_AT,
    ENTRY, ENTRY_TAIL, FREE_AT, GEN_AT, HEAD, I64, KLEN_AT, LIVE_AT, MOVED_AT, PAGE,
    RESERVED_AT, SECRET_AT, SECRET_SIZE, SEQ_AT, TOMBS_AT, TOP_AT, U16, U32, U64, block_key,
    index_pages, size_class, key_hash,
)
from kampy.runtime.storefiles import open_companion

log = logging.getLogger("kampy.shared")

class _Transaction:
    """`ShmTable.transaction()`'s context manager (a class: it is entered on every write)."""

    __slots__ = ("table",)

    def __init__(self, table: ShmTable) -> None:
        self.table = table

    def __enter__(self) -> None:
        self.table._begin()

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.table._end(commit=kind is None)


@dataclass
class _Write:
    value: bytes | None   # None: delete
    extra: int = 0
    flags: int = 0


class ShmTable:
    """One process's mapping of a shared table (each worker opens its own after the fork)."""

    def __init__(self, path: str | Path, capacity: int = 1 << 18, heap_size: int | None = None, *,
                 max_capacity: int = 0) -> None:
        """`max_capacity` > `capacity`: when full, the table grows (index and heap doubled) up to that
        many index entries; 0: its size is fixed."""
        self.base = Path(path)
        self.max_capacity = max_capacity
        self._pid = os.getpid()
        self._mutex = threading.RLock()  # this process's threads take turns (one open file, one flock)
        self._depth = 0
        self._holder = 0  # the thread in a transaction (threading.get_ident), or 0
        self._writes: dict[bytes, _Write] = {}
        self._counter_deltas: dict[int, int] = {}
        self._entries_found: dict[bytes, int] = {}  # in this transaction (see _entry)
        self._transaction = _Transaction(self)
        self._retired: list[mmap.mmap] = []  # mappings of generations left behind (a read may be on one)
        self._fd = -1
        self._open(self.base, capacity, heap_size)
        self._hashes: BoundedCache[bytes, int] = BoundedCache(HASHES_KEPT)
        self._follow()

    def _open(self, path: Path, capacity: int, heap_size: int | None) -> None:
        """Map the file at `path`, creating it (with `capacity` and `heap_size`) if it is new."""
        self.path = path
        capacity = 1 << max(4, (capacity - 1).bit_length())
        heap_size = heap_size if heap_size is not None else capacity * 1024
        index_end = HEADER_SIZE + capacity * ENTRY.size + U16.size * index_pages(capacity)
        heap_start = -(-index_end // 4096) * 4096
        size = heap_start + heap_size
        self._fd = open_companion(self.path)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            existing = os.fstat(self._fd).st_size
            if existing == 0:
                os.ftruncate(self._fd, size)  # sparse: the heap's pages are allocated as it grows
                try:
                    self._reserve(0, heap_start)
                except TableFull:
                    os.ftruncate(self._fd, 0)  # the next opener tries again
                    os.close(self._fd)
                    self._fd = -1
                    raise
            else:
                size = existing
            self._map = mmap.mmap(self._fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            if self._map[:8] != MAGIC:
                self._map[SECRET_AT:SECRET_AT + SECRET_SIZE] = os.urandom(SECRET_SIZE)
                U64.pack_into(self._map, RESERVED_AT, heap_start)
                HEAD.pack_into(self._map, 0, MAGIC, 0, capacity, heap_start, size, heap_start, 0, 0)
            _, _, self.capacity, self._heap_start, self._heap_end, _, _, _ = HEAD.unpack_from(self._map, 0)
        finally:
            if self._fd >= 0:  # (closing the file dropped the lock)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._secret = self._map[SECRET_AT:SECRET_AT + SECRET_SIZE]
        self._mask = self.capacity - 1
        self._max_live = int(self.capacity * MAX_LOAD)
        self._index_end = HEADER_SIZE + self.capacity * ENTRY.size
        self._counts_at = self._index_end  # the live entries of each page of the index

    def _occupy(self, at: int, delta: int) -> None:
        """The entry at `at` became live (1) or not (-1): its page's count (inside a commit)."""
        count_at = self._counts_at + U16.size * ((at - HEADER_SIZE) // PAGE)
        U16.pack_into(self._map, count_at, U16.unpack_from(self._map, count_at)[0] + delta)

    def _occupied_runs(self) -> Iterator[tuple[int, int]]:
        """(start, end) of each run of index pages holding live entries (read without the lock)."""
        pages = index_pages(self.capacity)
        counts = memoryview(self._map[self._counts_at:self._counts_at + U16.size * pages]).cast("H")
        first, last = -1, -2
        for page in itertools.compress(range(pages), counts):
            if page != last + 1:
                if first >= 0:
                    yield HEADER_SIZE + first * PAGE, HEADER_SIZE + (last + 1) * PAGE
                first = page
            last = page
        if first >= 0:
            yield HEADER_SIZE + first * PAGE, min(HEADER_SIZE + (last + 1) * PAGE, self._index_end)

    # ------------------------------------------------------------------ growing

    @property
    def generation(self) -> int:
        """How many times the table grew."""
        return U64.unpack_from(self._map, GEN_AT)[0]

    def _generation_path(self, generation: int) -> Path:
        return self.base if generation == 0 else Path(f"{self.base}.g{generation}")

    def _follow(self, locked: bool = False) -> None:
        """Map the generation the table grew into, if it did (a cheap check on every access).
        `locked`: this process holds the old file's lock; it takes the new one's before letting go."""
        while moved := U64.unpack_from(self._map, MOVED_AT)[0]:
            old_map, old_fd = self._map, self._fd
            self._open(self._generation_path(moved), 0, None)
            if locked:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                # explicitly: the mapping kept below holds a duplicate of the file, and its lock
                fcntl.flock(old_fd, fcntl.LOCK_UN)
            self._retired.append(old_map)  # never closed: another thread may be reading it
            os.close(old_fd)

    def _grow(self) -> None:
        """In a commit that found the table full: copy it into a file with twice the index and heap,
        then mark this one moved. Every process follows at its next access; the retried commit runs
        on the new file, whose lock this process takes before it lets go of the old one."""
        capacity = self.capacity * 2
        if capacity > self.max_capacity:
            raise TableFull(f"shared table {self.base.name}: full at {self.capacity} entries, the most "
                            f"it may grow to is {self.max_capacity}")
        generation = self.generation + 1
        path = self._generation_path(generation)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # left by a growth that failed
        heap_size = 2 * (self._heap_end - self._heap_start)
        try:
            self._copy_into(ShmTable(path, capacity, heap_size), generation)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            raise
        m = self._map
        seq = U64.unpack_from(m, SEQ_AT)[0]
        U64.pack_into(m, SEQ_AT, seq + 1)  # readers of this generation retry, and follow
        U64.pack_into(m, MOVED_AT, generation)
        U64.pack_into(m, SEQ_AT, seq + 2)
        self._follow(locked=True)
        self._entries_found = {}
        log.warning("shared table %s grew to %d entries (%d keys at most) and a heap of %d MiB",
                    self.base.name, capacity, int(capacity * MAX_LOAD), heap_size >> 20)

    def _copy_into(self, new: ShmTable, generation: int) -> None:
        """This table into `new` (empty, larger, and no other process knows it yet): the heap as it
        is, shifted to the new heap's start (free lists too), and the live index entries re-placed
        in the larger index; counters and the key secret (so the key hashes stay) with them."""
        old_map, new_map = self._map, new._map
        new_map[SECRET_AT:SECRET_AT + SECRET_SIZE] = self._secret
        new._secret = self._secret
        U64.pack_into(new_map, GEN_AT, generation)
        top = U64.unpack_from(old_map, TOP_AT)[0]
        used = top - self._heap_start
        shift = new._heap_start - self._heap_start
        new._reserve(new._heap_start, max(used, 1))
        U64.pack_into(new_map, RESERVED_AT, new._heap_start + max(used, 1))
        new_map[new._heap_start:new._heap_start + used] = old_map[self._heap_start:top]
        U64.pack_into(new_map, TOP_AT, top + shift)
        for cls in range(CLASSES):
            off = U64.unpack_from(old_map, FREE_AT + 8 * cls)[0]
            U64.pack_into(new_map, FREE_AT + 8 * cls, off + shift if off else 0)
            while off:
                following = U64.unpack_from(old_map, off)[0]
                U64.pack_into(new_map, off + shift, following + shift if following else 0)
                off = following
        end = HEADER_SIZE + self.capacity * ENTRY.size
        live = 0
        for h, off, length, cls, flags, extra in ENTRY.iter_unpack(old_map[HEADER_SIZE:end]):
            if h > TOMBSTONE:
                at, _ = new._slot_for(h)
                ENTRY.pack_into(new_map, at, h, off + shift, length, cls, flags, extra)
                new._occupy(at, 1)
                live += 1
        U64.pack_into(new_map, LIVE_AT, live)
        new_map[COUNTERS_AT:COUNTERS_AT + 8 * COUNTERS] = old_map[COUNTERS_AT:COUNTERS_AT + 8 * COUNTERS]
        new.close()

    # ------------------------------------------------------------------ reading

    def get(self, key: bytes) -> tuple[bytes, int, int] | None:
        """(value, extra, flags) of `key`, or None. Inside this process's transaction, its own
        writes are seen."""
        if self._holder == get_ident():
            return self._get_held(key)
        h = self._hash(key)
        for _ in range(READ_TRIES):
            m = self._map
            if U64.unpack_from(m, MOVED_AT)[0]:
                self._follow()
                continue
            seq = U64.unpack_from(m, SEQ_AT)[0]
            if seq & 1:
                continue
            try:
                found = self._read(self._find(h, key))
            except (Torn, struct.error, ValueError, IndexError):  # a torn read: try again
                continue
            if U64.unpack_from(m, SEQ_AT)[0] == seq:
                return found
        with self.transaction():
            return self._get_held(key)

    def _get_held(self, key: bytes) -> tuple[bytes, int, int] | None:
        write = self._writes.get(key)
        if write is not None:
            return None if write.value is None else (write.value, write.extra, write.flags)
        return self._read(self._entry(key))

    def _entry(self, key: bytes) -> int:
        """`_find` for the lock's holder: the index does not change until the commit, so an entry
        found once in the transaction is remembered."""
        at = self._entries_found.get(key)
        if at is None:
            at = self._entries_found[key] = self._find(self._hash(key), key)
        return at

    def _hash(self, key: bytes) -> int:
        """key_hash with this table's secret, remembered for the last HASHES_KEPT keys or so (a
        save hashes its AoR several times, lookups hash the same AoRs again and again)."""
        h = self._hashes.get(key)
        if h is None:
            h = self._hashes.put(key, key_hash(key, self._secret))
        return h

    def _read(self, at: int) -> tuple[bytes, int, int] | None:
        """The value, extra and flags of the entry at `at` (-1: none); `Torn` when its block does
        not hold what was written there (its checksum)."""
        if at < 0:
            return None
        _, off, length, _, flags, extra = ENTRY.unpack_from(self._map, at)
        blob = self._map[off:off + length]
        if len(blob) < BLOCK_OVERHEAD or crc32(blob[KLEN_AT:]) != U32.unpack_from(blob)[0]:
            raise Torn(self.path.name)
        return blob[BLOCK_OVERHEAD + len(block_key(blob)):], extra, flags

    def _find(self, h: int, key: bytes) -> int:
        """The offset of `key`'s index entry, or -1."""
        m, mask, size = self._map, self._mask, ENTRY.size
        i = h & mask
        for _ in range(self.capacity):
            at = HEADER_SIZE + i * size
            entry_hash = U64.unpack_from(m, at)[0]
            if entry_hash == EMPTY:
                return -1
            if entry_hash == h:
                if block_key(m, U64.unpack_from(m, at + 8)[0]) == key:
                    return at
            i = (i + 1) & mask
        return -1

    def counter(self, index: int) -> int:
        """Counter `index` (0..COUNTERS-1), with this process's uncommitted changes."""
        if self._holder != get_ident():
            self._follow()
        value = I64.unpack_from(self._map, COUNTERS_AT + 8 * index)[0]
        return value + self._counter_deltas.get(index, 0) if self._holder == get_ident() else value

    def __len__(self) -> int:
        if self._holder != get_ident():
            self._follow()
        return U64.unpack_from(self._map, LIVE_AT)[0]

    def items(self, *, prefix: bytes = b"", extra_at_most: int | None = None,
              flags_any: int = 0) -> list[Item]:
        """The keys starting with `prefix` (and with `extra` <= `extra_at_most`, and any of
        `flags_any` set, when given) with their values, in no particular order. Read without the
        lock, each item as committed at one moment (a dump of a busy table is not one snapshot,
        as Kamailio's, which locks slot by slot)."""
        found = []
        for key in self.keys(prefix=prefix, extra_at_most=extra_at_most, flags_any=flags_any):
            got = self.get(key)
            if got is not None and (extra_at_most is None or got[1] <= extra_at_most) \
                    and (not flags_any or got[2] & flags_any):
                found.append(Item(key, *got))
        return found

    def keys(self, *, prefix: bytes = b"", extra_at_most: int | None = None,
             flags_any: int = 0) -> list[bytes]:
        """The keys starting with `prefix` (and with `extra` and `flags` as for `items`), read
        without the lock, so writers never wait for it: a key written meanwhile may be missing, one
        deleted meanwhile may be there (re-read each key before acting on it)."""
        found = []
        entries = self._entries(extra_at_most, flags_any)  # (follows a growth first)
        m = self._map
        for h, off, length, _flags, _extra in entries:
            try:
                key = block_key(m[off:off + min(length, BLOCK_OVERHEAD + MAX_KEY)])
            except struct.error:  # the entry changed under the read
                continue
            if key.startswith(prefix) and self._hash(key) == h:  # not a block reused meanwhile
                found.append(key)
        return found

    def _entries(self, extra_at_most: int | None, flags_any: int) -> Iterator[tuple[int, int, int, int, int]]:
        """(hash, offset, length, flags, extra) of the live index entries picked (from a copy of
        the index taken now)."""
        if self._holder != get_ident():
            self._follow()
        for start, end in list(self._occupied_runs()):
            index = self._map[start:end]
            hashes = memoryview(index).cast("Q")[0::4]
            for i in itertools.compress(range(len(hashes)), hashes):  # in C: most entries are empty
                h, off, length, _cls, flags, extra = ENTRY.unpack_from(index, i * ENTRY.size)
                if h == TOMBSTONE or (extra_at_most is not None and extra > extra_at_most):
                    continue
                if flags_any and not flags & flags_any:
                    continue
                yield h, off, length, flags, extra

    # ------------------------------------------------------------------ writing

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """Hold the writers' lock; the writes made in the block are applied when it ends, or
        dropped if it raises. Nested blocks join the outer one."""
        return self._transaction

    def _begin(self) -> None:
        self._mutex.acquire()
        if self._depth:
            self._depth += 1
            return
        try:
            if self._pid != os.getpid():
                self._own_file()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._follow(locked=True)  # it grew: lock the new file instead
        except BaseException:
            self._mutex.release()
            raise
        self._depth = 1
        self._holder = get_ident()
        self._recover()

    def _own_file(self) -> None:
        """In a fork of the process that opened the table: a file of its own, or its flock would
        be the parent's (a flock belongs to the open file, which fork shares)."""
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        self._pid = os.getpid()

    def _end(self, commit: bool) -> None:
        try:
            if self._depth > 1:
                self._depth -= 1
                return
            try:
                if commit:
                    self._commit()
            finally:
                self._writes = {}
                self._counter_deltas = {}
                self._entries_found = {}
                self._depth = 0
                self._holder = 0
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()

    def put(self, key: bytes, value: bytes, extra: int = 0, flags: int = 0) -> None:
        """Set `key` (in the caller's transaction, or in one of its own)."""
        if len(key) > MAX_KEY:
            raise ValueError(f"shared table key of {len(key)} bytes (at most {MAX_KEY})")
        self._stage(key, _Write(value, extra, flags))

    def delete(self, key: bytes) -> None:
        self._stage(key, _Write(None))

    def _stage(self, key: bytes, write: _Write) -> None:
        """Keep `write` for the commit of the caller's transaction, or of one of its own."""
        if self._holder == get_ident():
            self._writes[key] = write
            return
        with self.transaction():
            self._writes[key] = write

    def add(self, index: int, delta: int) -> None:
        """Add `delta` to counter `index` (with the transaction's writes)."""
        if self._holder != get_ident():
            with self.transaction():
                self.add(index, delta)
            return
        self._counter_deltas[index] = self._counter_deltas.get(index, 0) + delta

    def _recover(self) -> None:
        """An odd sequence with the lock free: a writer died in the middle of a commit."""
        seq = U64.unpack_from(self._map, SEQ_AT)[0]
        if seq & 1:
            log.error("shared table %s: a writer died while committing; its last change may be "
                      "partly applied", self.path.name)
            self._rebuild()
            U64.pack_into(self._map, SEQ_AT, seq + 1)

    def _commit(self) -> None:
        try:
            self._commit_here()
        except TableFull as full:
            if not self.max_capacity:
                raise
            if self.capacity >= self.max_capacity:
                raise TableFull(f"{full}: {self.capacity} entries is the most it may grow to") from None
            self._grow()
            self._commit_here()

    def _commit_here(self) -> None:
        writes = self._writes
        if not writes and not self._counter_deltas:
            return
        m = self._map
        # where each key's entry is now (entries do not move until _apply)
        located = {key: self._entry(key) for key in writes}
        new_keys = sum(1 for key, w in writes.items() if w.value is not None and located[key] < 0)
        live = U64.unpack_from(m, LIVE_AT)[0]
        if new_keys and live + new_keys > self._max_live:
            raise TableFull(f"shared table {self.path.name}: {live} keys, no room for {new_keys} more")
        blocks = self._allocate_all(writes)
        seq = U64.unpack_from(m, SEQ_AT)[0]
        U64.pack_into(m, SEQ_AT, seq + 1)  # odd: readers retry
        try:
            self._apply(writes, located, blocks)
            for index, delta in self._counter_deltas.items():
                at = COUNTERS_AT + 8 * index
                I64.pack_into(m, at, I64.unpack_from(m, at)[0] + delta)
            if U64.unpack_from(m, LIVE_AT)[0] + U64.unpack_from(m, TOMBS_AT)[0] > \
                    self.capacity * REBUILD_LOAD:
                self._rebuild()
        finally:
            U64.pack_into(m, SEQ_AT, seq + 2)

    def _allocate_all(self, writes: dict[bytes, _Write]) -> dict[bytes, tuple[int, int, int]]:
        """A block (offset, length, class) for each value written, filled in; all or none."""
        blocks: dict[bytes, tuple[int, int, int]] = {}
        try:
            for key, w in writes.items():
                if w.value is None:
                    continue
                body = U16.pack(len(key)) + key + w.value
                data = U32.pack(crc32(body)) + body
                cls = size_class(len(data))
                off = self._allocate(cls, key)
                self._map[off:off + len(data)] = data
                blocks[key] = (off, len(data), cls)
        except TableFull:
            for off, _length, cls in blocks.values():
                self._free(off, cls)
            raise
        return blocks

    def _apply(self, writes: dict[bytes, _Write], located: dict[bytes, int],
               blocks: dict[bytes, tuple[int, int, int]]) -> None:
        m = self._map
        live = U64.unpack_from(m, LIVE_AT)[0]
        tombs = U64.unpack_from(m, TOMBS_AT)[0]
        for key, w in writes.items():
            at = located[key]
            if at >= 0:
                old_off, old_cls = U64.unpack_from(m, at + 8)[0], U16.unpack_from(m, at + 20)[0]
                if w.value is None:
                    U64.pack_into(m, at, TOMBSTONE)
                    self._occupy(at, -1)
                    live, tombs = live - 1, tombs + 1
                else:
                    off, length, cls = blocks[key]
                    ENTRY_TAIL.pack_into(m, at + 8, off, length, cls, w.flags, w.extra)
                self._free(old_off, old_cls)
            elif w.value is not None:
                h = self._hash(key)
                at, was_tomb = self._slot_for(h)
                off, length, cls = blocks[key]
                ENTRY.pack_into(m, at, h, off, length, cls, w.flags, w.extra)
                self._occupy(at, 1)
                live += 1
                tombs -= was_tomb
        U64.pack_into(m, LIVE_AT, live)
        U64.pack_into(m, TOMBS_AT, tombs)

    def _slot_for(self, h: int) -> tuple[int, int]:
        """The entry a new key of hash `h` goes to (the first tombstone or empty entry on its probe
        path), and 1 if that was a tombstone."""
        m, mask, size = self._map, self._mask, ENTRY.size
        i = h & mask
        while True:
            at = HEADER_SIZE + i * size
            entry_hash = U64.unpack_from(m, at)[0]
            if entry_hash <= TOMBSTONE:
                return at, entry_hash
            i = (i + 1) & mask

    def _rebuild(self) -> None:
        """Re-insert every live entry into an empty index: tombstones go (inside a commit)."""
        m = self._map
        end = HEADER_SIZE + self.capacity * ENTRY.size
        entries = [e for e in ENTRY.iter_unpack(m[HEADER_SIZE:end]) if e[0] > TOMBSTONE]
        m[HEADER_SIZE:end] = bytes(end - HEADER_SIZE)
        counts_end = self._counts_at + U16.size * index_pages(self.capacity)
        m[self._counts_at:counts_end] = bytes(counts_end - self._counts_at)
        for entry in entries:
            at, _ = self._slot_for(entry[0])
            ENTRY.pack_into(m, at, *entry)
            self._occupy(at, 1)
        U64.pack_into(m, LIVE_AT, len(entries))
        U64.pack_into(m, TOMBS_AT, 0)

    # ------------------------------------------------------------------ the heap

    def _allocate(self, cls: int, key: bytes) -> int:
        m = self._map
        head_at = FREE_AT + 8 * cls
        head = U64.unpack_from(m, head_at)[0]
        if head:
            U64.pack_into(m, head_at, U64.unpack_from(m, head)[0])
            return head
        top = U64.unpack_from(m, TOP_AT)[0]
        size = 1 << (cls + MIN_SHIFT)
        if cls >= CLASSES or top + size > self._heap_end:
            raise TableFull(f"shared table {self.path.name}: no memory left for {size} bytes "
                            f"({key[:60]!r})")
        reserved = U64.unpack_from(m, RESERVED_AT)[0]
        if top + size > reserved:
            grown = min(self._heap_end, max(top + size, reserved + RESERVE_STEP))
            self._reserve(reserved, grown - reserved)
            U64.pack_into(m, RESERVED_AT, grown)
        U64.pack_into(m, TOP_AT, top + size)
        return top

    def _reserve(self, start: int, length: int) -> None:
        """Allocate the file's pages from `start` on before they are written: on a full file system
        a write through the mapping would kill the process (SIGBUS); this fails cleanly."""
        try:
            os.posix_fallocate(self._fd, start, length)
        except OSError as exc:
            raise TableFull(f"shared table {self.path.name}: no room for {length} more bytes in "
                            f"{self.path.parent}: {exc.strerror or exc}") from None

    def _free(self, off: int, cls: int) -> None:
        head_at = FREE_AT + 8 * cls
        U64.pack_into(self._map, off, U64.unpack_from(self._map, head_at)[0])
        U64.pack_into(self._map, head_at, off)

    def heap_used(self) -> int:
        """Bytes of the heap handed out so far (blocks on the free lists included)."""
        return U64.unpack_from(self._map, TOP_AT)[0] - self._heap_start

    def close(self) -> None:
        if self._fd >= 0:
            self._map.close()
            os.close(self._fd)
            self._fd = -1
