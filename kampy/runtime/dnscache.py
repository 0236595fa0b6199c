"""The DNS cache every worker shares (Kamailio's dns_hash in shared memory, dns_cache.c): record sets by
(name, type) in the shared table `dns_cache`, each with its expiry on the monotonic clock (the same in
every process), whether it is permanent (added by dns.add_a and the like) and whether it is negative
(the name or type does not exist). The core's dns.* RPC methods read and change it (rpc_dns.py).

Records are kept as plain values: an address for A/AAAA, (priority, weight, port, target) for SRV,
(order, preference, flags, services, regexp, replacement) for NAPTR, a name for CNAME/PTR, the strings
for TXT; `typed()` gives the objects `sipdns.plan()` reads.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kampy.runtime.shmtable import ShmTable

log = logging.getLogger("kampy.dns")

TYPES = ("A", "AAAA", "SRV", "NAPTR", "CNAME", "TXT", "EBL", "PTR")
ENTRY_OVERHEAD = 64  # what an entry costs besides its records (dns.mem_info, dns_cache_mem)
# Expired entries are removed this often (at the next put): a name looked up once (a fuzzer's, a
# mistyped domain) would otherwise stay in the shared table for good. Kamailio's dns_cache_gc_interval
# is 120 s; a put is the moment a table grows, so the sweep goes with it.
SWEEP_PERIOD = 60.0


@dataclass(frozen=True)
class CacheEntry:
    name: str
    rdtype: str
    records: list[Any]
    expires: float  # monotonic
    permanent: bool
    negative: bool
    stored: float  # monotonic: when it was put
    size: int


class _Name(str):
    """A domain name as dnspython's rdata give it (`.to_text()`)."""

    def to_text(self, omit_final_dot: bool = True) -> str:
        return str(self) if omit_final_dot else str(self) + "."


class AddrRecord:
    def __init__(self, address: str) -> None:
        self.address = address


class SrvRecord:
    def __init__(self, priority: int, weight: int, port: int, target: str) -> None:
        self.priority, self.weight, self.port, self.target = priority, weight, port, _Name(target)


class NaptrRecord:
    def __init__(self, order: int, preference: int, flags: str, service: str, regexp: str,
                 replacement: str) -> None:
        self.order, self.preference, self.flags, self.service = order, preference, flags, service
        self.regexp, self.replacement = regexp, _Name(replacement)


def typed(rdtype: str, records: list[Any]) -> list[Any]:
    """The plain records of a set as the objects `sipdns.plan()` reads."""
    if rdtype in ("A", "AAAA"):
        return [AddrRecord(r) for r in records]
    if rdtype == "SRV":
        return [SrvRecord(*r) for r in records]
    if rdtype == "NAPTR":
        return [NaptrRecord(*r) for r in records]
    return list(records)


def plain(rdtype: str, rdata: Any) -> Any:
    """A dnspython rdata as the cache keeps it."""
    if rdtype in ("A", "AAAA"):
        return str(rdata.address)
    if rdtype == "SRV":
        return [rdata.priority, rdata.weight, rdata.port, rdata.target.to_text(omit_final_dot=True)]
    if rdtype == "NAPTR":
        return [rdata.order, rdata.preference, _text(rdata.flags), _text(rdata.service), _text(rdata.regexp),
                rdata.replacement.to_text(omit_final_dot=True)]
    if rdtype == "TXT":
        return [_text(s) for s in rdata.strings]
    return rdata.to_text()


def _text(value: bytes | str) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


class LocalTable:
    """A table of this process only (a resolver without a shared store: tests, tools)."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> tuple[bytes, int, int] | None:
        value = self._data.get(key)
        return None if value is None else (value, 0, 0)

    def put(self, key: bytes, value: bytes) -> None:
        self._data[key] = value

    def delete(self, key: bytes) -> None:
        self._data.pop(key, None)

    def items(self) -> list[_LocalItem]:
        return [_LocalItem(k, v) for k, v in list(self._data.items())]


@dataclass(frozen=True)
class _LocalItem:
    key: bytes
    value: bytes


class DnsCache:
    def __init__(self, table: Callable[[], ShmTable | LocalTable], monotonic: Callable[[], float]) -> None:
        self._table_of = table
        self._table: ShmTable | LocalTable | None = None
        self._now = monotonic
        self._swept = monotonic()

    @property
    def table(self) -> ShmTable | LocalTable:
        if self._table is None:
            self._table = self._table_of()
        return self._table

    @staticmethod
    def _key(name: str, rdtype: str) -> bytes:
        return f"{name.lower().rstrip('.')}\x1f{rdtype}".encode()

    def get(self, name: str, rdtype: str) -> CacheEntry | None:
        """The live entry (None when absent or expired)."""
        got = self.table.get(self._key(name, rdtype))
        if got is None:
            return None
        entry = self._entry(self._key(name, rdtype), got[0])
        if entry is None or (not entry.permanent and entry.expires <= self._now()):
            return None
        return entry

    def put(self, name: str, rdtype: str, records: list[Any], ttl: float, *, permanent: bool = False) -> None:
        now = self._now()
        if now - self._swept >= SWEEP_PERIOD:
            self.remove_expired(now)
        value = json.dumps({"r": records, "e": now + ttl, "p": permanent, "s": now},
                           separators=(",", ":")).encode()
        try:
            self.table.put(self._key(name, rdtype), value)
        except Exception as exc:  # a full table: the answer is used this once
            log.warning("dns cache: cannot keep %s %s: %s", rdtype, name, exc)

    def remove_expired(self, now: float) -> int:
        """Remove the entries expired by `now` (not the permanent ones); how many."""
        self._swept = now
        removed = 0
        for item in self.table.items():
            entry = self._entry(item.key, item.value)
            if entry is None or entry.permanent or entry.expires > now:
                continue
            current = self.table.get(item.key)
            if current is not None and current[0] == item.value:  # not put anew by another worker since
                self.table.delete(item.key)
                removed += 1
        return removed

    def entries(self) -> list[CacheEntry]:
        found = []
        for item in self.table.items():
            entry = self._entry(item.key, item.value)
            if entry is not None:
                found.append(entry)
        return sorted(found, key=lambda e: (e.name, TYPES.index(e.rdtype) if e.rdtype in TYPES else 99))

    def delete(self, name: str, rdtype: str) -> bool:
        key = self._key(name, rdtype)
        if self.table.get(key) is None:
            return False
        self.table.delete(key)
        return True

    def delete_all(self, permanent: bool = False) -> None:
        for entry in self.entries():
            if permanent or not entry.permanent:
                self.table.delete(self._key(entry.name, entry.rdtype))

    def mem_used(self) -> int:
        return sum(e.size for e in self.entries())

    @staticmethod
    def _entry(key: bytes, value: bytes) -> CacheEntry | None:
        try:
            name, rdtype = key.decode().split("\x1f", 1)
            data = json.loads(value)
        except (UnicodeDecodeError, ValueError):
            return None
        records = data["r"]
        return CacheEntry(name, rdtype, records, data["e"], data["p"], not records, data["s"],
                          ENTRY_OVERHEAD + len(name) + len(value))
