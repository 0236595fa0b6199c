"""tm on hostile input: a header found malformed only when tm builds a reply, or a reply from the next
hop it cannot parse fully, still ends in an answer upstream and a freed transaction."""
from __future__ import annotations

from tests.tmkit import ALICE, BOB, advance, lines, parsed, reply_to, request, server

RELAY = 'request_route { t_relay(); }'
FR = 'modparam("tm", "fr_timer", 2000)\n'
BADDN_TO = b"To: Watson, Thomas <sip:bob@example.test>"  # RFC 4475 3.1.2.7 (baddn): unquoted display name


def _baddn(method: str = "MESSAGE") -> bytes:
    return request(method).replace(b"To: <sip:bob@example.test>", BADDN_TO)


def test_silent_next_hop_of_a_request_with_unquoted_to_display_name_gives_408_as_kamailio() -> None:
    srv = server(RELAY, FR)
    srv.handle(_baddn(), ALICE)
    out = [o for o in advance(srv, 3) if o.data.startswith(b"SIP/2.0")]
    assert lines(out) == ["SIP/2.0 408 Request Timeout"]
    to_line = next(line for line in out[0].data.split(b"\r\n") if line.startswith(b"To:"))
    assert to_line.startswith(BADDN_TO + b";tag=")  # copied as received, tag appended (Kamailio 5.6)


def test_transaction_with_unquoted_to_display_name_is_freed_after_its_408() -> None:
    srv = server(RELAY, FR)
    for i in range(20):
        srv.handle(_baddn().replace(b"z9hG4bK-a1", b"z9hG4bK-b%d" % i).replace(b"call-1", b"call-%d" % i),
                   ALICE)
    advance(srv, 60)
    assert srv.core.modules["tm"].rpc_stats()["current"] == 0


def test_reply_with_unquoted_to_display_name_is_relayed_and_frees_the_transaction() -> None:
    srv = server(RELAY, FR)
    sent = srv.handle(_baddn(), ALICE)[0]
    reply = reply_to(sent, 200, "OK")
    assert BADDN_TO + b";tag=bt1" in reply
    out = srv.handle(reply, BOB)
    assert lines(out) == ["SIP/2.0 200 OK"]
    assert parsed(out[0]).via.branch == "z9hG4bK-a1"
    advance(srv, 60)
    assert srv.core.modules["tm"].rpc_stats()["current"] == 0


def test_relay_to_a_host_name_with_an_empty_label_gives_478_at_once_as_kamailio() -> None:
    srv = server(RELAY, FR)
    out = srv.handle(request(ruri="sip:bob@spindle..example.com;transport=tcp"), ALICE)
    assert lines(out) == ["SIP/2.0 478 Unresolvable destination (478/TM)"]
    assert all(o.proto == "udp" for o in out)  # no connection attempted
