"""The core parameters server_header and user_agent_header: the whole `Server:` line of the replies
kampy builds (sl, tm) and the whole `User-Agent:` line of the requests tm builds (CANCEL, t_uac), as
Kamailio's server_hdr and user_agent_hdr."""
from __future__ import annotations

import os

from kampy.sip.message import Response
from kampy.version import SERVER_HEADER
from tests.tmkit import ALICE, BOB, SOCKET, parsed, reply_to, request, server

SERVER = 'server_header = "Server: Edge Proxy 1.0"\n'
USER_AGENT = 'user_agent_header = "User-Agent: Edge UA 2.0"\n'
SL_REPLY = 'request_route { sl_send_reply("404", "Nobody"); }'
TM_REPLY = 'request_route { t_newtran(); t_reply("486", "Busy"); }'
# tm builds a CANCEL of its own (build_local, with a User-Agent) only when not copying the INVITE's lines
BUILT_CANCEL = 'modparam("tm", "reparse_invite", 0)\n'


def local_reply(routes: str, params: str) -> Response:
    (out,) = server(routes, params).handle(request("OPTIONS"), ALICE)
    reply = parsed(out)
    assert isinstance(reply, Response)
    return reply


def cancel_sent(params: str):  # type: ignore[no-untyped-def]
    srv = server("request_route { t_relay(); }", BUILT_CANCEL + params)
    invite = srv.handle(request("INVITE"), ALICE)[1]
    srv.handle(reply_to(invite, 180, "Ringing"), BOB)
    out = srv.handle(request("CANCEL"), ALICE)
    return parsed(out[1])


def uac_request(params: str):  # type: ignore[no-untyped-def]
    srv = server("request_route { exit; }", params)
    srv.core.offered("tm").t_request("MESSAGE", "sip:bob@198.51.100.20:5080", "sip:bob@example.test",
                                     "sip:alice@example.test", callback=lambda status, reply: None)
    (out,) = srv.core.take_outbox()
    return parsed(out)


def test_server_header_sets_the_server_line_of_an_sl_reply() -> None:
    assert local_reply(SL_REPLY, SERVER).header("server") == "Edge Proxy 1.0"


def test_server_header_sets_the_server_line_of_a_tm_reply() -> None:
    assert local_reply(TM_REPLY, SERVER).header("server") == "Edge Proxy 1.0"


def test_user_agent_header_leaves_the_server_line_of_a_local_reply_alone() -> None:
    assert local_reply(SL_REPLY, USER_AGENT).header("server") == SERVER_HEADER


def test_server_signature_no_drops_a_configured_server_line() -> None:
    assert local_reply(SL_REPLY, SERVER + "server_signature = no\n").header("server") is None


def test_user_agent_header_sets_the_user_agent_line_of_tms_cancel() -> None:
    assert cancel_sent(USER_AGENT).header("user-agent") == "Edge UA 2.0"


def test_server_header_leaves_the_user_agent_line_of_tms_cancel_alone() -> None:
    assert cancel_sent(SERVER).header("user-agent") == SERVER_HEADER


def test_user_agent_header_sets_the_user_agent_line_of_a_t_uac_request() -> None:
    assert uac_request(USER_AGENT).header("user-agent") == "Edge UA 2.0"


def test_server_signature_no_drops_a_configured_user_agent_line() -> None:
    assert uac_request(USER_AGENT + "server_signature = no\n").header("user-agent") is None


def test_a_server_header_without_the_header_name_is_taken_as_the_text(caplog) -> None:  # type: ignore[no-untyped-def]
    assert local_reply(SL_REPLY, 'server_header = "Edge"\n').header("server") == "Edge"
    assert "should be a whole 'Server: ...' header line" in caplog.text


def warning_of(routes: str, params: str) -> str | None:
    return local_reply(routes, params).header("warning")


def test_a_local_reply_has_no_warning_line_by_default() -> None:
    assert warning_of(SL_REPLY, "") is None


def test_sip_warning_adds_kamailios_debugging_warning_line_to_an_sl_reply() -> None:
    warning = warning_of('request_route { $ru = "sip:carol@192.0.2.99"; sl_send_reply("404", "Nobody"); }',
                         "sip_warning = 1\n")
    assert warning == (f'392 {SOCKET.host}:{SOCKET.port} "Noisy feedback tells:  pid={os.getpid()} '
                       f"req_src_ip={ALICE.ip} req_src_port={ALICE.port} in_uri=sip:bob@198.51.100.20:5080 "
                       'out_uri=sip:carol@192.0.2.99 via_cnt==1"')


def test_sip_warning_adds_the_warning_line_to_a_tm_reply() -> None:
    assert (warning_of(TM_REPLY, "sip_warning = 1\n") or "").startswith("392 ")


def test_the_warning_line_comes_after_content_length() -> None:
    (out,) = server(SL_REPLY, "sip_warning = 1\n").handle(request("OPTIONS"), ALICE)
    assert b"\r\nContent-Length: 0\r\nWarning: 392 " in out.data and out.data.endswith(b'"\r\n\r\n')
