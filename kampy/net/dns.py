"""DNS queries for the core's resolver (kampy/runtime/resolver.py), on the worker's event loop with
dnspython's asyncio resolver, which reads /etc/resolv.conf. The standard library has no SRV or NAPTR
client (getaddrinfo answers A/AAAA only, and blocks), hence dnspython. The network layer gives each
worker's core one (`Worker`), so the runtime stays free of I/O."""
from __future__ import annotations

import logging
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.resolver

from kampy.runtime.dnscache import plain

log = logging.getLogger("kampy.dns")


class DnsQueries:
    def __init__(self, nameserver: tuple[str, int] | None = None) -> None:
        """`nameserver`: ask this server instead of those of /etc/resolv.conf (tests, tools)."""
        self._nameserver = nameserver
        self._resolver: dns.asyncresolver.Resolver | None = None

    def _get(self) -> dns.asyncresolver.Resolver:
        if self._resolver is None:
            if self._nameserver is None:
                self._resolver = dns.asyncresolver.Resolver()
            else:
                self._resolver = dns.asyncresolver.Resolver(configure=False)
                self._resolver.nameservers = [self._nameserver[0]]
                self._resolver.port = self._nameserver[1]
        return self._resolver

    async def query(self, name: str, rdtype: str, lifetime: float) -> tuple[list[Any], float | None]:
        """The records of (name, type) as the DNS cache keeps them, and their TTL; ([], None) when
        there are none (the name or the type does not exist, no server answered)."""
        try:
            answer = await self._get().resolve(name + ".", rdtype, raise_on_no_answer=False,
                                               lifetime=lifetime)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            log.debug("dns: %s %s: %s", rdtype, name, exc)
            return [], None
        except dns.exception.DNSException as exc:
            log.warning("dns: %s %s failed: %s", rdtype, name, exc)
            return [], None
        if answer.rrset is None:
            return [], None
        return [plain(rdtype, rd) for rd in answer.rrset], float(answer.rrset.ttl)
