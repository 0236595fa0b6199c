"""The core's RPC methods of the DNS cache (Kamailio 5.6's dns.* in src/core/dns_cache.c, with their
replies as kamcmd prints them): dns.view, dns.lookup, dns.delete_all, dns.delete_all_force,
dns.add_a, dns.add_aaaa, dns.add_srv, dns.delete_a ... dns.delete_ptr, dns.mem_info, dns.debug,
dns.debug_all. They read and change the cache every worker shares (runtime/dnscache.py).

Kamailio's dns.stats_get exists only in builds with USE_DNS_CACHE_STATS, which Debian's 5.6 is not;
kampy has none either. An entry has no reference counter here (always 0 in dns.debug)."""
from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kampy.module import RpcDelayed, RpcFault
from kampy.runtime.dnscache import TYPES, CacheEntry

if TYPE_CHECKING:
    from kampy.rpc import RpcRegistry
    from kampy.runtime.core import Core

DNS_FLAG_BAD_NAME, DNS_FLAG_PERMANENT = 1, 2
TYPE_NUMBERS = {"A": 1, "AAAA": 28, "SRV": 33, "NAPTR": 35, "CNAME": 5, "TXT": 16, "EBL": 65300, "PTR": 12}


def dns_type(text: str) -> str:
    """dns_get_type: A, AAAA, SRV, TXT, EBL, PTR, NAPTR, CNAME, with an optional T_ prefix."""
    name = text[2:] if len(text) > 2 and text[:2].upper() == "T_" else text
    name = name.upper()
    if name not in TYPES:
        raise RpcFault(400, "Invalid type")
    return name


class DnsMethods:
    def __init__(self, core: Core) -> None:
        self.core = core

    def _cache(self) -> Any:
        if not self.core.cfg.get("core", "use_dns_cache"):
            raise RpcFault(500, "dns cache support disabled (see use_dns_cache)")
        return self.core.dns.cache

    def _expires(self, entry: CacheEntry) -> int:
        left = entry.expires - self.core.clock.monotonic()
        return -1 if left < 0 else int(left)

    def _last_used(self, entry: CacheEntry) -> int:
        return int(self.core.clock.monotonic() - entry.stored)

    def _flags(self, entry: CacheEntry) -> int:
        return (DNS_FLAG_PERMANENT if entry.permanent else 0) | (DNS_FLAG_BAD_NAME if entry.negative else 0)

    def _print(self, entry: CacheEntry) -> dict[str, Any]:
        """dns_cache_print_entry."""
        expires = self._expires(entry)
        shown: dict[str, Any] = {
            "name": entry.name, "type": entry.rdtype, "size_bytes": entry.size, "reference_counter": 0,
            "permanent": "yes" if entry.permanent else "no", "expires": 0 if entry.permanent else expires,
            "last_used": self._last_used(entry), "negative_entry": "yes" if entry.negative else "no"}
        if entry.records:
            shown["records"] = [self._record(i, entry, r, expires) for i, r in enumerate(entry.records)]
        return shown

    @staticmethod
    def _record(index: int, entry: CacheEntry, record: Any, expires: int) -> dict[str, Any]:
        out: dict[str, Any] = {"rr_idx": index}
        kind = entry.rdtype
        if kind in ("A", "AAAA"):
            out["rr_ip"] = record
        elif kind == "SRV":
            out.update(rr_name=record[3], rr_port=record[2], rr_priority=record[0], rr_weight=record[1])
        elif kind == "NAPTR":
            # as Kamailio 5.6, which names the replacement "rr_regexp" too
            out.update(rr_order=record[0], rr_preference=record[1], rr_flags=record[2], rr_service=record[3])
            out["rr_regexp"] = record[5]
        elif kind in ("CNAME", "PTR"):
            out["rr_name"] = record
        elif kind == "TXT":
            out["txt"] = [{"idx": i, "rr_txt": s} for i, s in enumerate(record)]
        else:
            out["rr_type"] = "unknown"
        out["rr_permanent"] = "yes" if entry.permanent else "no"
        out["rr_expires"] = 0 if entry.permanent else expires
        return out

    # ------------------------------------------------------------ the methods
    def dns_mem_info(self) -> list[int]:
        """dns cache memory info."""
        cache = self._cache()
        return [cache.mem_used(), int(self.core.cfg.get("core", "dns_cache_mem") or 0) * 1024]

    def dns_debug(self) -> list[Any]:
        """dns debug info."""
        out: list[Any] = []
        for e in self._cache().entries():
            out += [e.name, TYPE_NUMBERS.get(e.rdtype, 0), e.size, 0, self._expires(e), self._last_used(e),
                    self._flags(e)]
        return out

    def dns_debug_all(self) -> list[Any]:
        """complete dns debug dump"""
        out: list[Any] = []
        for e in self._cache().entries():
            expires = self._expires(e)
            for i, record in enumerate(e.records):
                out += [e.name, TYPE_NUMBERS.get(e.rdtype, 0), i, e.size, 0, expires, self._last_used(e),
                        self._flags(e)]
                out += _debug_record(e.rdtype, record)
                out.append(expires)
        return out

    def dns_view(self) -> list[dict[str, Any]]:
        """dns cache dump in a human-readable format"""
        now = self.core.clock.monotonic()
        return [self._print(e) for e in self._cache().entries() if e.permanent or e.expires >= now]

    def dns_lookup(self, rdtype: str, name: str) -> Any:
        """perform a dns lookup"""
        cache = self._cache()
        kind = dns_type(str(rdtype))
        entry = cache.get(str(name), kind)
        if entry is not None:
            return [self._print(entry)]
        dns = self.core.dns

        def printed() -> list[dict[str, Any]]:
            found = cache.get(str(name), kind)
            if found is None:
                raise RpcFault(400, "Not found")
            return [self._print(found)]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(dns.fetch(str(name), kind))
            return printed()
        delayed = RpcDelayed()

        def finished(task: asyncio.Task[None]) -> None:
            try:
                task.result()
                delayed.resolve(printed())
            except RpcFault as fault:
                delayed.fail(fault.code, fault.message)
            except Exception as exc:
                delayed.fail(500, str(exc))
        loop.create_task(dns.fetch(str(name), kind)).add_done_callback(finished)
        return delayed

    def dns_delete_all(self) -> dict[str, str]:
        """deletes all the non-permanent entries from the DNS cache"""
        self._cache().delete_all(permanent=False)
        return {"status": "ok"}

    def dns_delete_all_force(self) -> dict[str, str]:
        """deletes all the entries from the DNS cache including the permanent ones"""
        self._cache().delete_all(permanent=True)
        return {"status": "ok"}

    def dns_add_a(self, name: str, ttl: int, ip: str, flags: int) -> None:
        """adds an A record to the DNS cache"""
        self._add("A", name, ttl, ip, 0, 0, 0, flags)

    def dns_add_aaaa(self, name: str, ttl: int, ip: str, flags: int) -> None:
        """adds an AAAA record to the DNS cache"""
        self._add("AAAA", name, ttl, ip, 0, 0, 0, flags)

    def dns_add_srv(self, name: str, ttl: int, priority: int, weight: int, port: int, rr_name: str,
                    flags: int) -> None:
        """adds an SRV record to the DNS cache"""
        self._add("SRV", name, ttl, rr_name, priority, weight, port, flags)

    def _add(self, kind: str, name: str, ttl: Any, value: str, priority: Any, weight: Any, port: Any,
             flags: Any) -> None:
        """dns_cache_add_record."""
        cache = self._cache()
        try:
            ttl, flags = int(ttl), int(flags)
            priority, weight, port = int(priority), int(weight), int(port)
        except (TypeError, ValueError):
            raise RpcFault(400, "Failed to add the entry to the cache") from None
        record: Any = None
        if not flags & DNS_FLAG_BAD_NAME:
            if kind == "SRV":
                record = [priority, weight, port, str(value).lower().rstrip(".")]
            else:
                try:
                    address = ipaddress.ip_address(str(value))
                except ValueError:
                    raise RpcFault(400, "Failed to add the entry to the cache") from None
                if (address.version == 6) != (kind == "AAAA"):
                    raise RpcFault(400, "Failed to add the entry to the cache")
                record = str(address)
        old = cache.get(str(name), kind)
        permanent = bool(flags & DNS_FLAG_PERMANENT)
        if old is not None and old.permanent and not permanent:
            raise RpcFault(400, "Failed to add the entry to the cache")
        records: list[Any] = []
        if record is not None:
            keep = old is not None and not old.negative and old.permanent == permanent
            records = [r for r in (old.records if keep else []) if not _same_rr(kind, r, record)]
            records.append(record)
            if kind == "SRV":
                records.sort(key=lambda r: (r[0], -r[1]))
        cache.put(str(name), kind, records, float(ttl), permanent=permanent)

    def delete(self, kind: str, name: str) -> None:
        """dns_cache_delete_record."""
        cache = self._cache()
        entry = cache.get(str(name), kind)
        if entry is None:
            raise RpcFault(400, "Not found")
        if entry.permanent:
            raise RpcFault(400, "Permanent entries cannot be deleted")
        cache.delete(str(name), kind)


def _same_rr(kind: str, old: Any, new: Any) -> bool:
    """The record a new one replaces: the same address, or the SRV record of the same target."""
    if kind == "SRV":
        return bool(old[3] == new[3])
    return bool(old == new)


def _debug_record(kind: str, record: Any) -> list[Any]:
    if kind in ("A", "AAAA"):
        return ["ip", record]
    if kind == "SRV":
        return ["srv", record[3], record[2], record[0], record[1]]
    if kind == "NAPTR":
        return ["naptr ", record[0], record[1], record[2], record[3], record[4], record[5]]
    if kind in ("CNAME", "PTR"):
        return [kind.lower(), record]
    if kind == "TXT":
        return ["txt", *record]
    return ["unknown", "?"]


DNS_METHODS = ("dns.mem_info", "dns.debug", "dns.debug_all", "dns.view", "dns.lookup", "dns.delete_all",
               "dns.delete_all_force", "dns.add_a", "dns.add_aaaa", "dns.add_srv")
# dns.delete_<type>: the type, and the help text of Kamailio's (its "an PTR" too)
DELETE_METHODS = {"A": "an A", "AAAA": "an AAAA", "SRV": "an SRV", "NAPTR": "a NAPTR", "CNAME": "a CNAME",
                  "TXT": "a TXT", "EBL": "an EBL", "PTR": "an PTR"}


def register_dns_methods(core: Core, registry: RpcRegistry) -> None:
    methods = DnsMethods(core)
    for name in DNS_METHODS:
        fn = getattr(methods, name.replace(".", "_"))
        registry.register(name, fn, (fn.__doc__ or "").strip(), "core", False)
    for kind, article in DELETE_METHODS.items():
        registry.register(f"dns.delete_{kind.lower()}", _deleter(methods, kind),
                          f"deletes {article} record from the DNS cache", "core", False)


def _deleter(methods: DnsMethods, kind: str) -> Callable[[str], None]:
    def delete(name: str) -> None:
        methods.delete(kind, name)
    return delete
