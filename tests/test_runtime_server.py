"""The in-process server: replies, forwarding, relaying, malformed input, failures, core actions."""
from __future__ import annotations

import logging

import pytest

from kampy.config.pipeline import load_text
from kampy.errors import ConfigError
from kampy.runtime.context import Socket, Source
from kampy.runtime.server import Server
from kampy.runtime.sockets import sockets_from_config
from kampy.sip.message import parse_message
from tests.support.runtime import SOCKET, SOURCE, first_line, make_server, recorded, request


def test_sl_options_gets_200(tmp_path):
    server = make_server(tmp_path, 'request_route { if (is_method("OPTIONS")) { sl_send_reply("200", "OK"); '
                                   'exit; } }', modules=("sl", "textops"))
    out = server.handle(request(), SOURCE)
    assert [first_line(o) for o in out] == ["SIP/2.0 200 OK"]
    assert (out[0].host, out[0].port) == ("192.0.2.7", 5080)


def test_forward_adds_via_and_sends_to_ruri(tmp_path):
    server = make_server(tmp_path, "request_route { forward(); }")
    out = server.handle(request("MESSAGE", "sip:bob@198.51.100.9:5090"), SOURCE)
    assert len(out) == 1
    fwd = parse_message(out[0].data)
    assert (out[0].host, out[0].port, out[0].proto) == ("198.51.100.9", 5090, "udp")
    assert len(fwd.vias) == 2
    top = fwd.vias[0]
    assert (top.host, top.port) == ("127.0.0.1", 5060)
    assert top.branch.startswith("z9hG4bK") and top.branch.endswith(".0")
    assert fwd.max_forwards == 70  # forward() leaves Max-Forwards to the maxfwd module


def test_forward_branch_is_stable_for_retransmissions(tmp_path):
    server = make_server(tmp_path, "request_route { forward(); }")
    a = parse_message(server.handle(request("MESSAGE", "sip:b@198.51.100.9"), SOURCE)[0].data)
    b = parse_message(server.handle(request("MESSAGE", "sip:b@198.51.100.9"), SOURCE)[0].data)
    assert a.via.branch == b.via.branch


def test_forward_uses_du_before_ruri(tmp_path):
    server = make_server(tmp_path, '$du = "sip:198.51.100.3:5070;transport=tcp"; forward();'
                         .join(("request_route { ", " }")), modules=("fake", "pv"),
                         sockets=[SOCKET, Socket("tcp", "127.0.0.1", 5060)])
    out = server.handle(request("MESSAGE", "sip:bob@198.51.100.9"), SOURCE)
    assert (out[0].proto, out[0].host, out[0].port) == ("tcp", "198.51.100.3", 5070)
    assert parse_message(out[0].data).vias[0].transport == "TCP"


def test_forward_with_host_and_port_args(tmp_path):
    server = make_server(tmp_path, 'request_route { forward("198.51.100.4", 5099); }')
    out = server.handle(request("MESSAGE"), SOURCE)
    assert (out[0].host, out[0].port) == ("198.51.100.4", 5099)


def test_forward_sends_rewritten_ruri_and_received(tmp_path):
    server = make_server(tmp_path, 'request_route { rewritehost("198.51.100.5"); forward(); }')
    out = server.handle(request("MESSAGE", via_host="10.1.1.1", via_params=";rport"), SOURCE)
    fwd = parse_message(out[0].data)
    assert fwd.uri == "sip:bob@198.51.100.5" and out[0].host == "198.51.100.5"
    assert fwd.vias[1].received == "192.0.2.7" and fwd.vias[1].rport == 5080


def test_reply_is_relayed_to_second_via(tmp_path):
    server = make_server(tmp_path, "request_route { forward(); }")
    fwd = parse_message(server.handle(request("MESSAGE", "sip:b@198.51.100.9"), SOURCE)[0].data)
    vias = "\r\n".join(f"Via: {v}" for v in fwd.vias)
    reply = (f"SIP/2.0 200 OK\r\n{vias}\r\nFrom: <sip:alice@example.org>;tag=f1\r\n"
             "To: <sip:bob@example.com>;tag=t9\r\nCall-ID: call-1\r\nCSeq: 7 MESSAGE\r\n"
             "Content-Length: 0\r\n\r\n")
    out = server.handle(reply.encode(), Source("udp", "198.51.100.9", 5060, SOCKET))
    assert len(out) == 1 and (out[0].host, out[0].port) == ("192.0.2.7", 5080)
    relayed = parse_message(out[0].data)
    assert len(relayed.vias) == 1 and relayed.via.branch == "z9hG4bK-abc"


FOREIGN_REPLY = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 203.0.113.1;branch=z9hG4bKx\r\n"
                 b"Via: SIP/2.0/UDP 192.0.2.7:5080;branch=z9hG4bKy\r\nFrom: <sip:a@x>;tag=1\r\n"
                 b"To: <sip:b@y>;tag=2\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n")


def test_with_check_via_a_reply_whose_first_via_is_not_ours_is_dropped(tmp_path, caplog):
    server = make_server(tmp_path, "check_via=yes\nrequest_route { exit; }")
    with caplog.at_level(logging.INFO, logger="kampy"):
        assert server.handle(FOREIGN_REPLY, SOURCE) == []
    assert "host in first via != me" in caplog.text


def test_without_check_via_a_reply_is_relayed_to_its_second_via_whoever_the_first_names(tmp_path):
    server = make_server(tmp_path, "request_route { exit; }")
    out = server.handle(FOREIGN_REPLY, SOURCE)
    assert [(o.host, o.port) for o in out] == [("192.0.2.7", 5080)]


def test_reply_route_can_drop_a_reply(tmp_path):
    server = make_server(tmp_path, 'request_route { forward(); }\nreply_route { rec("r"); drop; }')
    fwd = parse_message(server.handle(request("MESSAGE", "sip:b@198.51.100.9"), SOURCE)[0].data)
    vias = "\r\n".join(f"Via: {v}" for v in fwd.vias)
    reply = (f"SIP/2.0 180 Ringing\r\n{vias}\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\n"
             "Call-ID: c\r\nCSeq: 7 MESSAGE\r\nContent-Length: 0\r\n\r\n")
    assert server.handle(reply.encode(), SOURCE) == [] and recorded(server) == ["r"]


def test_malformed_request_gets_400(tmp_path):
    server = make_server(tmp_path, "request_route { exit; }")
    bad = request().replace(b"CSeq: 7 OPTIONS", b"CSeq: 7 OPTIONS\r\nContent-Length: x")
    out = server.handle(bad, SOURCE)
    assert [first_line(o) for o in out] == ["SIP/2.0 400 Bad Request"]


def test_garbage_is_dropped_silently(tmp_path):
    server = make_server(tmp_path, "request_route { exit; }")
    assert server.handle(b"\x00\xffgarbage", SOURCE) == []


def test_exception_in_module_function_is_logged_and_server_keeps_serving(tmp_path, caplog):
    server = make_server(tmp_path, 'request_route { if (method == "MESSAGE") boom(); reply(200, "OK"); }')
    with caplog.at_level(logging.ERROR):
        assert [first_line(o) for o in server.handle(request("MESSAGE"), SOURCE)] == [
            "SIP/2.0 500 Server Internal Error"]
    assert "test.cfg:" in caplog.text and "boom() failed" in caplog.text and "kaboom" in caplog.text
    assert [first_line(o) for o in server.handle(request(), SOURCE)] == ["SIP/2.0 200 OK"]


def test_received_and_rport_in_replies(tmp_path):
    server = make_server(tmp_path, 'request_route { sl_send_reply("200", "OK"); }', modules=("sl",))
    out = server.handle(request(via_host="10.1.1.1", via_params=";rport"), SOURCE)
    via = parse_message(out[0].data).via
    assert via.received == "192.0.2.7" and via.rport == 5080
    assert (out[0].host, out[0].port) == ("192.0.2.7", 5080)


def test_flags(tmp_path):
    body = ('setflag(FLAG_A); setflag(5); resetflag(5); if (isflagset(FLAG_A)) rec("a"); '
            'if (isflagset(5)) rec("five");')
    server = make_server(tmp_path, "request_route { " + body + " }", header="flags FLAG_A: 3;")
    server.handle(request(), SOURCE)
    assert recorded(server) == ["a"]


def test_rewrite_actions(tmp_path):
    body = ('rewriteuser("carol"); rec("$ru"); rewritehostport("h.example:5070"); rec("$ru"); '
            'prefix("00"); rec("$ru"); strip(1); rec("$ru"); strip_tail(2); rec("$ru"); '
            'rewriteport("5080"); rec("$ru"); userphone(); rec("$ru"); rewriteuri("sip:x@y"); rec("$ru"); '
            'revert_uri(); rec("$ru"); rewriteuserpass("u:p"); rec("$ru"); sethost("z"); rec("$ru");')
    server = make_server(tmp_path, "request_route { " + body + " }", modules=("fake", "pv"))
    server.handle(request(), SOURCE)
    assert recorded(server) == [
        "sip:carol@127.0.0.1", "sip:carol@h.example:5070", "sip:00carol@h.example:5070",
        "sip:0carol@h.example:5070", "sip:0car@h.example:5070", "sip:0car@h.example:5080",
        "sip:0car@h.example:5080;user=phone", "sip:x@y", "sip:bob@127.0.0.1", "sip:u:p@127.0.0.1",
        "sip:u:p@z"]


def test_sethostporttrans_sets_host_and_port_and_drops_the_transport(tmp_path):
    # what Kamailio 5.6 makes of these (its SET_HOSTPORTTRANS_T)
    body = ('$ru = "sip:u@h.example:5060;lr;transport=udp;x=1"; sethostporttrans("10.0.0.1:5070"); '
            'rec("$ru"); $ru = "sip:u@h.example:5060;transport=udp"; '
            'rewritehostporttrans("10.0.0.1;transport=tcp"); rec("$ru"); '
            '$ru = "sip:u:pw@h.example:5060;transport=tcp?X=1"; sethpt("[::1]:5070"); rec("$ru");')
    server = make_server(tmp_path, "request_route { " + body + " }", modules=("fake", "pv"))
    server.handle(request(), SOURCE)
    assert recorded(server) == ["sip:u@10.0.0.1:5070;lr;x=1", "sip:u@10.0.0.1;transport=tcp",
                                "sip:u:pw@[::1]:5070?X=1"]


def test_branch_actions(tmp_path):
    server = make_server(tmp_path, 'request_route { append_branch("sip:a@b"); append_branch(); '
                                   'remove_branch(0); rec("x"); clear_branches(); }',
                         modules=("fake", "corex"))
    from kampy.runtime.context import MessageContext
    ctx = MessageContext(parse_message(request()), SOURCE, server.core)
    server.engine.run_route("request", None, ctx)
    assert ctx.branches == []
    server2 = make_server(tmp_path / "2", 'request_route { append_branch("sip:a@b"); append_branch(); '
                                          'remove_branch(0); }', modules=("fake", "corex"))
    ctx = MessageContext(parse_message(request()), SOURCE, server2.core)
    server2.engine.run_route("request", None, ctx)
    assert [b.uri for b in ctx.branches] == ["sip:bob@127.0.0.1"]


def test_log_shows_what_debug_lets_through(tmp_path, caplog):
    server = make_server(tmp_path, 'request_route { log(-1, "big\\n"); log("debug only"); }')
    with caplog.at_level(logging.DEBUG, logger="kampy.script"):
        server.handle(request(), SOURCE)
    assert "big" in caplog.text and "debug only" not in caplog.text


def test_kamailio_56_has_no_append_branch_send_or_len_gt_in_its_core(tmp_path):
    for call in ('append_branch("sip:a@b")', 'send("127.0.0.1")', "len_gt(10)", "return_mode(1)"):
        with pytest.raises(ConfigError, match="unknown function|exported by module"):
            make_server(tmp_path, f"request_route {{ {call}; }}")


def test_force_send_socket_and_advertised_address(tmp_path):
    other = Socket("udp", "127.0.0.2", 5062)
    server = make_server(tmp_path, 'request_route { force_send_socket("udp:127.0.0.2:5062"); '
                                   'set_advertised_address("sip.example.net"); forward("198.51.100.4"); }',
                         sockets=[SOCKET, other])
    out = server.handle(request("MESSAGE"), SOURCE)
    assert out[0].local == other
    assert parse_message(out[0].data).via.host == "sip.example.net"


def test_force_send_socket_to_an_advertised_address_any_port(tmp_path):
    other = Socket("udp", "127.0.0.2", 5062, "203.0.113.9", 5999)
    routes = 'request_route { force_send_socket("udp:203.0.113.9"); forward("198.51.100.4"); }'
    server = make_server(tmp_path, routes, sockets=[SOCKET, other])
    assert server.handle(request("MESSAGE"), SOURCE)[0].local == other


def test_force_send_socket_to_no_local_socket_fails_at_load(tmp_path):
    other = Socket("udp", "127.0.0.2", 5062, "203.0.113.9", 5999)
    with pytest.raises(ConfigError, match="bad force_send_socket argument: udp:203.0.113.9:5999"):
        make_server(tmp_path, "request_route { force_send_socket(udp:203.0.113.9:5999); }",
                    sockets=[SOCKET, other])


def test_timers_run_when_due(tmp_path):
    server = make_server(tmp_path, "request_route { exit; }")
    assert server.next_timer() is None and server.run_timers() == []


def test_sockets_from_config():
    compiled = load_text('listen=udp:127.0.0.1:5070\nlisten=10.0.0.1\nport=5080\nalias="sip.example.com"\n'
                         'request_route { exit; }', resolve=False)
    sockets, aliases = sockets_from_config(compiled)
    assert [str(s) for s in sockets] == ["udp:127.0.0.1:5070", "udp:10.0.0.1:5080", "tcp:10.0.0.1:5080"]
    assert aliases == [("sip.example.com", None)]
    sockets, _ = sockets_from_config(compiled, ["tcp:127.0.0.1:6000"])
    assert [str(s) for s in sockets] == ["tcp:127.0.0.1:6000"]


def test_malformed_uri_met_by_a_module_function_is_answered_400_with_one_log_line(tmp_path, caplog):
    # the message of tests/test_msilo_dump.py::test_unparsable_to_uri_fails: To <sip:@@>
    server = make_server(tmp_path, 'request_route { sl_send_reply("200", "OK"); }', modules=("sl",))
    bad = request("REGISTER", "sip:example.test", via_params=";rport").replace(
        b"To: <sip:bob@example.com>", b"To: <sip:@@>")
    with caplog.at_level(logging.INFO, logger="kampy"):
        out = server.handle(bad, SOURCE)
    assert [first_line(o) for o in out] == ["SIP/2.0 400 Bad Request"]
    reply = parse_message(out[0].data)
    assert reply.via.received == "192.0.2.7" and reply.via.rport == 5080
    assert (out[0].host, out[0].port) == ("192.0.2.7", 5080)
    lines = [r for r in caplog.records if "sip:@@" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO and lines[0].exc_info is None
    assert "sl_send_reply() at test.cfg:" in lines[0].getMessage()


def test_stateless_reply_goes_to_received_and_rport_of_the_second_via(tmp_path):
    server = make_server(tmp_path, "request_route { forward(); }")
    reply = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-ours\r\n"
             b"Via: SIP/2.0/UDP 10.1.1.1:5070;branch=z9hG4bK-abc;received=203.0.113.9;rport=6001\r\n"
             b"From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\n"
             b"Content-Length: 0\r\n\r\n")
    out = server.handle(reply, Source("udp", "198.51.100.9", 5060, SOCKET))
    assert [(o.host, o.port) for o in out] == [("203.0.113.9", 6001)]


def test_stateless_reply_prefers_received_to_maddr_as_kamailio_does(tmp_path):
    server = make_server(tmp_path, "request_route { forward(); }")
    reply = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-ours\r\n"
             b"Via: SIP/2.0/UDP 10.1.1.1:5070;branch=z9hG4bK-abc;maddr=10.9.9.9"
             b";received=203.0.113.9;rport=6001\r\n"
             b"From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\n"
             b"Content-Length: 0\r\n\r\n")
    out = server.handle(reply, Source("udp", "198.51.100.9", 5060, SOCKET))
    assert [(o.host, o.port) for o in out] == [("203.0.113.9", 6001)]


def test_a_log_prefix_with_an_unknown_pseudo_variable_is_a_config_error_at_the_parameter():
    compiled = load_text('debug=2\nlog_prefix="{$mt} "\nrequest_route { exit; }', "t.cfg")
    with pytest.raises(ConfigError) as info:
        Server.from_config(compiled, sockets=[SOCKET])
    (diag,) = info.value.diagnostics
    assert (diag.pos.line, diag.message) == (2, "log_prefix: unknown pseudo-variable '$mt'")


def test_exec_runs_the_command_through_the_shell_and_returns_1(tmp_path):
    out = tmp_path / "out"
    body = f'$var(r) = exec("echo ran >> {out}; exit 3"); rec("$var(r)");'
    server = make_server(tmp_path, "request_route { " + body + " }", modules=("fake", "pv"))
    server.handle(request(), SOURCE)
    assert recorded(server) == ["1"] and out.read_text() == "ran\n"
