"""The core resolver's lookups and cache (kampy/runtime/resolver.py) against a real DNS server on
127.0.0.1 (tests/support/dnsserver.py on a free port), with a fake clock for the TTLs."""
from __future__ import annotations

import asyncio
import socket

import pytest

from kampy.net.dns import DnsQueries
from kampy.runtime.resolver import Resolver
from kampy.runtime.sipdns import SipDest, SipTarget
from tests.support.dnsserver import TTL, DnsServer

ZONE = {
    ("_sip._udp.gw.test", "SRV"): ["20 0 5072 b.gw.test.", "10 0 5071 a.gw.test."],
    ("a.gw.test", "A"): ["192.0.2.1"],
    ("b.gw.test", "A"): ["192.0.2.2"],
}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def dns_server():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    server = DnsServer(sock, ZONE)
    yield server
    server.close()


@pytest.fixture
def resolver(dns_server):
    clock = Clock()
    found = Resolver(None, clock, {}, lambda: frozenset({"udp"}))
    found.queries = DnsQueries(dns_server.sock.getsockname())
    found.clock = clock  # type: ignore[attr-defined]
    dns_server.questions.clear()
    return found


def test_a_destination_resolves_through_srv_and_a_records(resolver):
    found = asyncio.run(resolver.targets(SipDest("gw.test")))
    assert found == [SipTarget("udp", "192.0.2.1", 5071), SipTarget("udp", "192.0.2.2", 5072)]


def test_the_answer_is_known_without_a_lookup_while_its_ttl_lasts(resolver, dns_server):
    asyncio.run(resolver.targets(SipDest("gw.test")))
    asked = len(dns_server.questions)
    resolver.clock.now += TTL - 1
    assert resolver.targets_now(SipDest("gw.test"))[0] == SipTarget("udp", "192.0.2.1", 5071)
    assert len(dns_server.questions) == asked


def known_now(resolver: Resolver, dest: SipDest) -> list[SipTarget] | None:
    """targets_now() as a worker asks it, with its event loop running."""
    async def ask() -> list[SipTarget] | None:
        return resolver.targets_now(dest)
    return asyncio.run(ask())


def test_an_expired_answer_needs_a_new_lookup(resolver):
    asyncio.run(resolver.targets(SipDest("gw.test")))
    assert known_now(resolver, SipDest("gw.test")) is not None
    resolver.clock.now += TTL + 1
    assert known_now(resolver, SipDest("gw.test")) is None


def test_without_an_event_loop_a_name_not_known_is_sent_to_as_it_is(resolver):
    assert resolver.targets_now(SipDest("gw.test")) == [SipTarget("udp", "gw.test", 5060)]


def test_a_name_that_does_not_exist_resolves_to_nothing(resolver):
    assert asyncio.run(resolver.targets(SipDest("nowhere.test"))) == []


def test_a_name_that_does_not_exist_is_remembered(resolver, dns_server):
    asyncio.run(resolver.targets(SipDest("nowhere.test")))
    asked = len(dns_server.questions)
    asyncio.run(resolver.targets(SipDest("nowhere.test")))
    assert len(dns_server.questions) == asked


def test_delete_all_forgets_the_answers(resolver, dns_server):
    asyncio.run(resolver.targets(SipDest("gw.test")))
    resolver.delete_all()
    asked = len(dns_server.questions)
    asyncio.run(resolver.targets(SipDest("gw.test")))
    assert len(dns_server.questions) > asked


def test_static_records_answer_before_dns(dns_server):
    resolver = Resolver(None, Clock(), {"gw.test": ["198.51.100.9"]}, lambda: frozenset({"udp"}))
    resolver.queries = DnsQueries(dns_server.sock.getsockname())
    dns_server.questions.clear()
    assert resolver.targets_now(SipDest("gw.test")) == [SipTarget("udp", "198.51.100.9", 5060)]
    assert dns_server.questions == []


def core_resolver(params: str, dns_server: DnsServer):
    from kampy.config.pipeline import load_text
    from kampy.runtime.server import Server
    from tests.tmkit import SOCKET, FakeClock
    srv = Server.from_config(load_text(params + 'loadmodule "sl"\nrequest_route { exit; }', "dns.cfg"),
                             sockets=[SOCKET], clock=FakeClock())
    srv.core.dns.queries = DnsQueries(dns_server.sock.getsockname())
    return srv


@pytest.mark.parametrize(("params", "kept"), [("", TTL), ("dns_cache_min_ttl=600\n", 600),
                                              ("dns_cache_max_ttl=10\n", 10)])
def test_an_answer_is_kept_for_its_ttl_within_dns_cache_min_and_max_ttl(dns_server, params, kept):
    srv = core_resolver(params, dns_server)
    asyncio.run(srv.core.dns.targets(SipDest("gw.test")))
    entry = srv.core.dns.cache.get("_sip._udp.gw.test", "SRV")
    assert entry.expires - srv.core.clock.monotonic() == pytest.approx(kept)


def test_a_name_that_does_not_exist_is_kept_for_dns_cache_negative_ttl(dns_server):
    srv = core_resolver("dns_cache_negative_ttl=7\n", dns_server)
    asyncio.run(srv.core.dns.targets(SipDest("nowhere.test", 5060)))
    entry = srv.core.dns.cache.get("nowhere.test", "A")
    assert entry.negative and entry.expires - srv.core.clock.monotonic() == pytest.approx(7)


def test_with_use_dns_cache_off_an_answer_is_not_kept(dns_server):
    srv = core_resolver("use_dns_cache=off\n", dns_server)
    asyncio.run(srv.core.dns.targets(SipDest("gw.test")))
    srv.core.clock.mono += 0.01
    assert srv.core.dns.cache.get("_sip._udp.gw.test", "SRV") is None


def test_a_local_ttl_keeps_the_records_looked_up_that_long_instead_of_theirs(resolver):
    # Kamailio's dns_set_local_ttl (dispatcher's ds_dns_ttl)
    asyncio.run(resolver.targets(SipDest("gw.test"), ttl=5))
    resolver.clock.now += 4
    assert resolver.known(SipDest("gw.test")) is not None
    resolver.clock.now += 2
    assert resolver.known(SipDest("gw.test")) is None


def test_waiting_for_the_targets_looks_them_up_outside_an_event_loop(resolver, dns_server):
    assert resolver.wait_targets(SipDest("gw.test"))[0] == SipTarget("udp", "192.0.2.1", 5071)
    assert ("_sip._udp.gw.test", "SRV") in dns_server.questions


def test_waiting_for_the_targets_inside_an_event_loop_looks_them_up_in_a_thread(resolver):
    async def inside() -> list[SipTarget]:
        return resolver.wait_targets(SipDest("b.gw.test", 5060))

    assert asyncio.run(inside()) == [SipTarget("udp", "192.0.2.2", 5060)]
