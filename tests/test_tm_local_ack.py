"""tm ACKs the 2xx of an INVITE it sent itself (Kamailio's build_local_ack / build_dlg_ack): to the
Contact through the route set, or where local_ack_mode says; a requester with TMCB_DONT_ACK ACKs it."""
from __future__ import annotations

import pytest

from kampy.api import TMCB_DONT_ACK, TMCB_LOCAL_COMPLETED, UacDialog
from kampy.version import SERVER_HEADER
from tests.tmkit import BOB, parsed, reply_to, server

CONTACT = "Contact: <sip:bob@203.0.113.5:5099;transport=udp>\r\n"


def _invite(srv, next_hop: str | None = None):  # type: ignore[no-untyped-def]
    tm = srv.core.offered("tm")
    assert tm.t_request("INVITE", "sip:bob@198.51.100.20:5080", "sip:bob@example.test",
                        "sip:alice@example.test", next_hop=next_hop) == 1
    return srv.core.take_outbox()[0]


def test_2xx_of_a_local_invite_is_acked_to_its_contact_with_kamailios_layout() -> None:
    srv = server("request_route { exit; }")
    invite = _invite(srv)
    out = srv.handle(reply_to(invite, 200, "OK", extra=CONTACT), BOB)
    assert len(out) == 1 and (out[0].host, out[0].port) == ("203.0.113.5", 5099)
    req, inv = parsed(out[0]), parsed(invite)
    head = out[0].data.decode().split("\r\n")
    assert head[0] == "ACK sip:bob@203.0.113.5:5099;transport=udp SIP/2.0"
    assert [line.split(":")[0] for line in head[1:-2]] == [
        "Via", "From", "Call-ID", "To", "CSeq", "User-Agent", "Content-Length"]
    assert req.via.branch == inv.via.branch and req.header("from") == inv.header("from")
    assert req.header("to") == inv.header("to") + ";tag=bt1" and req.header("cseq") == "10 ACK"
    assert req.header("user-agent") == SERVER_HEADER and out[0].data.endswith(b"Content-Length: 0\r\n\r\n")


def test_record_route_of_the_2xx_routes_the_ack_through_its_first_loose_router() -> None:
    srv = server("request_route { exit; }")
    invite = _invite(srv)
    rr = "Record-Route: <sip:p2.example.test:5072;lr>, <sip:198.51.100.9:5071;lr>\r\n"
    ack = srv.handle(reply_to(invite, 200, "OK", extra=CONTACT + rr), BOB)[0]
    assert (ack.host, ack.port) == ("198.51.100.9", 5071)
    assert parsed(ack).uri == "sip:bob@203.0.113.5:5099;transport=udp"
    assert b"\r\nRoute: <sip:198.51.100.9:5071;lr>, <sip:p2.example.test:5072;lr>\r\n" in ack.data


def test_a_retransmitted_2xx_gets_the_same_ack_again() -> None:
    srv = server("request_route { exit; }")
    invite = _invite(srv)
    first = srv.handle(reply_to(invite, 200, "OK", extra=CONTACT), BOB)
    again = srv.handle(reply_to(invite, 200, "OK", extra=CONTACT), BOB)
    assert [o.data for o in again] == [first[0].data]


def test_a_negative_reply_is_acked_by_the_transaction_not_to_the_contact() -> None:
    srv = server("request_route { exit; }")
    invite = _invite(srv)
    out = srv.handle(reply_to(invite, 486, "Busy Here", extra=CONTACT), BOB)
    assert [(o.host, o.port) for o in out] == [("198.51.100.20", 5080)]
    assert parsed(out[0]).uri == "sip:bob@198.51.100.20:5080"


def _dont_ack(srv, completed: list):  # type: ignore[no-untyped-def]
    tm = srv.core.offered("tm")
    dialog = UacDialog("dont-ack-1", "ft1", "sip:alice@example.test", "sip:bob@example.test",
                       remote_target="sip:bob@198.51.100.20:5080")
    assert tm.t_uac("INVITE", dialog, cb_types=TMCB_LOCAL_COMPLETED | TMCB_DONT_ACK,
                    callback=lambda t, kind, params: completed.append(t)) == 1
    return tm, srv.core.take_outbox()[0]


def test_tmcb_dont_ack_leaves_the_ack_to_the_requester() -> None:
    srv = server("request_route { exit; }")
    _, invite = _dont_ack(srv, [])
    assert srv.handle(reply_to(invite, 200, "OK", extra=CONTACT), BOB) == []


def test_ack_local_uac_sends_the_requesters_ack_which_tm_then_resends() -> None:
    srv = server("request_route { exit; }")
    completed: list = []
    tm, invite = _dont_ack(srv, completed)
    srv.handle(reply_to(invite, 200, "OK", extra=CONTACT), BOB)
    assert tm.ack_local_uac(completed[0], "X-Ack: mine\r\nContent-Type: application/sdp", b"v=0\r\n") == 0
    ack = srv.core.take_outbox()[0]
    assert ack.data.endswith(b"X-Ack: mine\r\nContent-Type: application/sdp\r\n"
                             b"Content-Length: 5\r\n\r\nv=0\r\n")
    assert parsed(ack).via.branch == parsed(invite).via.branch
    assert tm.ack_local_uac(completed[0]) == -2  # once
    assert [o.data for o in srv.handle(reply_to(invite, 200, "OK", extra=CONTACT), BOB)] == [ack.data]


def test_ack_local_uac_refuses_a_transaction_tm_acks_itself() -> None:
    srv = server("request_route { exit; }")
    tm = srv.core.offered("tm")
    dialog = UacDialog("auto-ack-1", "ft1", "sip:alice@example.test", "sip:bob@example.test",
                       remote_target="sip:bob@198.51.100.20:5080")
    completed: list = []
    tm.t_uac("INVITE", dialog, callback=lambda t, kind, params: completed.append(t))
    invite = srv.core.take_outbox()[0]
    srv.handle(reply_to(invite, 200, "OK", extra=CONTACT), BOB)
    assert tm.ack_local_uac(completed[0]) == -2


@pytest.mark.parametrize(("mode", "where"), [
    (0, ("203.0.113.5", 5099)),   # the Contact (no route set)
    (1, ("198.51.100.30", 5090)),  # where the INVITE went
    (2, ("198.51.100.20", 5080)),  # the source of the 2xx
])
def test_local_ack_mode_says_where_the_ack_goes(mode: int, where: tuple[str, int]) -> None:
    srv = server("request_route { exit; }", f'modparam("tm", "local_ack_mode", {mode})\n')
    invite = _invite(srv, next_hop="sip:198.51.100.30:5090")
    ack = srv.handle(reply_to(invite, 200, "OK", extra=CONTACT), BOB)[0]
    assert (ack.host, ack.port) == where and parsed(ack).uri == "sip:bob@203.0.113.5:5099;transport=udp"
