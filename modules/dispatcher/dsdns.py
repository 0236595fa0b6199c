"""How dispatcher resolves its destinations' hosts: through the core's RFC 3263 resolver and its
DNS cache, as Kamailio's dispatcher does with resolvehost() (A/AAAA) or, with ds_dns_mode bit 8,
sip_resolvehost() (NAPTR with the core's dns_try_naptr when the URI gives no transport or port, SRV
when it gives no port), each record set it looks up kept for `ds_dns_ttl` seconds when that is set
(dns_set_local_ttl)."""
from __future__ import annotations

from collections.abc import Callable

from kampy.api import CoreAPI, SipDest, SipTarget

from .dslist import DS_DNS_MODE_QSRV, PROTO_IDS

PROTO_NAMES = {number: name for name, number in PROTO_IDS.items() if number}

Address = tuple[str, int, int]  # (ip, port, proto number): what a destination is matched on


class DestResolver:
    def __init__(self, core: CoreAPI, mode: int, ttl: int) -> None:
        self.core = core
        self.srv = bool(mode & DS_DNS_MODE_QSRV)
        self.ttl = max(ttl, 0)

    def _dest(self, host: str, port: int, proto: int) -> SipDest:
        if self.srv:
            return SipDest(host, port or None, PROTO_NAMES.get(proto))
        return SipDest(host, port or 5060, PROTO_NAMES.get(proto))  # a port given: A/AAAA only

    def _address(self, targets: list[SipTarget], port: int, proto: int) -> Address | None:
        """The first target's address; with SRV its port and protocol too (where the URI has none,
        sip_resolvehost sets them)."""
        if not targets:
            return None
        first = targets[0]
        if not self.srv:
            return first.ip, port, proto
        return first.ip, first.port or port, PROTO_IDS.get(first.proto, proto)

    def resolve(self, host: str, port: int, proto: int) -> Address | None:
        """Resolved now, waiting for DNS when the cache does not hold the answer (as Kamailio's
        blocking resolvehost)."""
        return self._address(self.core.resolve_sip_wait(self._dest(host, port, proto), self.ttl), port, proto)

    def resolve_later(self, host: str, port: int, proto: int, done: Callable[[Address | None], None]) -> None:
        """`done(address)` once resolved, without blocking the worker (the DNS timer)."""
        self.core.resolve_sip(self._dest(host, port, proto),
                              lambda targets: done(self._address(targets, port, proto)), self.ttl)
