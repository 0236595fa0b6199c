"""tm's RPC commands that send a request (Kamailio's rpc_uac.c): tm.t_uac_wait_block answers with the
final reply's code and text once it arrives (kamctl ping), tm.t_uac_start at once."""
from __future__ import annotations

import json
from typing import Any

import pytest

from kampy.rpc import JsonRpc, RpcDelayed
from kampy.runtime.context import Outgoing
from kampy.runtime.server import Server
from tests.tmkit import BOB, advance, reply_to, server

ROUTES = "request_route { exit; }"
PING = ["OPTIONS", "sip:bob@198.51.100.20:5080", ".", ".",
        "From:sip:daemon@example.test\r\nTo:<sip:bob@198.51.100.20:5080>\r\nContact:sip:daemon@example.test\r\n"]


def _call(srv: Server, method: str, params: list[str]) -> Any:
    request = {"jsonrpc": "2.0", "method": method, "params": params, "id": 7}
    return JsonRpc(srv.core.rpc).handle(json.dumps(request).encode())


def _sent(srv: Server) -> list[Outgoing]:
    out = [o for o in srv.core.outbox if isinstance(o, Outgoing)]
    srv.core.outbox.clear()
    return out


def test_t_uac_wait_block_answers_the_code_and_text_of_the_final_reply() -> None:
    srv = server(ROUTES)
    answer = _call(srv, "tm.t_uac_wait_block", PING)
    assert isinstance(answer, RpcDelayed) and not answer.done
    sent = _sent(srv)
    assert [o.data.split(b"\r\n", 1)[0] for o in sent] == [b"OPTIONS sip:bob@198.51.100.20:5080 SIP/2.0"]
    srv.handle(reply_to(sent[0], 200, "Pong"), BOB)
    assert answer.value == {"jsonrpc": "2.0", "result": {"code": 200, "text": "Pong"}, "id": 7}


def test_t_uac_wait_block_answers_408_when_nothing_replies() -> None:
    srv = server(ROUTES, 'modparam("tm", "fr_timer", 1000)\n')
    answer = _call(srv, "tm.t_uac_wait_block", PING)
    advance(srv, 3)
    assert answer.value["result"] == {"code": 408, "text": "Request Timeout"}


def test_t_uac_wait_block_without_from_is_a_400_fault_and_sends_nothing() -> None:
    srv = server(ROUTES)
    answer = _call(srv, "tm.t_uac_wait_block", [*PING[:4], "To:<sip:bob@198.51.100.20:5080>\r\n"])
    assert answer["error"] == {"code": 400, "message": "From missing"} and _sent(srv) == []


def test_t_uac_start_answers_at_once_and_sends_the_request() -> None:
    srv = server(ROUTES)
    assert _call(srv, "tm.t_uac_start", PING)["result"] == {}
    assert len(_sent(srv)) == 1


def test_t_uac_wait_is_refused_as_by_kamailios_jsonrpcs_fifo_and_sends_nothing() -> None:
    srv = server(ROUTES)
    answer = _call(srv, "tm.t_uac_wait", PING)
    assert answer["error"] == {"code": 500, "message": "internal error: failed to create context"}
    assert _sent(srv) == []


def _header_lines(out: Outgoing, *names: str) -> list[str]:
    return [line for line in out.data.decode().split("\r\n") if line.split(":")[0] in names]


def test_t_uac_start_takes_the_call_id_and_cseq_of_the_headers_given() -> None:
    # Kamailio 5.6 sends them as the request's own (tm_skip_hf), not as extra copies
    srv = server(ROUTES)
    _call(srv, "tm.t_uac_start", [*PING[:4], PING[4] + "Call-ID: given-1\r\nCSeq: 7 OPTIONS\r\n"])
    assert _header_lines(_sent(srv)[0], "Call-ID", "CSeq") == ["CSeq: 7 OPTIONS", "Call-ID: given-1"]


@pytest.mark.parametrize(("cseq", "fault"), [("x7 OPTIONS", "Non-numerical CSeq"),
                                             ("7 INVITE", "CSeq method mismatch"), ("7", "Invalid headers")])
def test_t_uac_start_refuses_a_cseq_that_does_not_fit_the_request(cseq: str, fault: str) -> None:
    srv = server(ROUTES)
    answer = _call(srv, "tm.t_uac_start", [*PING[:4], PING[4] + f"CSeq: {cseq}\r\n"])
    assert answer["error"] == {"code": 400, "message": fault} and _sent(srv) == []


def test_t_uac_start_writes_the_sending_sockets_address_for_a_double_bang() -> None:
    srv = server(ROUTES)
    _call(srv, "tm.t_uac_start", [*PING[:4], PING[4] + "X-Sock: <sip:!!>\r\n"])
    out = _sent(srv)[0]
    assert out.local is not None
    assert _header_lines(out, "X-Sock") == [f"X-Sock: <sip:{out.local.host}:{out.local.port}>"]
