"""The destination blocklist (Kamailio's src/core/dst_blocklist.c): destinations (protocol, address,
port) that are not sent to for a while, shared by every worker. tm adds to it (a 503 with blst_503,
a branch that timed out) and looks it up before it sends a branch; it is on when the core parameter
`use_dst_blocklist` is."""
from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from typing import TYPE_CHECKING, Any

from kampy.runtime.values import as_bool

if TYPE_CHECKING:
    from kampy.runtime.core import Clock
    from kampy.runtime.shared import SharedStore

log = logging.getLogger("kampy.runtime")

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
# what an entry costs in Kamailio's shared memory (sizeof(struct dst_blst_entry), 12 more for IPv6):
# dst_blocklist.mem_info and the dst_blocklist_mem limit count in these
ENTRY_SIZE = 24
ENTRY_SIZE_IPV6 = ENTRY_SIZE + 12
_MEM_USED = 0  # the table's counter of those bytes


@dataclass(frozen=True)
class BlstEntry:
    """One destination as dst_blocklist.view and .debug show it."""

    proto: str
    host: str
    port: int
    expires_in: float  # seconds, negative once expired (until a lookup removes it)
    flags: int


def _size(host: str) -> int:
    return ENTRY_SIZE_IPV6 if ":" in host else ENTRY_SIZE


class DstBlocklist:
    """The blocklist as one process sees it: entries in the shared table `dst_blocklist`, each with
    its expiry (monotonic seconds, the same clock in every process) and its reasons."""

    def __init__(self, shared: SharedStore, clock: Clock) -> None:
        self._table = shared.table("dst_blocklist", capacity=1 << 12, max_capacity=1 << 18)
        self._clock = clock

    @staticmethod
    def _key(proto: str, host: str, port: int) -> bytes:
        return f"{proto.lower()}:{host.lower().strip('[]')}:{port}".encode()

    def add(self, proto: str, host: str, port: int, ttl: float, flags: int, max_mem: int = 0) -> bool:
        """Blocklist the destination for `ttl` seconds from now for `flags` (BLST_*), keeping the reasons
        it had (dst_blocklist_add_ip: the expiry is set anew, shorter or longer). An IPv6 address gets
        BLST_IS_IPV6. With `max_mem` (bytes), a new entry that would reach it is refused (False)
        unless removing the expired entries makes room."""
        if ttl <= 0:
            return True
        host = host.strip("[]")
        flags = flags | BLST_IS_IPV6 if ":" in host else flags & ~BLST_IS_IPV6
        key = self._key(proto, host, port)
        now = self._clock.monotonic()
        expiry = now + ttl
        with self._table.transaction():
            old = self._table.get(key)
            if old is not None:
                old_expiry, old_flags = _ENTRY.unpack(old[0])
                if old_expiry > now:
                    flags |= old_flags
            elif max_mem and self.mem_used() + _size(host) >= max_mem:
                self._remove_expired(now)
                if self.mem_used() + _size(host) >= max_mem:
                    return False
            self._table.put(key, _ENTRY.pack(expiry, flags))
            if old is None:
                self._table.add(_MEM_USED, _size(host))
        return True

    def mem_used(self) -> int:
        """The bytes Kamailio's entries would take (dst_blocklist.mem_info's first number)."""
        return self._table.counter(_MEM_USED)

    def entries(self) -> list[BlstEntry]:
        """Every entry, the expired ones not yet removed too (dst_blocklist.debug)."""
        now = self._clock.monotonic()
        found = []
        for item in self._table.items():
            proto, _, rest = item.key.decode().partition(":")
            host, _, port = rest.rpartition(":")
            expiry, flags = _ENTRY.unpack(item.value)
            found.append(BlstEntry(proto, host, int(port), expiry - now, flags))
        return found

    def delete_all(self) -> None:
        """Remove every entry but the permanent ones (BLST_PERMANENT), as dst_blst_flush."""
        self._remove(lambda expiry, flags: not flags & BLST_PERMANENT)

    def _remove_expired(self, now: float) -> None:
        self._remove(lambda expiry, flags: expiry <= now)

    def _remove(self, doomed: Callable[[float, int], bool]) -> None:
        with self._table.transaction():
            for item in self._table.items():
                expiry, flags = _ENTRY.unpack(item.value)
                if doomed(expiry, flags):
                    self._delete(item.key)

    def _delete(self, key: bytes) -> None:
        with self._table.transaction():
            if self._table.get(key) is not None:
                self._table.delete(key)
                host = key.decode().partition(":")[2].rpartition(":")[0]
                self._table.add(_MEM_USED, -_size(host))

    def flags_of(self, proto: str, host: str, port: int) -> int:
        """The reasons the destination is blocklisted for, 0 when it is not (or no longer) listed."""
        key = self._key(proto, host, port)
        entry = self._table.get(key)
        if entry is None:
            return 0
        expiry, flags = _ENTRY.unpack(entry[0])
        if expiry <= self._clock.monotonic():
            self._delete(key)
            return 0
        return flags


def blocklist_initialized(params: Mapping[str, Any]) -> bool:
    """The core's `dst_blocklist_init` (yes by default): with no, there is no blocklist, and
    `use_dst_blocklist` stays 0 (init_dst_blocklist(), use_dst_blocklist_fixup())."""
    return as_bool(params.get("dst_blocklist_init"), True)


def use_blocklist_fixup(initialized: bool) -> Callable[[Any], Any]:
    """The fix-up of `core.use_dst_blocklist`: turning it on needs the blocklist initialized."""
    def fixup(value: Any) -> Any:
        if int(value) and not initialized:
            log.error("dst blocklist is turned off by dst_blocklist_init=0, it cannot be enabled runtime.")
            raise ValueError("dst blocklist is turned off by dst_blocklist_init=0")
        return value
    return fixup
