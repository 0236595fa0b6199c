"""The state nonce_count and one_time_nonce keep, shared by every worker (Kamailio's nid.c, nc.c and
ot_nonce.c in shared memory).

* The nonce ids: one counter per pool (`nid_pool_no`, a power of two up to 64); a worker takes its
  pool by rank, and a new nonce gets the pool's counter increased by NID_INC.
* The nc array: one byte per tracked nonce (`nc_array_size`), the highest nc seen; a new nonce sets
  its byte to 0, an nc not above the byte is a replay. All bytes start at 255 (nothing accepted
  before the nonce is issued again), as Kamailio's array does after a restart.
* The otn bitmap: one bit per tracked nonce (`otn_in_flight_no`); a new nonce clears it, the first
  use sets it, a second use is a replay.

A nonce id is older than the array when the pool's counter has moved NID_INC x partition size past
it: its cell may belong to a newer nonce, so it is refused (overflow). The arrays live in a shared
table of the server's shared store, cut into chunks, each changed in one transaction.
"""
from __future__ import annotations

import logging
import random
import struct
from dataclasses import dataclass

from kampy.api import ShmTable

log = logging.getLogger("kampy.auth")

NID_INC = 257
MAX_NID_POOL_SIZE = 64
DEFAULT_ARRAY_SIZE = 1024 * 1024
CHUNK = 4000  # bytes of an array per shared-table entry (a 4 KiB block with its key)
# nc_check_val() and otn_check_id() results
OK, INV_POOL, ID_OVERFLOW, TOO_BIG, REPLAY = 0, -1, -2, -3, -4


@dataclass(frozen=True)
class Partitions:
    """An array of 2^order cells cut in one partition per pool."""

    order: int
    pool_order: int

    @property
    def size(self) -> int:
        return 1 << self.order

    @property
    def part_order(self) -> int:
        return self.order - self.pool_order

    @property
    def part_size(self) -> int:
        return 1 << self.part_order

    def index(self, nid: int, pool: int) -> int:
        return (nid & (self.part_size - 1)) + (pool << self.part_order)


def pool_order(nid_pool_no: int) -> int:
    """init_nonce_id: 1 by default, at most 64, rounded down to 2^k."""
    count = nid_pool_no or 1
    if count > MAX_NID_POOL_SIZE:
        log.warning("nid_pool_no too big, truncating to %d", MAX_NID_POOL_SIZE)
        count = MAX_NID_POOL_SIZE
    order = count.bit_length() - 1
    if 1 << order != count:
        log.info("nid_pool_no rounded down to %d", 1 << order)
    return order


def array_order(size: int, order: int) -> int:
    """nc_array_size/nc_array_order (or the otn pair): the order wins; rounded down to 2^k."""
    if order:
        return order
    return (size or DEFAULT_ARRAY_SIZE).bit_length() - 1


def check_partitions(name: str, parts: Partitions, cells_per_pool_min: int) -> None:
    """Kamailio's refusals at start (mod_init fails)."""
    pools = 1 << parts.pool_order
    if pools >= parts.size // cells_per_pool_min:
        raise ValueError(f"nid_pool_no ({pools}) too high for the configured {name} ({parts.size})")
    if parts.part_size >= 0xFFFFFFFF // NID_INC:
        raise ValueError(f"{name} too big, try decreasing it or increasing the number of pools")


class NonceIds:
    """The shared nonce ids and the nc/otn state, as one worker sees them."""

    def __init__(self, table: ShmTable, rank: int, pools_order: int, nc: Partitions | None,
                 otn: Partitions | None) -> None:
        self.table = table
        self.pools = 1 << pools_order
        self.pool = rank & (self.pools - 1)
        self.nc = nc
        self.otn = otn
        self._nid = struct.Struct(f">{self.pools}I")
        with table.transaction():
            if table.get(b"nid") is None:  # the first worker: random start values (init_nonce_id)
                table.put(b"nid", self._nid.pack(*(random.getrandbits(31) for _ in range(self.pools))))

    def _nids(self) -> list[int]:
        got = self.table.get(b"nid")
        assert got is not None
        return list(self._nid.unpack(got[0]))

    def new(self) -> tuple[int, int]:
        """A new nonce id of this worker's pool, its nc byte and otn bit reset: (nid, pool)."""
        table = self.table
        with table.transaction():
            nids = self._nids()
            nid = nids[self.pool] = (nids[self.pool] + NID_INC) & 0xFFFFFFFF
            table.put(b"nid", self._nid.pack(*nids))
            if self.nc is not None:
                self._set_byte(b"nc", self.nc.index(nid, self.pool), 0)
            if self.otn is not None:
                self._set_bit(self.otn.index(nid, self.pool), False)
        return nid, self.pool

    def _overflowed(self, parts: Partitions, nid: int, pool: int) -> bool:
        return (self._nids()[pool] - nid) & 0xFFFFFFFF >= NID_INC * parts.part_size

    def nc_check(self, nid: int, pool: int, nc: int) -> int:
        """nc_check_val(): OK and `nc` remembered, or INV_POOL, ID_OVERFLOW, TOO_BIG, REPLAY."""
        assert self.nc is not None
        if pool >= self.pools:
            return INV_POOL
        if self._overflowed(self.nc, nid, pool):
            return ID_OVERFLOW
        if nc >= 256:
            return TOO_BIG
        index = self.nc.index(nid, pool)
        with self.table.transaction():
            if self._byte(b"nc", index) >= nc:
                return REPLAY
            self._set_byte(b"nc", index, nc)
        return OK

    def otn_check(self, nid: int, pool: int) -> int:
        """otn_check_id(): OK and the nonce marked used, or INV_POOL, ID_OVERFLOW, REPLAY."""
        assert self.otn is not None
        if pool >= self.pools:
            return INV_POOL
        if self._overflowed(self.otn, nid, pool):
            return ID_OVERFLOW
        index = self.otn.index(nid, pool)
        with self.table.transaction():
            if self._bit(index):
                return REPLAY
            self._set_bit(index, True)
        return OK

    # ------------------------------------------------------------ the arrays, by chunk

    def _chunk(self, name: bytes, number: int) -> bytearray:
        got = self.table.get(b"%s.%d" % (name, number))
        return bytearray(got[0]) if got is not None else bytearray(b"\xff" * CHUNK)

    def _byte(self, name: bytes, index: int) -> int:
        return self._chunk(name, index // CHUNK)[index % CHUNK]

    def _set_byte(self, name: bytes, index: int, value: int) -> None:
        chunk = self._chunk(name, index // CHUNK)
        chunk[index % CHUNK] = value
        self.table.put(b"%s.%d" % (name, index // CHUNK), bytes(chunk))

    def _bit(self, index: int) -> bool:
        return bool(self._byte(b"otn", index >> 3) & (1 << (index & 7)))

    def _set_bit(self, index: int, on: bool) -> None:
        byte = self._byte(b"otn", index >> 3)
        mask = 1 << (index & 7)
        self._set_byte(b"otn", index >> 3, byte | mask if on else byte & ~mask)
