"""The kampy pytest plugin (kampy.testing): fixtures through pytester, the harness directly."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kampy.config.pipeline import load_text
from kampy.runtime.context import Socket, Source
from kampy.runtime.server import Server
from kampy.testing import Answer, Harness, StandInError, raw_message

pytest_plugins = ["pytester"]

CFG = '''
loadmodule "sl.so"
loadmodule "textops.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
request_route {
    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
    $avp(seen) = $rU;
    setflag(4);
    route(CHECK);
    if (is_method("OPTIONS")) { sl_send_reply("200", "Hello $rU"); exit; }
    $du = "sip:192.0.2.99:5070";
    forward();
}
route[CHECK] {
    if ($rU == "deny") { sl_send_reply("403", "Denied"); exit; }
}
'''

NAT_CFG = '''
loadmodule "sl.so"
loadmodule "nat_traversal.so"
modparam("nat_traversal", "keepalive_interval", 60)
request_route {
    if (client_nat_test("3")) { sl_send_reply("200", "Behind NAT"); exit; }
    sl_send_reply("500", "Not Behind NAT");
}
'''


@pytest.fixture
def sip() -> Harness:
    with Harness.load(CFG) as harness:
        yield harness


# ------------------------------------------------------------ through pytest itself


def test_plugin_is_registered_and_fixture_works(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cfg=f'''
CFG = """{CFG}"""

def test_options(kampy_cfg):
    sip = kampy_cfg(CFG)
    result = sip.send_request("OPTIONS", "sip:bob@example.test")
    result.assert_reply(200, "Hello bob")
    assert result.routes == ["request_route", "route[CHECK]"]
''')
    outcome = pytester.runpytest("-p", "no:cacheprovider")
    outcome.assert_outcomes(passed=1)


def test_wrong_reply_shows_request_routes_and_reply(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cfg=f'''
CFG = """{CFG}"""

def test_helper(kampy_cfg):
    kampy_cfg(CFG).send_request("MESSAGE", "sip:deny@example.test", body="x").assert_reply(202)

def test_plain_assert(kampy_cfg):
    assert kampy_cfg(CFG).send_request("MESSAGE", "sip:deny@example.test", body="x").status == 202
''')
    outcome = pytester.runpytest("-p", "no:cacheprovider")
    outcome.assert_outcomes(failed=2)
    text = outcome.stdout.str()
    assert "expected a 202 reply, got SIP/2.0 403 Denied" in text
    assert "reply status 403 == 202" in text
    for expected in ("MESSAGE sip:deny@example.test SIP/2.0", "route[CHECK]", "sl_send_reply",
                     "SIP/2.0 403 Denied"):
        assert text.count(expected) >= 2, expected


def test_entry_point_declared() -> None:
    setup = (Path(__file__).resolve().parent.parent / "setup.cfg").read_text()
    assert "pytest11 =\n    kampy = kampy.testing.plugin" in setup


# ------------------------------------------------------------ the harness


def test_results_as_plain_objects(sip: Harness) -> None:
    result = sip.send_request("INVITE", "sip:bob@example.test", src="192.0.2.33:5099")
    (out,) = result.forwarded
    assert (out.proto, out.host, out.port) == ("udp", "192.0.2.99", 5070)
    assert out.data.startswith(b"INVITE sip:bob@example.test SIP/2.0\r\n")
    assert out.msg.vias[1].params.get("received") == "192.0.2.33"
    assert result.du == "sip:192.0.2.99:5070" and result.ru == "sip:bob@example.test"
    assert result.flag(4) and result.avp("seen") == "bob"
    assert result.calls[0].function == "mf_process_maxfwd_header" and result.codes("forward") == [1]


def test_raw_sip_text_and_tcp(sip: Harness) -> None:
    result = sip.send("""
        OPTIONS sip:carol@example.test SIP/2.0
        Via: SIP/2.0/TCP 192.0.2.40:5080;branch=z9hG4bK-raw1
        From: <sip:alice@example.test>;tag=1
        To: <sip:carol@example.test>
        Call-ID: raw-1
        CSeq: 1 OPTIONS
        Max-Forwards: 70
        """, src="tcp:192.0.2.40:5080")
    reply = result.assert_reply(200, "Hello carol")
    assert reply.proto == "tcp" and reply.conn_id is not None
    assert raw_message("A\nB: c\n\nbody") == b"A\r\nB: c\r\nContent-Length: 4\r\n\r\nbody"


def test_defines_and_modparams(tmp_path: Path) -> None:
    cfg = tmp_path / "k.cfg"
    cfg.write_text('#!trydef CODE "404"\nloadmodule "sl.so"\nloadmodule "maxfwd.so"\n'
                   'modparam("maxfwd", "max_limit", 20)\n'
                   'request_route { sl_send_reply(CODE, "Nope"); }\n')
    with Harness.load(cfg, defines={"CODE": '"410"'}, modparams={"maxfwd": {"max_limit": 30}}) as sip:
        sip.send_request("OPTIONS", "sip:x@example.test").assert_reply(410)
        assert sip.compiled.modules["maxfwd"].params["max_limit"] == 30
    with pytest.raises(ValueError, match="takes integer"):
        Harness.load(cfg, modparams={"maxfwd": {"max_limit": "30"}})


def test_a_parameter_set_several_times_gets_one_more_value_or_a_list_instead(tmp_path: Path) -> None:
    cfg = tmp_path / "k.cfg"
    cfg.write_text('loadmodule "rtpproxy.so"\nmodparam("rtpproxy", "rtpproxy_sock", "udp:127.0.0.1:7722")\n'
                   'request_route { exit; }\n')
    more = {"rtpproxy": {"rtpproxy_sock": "udp:127.0.0.1:7724"}}
    with Harness.load(cfg, modparams=more, db=None) as sip:
        assert sip.compiled.modules["rtpproxy"].params["rtpproxy_sock"] == ["udp:127.0.0.1:7722",
                                                                           "udp:127.0.0.1:7724"]
    instead = {"rtpproxy": {"rtpproxy_sock": ["udp:127.0.0.1:7724"]}}
    with Harness.load(cfg, modparams=instead, db=None) as sip:
        assert sip.compiled.modules["rtpproxy"].params["rtpproxy_sock"] == ["udp:127.0.0.1:7724"]
    with pytest.raises(ValueError, match="takes string"):
        Harness.load(cfg, modparams={"rtpproxy": {"rtpproxy_sock": [7724]}})


def test_stand_ins(tmp_path: Path) -> None:
    with pytest.raises(StandInError, match=r"client_nat_test\(\) \(line 6\)"):
        Harness.load(NAT_CFG)
    with Harness.load(NAT_CFG, standins={"client_nat_test": -1}) as sip:
        sip.send_request("INVITE", "sip:bob@example.test").assert_reply(500)
    seen = []
    with Harness.load(NAT_CFG, standins={"client_nat_test": lambda ctx, tests: seen.append(tests)}) as sip:
        result = sip.send_request("INVITE", "sip:bob@example.test")
        result.assert_reply(200, "Behind NAT")
        assert seen == ["3"] and result.codes("client_nat_test") == [1]
        assert sip.stand_in_calls("client_nat_test") == [("3",)]


def test_kampy_check_lists_functions_kampy_lacks(tmp_path: Path) -> None:
    cfg = tmp_path / "nat.cfg"
    cfg.write_text(NAT_CFG)
    done = subprocess.run([sys.executable, "-m", "kampy", "check", str(cfg)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "note: the config uses what kampy lacks" in done.stderr
    assert "module nat_traversal (loaded at line 3), which kampy does not have: parameter " \
        "keepalive_interval (line 4); client_nat_test() (line 6)" in done.stderr


def test_tracing_is_off_unless_asked() -> None:
    sock = Socket("udp", "127.0.0.1", 5060)
    server = Server.from_config(load_text(CFG), sockets=[sock])
    assert server.engine.tracer is None
    data = (b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-1\r\n"
            b"From: <sip:a@x>;tag=1\r\nTo: <sip:bob@x>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\n\r\n")
    assert server.handle(data, Source("udp", "192.0.2.1", 5060, sock))


PROXY = '''
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("tm", "fr_timer", 4000)
request_route {
    if (method == "REGISTER") { save("location"); exit; }
    if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
    t_on_failure("F");
    t_relay();
}
failure_route[F] {
    $avp(code) = $T_reply_code;
    t_reply("599", "Tried");
}
'''


@pytest.mark.parametrize("answer, status, after", [(200, 200, 0), (405, 599, 0), (None, 599, 5),
                                                    ([180, Answer(200, after=2)], 200, 2)])
def test_simulated_user_agents(answer, status, after) -> None:
    with Harness.load(PROXY.replace("$avp(code) = $T_reply_code;", "")) as sip:
        bob = sip.ua("sip:bob@example.test", "192.0.2.20:5062", answer=answer)
        bob.register().assert_reply(200)
        result = sip.send_request("MESSAGE", "sip:bob@example.test", body="hi")
        if after:
            assert result.status != status
            result = sip.advance(after)
            assert [r.status for r in result.responses][-1] == status
        else:
            result.assert_reply(status)
        assert bob.messages and bob.messages[0].body == b"hi"


def test_advance_fires_timers_in_order() -> None:
    with Harness.load(PROXY.replace("$avp(code) = $T_reply_code;", "")) as proxy:
        bob = proxy.ua("sip:bob@example.test", "192.0.2.20:5062")
        bob.register(expires=60)
        proxy.send_request("MESSAGE", "sip:bob@example.test", body="1").assert_reply(200)
        start = proxy.clock.time()
        proxy.advance(3600)
        assert proxy.clock.time() - start == 3600
        proxy.send_request("MESSAGE", "sip:bob@example.test", body="2").assert_reply(404)


def test_tables_seed_and_read(tmp_path: Path) -> None:
    cfg = 'loadmodule "sl.so"\nloadmodule "msilo.so"\nloadmodule "tm.so"\nrequest_route { exit; }\n'
    with Harness.load(cfg, workdir=tmp_path) as sip:
        assert sip.db_url == f"sqlite://{tmp_path}/kampy.sqlite"
        silo = sip.tables["silo"]
        silo.insert({"src_addr": "sip:a@x", "dst_addr": "sip:b@x", "username": "b", "domain": "x",
                     "body": b"hi"})
        assert [r["body"] for r in silo.rows()] == [b"hi"] and len(silo) == 1
        assert silo.delete() == 1
