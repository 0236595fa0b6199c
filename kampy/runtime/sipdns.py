"""Where a SIP destination goes, as RFC 3263 and Kamailio's DNS layer order it (dns_cache.c:
dns_sip_resolve, dns_naptr_sip_resolve, dns_srv_sip_resolve, dns_srv_get_nxt_rr, dns_ip_resolve;
resolve.c: naptr_choose, create_srv_pref_list).

`plan()` is pure: it reads records through a `Lookup` (the resolver's cache), which raises `Missing`
for a record set it does not hold yet; the resolver fetches it and asks again.

- an IP address: itself; an explicit port: the host's A/AAAA addresses on that port;
- otherwise, with `dns_try_naptr` and no transport in the URI, the NAPTR records (SIP+D2U, SIP+D2T,
  SIP+D2S, SIPS+D2T) one by one in the order naptr_choose gives (the protocol preferences
  `dns_*_pref` first; the records' order/preference among equals, or always first when
  `dns_naptr_ignore_rfc=0`) until one's SRV name resolves;
- then SRV: `_sip._udp`, `_sip._tcp`, `_sips._tcp` of the URI's transport, or of every protocol
  kampy serves ordered by `dns_*_pref` without one; the first SRV name with records wins: its records
  by priority, heavier first among equals (or drawn by weight with `dns_srv_lb=1`), each target's
  addresses;
- else the host's A then AAAA addresses (`dns_try_ipv6`, `dns_cache_flags`) on the default port.

The list is what Kamailio's dns_srv_handle walks on DNS failover: the addresses of one SRV name (or
of the host), never those of the next NAPTR or SRV name.
"""
from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

DNS_IPV4_ONLY, DNS_IPV6_ONLY, DNS_IPV6_FIRST = 1, 2, 4  # dns_cache_flags
DEFAULT_PREFS: Mapping[str, int] = {"udp": 30, "tcp": 20, "tls": 10, "sctp": 20}
PROTO_ORDER = ("udp", "tcp", "tls", "sctp")  # Kamailio's PROTO_* numbers: the order among equals
SRV_PREFIX = {"udp": "_sip._udp.", "tcp": "_sip._tcp.", "tls": "_sips._tcp.", "sctp": "_sip._sctp."}
NAPTR_SERVICES = {"sip+d2u": "udp", "sip+d2t": "tcp", "sip+d2s": "sctp", "sips+d2t": "tls"}
DEFAULT_PORTS = {"tls": 5061, "ws": 80, "wss": 443}  # else 5060


class Missing(Exception):
    """The lookup does not hold the record set (`name`, `rdtype`) yet."""

    def __init__(self, name: str, rdtype: str) -> None:
        super().__init__(f"{rdtype} {name}")
        self.name, self.rdtype = name, rdtype


Lookup = Callable[[str, str], list[Any]]  # (name, "A" | "AAAA" | "SRV" | "NAPTR") -> rdata


class SipTarget(NamedTuple):
    proto: str
    ip: str
    port: int


@dataclass(frozen=True)
class SipDest:
    """What a URI names: its host, its port (None: none given) and transport (None: none given)."""

    host: str
    port: int | None = None
    proto: str | None = None


@dataclass(frozen=True)
class ResolveOptions:
    try_naptr: bool = False
    srv_lb: bool = False
    prefs: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PREFS))
    naptr_ignore_rfc: bool = True
    ip_flags: int = 0
    supported: frozenset[str] = frozenset({"udp"})  # the protocols kampy has a socket for
    ipv6: bool = True  # kampy has an IPv6 socket (without one AAAA records are of no use)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def default_port(proto: str) -> int:
    return DEFAULT_PORTS.get(proto, 5060)


def plan(dest: SipDest, opts: ResolveOptions, lookup: Lookup,
         rng: random.Random | None = None) -> list[SipTarget]:
    """The ordered targets of `dest` (empty when nothing resolves)."""
    host = dest.host.strip("[]").rstrip(".")
    proto = dest.proto
    if is_ip(host):
        return [SipTarget(proto or "udp", host, dest.port or default_port(proto or "udp"))]
    if dest.port:
        return [SipTarget(proto or "udp", ip, dest.port) for ip in addresses(host, opts, lookup)]
    if opts.try_naptr and proto is None:
        for srv_name, naptr_proto in naptr_order(lookup(host, "NAPTR"), opts):
            found = srv_targets(srv_name, naptr_proto, opts, lookup, rng)
            if found:
                return found
    for srv_proto in srv_protos(proto, opts):
        found = srv_targets(SRV_PREFIX[srv_proto] + host, srv_proto, opts, lookup, rng)
        if found:
            return found
    proto = proto or "udp"
    return [SipTarget(proto, ip, default_port(proto)) for ip in addresses(host, opts, lookup)]


def addresses(host: str, opts: ResolveOptions, lookup: Lookup) -> list[str]:
    """dns_ip_resolve's walk: A then AAAA, AAAA first with DNS_IPV6_FIRST, one family with *_ONLY;
    no AAAA lookup when kampy has no IPv6 socket to send from."""
    flags = opts.ip_flags
    if flags & DNS_IPV4_ONLY or not opts.ipv6:
        kinds = ("A",)
    elif flags & DNS_IPV6_ONLY:
        kinds = ("AAAA",)
    elif flags & DNS_IPV6_FIRST:
        kinds = ("AAAA", "A")
    else:
        kinds = ("A", "AAAA")
    return [rd.address for kind in kinds for rd in lookup(host, kind)]


def srv_protos(proto: str | None, opts: ResolveOptions) -> list[str]:
    """create_srv_pref_list: the URI's transport, or each one kampy serves by dns_*_pref."""
    if proto is not None:
        return [proto] if proto in SRV_PREFIX else []
    usable = [p for p in PROTO_ORDER if _supported(p, opts)]
    return sorted(usable, key=lambda p: -opts.prefs.get(p, 0))  # stable: UDP, TCP, TLS among equals


def srv_targets(name: str, proto: str, opts: ResolveOptions, lookup: Lookup,
                rng: random.Random | None) -> list[SipTarget]:
    found = []
    for rd in srv_order(lookup(name, "SRV"), opts.srv_lb, rng):
        target = rd.target.to_text(omit_final_dot=True)
        if target in ("", "."):
            continue
        found += [SipTarget(proto, ip, rd.port) for ip in addresses(target, opts, lookup)]
    return found


def srv_order(records: list[Any], lb: bool, rng: random.Random | None = None) -> list[Any]:
    """By priority, heavier first among equals (Kamailio keeps them so); with `lb` each priority
    group drawn by weight as dns_srv_get_nxt_rr does (RFC 2782: a record of weight 0 rarely first)."""
    ordered = sorted(records, key=lambda rd: (rd.priority, -rd.weight))
    if not lb:
        return ordered
    rng = rng or random.Random()
    result: list[Any] = []
    groups: dict[int, list[Any]] = {}
    for rd in ordered:
        groups.setdefault(rd.priority, []).append(rd)
    for priority in sorted(groups):
        left = groups[priority]
        while left:
            pick = _weighted_pick(left, rng)
            result.append(pick)
            left = [rd for rd in left if rd is not pick]
    return result


def _weighted_pick(group: list[Any], rng: random.Random) -> Any:
    total = sum(rd.weight for rd in group)
    zero = [rd for rd in group if rd.weight == 0]
    if len(group) == 1 or total == 0:
        return zero[0] if zero else group[0]
    draw = rng.randint(1, total)
    if draw == 1 and zero and rng.randrange(1000) == 0:  # DNS_SRV_ZERO_W_CHANCE
        return zero[0]
    running = 0
    for rd in group:
        running += rd.weight
        if running >= draw:
            return rd
    return group[-1]


def naptr_order(records: list[Any], opts: ResolveOptions) -> list[tuple[str, str]]:
    """(SRV name, protocol) of the usable NAPTR records in the order dns_naptr_sip_iterate tries them."""
    usable = []
    for rd in records:
        proto = NAPTR_SERVICES.get(_text(rd.service).lower())
        if proto is None or _text(rd.flags).lower() != "s" or not _supported(proto, opts):
            continue
        usable.append((rd, proto))
    result = []
    while usable:
        chosen: tuple[Any, str] | None = None
        for candidate in usable:
            if chosen is None or _naptr_better(candidate, chosen, opts):
                chosen = candidate
        assert chosen is not None
        usable.remove(chosen)
        result.append((chosen[0].replacement.to_text(omit_final_dot=True), chosen[1]))
    return result


def _naptr_better(new: tuple[Any, str], old: tuple[Any, str], opts: ResolveOptions) -> bool:
    """naptr_choose: a preferred protocol wins; else the lower order, then the lower preference."""
    score_new, score_old = _naptr_score(new[1], opts), _naptr_score(old[1], opts)
    if new[1] != old[1] and score_new > score_old:
        return True
    if score_old > score_new:
        return False
    a, b = new[0], old[0]
    return (a.order, a.preference) < (b.order, b.preference)


def _naptr_score(proto: str, opts: ResolveOptions) -> int:
    pref = opts.prefs.get(proto, 0)
    if opts.naptr_ignore_rfc:
        return pref
    return pref if pref < 0 else 1  # RFC 2915: the records' order decides


def _supported(proto: str, opts: ResolveOptions) -> bool:
    return opts.prefs.get(proto, 0) >= 0 and proto in opts.supported


def _text(value: bytes | str) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value
