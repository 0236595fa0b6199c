"""The order of a SIP destination's targets (RFC 3263 as Kamailio 5.6 does it: kampy/runtime/sipdns.py),
on records made with dnspython's rdata parser."""
from __future__ import annotations

import random
from collections import Counter

import dns.rdata
import pytest

from kampy.runtime.sipdns import Missing, ResolveOptions, SipDest, SipTarget, naptr_order, plan, srv_order

UDP_TCP_TLS = frozenset({"udp", "tcp", "tls"})


def zone(records: dict[tuple[str, str], list[str]]):
    parsed = {key: [dns.rdata.from_text("IN", key[1], text) for text in texts]
              for key, texts in records.items()}

    def lookup(name: str, rdtype: str) -> list:
        return parsed.get((name, rdtype), [])
    return lookup


def srv(*texts: str) -> list[str]:
    return list(texts)


EXAMPLE = zone({
    ("_sip._udp.example.test", "SRV"): srv("20 0 5072 b.example.test.", "10 0 5071 a.example.test."),
    ("_sip._tcp.example.test", "SRV"): srv("10 0 5081 a.example.test."),
    ("_sips._tcp.example.test", "SRV"): srv("10 0 5091 a.example.test."),
    ("a.example.test", "A"): ["192.0.2.1", "192.0.2.11"],
    ("a.example.test", "AAAA"): ["2001:db8::1"],
    ("b.example.test", "A"): ["192.0.2.2"],
    ("example.test", "A"): ["192.0.2.100"],
    ("example.test", "NAPTR"): ['10 10 "s" "SIP+D2T" "" _sip._tcp.example.test.',
                                '20 10 "s" "SIP+D2U" "" _sip._udp.example.test.',
                                '30 10 "s" "SIPS+D2T" "" _sips._tcp.example.test.'],
})


def test_an_ip_address_is_its_own_target_on_the_default_port():
    assert plan(SipDest("192.0.2.9"), ResolveOptions(), EXAMPLE) == [SipTarget("udp", "192.0.2.9", 5060)]


def test_an_explicit_port_skips_srv_and_gives_every_address():
    found = plan(SipDest("a.example.test", 5099), ResolveOptions(), EXAMPLE)
    assert found == [SipTarget("udp", "192.0.2.1", 5099), SipTarget("udp", "192.0.2.11", 5099),
                     SipTarget("udp", "2001:db8::1", 5099)]


def test_srv_records_go_by_priority_with_the_port_of_each():
    found = plan(SipDest("example.test"), ResolveOptions(ip_flags=1), EXAMPLE)
    assert found == [SipTarget("udp", "192.0.2.1", 5071), SipTarget("udp", "192.0.2.11", 5071),
                     SipTarget("udp", "192.0.2.2", 5072)]


def test_the_uri_transport_picks_the_srv_name():
    found = plan(SipDest("example.test", proto="tcp"), ResolveOptions(ip_flags=1), EXAMPLE)
    assert found[0] == SipTarget("tcp", "192.0.2.1", 5081)


def test_tls_uses_the_sips_srv_name():
    found = plan(SipDest("example.test", proto="tls"), ResolveOptions(ip_flags=1), EXAMPLE)
    assert found[0] == SipTarget("tls", "192.0.2.1", 5091)


def test_without_transport_the_srv_protocols_follow_the_dns_preferences():
    prefs = {"udp": 10, "tcp": 30, "tls": 20, "sctp": 0}
    found = plan(SipDest("example.test"), ResolveOptions(prefs=prefs, supported=UDP_TCP_TLS, ip_flags=1),
                 EXAMPLE)
    assert found[0] == SipTarget("tcp", "192.0.2.1", 5081)


def test_a_protocol_kampy_does_not_serve_gets_no_srv_lookup():
    prefs = {"udp": 10, "tcp": 30, "tls": 20, "sctp": 0}
    found = plan(SipDest("example.test"), ResolveOptions(prefs=prefs, ip_flags=1), EXAMPLE)
    assert {t.proto for t in found} == {"udp"}


def test_no_srv_record_falls_back_to_the_hosts_addresses():
    found = plan(SipDest("example.test", proto="sctp"), ResolveOptions(), EXAMPLE)
    assert found == [SipTarget("sctp", "192.0.2.100", 5060)]


def test_dns_try_ipv6_off_leaves_out_the_aaaa_records():
    with_v6 = plan(SipDest("a.example.test", 5060), ResolveOptions(), EXAMPLE)
    without = plan(SipDest("a.example.test", 5060), ResolveOptions(ip_flags=1), EXAMPLE)
    assert "2001:db8::1" in [t.ip for t in with_v6] and "2001:db8::1" not in [t.ip for t in without]


def test_dns_cache_flags_4_puts_ipv6_first():
    found = plan(SipDest("a.example.test", 5060), ResolveOptions(ip_flags=4), EXAMPLE)
    assert found[0].ip == "2001:db8::1"


def test_naptr_with_dns_naptr_ignore_rfc_prefers_the_protocol_preference():
    opts = ResolveOptions(try_naptr=True, supported=UDP_TCP_TLS, ip_flags=1)  # udp 30 > tcp 20 > tls 10
    found = plan(SipDest("example.test"), opts, EXAMPLE)
    assert found[0] == SipTarget("udp", "192.0.2.1", 5071)


def test_naptr_following_the_rfc_takes_the_records_order():
    opts = ResolveOptions(try_naptr=True, naptr_ignore_rfc=False, supported=UDP_TCP_TLS, ip_flags=1)
    found = plan(SipDest("example.test"), opts, EXAMPLE)
    assert found[0] == SipTarget("tcp", "192.0.2.1", 5081)


def test_a_negative_preference_disables_a_protocol_for_naptr():
    prefs = {"udp": -1, "tcp": 20, "tls": 10, "sctp": 20}
    opts = ResolveOptions(try_naptr=True, prefs=prefs, supported=UDP_TCP_TLS, ip_flags=1)
    order = naptr_order(EXAMPLE("example.test", "NAPTR"), opts)
    assert order == [("_sip._tcp.example.test", "tcp"), ("_sips._tcp.example.test", "tls")]


def test_naptr_is_not_looked_up_when_the_uri_names_a_transport():
    opts = ResolveOptions(try_naptr=True, supported=UDP_TCP_TLS, ip_flags=1)
    assert plan(SipDest("example.test", proto="tls"), opts, EXAMPLE)[0].proto == "tls"


def test_a_record_set_not_held_yet_is_asked_for():
    def empty(name: str, rdtype: str) -> list:
        raise Missing(name, rdtype)
    with pytest.raises(Missing) as missing:
        plan(SipDest("example.test"), ResolveOptions(), empty)
    assert (missing.value.name, missing.value.rdtype) == ("_sip._udp.example.test", "SRV")


WEIGHTED = [dns.rdata.from_text("IN", "SRV", t) for t in ("10 90 5060 heavy.test.", "10 10 5060 light.test.",
                                                           "5 0 5060 first.test.")]


def test_without_load_balancing_the_heavier_record_comes_first_among_equals():
    assert [r.target.to_text() for r in srv_order(WEIGHTED, lb=False)] == ["first.test.", "heavy.test.",
                                                                          "light.test."]


def test_srv_load_balancing_draws_by_weight_within_a_priority():
    rng = random.Random(7)
    firsts = Counter(srv_order(WEIGHTED, lb=True, rng=rng)[1].target.to_text() for _ in range(2000))
    assert firsts["heavy.test."] > 5 * firsts["light.test."] > 0


def test_srv_load_balancing_keeps_the_priority_order():
    rng = random.Random(3)
    assert all(srv_order(WEIGHTED, lb=True, rng=rng)[0].target.to_text() == "first.test." for _ in range(50))
