"""tm: t_replicate*, t_relay_to*, t_forward_nonack* in-process (the wire against Kamailio is
tests/e2e/test_tm_relay_to_kamailio.py)."""
from __future__ import annotations

import pytest

from kampy.modules.tm.t_relay_to import parse_phostport, parse_relay_to
from tests.tmkit import ALICE, advance, lines, parsed, reply_to, request, server

REPLICA = "sip:198.51.100.30:5090"


def stats(srv) -> dict:
    return srv.core.modules["tm"].rpc_stats()


def test_t_replicate_sends_a_copy_and_the_script_replies_upstream() -> None:
    srv = server(f'request_route {{ t_replicate("{REPLICA}"); t_reply("200", "OK"); }}')
    out = srv.handle(request("REGISTER"), ALICE)
    assert [(o.host, o.port) for o in out] == [("198.51.100.30", 5090), ("192.0.2.10", 5070)]
    copy = parsed(out[0])
    assert copy.method == "REGISTER" and len(copy.vias) == 2


def test_replicated_request_final_reply_is_not_relayed_upstream() -> None:
    srv = server(f'request_route {{ t_replicate("{REPLICA}"); }}')
    copy = srv.handle(request("REGISTER"), ALICE)[0]
    assert srv.handle(reply_to(copy, 200, "OK"), ALICE) == []


def test_replicated_request_provisional_reply_is_not_relayed_upstream() -> None:
    srv = server(f'request_route {{ t_replicate("{REPLICA}"); }}')
    copy = srv.handle(request("REGISTER"), ALICE)[0]
    assert srv.handle(reply_to(copy, 183, "Progress"), ALICE) == []


def test_replicated_transaction_is_freed_after_the_wait_time() -> None:
    srv = server(f'request_route {{ t_replicate("{REPLICA}"); }}')
    copy = srv.handle(request("REGISTER"), ALICE)[0]
    srv.handle(reply_to(copy, 404, "Not Found"), ALICE)
    assert stats(srv)["current"] == 1
    advance(srv, 6)
    assert stats(srv)["current"] == 0


def test_replicated_request_timeout_sends_nothing_upstream() -> None:
    srv = server(f'request_route {{ t_replicate("{REPLICA}"); }}')
    srv.handle(request("REGISTER"), ALICE)
    out = advance(srv, 40)
    assert all((o.host, o.port) == ("198.51.100.30", 5090) for o in out)


def test_t_replicate_without_uri_uses_the_destination_uri() -> None:
    srv = server('request_route { $du = "sip:198.51.100.40:5099"; t_replicate(); t_reply("200", "OK"); }')
    out = srv.handle(request("REGISTER"), ALICE)
    assert (out[0].host, out[0].port) == ("198.51.100.40", 5099)


def test_t_replicate_bad_uri_returns_false() -> None:
    srv = server('request_route { if (!t_replicate("tel:+1234")) { sl_send_reply("500", "bad"); } }')
    assert lines(srv.handle(request("REGISTER"), ALICE)) == ["SIP/2.0 500 bad"]


def test_t_replicate_host_port_uses_the_transport_of_the_request() -> None:
    srv = server('request_route { t_replicate("198.51.100.30", "5091"); t_reply("200", "OK"); }')
    out = srv.handle(request("REGISTER"), ALICE)
    assert (out[0].proto, out[0].host, out[0].port) == ("udp", "198.51.100.30", 5091)


@pytest.mark.parametrize("call", ['t_replicate_udp("198.51.100.30", "5092")',
                                  't_replicate_to("udp", "198.51.100.30:5092")',
                                  't_replicate_to("1", "198.51.100.30:5092")'])
def test_t_replicate_variants_send_to_the_address_given(call: str) -> None:
    srv = server(f'request_route {{ {call}; t_reply("200", "OK"); }}')
    out = srv.handle(request("REGISTER"), ALICE)
    assert (out[0].host, out[0].port) == ("198.51.100.30", 5092)


def test_t_replicate_to_reads_old_style_avps() -> None:
    srv = server('request_route { $avp(a) = "198.51.100.30:5093"; t_replicate_to("udp", "$a"); '
                 't_reply("200", "OK"); }')
    out = srv.handle(request("REGISTER"), ALICE)
    assert (out[0].host, out[0].port) == ("198.51.100.30", 5093)


def test_t_relay_to_proxy_relays_there_and_relays_replies() -> None:
    srv = server('request_route { t_relay_to("udp:198.51.100.30:5094"); }')
    fwd = srv.handle(request(), ALICE)[0]
    assert (fwd.host, fwd.port) == ("198.51.100.30", 5094)
    assert lines(srv.handle(reply_to(fwd, 202, "Accepted"), ALICE)) == ["SIP/2.0 202 Accepted"]


def test_t_relay_to_flag_1_sends_no_100_trying() -> None:
    srv = server('request_route { t_relay_to("198.51.100.30:5094", "0x01"); }')
    assert lines(srv.handle(request("INVITE"), ALICE)) == ["INVITE sip:bob@198.51.100.20:5080 SIP/2.0"]


def test_t_relay_to_flag_2_sends_no_internal_error_reply_for_an_invite() -> None:
    srv = server('request_route { $du = "sip:a..b"; if (!t_relay_to("a..b", "2")) { exit; } }')
    out = srv.handle(request("INVITE"), ALICE)
    assert lines(out) == ["SIP/2.0 100 trying -- your call is important to us"]


def test_t_relay_to_flag_2_is_lost_for_a_request_other_than_invite() -> None:
    # as Kamailio 5.6: the flag, set before the transaction exists, reaches an INVITE's only
    srv = server('request_route { $du = "sip:a..b"; if (!t_relay_to("a..b", "2")) { exit; } }')
    assert lines(srv.handle(request(), ALICE)) == ["SIP/2.0 478 Unresolvable destination (478/TM)"]


def test_t_relay_to_tls_without_a_tls_socket_replies_477() -> None:
    srv = server('request_route { t_relay_to_tls(); }')
    out = srv.handle(request(), ALICE)
    assert lines(out) == ["SIP/2.0 477 Unfortunately error on sending to next hop occurred (477/TM)"]


def test_t_forward_nonack_needs_a_transaction() -> None:
    srv = server('request_route { if (!t_forward_nonack("198.51.100.30", "5095")) { '
                 'sl_send_reply("500", "none"); } }')
    assert lines(srv.handle(request(), ALICE)) == ["SIP/2.0 500 none"]


def test_t_forward_nonack_forwards_in_the_transaction_of_t_newtran() -> None:
    srv = server('request_route { t_newtran(); t_forward_nonack_udp("198.51.100.30", "5095"); }')
    fwd = srv.handle(request(), ALICE)[0]
    assert (fwd.host, fwd.port) == ("198.51.100.30", 5095)
    assert lines(srv.handle(reply_to(fwd, 200, "OK"), ALICE)) == ["SIP/2.0 200 OK"]


def test_t_forward_nonack_refuses_an_ack() -> None:
    srv = server('request_route { t_newtran(); if (!t_forward_nonack_uri()) { exit; } }')
    assert srv.handle(request("ACK"), ALICE) == []


@pytest.mark.parametrize("text, expected", [
    ("udp:1.2.3.4:5070", ("udp", "1.2.3.4", 5070)), ("tls:1.2.3.4", ("tls", "1.2.3.4", None)),
    ("1.2.3.4:5070", (None, "1.2.3.4", 5070)), ("example.com", (None, "example.com", None)),
    ("tcp:[::1]:5071", ("tcp", "::1", 5071)), ("1.2.3.4:x", None), (":5060", None),
])
def test_parse_phostport(text: str, expected) -> None:
    assert parse_phostport(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("0x03", ("flags", 3)), ("2", ("flags", 2)), ("tcp:h:5", ("proxy", ("tcp", "h", 5))),
])
def test_t_relay_to_argument_is_flags_or_a_proxy(text: str, expected) -> None:
    assert parse_relay_to(text) == expected


def test_t_relay_to_refuses_bad_flags_at_load() -> None:
    with pytest.raises(Exception, match="flags"):
        server('request_route { t_relay_to("udp:1.2.3.4", "0xzz"); }')
