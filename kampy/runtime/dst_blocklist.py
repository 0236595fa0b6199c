"""The destination blocklist (Kamailio's src/core/dst_blocklist.c): destinations (protocol, address,
port) that are not sent to for a while, shared by every worker. tm adds to it (a 503 with blst_503,
a branch that timed out) and looks it up before it sends a branch; it is on when the core parameter
`use_dst_blocklist` is."""
from __future__ import annotations

import struct

from kampy.runtime.core import Clock
from kampy.runtime.shared import SharedStore

# the reasons an entry is kept for (dst_blocklist.h)
BLST_IS_IPV6 = 1
BLST_ERR_SEND = 1 << 1
BLST_ERR_CONNECT = 1 << 2
BLST_ICMP_RCVD = 1 << 3
BLST_ERR_TIMEOUT = 1 << 4
BLST_503 = 1 << 5
BLST_ADM_PROHIBITED = 1 << 6
BLST_PERMANENT = 1 << 7

_ENTRY = struct.Struct("<dI")  # expiry, reasons


class DstBlocklist:
    """The blocklist as one process sees it: entries in the shared table `dst_blocklist`, each with
    its expiry (monotonic seconds, the same clock in every process) and its reasons."""

    def __init__(self, shared: SharedStore, clock: Clock) -> None:
        self._table = shared.table("dst_blocklist", capacity=1 << 12, max_capacity=1 << 18)
        self._clock = clock

    @staticmethod
    def _key(proto: str, host: str, port: int) -> bytes:
        return f"{proto.lower()}:{host.lower().strip('[]')}:{port}".encode()

    def add(self, proto: str, host: str, port: int, ttl: float, flags: int) -> None:
        """Blocklist the destination for `ttl` seconds for `flags` (BLST_*), keeping the reasons it had
        (dst_blocklist_add_to); a longer expiry already set is kept."""
        if ttl <= 0:
            return
        key = self._key(proto, host, port)
        expiry = self._clock.monotonic() + ttl
        with self._table.transaction():
            old = self._table.get(key)
            if old is not None:
                old_expiry, old_flags = _ENTRY.unpack(old[0])
                if old_expiry > self._clock.monotonic():
                    flags |= old_flags
                    expiry = max(expiry, old_expiry)
            self._table.put(key, _ENTRY.pack(expiry, flags))

    def flags_of(self, proto: str, host: str, port: int) -> int:
        """The reasons the destination is blocklisted for, 0 when it is not (or no longer) listed."""
        key = self._key(proto, host, port)
        entry = self._table.get(key)
        if entry is None:
            return 0
        expiry, flags = _ENTRY.unpack(entry[0])
        if expiry <= self._clock.monotonic():
            self._table.delete(key)
            return 0
        return flags
