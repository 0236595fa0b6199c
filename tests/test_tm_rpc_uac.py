"""tm's RPC commands that send a request (Kamailio's rpc_uac.c): tm.t_uac_wait_block answers with the
final reply's code and text once it arrives (kamctl ping), tm.t_uac_start at once."""
from __future__ import annotations

import json
from typing import Any

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
