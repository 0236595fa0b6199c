"""The core's DNS resolver: the record sets `sipdns.plan()` reads, from a TTL cache filled by the
network layer's DNS client (kampy/net/dns.py: dnspython's asyncio resolver, which reads
/etc/resolv.conf) on the worker's event loop, so that no lookup blocks it. As Kamailio's DNS cache
(use_dns_cache=1, its default) the records are kept for their TTL, bounded by dns_cache_min_ttl /
dns_cache_max_ttl; a name that does not exist is remembered for dns_cache_negative_ttl. The cache is
shared by every worker (dnscache.py), as Kamailio's.

Names that corex's `dns_cache` parameter declares, and those of /etc/hosts, answer A/AAAA from there
and get no SRV or NAPTR lookup.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from kampy.runtime.cfgcore import core_start_value
from kampy.runtime.dnscache import AddrRecord, DnsCache, LocalTable, SrvRecord, typed
from kampy.runtime.sipdns import (DNS_IPV4_ONLY, DNS_IPV6_FIRST, DNS_IPV6_ONLY, Missing,
                                  ResolveOptions, SRV_PREFIX, SipDest, SipTarget, default_port, is_ip, plan)

if TYPE_CHECKING:
    from kampy.runtime.cfgframework import CfgFramework

log = logging.getLogger("kampy.dns")

MAX_FETCHES = 32  # record sets one resolution may fetch (NAPTR, SRV names, their targets' A/AAAA)
QUERY_LIFETIME = 5.0  # seconds a query may take with its retries, when dns_retr_* do not say


class DnsClient(Protocol):
    async def query(self, name: str, rdtype: str, lifetime: float) -> tuple[list[Any], float | None]:
        """The records (as the cache keeps them) and their TTL; ([], None) when there are none."""


class Resolver:
    def __init__(self, cfg: CfgFramework | None, monotonic: Callable[[], float],
                 static: dict[str, list[str]], protocols: Callable[[], frozenset[str]],
                 static_srv: dict[str, list[SrvRecord]] | None = None, cache: DnsCache | None = None,
                 ipv6: Callable[[], bool] = lambda: True,
                 params: Callable[[], dict[str, Any]] | None = None) -> None:
        self._cfg = cfg
        self._params = params  # the config's core parameters, read before the cfg group exists
        self._now = monotonic
        self._static = static  # the core's dns_records (corex), shared by reference
        self._static_srv = static_srv if static_srv is not None else {}
        self._protocols = protocols
        self._ipv6 = ipv6
        self.cache = cache or DnsCache(LocalTable, monotonic)
        self._hosts: dict[str, list[str]] | None = None
        self.queries: DnsClient | None = None  # the network layer's (kampy/net/dns.py)
        self.rng = random.Random()

    # ------------------------------------------------------------ what callers use
    def targets_now(self, dest: SipDest) -> list[SipTarget] | None:
        """The targets from what is known now (an address, static names, the cache); None when a
        record set must be fetched first (`await targets(dest)`)."""
        found = self.known(dest)
        if found is None:
            if not _loop_running():  # in-process tests, tools: the name is sent to as it is
                proto = dest.proto or "udp"
                return [SipTarget(proto, dest.host.strip("[]"), dest.port or default_port(proto))]
            return None
        return found

    def known(self, dest: SipDest) -> list[SipTarget] | None:
        """The targets from what is known now; None when a record set must be fetched first."""
        try:
            return plan(dest, self.options(), self._lookup, self.rng)
        except Missing:
            return None

    async def targets(self, dest: SipDest, ttl: int = 0) -> list[SipTarget]:
        """`ttl` > 0: the record sets fetched are kept that long instead of for their TTL (Kamailio's
        dns_set_local_ttl, dispatcher's ds_dns_ttl)."""
        for _ in range(MAX_FETCHES):
            try:
                return plan(dest, self.options(), self._lookup, self.rng)
            except Missing as missing:
                await self.fetch(missing.name, missing.rdtype, ttl)
        log.error("resolving %s needs more than %d lookups", dest.host, MAX_FETCHES)
        return []

    def _get(self, var: str) -> Any:
        """A `core` cfg variable; while the modules initialise, as the config's parameters set it."""
        assert self._cfg is not None
        if "core" in self._cfg.groups or self._params is None:
            return self._cfg.get("core", var)
        return core_start_value(self._params(), var)

    def options(self) -> ResolveOptions:
        cfg = self._cfg
        if cfg is None:
            return ResolveOptions(supported=self._protocols())
        flags = int(self._get("dns_cache_flags") or 0) & 7
        if not self._get("dns_try_ipv6"):
            flags |= DNS_IPV4_ONLY
        if flags & DNS_IPV4_ONLY:
            flags &= ~(DNS_IPV6_ONLY | DNS_IPV6_FIRST)
        prefs = {"udp": int(self._get("dns_udp_pref") or 0),
                 "tcp": int(self._get("dns_tcp_pref") or 0),
                 "tls": int(self._get("dns_tls_pref") or 0),
                 "sctp": int(self._get("dns_sctp_pref") or 0)}
        return ResolveOptions(try_naptr=bool(self._get("dns_try_naptr")),
                              srv_lb=bool(self._get("dns_srv_lb")), prefs=prefs,
                              naptr_ignore_rfc=bool(self._get("dns_naptr_ignore_rfc")),
                              ip_flags=flags, supported=self._protocols(), ipv6=self._ipv6())

    # ------------------------------------------------------------ the cache
    def delete_all(self) -> None:
        self.cache.delete_all()

    def _lookup(self, name: str, rdtype: str) -> list[Any]:
        name = name.lower().rstrip(".")
        if rdtype in ("A", "AAAA"):
            static = self._static_addresses(name)
            if static is not None:
                return [AddrRecord(a) for a in static if (":" in a) == (rdtype == "AAAA")]
        elif rdtype == "SRV" and name in self._static_srv:
            return list(self._static_srv[name])
        elif self._static_addresses(_srv_base(name)) is not None:
            return []  # a static name: no SRV, no NAPTR
        entry = self.cache.get(name, rdtype)
        if entry is None:
            raise Missing(name, rdtype)
        return typed(rdtype, entry.records)

    def _static_addresses(self, name: str) -> list[str] | None:
        found = self._static.get(name)
        if found:
            return [a.strip("[]") for a in found if is_ip(a)] or None
        return self.hosts().get(name)

    def hosts(self) -> dict[str, list[str]]:
        if self._hosts is None:
            self._hosts = _read_hosts()
        return self._hosts

    def wait_targets(self, dest: SipDest, ttl: int = 0) -> list[SipTarget]:
        """The targets, looked up now if need be and waited for (blocking, as Kamailio's resolvehost):
        on a loop of its own, in a thread of its own when this one runs an event loop."""
        found = self.known(dest)
        if found is not None:
            return found
        if not _loop_running():
            return asyncio.run(self.targets(dest, ttl))
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, self.targets(dest, ttl)).result()

    async def fetch(self, name: str, rdtype: str, local: int = 0) -> None:
        """Look the record set up and keep the answer (or that there is none) in the cache (for
        `local` seconds instead of the answer's TTL when it is > 0)."""
        if self.queries is None:
            log.error("dns: no DNS client to look up %s %s", rdtype, name)
            records, ttl = [], None
        else:
            records, ttl = await self.queries.query(name, rdtype, self._lifetime())
        local_ttl = local
        if rdtype == "SRV":  # kept by priority, heavier first among equals, as Kamailio's cache
            records.sort(key=lambda r: (r[0], -r[1]))
        if records and ttl is not None:
            kept = local_ttl if local_ttl > 0 else self._bounded(ttl)
        else:
            kept = self._negative_ttl()
        # a record set looked up is used at least for this resolution, even with a TTL of 0 or
        # with use_dns_cache off (then for that resolution only)
        if self._cfg is not None and not self._get("use_dns_cache"):
            kept = 0
        self.cache.put(name, rdtype, records, max(kept, 0.001))

    def _bounded(self, ttl: float) -> float:
        if self._cfg is None:
            return ttl
        ttl = max(ttl, int(self._get("dns_cache_min_ttl") or 0))
        high = int(self._get("dns_cache_max_ttl") or -1)
        return min(ttl, high) if high >= 0 else ttl

    def _negative_ttl(self) -> float:
        return float(self._get("dns_cache_negative_ttl") or 0) if self._cfg is not None else 60.0

    def _lifetime(self) -> float:
        """dns_retr_time seconds per try, dns_retr_no retries (the system's resolver's when -1)."""
        if self._cfg is None:
            return QUERY_LIFETIME
        retr_time = int(self._get("dns_retr_time") or -1)
        retr_no = int(self._get("dns_retr_no") or -1)
        if retr_time > 0:
            return float(retr_time * (max(retr_no, 0) + 1))
        return QUERY_LIFETIME


def _srv_base(name: str) -> str:
    """The host of an SRV name (`_sip._udp.example.com` -> `example.com`)."""
    for prefix in SRV_PREFIX.values():
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _read_hosts(path: str = "/etc/hosts") -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split("#", 1)[0].split()
                if len(fields) < 2 or not is_ip(fields[0]):
                    continue
                for name in fields[1:]:
                    found.setdefault(name.lower().rstrip("."), []).append(fields[0])
    except OSError:
        pass
    return found
