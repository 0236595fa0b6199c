"""tm's RPC commands that send a request (Kamailio's rpc_uac.c): tm.t_uac_wait_block answers with the
final reply's code and text once it arrives (kamctl ping), tm.t_uac_start at once."""
from __future__ import annotations

import json
from typing import Any

import pytest

from kampy import binrpc
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


# --------------------------------------------------------- over ctl's binrpc, as kamcmd sends them

CTL = 'loadmodule "ctl"\nmodparam("ctl", "binrpc", "unix:/nonexistent/ctl.sock")\n'


def _kamcmd(srv: Server, method: str, *params: object) -> tuple[int, Any]:
    """The reply kind and values (a fault's code and text) of a binrpc request handled by ctl."""
    packet = binrpc.build_packet(binrpc.REQUEST, 1, binrpc.encode_request(method, list(params)))
    reply = srv.core.modules["ctl"].handle_binrpc(packet)
    header = binrpc.parse_header(reply)
    body = reply[header.size:header.packet_len]
    return header.kind, binrpc.read_fault(body) if header.kind == binrpc.FAULT else binrpc.read_values(body)


def test_kamcmds_empty_body_an_integer_on_the_wire_is_read_as_kamailios_unread_string() -> None:
    # kamcmd sends "" as the integer 0 (strtol reads it whole); Kamailio's rpc_scan fails on it,
    # tm goes on with the text rpc_scan left in the body, which needs a Content-Type
    srv = server(ROUTES, CTL)
    assert _kamcmd(srv, "tm.t_uac_start", *PING, 0) == (binrpc.FAULT, (400, "Content-Type missing"))
    assert _sent(srv) == []


def test_an_empty_string_body_sends_the_request_without_one() -> None:
    srv = server(ROUTES, CTL)
    assert _kamcmd(srv, "tm.t_uac_start", *PING, "") == (binrpc.REPLY, [])
    data = _sent(srv)[0].data
    assert b"\r\nContent-Length: 0\r\n" in data and data.endswith(b"\r\n\r\n")


@pytest.mark.parametrize(("params", "scanned"), [(PING[:3], -3), ([*PING[:4], 0], -4), ([0, *PING[1:]], 0)])
def test_a_required_parameter_missing_or_not_a_string_is_too_few_parameters(params: list[Any],
                                                                            scanned: int) -> None:
    srv = server(ROUTES, CTL)
    assert _kamcmd(srv, "tm.t_uac_start", *params) == (
        binrpc.FAULT, (400, f"too few parameters ({scanned}/5)"))


def test_too_few_parameters_over_json_rpc_counts_those_given() -> None:
    srv = server(ROUTES)
    answer = _call(srv, "tm.t_uac_start", PING[:3])
    assert answer["error"] == {"code": 400, "message": "too few parameters (-3/5)"}


def test_a_json_rpc_body_that_is_not_a_string_is_left_empty_as_by_jsonrpcs() -> None:
    srv = server(ROUTES)
    assert _call(srv, "tm.t_uac_start", [*PING, 0])["result"] == {}
    assert b"\r\nContent-Length: 0\r\n" in _sent(srv)[0].data


def test_a_json_rpc_required_parameter_that_is_not_a_string_is_too_few_parameters() -> None:
    srv = server(ROUTES)
    answer = _call(srv, "tm.t_uac_start", [*PING[:2], 7, *PING[3:]])
    assert answer["error"] == {"code": 400, "message": "too few parameters (-2/5)"} and _sent(srv) == []
