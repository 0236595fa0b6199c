"""exec: exec_dset(), exec_msg(), exec_avp() and exec_cmd() running real shell commands, with the
environment Kamailio gives them (SIP_HF_*, SIP_TID, SIP_DID, SIP_SRCIP ...), setvars,
time_to_kill and bash_safety."""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

HEAD = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "exec.so"
{params}
request_route {{
    {body}
    sl_send_reply("200", "OK");
}}
"""


def run(kampy_cfg: Any, route: str, params: str = "", **request: Any) -> Any:
    sip = kampy_cfg(HEAD.format(params=params, body=route), db=None)
    return sip.send_request(request.pop("method", "OPTIONS"), request.pop("ruri", "sip:alice@example.test"),
                            **request)


def test_exec_dset_makes_the_lines_printed_the_destination_set(kampy_cfg: Any, tmp_path: Path) -> None:
    script = tmp_path / "dset.sh"
    script.write_text('#!/bin/sh\necho "sip:first@example.test"\necho\necho "sip:second@example.test  "\n'
                      f'echo "$1" > {tmp_path}/arg\n')
    script.chmod(0o755)
    result = run(kampy_cfg, f'$avp(rc) = exec_dset("{script}"); $avp(ru) = $ru; '
                            "$avp(b) = $(branch(uri)[0]);")
    assert (result.avp("rc"), result.avp("ru"), result.avp("b")) == (
        1, "sip:first@example.test", "sip:second@example.test")
    assert (tmp_path / "arg").read_text() == "sip:alice@example.test\n"  # the R-URI, in quotes


def test_exec_dset_without_output_or_with_a_failure_is_minus_1(kampy_cfg: Any) -> None:
    result = run(kampy_cfg, '$avp(a) = exec_dset("true"); $avp(b) = exec_dset("echo sip:x@y; exit 3"); '
                            "$avp(ru) = $ru;")
    assert (result.avp("a"), result.avp("b"), result.avp("ru")) == (-1, -1, "sip:x@y")


def test_exec_msg_gives_the_message_on_standard_input(kampy_cfg: Any, tmp_path: Path) -> None:
    out = tmp_path / "msg"
    result = run(kampy_cfg, f'$avp(rc) = exec_msg("cat > {out}");', method="MESSAGE", body="hello there",
                 call_id="exec-msg-1")
    assert result.avp("rc") == 1
    text = out.read_bytes()
    assert text.startswith(b"MESSAGE sip:alice@example.test SIP/2.0\r\n")
    assert b"Call-ID: exec-msg-1\r\n" in text and text.endswith(b"\r\n\r\nhello there")


def test_exec_avp_keeps_each_line_in_an_avp(kampy_cfg: Any) -> None:
    result = run(kampy_cfg, '$avp(a) = exec_avp("printf \'one\\\\ntwo\\\\n\\\\nthree\\\\n\'", '
                            '"$avp(first), $avp(second)");')
    assert result.avp("a") == 1
    assert (result.avp("first"), result.avp("second"), result.avp("i:3")) == ("one", "two", "three")


def test_exec_avp_without_a_list_uses_integer_names(kampy_cfg: Any) -> None:
    result = run(kampy_cfg, 'exec_avp("echo TEST; echo MORE");')
    assert (result.avp("i:1"), result.avp("i:2")) == ("TEST", "MORE")


def test_exec_cmd_returns_by_exit_status(kampy_cfg: Any, tmp_path: Path) -> None:
    result = run(kampy_cfg, f'$avp(a) = exec_cmd("echo TEST > {tmp_path}/$(rU).txt"); '
                            '$avp(b) = exec_cmd("exit 1");')
    assert (result.avp("a"), result.avp("b")) == (1, -1)
    assert (tmp_path / "alice.txt").read_text() == "TEST\n"


def env_of(kampy_cfg: Any, tmp_path: Path, params: str = "", **request: Any) -> dict[str, str]:
    out = tmp_path / "env"
    run(kampy_cfg, f'exec_msg("env > {out}");', params, **request)
    return dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)


def test_the_environment_holds_the_headers_and_kamailios_variables(kampy_cfg: Any, tmp_path: Path) -> None:
    env = env_of(kampy_cfg, tmp_path, ruri="sip:bob@example.test", call_id="env-1",
                 from_="sip:alice@example.test", headers={"X-Custom.Name": "one", "Subject": "hi"})
    assert env["SIP_HF_CALLID"] == "env-1"
    assert env["SIP_HF_X_CUSTOM_NAME"] == "one"
    assert env["SIP_HF_SUBJECT"] == "hi"
    assert env["SIP_HF_FROM"].startswith("<sip:alice@example.test>")
    assert env["SIP_RURI"] == env["SIP_ORUI"] == "sip:bob@example.test"
    assert env["SIP_USER"] == env["SIP_OUSER"] == "bob"
    assert env["SIP_SRCIP"] == "192.0.2.10"
    assert env["SIP_DID"] == ""
    assert len(env["SIP_TID"]) == 32


def test_the_transaction_id_is_kamailios_char_msg_val(kampy_cfg: Any, tmp_path: Path) -> None:
    out = tmp_path / "env"
    sip = kampy_cfg(HEAD.format(params="", body=f'exec_msg("env > {out}");'), db=None)
    sip.send("""
        OPTIONS sip:bob@example.test SIP/2.0
        Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-tid
        From: <sip:alice@example.test>;tag=ft
        To: <sip:bob@example.test>;tag=tt
        Call-ID: tid-1
        CSeq: 7 OPTIONS
        """)
    env = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    expected = hashlib.md5(b"ft" + b"tt" + b"tid-1" + b"sip:bob@example.test" + b"7" + b"192.0.2.10"
                           + b"5060" + b"z9hG4bK-tid").hexdigest()
    assert (env["SIP_TID"], env["SIP_DID"]) == (expected, "tt")


def test_a_header_occurring_twice_is_joined_with_a_comma(kampy_cfg: Any, tmp_path: Path) -> None:
    out = tmp_path / "env"
    sip = kampy_cfg(HEAD.format(params="", body=f'exec_msg("env > {out}");'), db=None)
    sip.send("""
        OPTIONS sip:bob@example.test SIP/2.0
        Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-two
        From: <sip:alice@example.test>;tag=ft
        t: <sip:bob@example.test>
        Call-ID: two-1
        CSeq: 1 OPTIONS
        X-Dup: a
        X-Dup: b
        """)
    env = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert env["SIP_HF_X_DUP"] == "a,b"
    assert env["SIP_HF_TO"] == "<sip:bob@example.test>"  # a compact name has its canonical variable


def test_setvars_0_gives_no_sip_variables(kampy_cfg: Any, tmp_path: Path) -> None:
    env = env_of(kampy_cfg, tmp_path, 'modparam("exec", "setvars", 0)')
    assert not [name for name in env if name.startswith("SIP_")]


def test_bash_safety_drops_the_parentheses_of_a_function_definition(kampy_cfg: Any, tmp_path: Path) -> None:
    env = env_of(kampy_cfg, tmp_path, headers={"X-Shock": "() { :; }; echo owned"})
    assert env["SIP_HF_X_SHOCK"] == " { :; }; echo owned"
    env = env_of(kampy_cfg, tmp_path, 'modparam("exec", "bash_safety", 0)',
                 headers={"X-Shock": "() { :; }; echo owned"})
    assert env["SIP_HF_X_SHOCK"] == "() { :; }; echo owned"


def test_time_to_kill_stops_a_command_that_runs_too_long(kampy_cfg: Any) -> None:
    started = time.monotonic()
    result = run(kampy_cfg, '$avp(rc) = exec_cmd("sleep 30");', 'modparam("exec", "time_to_kill", 1)')
    assert result.avp("rc") == -1
    assert time.monotonic() - started < 10
