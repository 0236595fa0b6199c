"""Stand-ins: what kampy lacks is refused until a test stands it in (all of it listed at once, as
`kampy check` lists it), and a stand-in replaces a whole module from Kamailio's declaration of it:
parameters, functions, pseudo-variables, transformations."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kampy.errors import ConfigError
from kampy.testing import Harness, StandInError, stand_in

# ims_dialog, call_control and msrp are Kamailio modules kampy does not have (yet); $ksr is pv's,
# which kampy lacks. (htable, pike, dialog and pv's $snd stood in here until kampy had them.)
FLOOD = '''
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "ims_dialog.so"
loadmodule "call_control.so"
loadmodule "msrp.so"
modparam("ims_dialog", "rr_param", "did")
modparam("call_control", "socket_timeout", 2)
request_route {
    if ($dlg_var($si) != $null) {
        exit;
    }
    if (!call_control()) {
        $dlg_var($si) = 1;
        sl_send_reply("403", "Flood");
        exit;
    }
    if ($ksr(ip) != $null) {
        sl_send_reply("302", "To $ksr(ip)");
        exit;
    }
    sl_send_reply("200", "$(rU{msrpuri.host})");
}
'''
STOOD_IN = {"ims_dialog": stand_in(), "call_control": stand_in(), "msrp": stand_in(), "pv": stand_in()}


def check(cfg: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kampy", "check", *flags, str(cfg)], capture_output=True,
                          text=True)


def load(cfg: str = FLOOD, **standins) -> Harness:
    return Harness.load(cfg, standins={**STOOD_IN, **standins})


# ------------------------------------------------------------ one rule, one list


def test_everything_kampy_lacks_is_listed_at_once() -> None:
    with pytest.raises(StandInError) as caught:
        Harness.load(FLOOD)

    text = str(caught.value)
    assert "module ims_dialog (loaded at line 5), which kampy does not have: parameter rr_param (line 8); " \
        "$dlg_var (lines 11, 15)" in text
    assert "module call_control (loaded at line 6), which kampy does not have: parameter socket_timeout " \
        "(line 9); call_control() (line 14)" in text
    assert "module msrp (loaded at line 7), which kampy does not have: {msrpuri.host} (line 23)" in text
    assert "module pv: what kampy's module lacks: $ksr (lines 19, 20)" in text
    assert ('"ims_dialog": stand_in(), "call_control": stand_in(), "msrp": stand_in(), "pv": stand_in()'
            in text)


def test_kampy_check_reports_the_same_list(tmp_path: Path) -> None:
    cfg = tmp_path / "flood.cfg"
    cfg.write_text(FLOOD)

    strict = check(cfg)
    allowed = check(cfg, "--allow-missing")

    assert strict.returncode == 1 and "error: kampy has no module 'ims_dialog'" in strict.stderr
    assert allowed.returncode == 0, allowed.stderr
    warnings = [line for line in allowed.stderr.splitlines() if ": warning: " in line]
    assert [w.split(": warning: ")[1] for w in warnings] == [
        "kampy has no module 'ims_dialog': parameter rr_param (line 8); $dlg_var (lines 11, 15); "
        "a test must stand it in",
        "kampy has no module 'call_control': parameter socket_timeout (line 9); call_control() (line 14); "
        "a test must stand it in",
        "kampy has no module 'msrp': {msrpuri.host} (line 23); a test must stand it in",
        "kampy's module 'pv' lacks what the config uses: $ksr (lines 19, 20); a test must stand it in",
    ]
    assert "flood.cfg: OK" in allowed.stdout


def test_kampy_check_allow_missing_checks_the_rest_against_kamailios_declarations(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(FLOOD.replace("call_control()", "call_control(1)").replace(
        '"socket_timeout", 2', '"socket_timeout", "2"'))

    done = check(cfg, "--allow-missing")

    assert done.returncode == 1
    assert "parameter 'socket_timeout' of module 'call_control' takes integer, not a string" in done.stderr
    assert "call_control() takes 0 arguments, 1 given" in done.stderr


# ------------------------------------------------------------ whole modules


def test_a_stood_in_pseudo_variable_keeps_what_the_config_writes() -> None:
    with load(call_control=stand_in({"call_control": -1})) as sip:
        first = sip.send_request("OPTIONS", "sip:bob@127.0.0.1", src="192.0.2.66:5060")
        again = sip.send_request("OPTIONS", "sip:bob@127.0.0.1", src="192.0.2.66:5060")

        first.assert_reply(403, "Flood")
        again.assert_no_reply()
        assert sip.stand_in("ims_dialog").pvars == {"dlg_var": {"192.0.2.66": 1}}


def test_a_stood_in_pseudo_variable_reads_what_the_test_gives() -> None:
    with load(ims_dialog=stand_in(pvars={"dlg_var": {"192.0.2.66": 1}})) as sip:
        sip.send_request("OPTIONS", "sip:bob@127.0.0.1", src="192.0.2.66:5060").assert_no_reply()
        sip.send_request("OPTIONS", "sip:bob@127.0.0.1", src="192.0.2.67:5060").assert_reply(200)


def test_a_pseudo_variable_stand_in_may_compute_its_value() -> None:
    gateway = {"ip": "192.0.2.30"}
    with load(pv=stand_in(pvars={"ksr": lambda ctx, name: gateway.get(name)})) as sip:
        sip.send_request("OPTIONS", "sip:bob@127.0.0.1").assert_reply(302, "To 192.0.2.30")


def test_stood_in_functions_return_the_default_and_are_recorded() -> None:
    with load(call_control=stand_in(default=1)) as sip:
        sip.send_request("OPTIONS", "sip:bob@127.0.0.1").assert_reply(200)
        assert sip.stand_in_calls("call_control") == [()]


def test_stood_in_parameters_are_kept_with_their_declared_types() -> None:
    with load() as sip:
        assert sip.stand_in("call_control").params == {"socket_timeout": 2}
        assert sip.stand_in("ims_dialog").params == {"rr_param": "did"}
    with pytest.raises(ConfigError, match="takes integer, not a string"):
        load(FLOOD.replace('"socket_timeout", 2', '"socket_timeout", "2"'))
    with pytest.raises(ConfigError, match="module 'call_control' has no parameter 'socket_time'"):
        load(FLOOD.replace('"socket_timeout"', '"socket_time"'))


def test_a_stood_in_transformation_leaves_the_value_or_computes_it() -> None:
    with load() as sip:
        sip.send_request("OPTIONS", "sip:bob@127.0.0.1").assert_reply(200, "bob")
    with load(msrp=stand_in(transforms={"msrpuri": lambda value, name: f"{name} of {value}"})) as sip:
        sip.send_request("OPTIONS", "sip:bob@127.0.0.1").assert_reply(200, "host of bob")


def test_a_stand_in_function_works_on_the_message_through_ctx() -> None:
    seen = []

    def check(ctx) -> int:
        seen.append((ctx.method, ctx.source, ctx.header("User-Agent"), ctx.ruri))
        ctx.reply(429, "Slow Down", headers={"Retry-After": "5"})
        return 0

    with load(call_control=stand_in({"call_control": check})) as sip:
        result = sip.send_request("OPTIONS", "sip:bob@127.0.0.1", headers={"User-Agent": "phone/1"})

    reply = result.assert_reply(429, "Slow Down")
    assert reply.header("Retry-After") == "5"
    assert seen == [("OPTIONS", "udp:192.0.2.10:5060", "phone/1", "sip:bob@127.0.0.1")]
    assert result.codes("call_control") == [0]


def test_a_module_kampy_knows_nothing_of_is_stood_in_from_what_the_config_uses() -> None:
    cfg = ('loadmodule "sl.so"\nloadmodule "pv.so"\nloadmodule "acme_fraud.so"\n'
           'modparam("acme_fraud", "level", 3)\n'
           'request_route { if (acme_check("$fU", "strict")) { sl_send_reply("200", "Clean"); } }\n')
    with Harness.load(cfg, standins={"acme_fraud": stand_in()}) as sip:
        sip.send_request("OPTIONS", "sip:bob@127.0.0.1").assert_reply(200, "Clean")
        assert sip.stand_in_calls("acme_check") == [("alice", "strict")]
        assert sip.stand_in("acme_fraud").params == {"level": 3}


# ------------------------------------------------------------ stand-ins that stand in nothing


def test_a_stand_in_for_what_kampy_has_is_refused() -> None:
    with pytest.raises(StandInError, match="stand-in for module sl: kampy has all the config uses of it"):
        load(sl=stand_in({"sl_send_reply": 1}))
    with pytest.raises(StandInError, match=r"calls no function sl_send_reply\(\) that kampy lacks"):
        load(sl_send_reply=1)


def test_a_stand_in_for_a_module_the_config_does_not_load_is_refused() -> None:
    with pytest.raises(StandInError, match="stand-in for module rtpengine: the config does not load it"):
        load(rtpengine=stand_in())


def test_a_stand_in_naming_what_the_module_does_not_declare_is_refused() -> None:
    with pytest.raises(StandInError, match=r"stand-in for module call_control: call_ctrl\(\) is nothing "
                                           "Kamailio's module declares"):
        load(call_control=stand_in({"call_ctrl": 1}))


def test_function_stand_ins_need_one_for_each_function_of_their_module() -> None:
    cfg = ('loadmodule "sl.so"\nloadmodule "lcr.so"\nrequest_route {\n'
           '    if (load_gws("1")) { next_gw(); }\n    sl_send_reply("200", "OK");\n}\n')
    with pytest.raises(StandInError, match=r"module lcr: the test stood in some of its functions, "
                                           r"not next_gw\(\) \(line 4\)"):
        Harness.load(cfg, standins={"load_gws": 1})
    with Harness.load(cfg, standins={"load_gws": 1, "next_gw": 1}) as sip:
        sip.send_request("OPTIONS", "sip:bob@127.0.0.1").assert_reply(200)
