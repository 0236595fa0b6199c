"""permissions' allow/deny rule files: allow_routing(), allow_register(), allow_uri() and the
permissions.testUri RPC, with files beside the config as Kamailio reads them."""
from __future__ import annotations

from pathlib import Path

import pytest

from kampy.testing import Harness
from kampy.modules.permissions.rules import parse_line

HEAD = ('loadmodule "sl.so"\nloadmodule "pv.so"\nloadmodule "textops.so"\nloadmodule "corex.so"\n'
        'loadmodule "permissions.so"\n'
        'modparam("permissions", "load_backends", 12)\n')


@pytest.fixture
def load(kampy_cfg, tmp_path: Path):
    def make(route: str, files: dict[str, str], params: str = "") -> Harness:
        for name, text in files.items():
            (tmp_path / name).write_text(text)
        cfg = tmp_path / "kamailio.cfg"
        cfg.write_text(HEAD + params + "request_route {\n" + route + "\n}\n")
        return kampy_cfg(cfg, db=None)
    return make


ROUTING = 'if ({call}) {{ sl_send_reply("200", "allowed"); exit; }}\nsl_send_reply("403", "denied");'
DEFAULTS = {
    "permissions.allow": '# allowed\n"sip:alice@.*" : "sip:.*@example\\.test"\nALL : "sip:911@.*"\n',
    "permissions.deny": 'ALL EXCEPT "sip:admin@.*" : ALL\n',
}


def call(sip: Harness, ruri: str, from_: str) -> str:
    return sip.send_request("INVITE", ruri, from_=from_).reply.reason


def test_allow_routing_allows_by_the_allow_file(load) -> None:
    sip = load(ROUTING.format(call="allow_routing()"), DEFAULTS)
    assert call(sip, "sip:bob@example.test", "sip:alice@example.test") == "allowed"
    assert call(sip, "sip:911@pstn.test", "sip:eve@example.test") == "allowed"


def test_allow_routing_denies_by_the_deny_file_and_its_exceptions(load) -> None:
    sip = load(ROUTING.format(call="allow_routing()"), DEFAULTS)
    assert call(sip, "sip:bob@elsewhere.test", "sip:alice@example.test") == "denied"
    assert call(sip, "sip:bob@elsewhere.test", "sip:admin@example.test") == "allowed"


def test_the_rules_compare_without_case(load) -> None:
    sip = load(ROUTING.format(call="allow_routing()"), DEFAULTS)
    assert call(sip, "sip:bob@EXAMPLE.test", "sip:ALICE@example.test") == "allowed"


def test_no_files_allow_everything(load) -> None:
    assert call(load(ROUTING.format(call="allow_routing()"), {}), "sip:x@y.test", "sip:e@f.test") == "allowed"


def test_every_branch_must_be_allowed(load) -> None:
    route = ('append_branch("sip:carol@elsewhere.test");\n' + ROUTING.format(call="allow_routing()"))
    sip = load(route, DEFAULTS)
    assert call(sip, "sip:bob@example.test", "sip:alice@example.test") == "denied"


def test_check_all_branches_0_looks_at_the_ruri_only(load) -> None:
    route = 'append_branch("sip:carol@elsewhere.test");\n' + ROUTING.format(call="allow_routing()")
    sip = load(route, DEFAULTS, 'modparam("permissions", "check_all_branches", 0)\n')
    assert call(sip, "sip:bob@example.test", "sip:alice@example.test") == "allowed"


def test_allow_routing_with_a_basename_and_with_two_files(load) -> None:
    files = {"rules.allow": "ALL : \"sip:ok@.*\"\n", "rules.deny": "ALL : ALL\n",
             "other.allow": "", "other.deny": "\"sip:eve@.*\" : ALL\n"}
    sip = load('if ($rU == "two") {\n' + ROUTING.format(call='allow_routing("other.allow", "other.deny")')
               + '\n}\n' + ROUTING.format(call='allow_routing("rules")'), files)
    assert call(sip, "sip:ok@x.test", "sip:eve@x.test") == "allowed"
    assert call(sip, "sip:no@x.test", "sip:eve@x.test") == "denied"
    assert call(sip, "sip:two@x.test", "sip:eve@x.test") == "denied"
    assert call(sip, "sip:two@x.test", "sip:bob@x.test") == "allowed"


def test_allow_register_checks_to_and_each_contact(load) -> None:
    files = {"register.allow": "", "register.deny": 'ALL : "^sip:.*@10\\.0\\.0\\.1$"\n'}
    route = ROUTING.format(call='allow_register("register")')
    sip = load(route, files)
    ok = sip.send_request("REGISTER", "sip:example.test", contact="<sip:alice@192.0.2.5:5060>")
    assert ok.reply.reason == "allowed"
    bad = sip.send_request("REGISTER", "sip:example.test", contact="<sip:alice@10.0.0.1:5060;transport=udp>")
    assert bad.reply.reason == "denied"  # the plain URI sip:user@host is compared
    star = sip.send_request("REGISTER", "sip:example.test", headers={"Contact": "*", "Expires": "0"})
    assert star.reply.reason == "allowed"


def test_allow_uri_checks_from_and_the_uri_in_a_variable(load) -> None:
    files = {"uri.allow": '"sip:alice@.*" : "sip:bob@.*"\n', "uri.deny": "ALL : ALL\n"}
    sip = load('$var(u) = $hdr(X-Target);\n' + ROUTING.format(call='allow_uri("uri", "$var(u)")'), files)
    ask = lambda target: sip.send_request("MESSAGE", "sip:x@x.test",  # noqa: E731
                                          headers={"X-Target": target}).reply.reason
    assert ask("sip:bob@example.test") == "allowed"
    assert ask("sip:carol@example.test") == "denied"


def test_test_uri_rpc_answers_for_a_loaded_basename(load) -> None:
    files = {"uri.allow": '"sip:alice@.*" : "sip:bob@.*"\n', "uri.deny": "ALL : ALL\n"}
    sip = load(ROUTING.format(call='allow_uri("uri", "$ru")'), files)
    rpc = sip.core.rpc
    assert rpc.call("permissions.testUri", ["uri", "sip:alice@x", "sip:bob@y"]) == "Allowed"
    assert rpc.call("permissions.allowUri", ["uri", "sip:alice@x", "sip:carol@y"]) == "Denied"
    assert rpc.call("permissions.testUri", ["never-loaded", "sip:a@x", "sip:b@y"]) == "Denied"


@pytest.mark.parametrize(("line", "parsed"), [
    ("", False), ("# only a comment", False), ("   \t", False),
    ("ALL : ALL", True), ('"sip:a:b@x" : ALL', True), ("no colon here", False), (": ALL", False),
    ("ALL :", False), ('"(unclosed" : ALL', False),
])
def test_which_lines_make_rules(line: str, parsed: bool) -> None:
    assert (parse_line(line + "\n") is not None) == parsed
