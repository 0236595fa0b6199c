"""Every request that enters request_route is answered or dropped by the config: an internal error (an
exception out of a module function: here the `boom()` of the test module `fake`) becomes a 500 with a
log line, counted in `core:err_internal`, and a transaction the script leaves behind is freed."""
from __future__ import annotations

import logging

from kampy.sip.message import parse_message
from tests.support.runtime import SOURCE, first_line, make_server, request
from tests.tmkit import FakeClock, advance

TM = ("sl", "tm", "fake")


def test_exception_in_a_module_function_is_answered_500_statelessly(tmp_path) -> None:
    srv = make_server(tmp_path, "request_route { boom(); }")
    out = srv.handle(request("MESSAGE"), SOURCE)
    assert [first_line(o) for o in out] == ["SIP/2.0 500 Server Internal Error"]
    reply = parse_message(out[0].data)
    assert reply.via.branch == "z9hG4bK-abc" and reply.call_id == "call-1" and reply.to.tag


def test_exception_in_a_module_function_is_counted_in_err_internal(tmp_path) -> None:
    srv = make_server(tmp_path, "request_route { boom(); }")
    for _ in range(3):
        srv.handle(request("MESSAGE"), SOURCE)
    assert srv.core.stats.get("core:err_internal") == 3


def test_exception_in_a_module_function_logs_the_error_and_the_answer(tmp_path, caplog) -> None:
    srv = make_server(tmp_path, "request_route { boom(); }")
    with caplog.at_level(logging.ERROR):
        srv.handle(request("MESSAGE"), SOURCE)
    assert "boom() failed" in caplog.text and "answered 500" in caplog.text


def test_ack_that_meets_an_internal_error_gets_no_reply(tmp_path) -> None:
    srv = make_server(tmp_path, "request_route { boom(); }")
    assert srv.handle(request("ACK"), SOURCE) == []
    assert srv.core.stats.get("core:err_internal") == 1


def test_request_already_answered_gets_no_second_reply_after_an_internal_error(tmp_path) -> None:
    srv = make_server(tmp_path, 'request_route { sl_send_reply("202", "Accepted"); boom(); }',
                      modules=("sl", "fake"))
    out = srv.handle(request("MESSAGE"), SOURCE)
    assert [first_line(o) for o in out] == ["SIP/2.0 202 Accepted"]


def test_internal_error_after_t_newtran_is_answered_500_by_the_transaction(tmp_path) -> None:
    srv = make_server(tmp_path, "request_route { t_newtran(); boom(); }", modules=TM, clock=FakeClock())
    out = srv.handle(request("MESSAGE"), SOURCE)
    assert [first_line(o) for o in out] == ["SIP/2.0 500 Server Internal Error"]
    again = srv.handle(request("MESSAGE"), SOURCE)  # a retransmission: the transaction answers it
    assert [o.data for o in again] == [out[0].data]
    advance(srv, 40)
    assert srv.core.modules["tm"].rpc_stats()["current"] == 0


def test_internal_error_after_t_relay_leaves_the_answer_to_the_transaction(tmp_path) -> None:
    srv = make_server(tmp_path, 'request_route { t_relay("udp:192.0.2.99:5060"); boom(); }', modules=TM,
                      clock=FakeClock())
    out = srv.handle(request("MESSAGE"), SOURCE)
    assert [first_line(o) for o in out] == ["MESSAGE sip:bob@127.0.0.1 SIP/2.0"]
    later = advance(srv, 40)
    assert "SIP/2.0 408 Request Timeout" in [first_line(o) for o in later]
    assert srv.core.modules["tm"].rpc_stats()["current"] == 0


def test_transaction_the_script_neither_replies_nor_relays_is_released_after_wt_timer(tmp_path) -> None:
    srv = make_server(tmp_path, "request_route { t_newtran(); exit; }", modules=TM, clock=FakeClock())
    assert srv.handle(request("MESSAGE"), SOURCE) == []
    assert srv.core.modules["tm"].rpc_stats()["current"] == 1
    assert advance(srv, 5.1) == []  # Kamailio: "script writer didn't release transaction", no reply
    assert srv.core.modules["tm"].rpc_stats()["current"] == 0
