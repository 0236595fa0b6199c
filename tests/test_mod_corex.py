"""corex in process: its functions, pseudo-variables, transformation, parameters and RPC methods."""
from __future__ import annotations

from pathlib import Path

import pytest

from kampy.errors import ConfigError
from kampy.testing import Harness

HEAD = """listen=udp:127.0.0.1:5060 name "main"
listen=udp:127.0.0.2:5062 advertise 192.0.2.1:5080 name "second"
listen=tcp:127.0.0.1:5060
server_id=7
xavp_via_params="vp"
xavp_via_fields="vf"
loadmodule "sl"
loadmodule "pv"
loadmodule "textops"
loadmodule "corex"
"""


def harness(kampy_cfg, routes: str, params: str = "") -> Harness:
    return kampy_cfg(HEAD + params + routes)


def reason(result) -> str:  # type: ignore[no-untyped-def]
    """The reason phrase (the configs start it with "r: ": a reason starting with a pseudo-variable
    would be that pseudo-variable alone, as in Kamailio)."""
    return result.replies[0].msg.reason.removeprefix("r: ")


# ------------------------------------------------------------------ branches and sending


def test_append_branch_with_a_uri_and_q_keeps_the_destination_of_the_request(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { $du = "sip:proxy.example:5070"; '
                             'append_branch("sip:carol@example.net", "0.5"); '
                             'sl_send_reply("200", "r: $(branch(uri)[0]) $(branch(q)[0]) '
                             '$(branch(dst_uri)[0]) $du"); }')
    result = sip.send_request("OPTIONS", "sip:bob@127.0.0.1")
    assert reason(result) == "sip:carol@example.net 500 sip:proxy.example:5070 sip:proxy.example:5070"


def test_append_branch_without_a_uri_moves_the_ruri_and_its_destination_to_a_branch(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { $du = "sip:proxy.example"; append_branch(); '
                             'sl_send_reply("200", "r: $(branch(uri)[0]) $(branch(dst_uri)[0]) du=$du"); }')
    assert reason(sip.send_request("OPTIONS", "sip:bob@127.0.0.1")) == \
        "sip:bob@127.0.0.1 sip:proxy.example du=<null>"


def test_append_branch_refuses_a_bad_q(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { if (!append_branch("sip:a@b", "1.5")) { '
                             'sl_send_reply("500", "bad q"); exit; } sl_send_reply("200", "OK"); }')
    assert reason(sip.send_request("OPTIONS", "sip:bob@127.0.0.1")) == "bad q"


def test_send_udp_sends_the_message_as_received_to_the_destination(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { append_hf("X-Seen: 1\\r\\n"); send_udp("192.0.2.9:5090"); '
                             'sl_send_reply("200", "OK"); }')
    result = sip.send_request("MESSAGE", "sip:bob@127.0.0.1", body="hi")
    sent = result.requests("MESSAGE")[0]
    assert (sent.host, sent.port, sent.proto) == ("192.0.2.9", 5090, "udp")
    assert sent.msg.header("X-Seen") == "1" and len(sent.msg.vias) == 1  # no Via of ours


def test_send_tcp_without_a_destination_sends_to_the_next_hop(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { send_tcp(); sl_send_reply("200", "OK"); }')
    sent = sip.send_request("MESSAGE", "sip:bob@192.0.2.20:5070").requests("MESSAGE")[0]
    assert (sent.proto, sent.host, sent.port) == ("tcp", "192.0.2.20", 5070)


def test_send_data_and_sendx_send_raw_data_to_a_uri(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { send_data("sip:192.0.2.30:6000", "ping $rm"); '
                             'sendx("sip:192.0.2.31:6001", "udp:127.0.0.2:5062", "pong"); exit; }')
    sent = sip.send_request("OPTIONS", "sip:bob@127.0.0.1").sent
    assert [(s.host, s.port, s.data, s.local.host) for s in sent] == [
        ("192.0.2.30", 6000, b"ping OPTIONS", "127.0.0.1"), ("192.0.2.31", 6001, b"pong", "127.0.0.2")]


# ------------------------------------------------------------------ flags


def test_xflags_are_set_tested_and_reset_up_to_63(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { setxflag(40); isxflagset(40); $var(a) = $rc; resetxflag(40); '
                             'isxflagset(40); $var(b) = $rc; setxflag(64); $var(c) = $rc; '
                             'sl_send_reply("200", "r: $var(a) $var(b) $var(c)"); }')
    assert reason(sip.send_request("OPTIONS", "sip:bob@127.0.0.1")) == "1 -1 -1"


def test_msg_iflags(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { msg_iflag_set("UAC_AUTH"); msg_iflag_is_set("uac_auth"); '
                             '$var(a) = $rc; msg_iflag_is_set("USE_UAC_TO"); $var(b) = $rc; '
                             'msg_iflag_reset("NOPE"); $var(c) = $rc; sl_send_reply("200", "r: $var(a) '
                             '$var(b) $var(c)"); }')
    assert reason(sip.send_request("OPTIONS", "sip:bob@127.0.0.1")) == "1 -2 -1"


def test_via_flags_add_srvid_and_the_xavp_params_and_fields_to_our_via(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { via_add_srvid(1); via_add_xavp_params(1); '
                             'via_use_xavp_fields(1); '
                             '$xavp(vp=>a) = "x"; $xavp(vp[0]=>n) = 3; $xavp(vf=>address) = "edge.example"; '
                             'forward("192.0.2.40"); }')
    sent = sip.send_request("OPTIONS", "sip:bob@127.0.0.1").requests("OPTIONS")[0]
    top = sent.msg.get_all_raw("via")[0].decode()
    assert top.startswith("Via: SIP/2.0/UDP edge.example:5060;branch=z9hG4bK")
    assert top.endswith(";srvid=7;n=3;a=x")


# ------------------------------------------------------------------ sockets and addresses


def test_set_send_socket_and_set_send_socket_name_choose_the_sending_socket(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { if ($rU == "n") { set_send_socket_name("second"); } '
                             'else { set_send_socket("udp:127.0.0.2:5062"); } forward("192.0.2.41"); }')
    for user in ("a", "n"):
        sent = sip.send_request("OPTIONS", f"sip:{user}@127.0.0.1").requests("OPTIONS")[0]
        assert sent.local.host == "127.0.0.2"


def test_set_recv_socket_and_set_source_address_change_what_the_message_says(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { set_recv_socket("udp:127.0.0.2:5062"); '
                             'set_source_address("192.0.2.77:7000"); sl_send_reply("200", "r: $Ri:$Rp '
                             '$si:$sp"); }')
    reply = sip.send_request("OPTIONS", "sip:bob@127.0.0.1").replies[0]
    assert reply.msg.reason == "r: 127.0.0.2:5062 192.0.2.77:7000"
    assert (reply.host, reply.port) == ("192.0.2.77", 7000)  # the reply goes to the new source


def test_is_socket_name(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { is_socket_name("second"); $var(a) = $rc; is_socket_name("x"); '
                             '$var(b) = $rc; sl_send_reply("200", "r: $var(a) $var(b)"); }')
    assert reason(sip.send_request("OPTIONS", "sip:bob@127.0.0.1")) == "1 -1"


def test_is_faked_msg_is_true_only_in_routes_run_with_the_faked_message(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { is_faked_msg(); $var(a) = $rc; sl_send_reply("200", '
                             '"r: $var(a)"); }')
    assert reason(sip.send_request("OPTIONS", "sip:bob@127.0.0.1")) == "-1"
    assert sip.core.modules["corex"].is_faked_msg(sip.core.faked_context()) == 1


def test_alias_subdomains_makes_the_domain_and_its_subdomains_myself(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { if (uri == myself) { sl_send_reply("200", "me"); exit; } '
                             'sl_send_reply("404", "not me"); }', 'modparam("corex", "alias_subdomains", '
                             '"udp:example.org:5060")\n')
    assert reason(sip.send_request("OPTIONS", "sip:bob@a.b.example.org")) == "me"
    assert reason(sip.send_request("OPTIONS", "sip:bob@example.org")) == "me"
    assert reason(sip.send_request("OPTIONS", "sip:bob@badexample.org")) == "not me"
    assert reason(sip.send_request("OPTIONS", "sip:bob@a.example.org:5070")) == "not me"


def test_dns_cache_records_are_used_when_sending(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { forward("gw.test.invalid", "5090"); }',
                  'modparam("corex", "dns_cache", "name=gw.test.invalid;type=A;addr=192.0.2.88;ttl=600")\n')
    sent = sip.send_request("OPTIONS", "sip:bob@127.0.0.1").requests("OPTIONS")[0]
    assert (sent.host, sent.port) == ("192.0.2.88", 5090)


@pytest.mark.parametrize("param, value", [
    ("alias_subdomains", "xyz:example.org"), ("dns_cache", "name=a;addr=1.2.3.4;type=MX"),
    ("dns_cache", "type=A;addr=1.2.3.4"), ("nio_intercept", 1),
])
def test_a_bad_parameter_is_a_config_error(kampy_cfg, param, value):
    quoted = f'"{value}"' if isinstance(value, str) else value
    with pytest.raises(ConfigError):
        harness(kampy_cfg, 'request_route { exit; }', f'modparam("corex", "{param}", {quoted})\n')


# ------------------------------------------------------------------ files


def test_file_write_then_file_read(kampy_cfg, tmp_path: Path):
    path = tmp_path / "f.txt"
    sip = harness(kampy_cfg, f'request_route {{ file_write("{path}", "hello $rU"); '
                             f'file_read("{path}", "$var(c)"); sl_send_reply("200", "r: $var(c)"); }}')
    assert reason(sip.send_request("OPTIONS", "sip:bob@127.0.0.1")) == "hello bob"
    assert path.read_text() == "hello bob"


def test_file_read_of_a_missing_file_fails(kampy_cfg, tmp_path: Path):
    sip = harness(kampy_cfg, f'request_route {{ if (!file_read("{tmp_path}/none", "$var(c)")) {{ '
                             'sl_send_reply("500", "no file"); } }')
    assert reason(sip.send_request("OPTIONS", "sip:bob@127.0.0.1")) == "no file"


# ------------------------------------------------------------------ pseudo-variables, transformation


def test_cfg_pv_gives_the_line_file_and_route_of_the_action(kampy_cfg):
    sip = kampy_cfg(HEAD + 'request_route {\n route(R);\n}\nroute[R] {\n'
                    ' sl_send_reply("200", "r: $cfg(line) $cfg(route) $(cfg(file){s.len})");\n}\n')
    line, route, size = reason(sip.send_request("OPTIONS", "sip:bob@127.0.0.1")).split()
    assert (int(line), route) == (HEAD.count("\n") + 5, "R") and int(size) > 0


def test_lsock_finds_a_socket_by_name_listen_or_advertise(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { sl_send_reply("200", "r: $lsock(n/second/listen) '
                             '$lsock(l/udp:127.0.0.1:5060/name) $lsock(n/second/adv) $lsock(n/second/index) '
                             '[$lsock(a/udp:192.0.2.1:5080/nn)] $lsock(n/nope/ll)"); }')
    assert reason(sip.send_request("OPTIONS", "sip:bob@127.0.0.1")) == \
        "udp:127.0.0.2:5062 main udp:192.0.2.1:5080 1 [second] <null>"


def test_sock_transformation(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { $var(s) = "tcp:10.0.0.1:5070"; sl_send_reply("200", '
                             '"r: $(var(s){sock.host}) $(var(s){sock.port}) $(var(s){sock.proto}) '
                             '$(var(s){sock.touri})"); }')
    assert reason(sip.send_request("OPTIONS", "sip:bob@127.0.0.1")) == \
        "10.0.0.1 5070 tcp sip:10.0.0.1:5070;transport=tcp"


# ------------------------------------------------------------------ network io intercept


NIO = '''modparam("corex", "nio_intercept", 1)
modparam("corex", "nio_msg_avp", "$avp(nio)")
request_route { sl_send_reply("200", "r: $rm"); }
event_route[network:msg] {
  if (is_incoming()) {
    if ($rm == "OPTIONS") { $avp(nio) = $(mb{s.replace,OPTIONS sip,MESSAGE sip}); }
  } else {
    $avp(nio) = $(mb{s.replace,SIP/2.0 200,SIP/2.0 202});
  }
}
'''


def test_network_io_intercept_can_rewrite_what_is_received_and_sent(kampy_cfg):
    sip = kampy_cfg(HEAD + NIO)
    reply = sip.send_request("OPTIONS", "sip:bob@127.0.0.1").responses[0].msg
    assert (reply.status, reply.reason) == (202, "r: MESSAGE")


# ------------------------------------------------------------------ RPC


def test_rpc_list_sockets_and_aliases(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { exit; }', 'alias=sip.example.org:5060\n')
    sockets = sip.core.rpc.call("corex.list_sockets")
    assert [(s["PROTO"], s["NAME"], s["PORT"], s["SOCKNAME"], s["ADVERTISE"]) for s in sockets] == [
        ("udp", "127.0.0.1", "5060", "main", "-"), ("udp", "127.0.0.2", "5062", "second", "192.0.2.1"),
        ("tcp", "127.0.0.1", "5060", "-", "-")]
    aliases = sip.core.rpc.call("corex.list_aliases")
    assert aliases == [{"PROTO": "*", "ADDR": "sip.example.org", "PORT": 5060}]


def test_rpc_debug_reads_and_sets_the_cfg_debug_level(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { exit; }')
    assert sip.core.rpc.call("corex.debug") == {"debug": 0}
    try:
        assert sip.core.rpc.call("corex.debug", [2]) == {"old": 0, "new": 2}
        assert sip.core.cfg.read("core", None, "debug") == 2
    finally:
        sip.core.rpc.call("corex.debug", [0])


def test_rpc_shm(kampy_cfg):
    sip = harness(kampy_cfg, 'request_route { exit; }')
    info = sip.core.rpc.call("shm.info")
    stats = sip.core.rpc.call("shm.stats")
    assert info["size"] == stats["total"] == 64 * 1024 * 1024
    assert stats["used"] > 0 and stats["free"] == stats["total"] - stats["used"]
