"""tm on hostile input: a header found malformed only when tm builds a reply, or a reply from the next
hop it cannot parse fully, still ends in an answer upstream and a freed transaction."""
from __future__ import annotations

import pytest

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


@pytest.mark.parametrize("host", ["127.01", "127.1", "2130706433", "0x7f.1", "127.0.0.256"])
def test_relay_to_a_numeric_shorthand_of_an_address_gives_478_as_kamailio(host: str) -> None:
    # the system resolver reads 127.01 as 127.0.0.1: a proxy on 127.0.0.1 relayed such a request
    # to itself, hop after hop until Max-Forwards ran out (the long fuzz run's memory and latency peaks)
    srv = server(RELAY, FR)
    out = srv.handle(request(ruri=f"sip:bob@{host}"), ALICE)
    assert lines(out) == ["SIP/2.0 478 Unresolvable destination (478/TM)"]


def test_relay_to_a_dotted_quad_is_sent() -> None:
    srv = server(RELAY, FR)
    out = srv.handle(request(ruri="sip:bob@192.0.2.7"), ALICE)
    assert [(o.host, o.port) for o in out] == [("192.0.2.7", 5060)]


def _with_header_lines(method: str, count: int) -> bytes:
    """A request with exactly `count` header lines: the most kampy accepts when `count` is 256."""
    missing = count - (request(method).count(b"\r\n") - 2)
    return request(method, extra="".join(f"X-Filler-{i}: {i}\r\n" for i in range(missing)))


def _busy_reply(sent: bytes) -> bytes:
    """The callee's 486 to a relayed request, copying its Vias, From, To, Call-ID and CSeq only."""
    head = sent.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]
    kept = [line + b";tag=bt1" if line.startswith(b"To:") else line for line in head
            if line.split(b":")[0] in (b"Via", b"From", b"To", b"Call-ID", b"CSeq")]
    return b"\r\n".join([b"SIP/2.0 486 Busy Here", *kept, b"Content-Length: 0", b"", b""])


def test_ack_of_a_negative_reply_is_built_for_a_relayed_invite_past_the_header_line_limit() -> None:
    srv = server(RELAY, FR)
    out = srv.handle(_with_header_lines("INVITE", 256), ALICE)
    invite = next(o for o in out if o.data.startswith(b"INVITE"))
    assert invite.data.count(b"\r\n") - 2 == 257  # kampy's Via added
    assert lines(srv.handle(_busy_reply(invite.data), BOB)) == [
        "ACK sip:bob@198.51.100.20:5080 SIP/2.0", "SIP/2.0 486 Busy Here"]


def _message_of_size(size: int) -> bytes:
    shell = request("MESSAGE", extra="Content-Type: text/plain\r\n", body="x" * 10000)
    return request("MESSAGE", extra="Content-Type: text/plain\r\n", body="x" * (10000 + size - len(shell)))


def test_relayed_request_too_large_for_a_udp_datagram_gets_477_at_once_as_kamailio() -> None:
    srv = server(RELAY, FR)
    out = srv.handle(_message_of_size(65480), ALICE)  # kampy's Via takes it past 65,507 bytes
    assert lines(out) == ["SIP/2.0 477 Unfortunately error on sending to next hop occurred (477/TM)"]
    advance(srv, 60)
    assert srv.core.modules["tm"].rpc_stats()["current"] == 0


def test_relayed_request_that_still_fits_a_udp_datagram_is_sent() -> None:
    srv = server(RELAY, FR)
    out = srv.handle(_message_of_size(65300), ALICE)
    assert lines(out) == ["MESSAGE sip:bob@198.51.100.20:5080 SIP/2.0"] and len(out[0].data) <= 65507
