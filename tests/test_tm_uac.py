"""tm's UAC API (the offered "tm" API): new requests in new client transactions, one callback each."""
from __future__ import annotations

from kampy.sip.message import Request
from tests.tmkit import BOB, advance, parsed, reply_to, server
from kampy.version import SERVER_HEADER


def _send(srv, calls: list, **kw):  # type: ignore[no-untyped-def]
    tm = srv.core.offered("tm")
    return tm.t_request("MESSAGE", "sip:bob@198.51.100.20:5080", "sip:bob@example.test",
                        "sip:alice@example.test", headers="Content-Type: text/plain\r\n", body=b"hello",
                        callback=lambda status, reply: calls.append((status, reply)), **kw)


def test_uac_request_layout_is_kamailios() -> None:
    srv = server("request_route { exit; }")
    assert _send(srv, []) == 1
    out = srv.core.take_outbox()
    assert len(out) == 1 and (out[0].host, out[0].port) == ("198.51.100.20", 5080)
    req = parsed(out[0])
    assert isinstance(req, Request)
    names = [line.split(b":")[0] for line in out[0].data.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]]
    assert names == [b"Via", b"To", b"From", b"CSeq", b"Call-ID", b"Max-Forwards", b"Content-Length",
                     b"User-Agent", b"Content-Type"]
    assert req.cseq.num == 10 and req.max_forwards == 70 and req.body == b"hello"
    assert req.from_.tag and "-" in req.from_.tag and req.header("to") == "<sip:bob@example.test>"
    assert req.header("user-agent") == SERVER_HEADER
    assert "r1." in req.via.branch and req.via.params.get("rport", "x") == "x"


def test_uac_callback_gets_200_once() -> None:
    srv = server("request_route { exit; }")
    calls: list = []
    _send(srv, calls)
    sent = srv.core.take_outbox()[0]
    assert srv.handle(reply_to(sent, 200, "OK"), BOB) == []
    srv.handle(reply_to(sent, 200, "OK"), BOB)  # a retransmission: no second callback
    assert [c[0] for c in calls] == [200] and calls[0][1].status == 200


def test_uac_callback_gets_486() -> None:
    srv = server("request_route { exit; }")
    calls: list = []
    _send(srv, calls)
    sent = srv.core.take_outbox()[0]
    srv.handle(reply_to(sent, 180, "Ringing"), BOB)
    srv.handle(reply_to(sent, 486, "Busy Here"), BOB)
    assert [c[0] for c in calls] == [486]


def test_uac_callback_gets_local_408_on_timeout() -> None:
    srv = server("request_route { exit; }", 'modparam("tm", "fr_timer", 3000)\n')
    calls: list = []
    _send(srv, calls)
    advance(srv, 2.9)
    assert calls == []
    advance(srv, 0.2)
    assert calls == [(408, None)]
    advance(srv, 60)
    assert len(calls) == 1


def test_uac_counts_a_local_transaction() -> None:
    srv = server("request_route { exit; }")
    _send(srv, [])
    assert srv.core.stats.get("tmx:UAC_transactions") == 1
    assert srv.core.modules["tm"].rpc_stats()["total_local"] == 1
