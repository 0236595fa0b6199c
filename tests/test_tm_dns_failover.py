"""tm's DNS failover in-process: the destination `gw.test` has two SRV records (corex's static
dns_cache, which the core's resolver reads before DNS), so no DNS server is needed here. On the wire,
with a DNS server and against Kamailio 5.6: tests/e2e/test_dns_failover.py."""
from __future__ import annotations

from kampy.sip.message import parse_message
from tests.tmkit import ALICE, advance, reply_to, request, server

RECORDS = """loadmodule "corex"
loadmodule "textops"
modparam("corex", "dns_cache", "type=SRV;name=_sip._udp.gw.test;addr=b.gw.test;port=5072;priority=20")
modparam("corex", "dns_cache", "type=SRV;name=_sip._udp.gw.test;addr=a.gw.test;port=5071;priority=10")
modparam("corex", "dns_cache", "type=A;name=a.gw.test;addr=198.51.100.1")
modparam("corex", "dns_cache", "type=A;name=b.gw.test;addr=198.51.100.2")
modparam("corex", "dns_cache", "type=A;name=m.gw.test;addr=198.51.100.1")
modparam("corex", "dns_cache", "type=A;name=m.gw.test;addr=198.51.100.2")
modparam("tm", "fr_timer", 1000)
"""
FIRST, SECOND = ("198.51.100.1", 5071), ("198.51.100.2", 5072)
ROUTE = """request_route {
    if ($rU == "nofo") t_set_disable_failover(1);
    if ($rU == "proxy") { t_relay("a.gw.test", "5071"); exit; }
    t_relay();
}
"""


def proxy(failover: bool = True, params: str = "", route: str = ROUTE):
    core = f"use_dns_failover={'on' if failover else 'off'}\n"
    return server(route, core + RECORDS + params)


def sent_to(out) -> list[tuple[str, int]]:
    return [(o.host, o.port) for o in out if o.data.startswith(b"MESSAGE")]


def first_message(out):
    return next(o for o in out if o.data.startswith(b"MESSAGE"))


def test_a_request_goes_to_the_srv_record_of_the_lowest_priority_first():
    out = proxy().handle(request(ruri="sip:bob@gw.test"), ALICE)
    assert sent_to(out) == [FIRST]


def test_a_503_moves_the_request_to_the_next_srv_target():
    srv = proxy()
    out = srv.handle(request(ruri="sip:bob@gw.test"), ALICE)
    again = srv.handle(reply_to(first_message(out), 503, "Service Unavailable"), ALICE)
    assert sent_to(again) == [SECOND]
    final = srv.handle(reply_to(first_message(again), 200, "OK"), ALICE)
    assert [parse_message(o.data).status for o in final] == [200]


def test_the_failover_branch_has_a_branch_id_of_its_own():
    srv = proxy()
    out = srv.handle(request(ruri="sip:bob@gw.test"), ALICE)
    again = srv.handle(reply_to(first_message(out), 503, "Service Unavailable"), ALICE)
    first, second = parse_message(first_message(out).data), parse_message(first_message(again).data)
    assert first.via.branch != second.via.branch
    assert first.uri == second.uri == "sip:bob@gw.test"


def test_a_timeout_without_any_reply_moves_the_request_to_the_next_srv_target():
    srv = proxy()
    srv.handle(request(ruri="sip:bob@gw.test"), ALICE)
    out = advance(srv, 1.2)
    assert SECOND in sent_to(out)


def test_without_use_dns_failover_a_503_ends_the_transaction():
    srv = proxy(failover=False)
    out = srv.handle(request(ruri="sip:bob@gw.test"), ALICE)
    final = srv.handle(reply_to(first_message(out), 503, "Service Unavailable"), ALICE)
    assert sent_to(final) == []
    assert [parse_message(o.data).status for o in final] == [500]  # remap_503_500


def test_t_set_disable_failover_keeps_the_transaction_on_its_first_target():
    srv = proxy(route='request_route { t_newtran(); t_set_disable_failover(1); t_relay(); }')
    out = srv.handle(request(ruri="sip:bob@gw.test"), ALICE)
    final = srv.handle(reply_to(first_message(out), 503, "Service Unavailable"), ALICE)
    assert sent_to(final) == []


def test_t_set_disable_failover_before_a_non_invite_transaction_exists_is_lost():
    srv = proxy()  # as Kamailio 5.6 (init_new_t keeps the flag for an INVITE only)
    out = srv.handle(request(ruri="sip:nofo@gw.test"), ALICE)
    again = srv.handle(reply_to(first_message(out), 503, "Service Unavailable"), ALICE)
    assert sent_to(again) == [SECOND]


def test_a_request_relayed_to_an_explicit_proxy_gets_no_dns_failover():
    srv = proxy()  # as Kamailio's proxy_l: its addresses, no dns_srv_handle
    out = srv.handle(request(ruri="sip:proxy@gw.test"), ALICE)
    assert sent_to(out) == [FIRST]
    final = srv.handle(reply_to(first_message(out), 503, "Service Unavailable"), ALICE)
    assert sent_to(final) == []


def test_a_name_with_two_addresses_fails_over_to_the_second():
    srv = proxy()
    out = srv.handle(request(ruri="sip:bob@m.gw.test:5071"), ALICE)
    assert sent_to(out) == [FIRST]
    again = srv.handle(reply_to(first_message(out), 503, "Service Unavailable"), ALICE)
    assert sent_to(again) == [("198.51.100.2", 5071)]


def test_no_failover_once_the_last_target_failed():
    srv = proxy()
    out = srv.handle(request(ruri="sip:bob@gw.test"), ALICE)
    again = srv.handle(reply_to(first_message(out), 503, "Service Unavailable"), ALICE)
    final = srv.handle(reply_to(first_message(again), 503, "Service Unavailable"), ALICE)
    assert sent_to(final) == []
    assert [parse_message(o.data).status for o in final] == [500]


BRANCH_ROUTE = """request_route { t_on_branch("b"); t_relay(); }
branch_route[b] { append_hf("X-Branch: yes\\r\\n"); }"""


def test_reparse_on_dns_failover_1_sends_the_failed_branchs_bytes_again():
    srv = proxy(route=BRANCH_ROUTE)
    out = srv.handle(request(ruri="sip:bob@gw.test"), ALICE)
    again = srv.handle(reply_to(first_message(out), 503, "Service Unavailable"), ALICE)
    assert parse_message(first_message(again).data).header("X-Branch") == "yes"


def test_reparse_on_dns_failover_0_builds_the_request_anew_without_branch_route():
    srv = proxy(route=BRANCH_ROUTE, params='modparam("tm", "reparse_on_dns_failover", 0)\n')
    out = srv.handle(request(ruri="sip:bob@gw.test"), ALICE)
    assert parse_message(first_message(out).data).header("X-Branch") == "yes"
    again = srv.handle(reply_to(first_message(out), 503, "Service Unavailable"), ALICE)
    assert parse_message(first_message(again).data).header("X-Branch") is None


def test_stateless_forward_goes_to_the_first_srv_target():
    srv = proxy(route="request_route { forward(); }")
    out = srv.handle(request(ruri="sip:bob@gw.test"), ALICE)
    assert sent_to(out) == [FIRST]
    assert out[0].fallbacks == (SECOND,)  # tried when the send fails


def test_stateless_forward_has_no_fallback_without_use_dns_failover():
    srv = proxy(failover=False, route="request_route { forward(); }")
    out = srv.handle(request(ruri="sip:bob@gw.test"), ALICE)
    assert out[0].fallbacks == ()
