"""tm's requests within a dialog (TmAPI.t_uac, t_request_within with a UacDialog, Kamailio's
dlg_t): the request's layout, loose and strict routing over the route set, the CSeq, the ACK."""
from __future__ import annotations

from kampy.api import TMCB_LOCAL_COMPLETED, TMCB_REQUEST_IN, TMCB_RESPONSE_IN, UacDialog
from kampy.sip.message import Request
from tests.tmkit import BOB, advance, parsed, reply_to, server


def dialog(**kw) -> UacDialog:  # type: ignore[no-untyped-def]
    fields = dict(call_id="dlg-1@192.0.2.10", local_tag="caller1", local_uri="sip:alice@example.test",
                  remote_uri="sip:bob@example.test", remote_tag="callee1", local_seq=20,
                  remote_target="sip:bob@198.51.100.20:5080")
    return UacDialog(**{**fields, **kw})


def sent_by(d: UacDialog, method: str = "BYE", within: bool = True, **kw):  # type: ignore[no-untyped-def]
    srv = server("request_route { exit; }")
    tm = srv.core.offered("tm")
    send = tm.t_request_within if within else tm.t_uac
    assert send(method, d, **kw) == 1
    return srv, srv.core.take_outbox()


def header_names(data: bytes) -> list[bytes]:
    return [line.split(b":")[0] for line in data.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]]


def test_request_within_has_kamailios_layout_with_both_tags_and_the_route_set() -> None:
    d = dialog(route_set=["<sip:p1.example.test;lr>", "<sip:p2.example.test;lr>"])
    _, (out,) = sent_by(d, headers="Reason: SIP;cause=200\r\n")
    assert header_names(out.data) == [b"Via", b"To", b"From", b"CSeq", b"Call-ID", b"Route", b"Max-Forwards",
                                      b"Content-Length", b"User-Agent", b"Reason"]
    req = parsed(out)
    assert isinstance(req, Request)
    assert (req.to.tag, req.from_.tag, req.cseq.num) == ("callee1", "caller1", 21)
    assert req.call_id == "dlg-1@192.0.2.10"
    assert b"\r\nRoute: <sip:p1.example.test;lr>, <sip:p2.example.test;lr>\r\n" in out.data


def test_loose_routing_sends_to_the_first_route_with_the_remote_target_as_request_uri() -> None:
    _, (out,) = sent_by(dialog(route_set=["<sip:198.51.100.50:5070;lr>"]))
    assert out.data.startswith(b"BYE sip:bob@198.51.100.20:5080 SIP/2.0\r\n")
    assert (out.host, out.port) == ("198.51.100.50", 5070)


def test_strict_routing_puts_the_first_route_in_the_request_uri_and_the_remote_target_last() -> None:
    _, (out,) = sent_by(dialog(route_set=["<sip:198.51.100.50:5070>", "<sip:p2.example.test;lr>"]))
    assert out.data.startswith(b"BYE sip:198.51.100.50:5070 SIP/2.0\r\n")
    assert (out.host, out.port) == ("198.51.100.50", 5070)
    assert b"\r\nRoute: <sip:p2.example.test;lr>, <sip:bob@198.51.100.20:5080>\r\n" in out.data


def test_without_a_route_set_the_request_goes_to_dst_uri_when_set() -> None:
    _, (out,) = sent_by(dialog(dst_uri="sip:198.51.100.60:5062"))
    assert out.data.startswith(b"BYE sip:bob@198.51.100.20:5080 SIP/2.0\r\n")
    assert (out.host, out.port) == ("198.51.100.60", 5062) and b"\r\nRoute:" not in out.data


def test_request_within_moves_the_cseq_on_and_t_uac_sends_it_as_it_stands() -> None:
    d = dialog()
    sent_by(d, "INFO")
    assert d.local_seq == 21
    _, (out,) = sent_by(d, "INFO", within=False)
    assert parsed(out).cseq.num == 21 and d.local_seq == 21


def test_the_first_request_of_a_dialog_without_a_cseq_gets_10() -> None:
    d = dialog(local_seq=None)
    _, (out,) = sent_by(d)
    assert parsed(out).cseq.num == 10 and d.local_seq == 10


def test_ack_and_cancel_keep_the_cseq() -> None:
    d = dialog()
    sent_by(d, "ACK")
    sent_by(d, "CANCEL")
    assert d.local_seq == 20


def test_an_ack_goes_out_once_without_a_transaction() -> None:
    srv, (out,) = sent_by(dialog(), "ACK")
    assert out.data.startswith(b"ACK ") and parsed(out).cseq.num == 20
    assert advance(srv, 40) == [] and srv.core.modules["tm"].rpc_stats()["total"] == 0


def test_headers_with_max_forwards_replace_tms() -> None:
    _, (out,) = sent_by(dialog(), headers="Max-Forwards: 5\r\n")
    assert parsed(out).headers_named("max-forwards") == ["5"]


def test_t_uac_callback_runs_for_its_types_with_the_transaction_and_reply() -> None:
    srv = server("request_route { exit; }")
    calls: list = []
    srv.core.offered("tm").t_request_within(
        "BYE", dialog(), callback=lambda t, kind, p: calls.append((t.method, t.is_local, kind, p.code)),
        cb_types=TMCB_LOCAL_COMPLETED)
    sent = srv.core.take_outbox()[0]
    srv.handle(reply_to(sent, 200, "OK"), BOB)
    assert calls == [("BYE", True, TMCB_LOCAL_COMPLETED, 200)]


def test_t_uac_refuses_callback_types_of_new_transactions() -> None:
    srv = server("request_route { exit; }")
    tm = srv.core.offered("tm")
    assert tm.t_uac("BYE", dialog(), cb_types=TMCB_REQUEST_IN, callback=lambda *a: None) == -5
    assert tm.t_uac("BYE", dialog(), cb_types=TMCB_RESPONSE_IN, callback=lambda *a: None) == 1
    assert len(srv.core.take_outbox()) == 1
