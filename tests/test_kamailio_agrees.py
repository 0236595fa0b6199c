"""kampy accepts what Kamailio 5.6 accepts and refuses what it refuses: each test runs `kamailio -c`
and `kampy check` on the same text and checks both verdicts, then what kampy says and where."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.kamailio_check import both, kamailio_check, kampy_check

REPO = Path(__file__).resolve().parent.parent
STOCK = REPO / "tests" / "data" / "kamailio-stock.cfg"
ROUTE = 'loadmodule "sl.so"\nrequest_route {\n    sl_send_reply("200", "OK");\n}\n'


def assert_both_accept(tmp_path: Path, text: str, *defines: str) -> str:
    kamailio, kampy = both(tmp_path, text, *defines)
    assert kamailio.accepted, kamailio.output
    assert kampy.accepted, kampy.output
    assert "Traceback" not in kampy.output
    return kampy.output


def assert_both_refuse(tmp_path: Path, text: str, *defines: str) -> str:
    kamailio, kampy = both(tmp_path, text, *defines)
    assert not kamailio.accepted, kamailio.output
    assert not kampy.accepted, kampy.output
    assert "Traceback" not in kampy.output
    return kampy.output


# ---------------------------------------------------------------- the preprocessor's directives

def test_stray_endif_then_an_ifdef_left_open_is_accepted_with_warnings(tmp_path):
    out = assert_both_accept(tmp_path, "#!endif\n" + ROUTE + "#!ifdef NOT_DEFINED\n")
    assert "kamailio.cfg:1:1: warning: #!endif without an open #!ifdef" in out
    assert "kamailio.cfg:6:1: warning: #!ifdef is never closed" in out


def test_stray_else_is_a_warning_and_the_text_after_it_is_read(tmp_path):
    out = assert_both_accept(tmp_path, "#!else\n" + ROUTE)
    assert "kamailio.cfg:1:1: warning: #!else without an open #!ifdef" in out


def test_an_extra_endif_alone_is_refused_as_kamailio_refuses_it(tmp_path):
    out = assert_both_refuse(tmp_path, ROUTE + "#!endif\n")
    assert "kamailio.cfg:5:1: error: #!endif without a matching #!ifdef" in out
    assert "1 more #!endif as #!if[n]def" in out


def test_an_ifdef_left_open_alone_is_refused_as_kamailio_refuses_it(tmp_path):
    out = assert_both_refuse(tmp_path, "#!ifndef NOT_DEFINED\n" + ROUTE)
    assert "kamailio.cfg:1:1: error: #!ifndef is never closed" in out


def test_endif_without_a_line_break_at_the_end_is_no_directive(tmp_path):
    out = assert_both_refuse(tmp_path, "#!ifndef NOT_DEFINED\n" + ROUTE + "#!endif")
    assert "kamailio.cfg:6:1: note: this line is not an #!else/#!endif for Kamailio" in out


def test_substdef_replacement_with_a_group_the_pattern_lacks_is_kept(tmp_path):
    text = '#!substdef "/GREETING/hello\\1world/"\n' + ROUTE.replace('"OK"', '"GREETING"')
    assert_both_accept(tmp_path, text)


def test_subst_rule_matching_the_empty_string_leaves_strings_alone(tmp_path):
    assert_both_accept(tmp_path, '#!subst "/x{,2}/y/"\n' + ROUTE)  # "sl.so" stays "sl.so"


def test_listen_and_alias_take_a_define_holding_a_host_name_with_a_dash(tmp_path):
    text = ("#!define MYHOST my-host\n#!define SHOP 7-eleven.example.test\nlisten=udp:127.0.0.1:5060\n"
            "alias=MYHOST\nalias=udp:SHOP:5070\n" + ROUTE)
    assert_both_accept(tmp_path, text)


def test_comment_left_open_at_the_end_runs_to_the_end_of_the_file(tmp_path):
    out = assert_both_accept(tmp_path, ROUTE + "/* never closed\nrequest_route {\n")
    assert "kamailio.cfg:5:1: warning: unterminated /* comment" in out


def test_undef_of_a_name_never_defined_is_accepted(tmp_path):
    out = assert_both_accept(tmp_path, "#!undef NEVER_DEFINED\n" + ROUTE)
    assert "kamailio.cfg:1:1: warning: #!undef is a directive of Kamailio 5.7 and later" in out


# ---------------------------------------------------------------- never a traceback

def test_modparam_with_an_undefined_name_is_invalid_arguments(tmp_path):
    text = 'loadmodule "sl.so"\nloadmodule "auth.so"\nmodparam("sl", "bind_tm", UNDEFINED)\n'
    out = assert_both_refuse(tmp_path, text)
    assert "kamailio.cfg:3:27: error: Invalid arguments" in out


def test_stock_config_with_auth_but_no_mysql_is_refused_at_its_dburl(tmp_path):
    kamailio, kampy = kamailio_check(STOCK, "WITH_AUTH"), kampy_check(STOCK, "WITH_AUTH")
    assert not kamailio.accepted and "line 414, column 31-35: Invalid arguments" in kamailio.output
    assert not kampy.accepted
    assert f"{STOCK}:414:31: error: Invalid arguments" in kampy.output


# ---------------------------------------------------------------- core parameters' types and ranges

@pytest.mark.parametrize(("line", "message"), [
    ("children=abc", "kamailio.cfg:1:10: error: children: number expected, not abc"),
    ('children="two"', 'kamailio.cfg:1:10: error: children: number expected, not "two"'),
    ("children=-1", "kamailio.cfg:1:10: error: children: number expected, not -1"),
    ("fork=maybe", "kamailio.cfg:1:6: error: fork: boolean value expected, not maybe"),
    ("debug=abc", "kamailio.cfg:1:7: error: debug: number expected, not abc"),
    ('log_name=kampy', "kamailio.cfg:1:10: error: log_name: string value expected, not kampy"),
    ("log_facility=LOG_NOWHERE", "kamailio.cfg:1:14: error: log_facility: bad facility LOG_NOWHERE"),
    ("log_facility=local0", "kamailio.cfg:1:14: error: log_facility: bad facility local0"),
    ("listen=udp:999.1.1.1:5060", "kamailio.cfg:1:12: error: invalid ipv4 address 999.1.1.1"),
])
def test_core_parameter_of_the_wrong_type_is_refused(tmp_path, line, message):
    assert message in assert_both_refuse(tmp_path, line + "\n" + ROUTE)


@pytest.mark.parametrize("line", [
    "children=0", "children=0x4", "fork=yes", "debug=-2", "log_facility=log_local0", 'log_name="kampy"',
    "user_agent_header=\"User-Agent: x\"", "tcp_connection_lifetime=-1", "tcp_accept_aliases=on",
])
def test_core_parameter_of_the_right_type_is_accepted(tmp_path, line):
    assert_both_accept(tmp_path, line + "\n" + ROUTE)


def test_listen_port_above_65535_is_accepted_and_wrapped_as_kamailio_does(tmp_path):
    out = assert_both_accept(tmp_path, "listen=udp:127.0.0.1:99999\n" + ROUTE)
    assert "kamailio.cfg:1:8: warning: port 99999 is above 65535: Kamailio uses it modulo 65536, 34463" in out


def test_empty_file_is_refused(tmp_path):
    out = assert_both_refuse(tmp_path, "")
    assert "kamailio.cfg:1:1: error: the config has no statement" in out


def test_file_of_comments_and_defines_only_is_refused(tmp_path):
    out = assert_both_refuse(tmp_path, "# nothing here\n#!define X 1\n/* still nothing */\n")
    assert "kamailio.cfg:1:1: error: the config has no statement" in out


def test_lone_semicolon_is_a_statement(tmp_path):
    assert_both_accept(tmp_path, ";\n")


def _quote_missing_at_line_3(more: str) -> str:
    lines = ROUTE.splitlines()
    lines[2] = '    xlog("L_INFO", "no closing quote);'
    return "\n".join(lines[:3] + ["    # filler"] * 100 + lines[2:]) + "\n" + more


def test_unterminated_string_is_reported_where_it_starts(tmp_path):
    out = assert_both_refuse(tmp_path, _quote_missing_at_line_3('route[R] {\n    xlog("x);\n}\n'))
    first = out.splitlines()[0]
    assert "kamailio.cfg:3:20: error: unterminated string: this string runs over 102 lines" in first


def test_string_whose_missing_quote_another_one_pairs_up_is_pointed_at_where_it_starts(tmp_path):
    out = assert_both_refuse(tmp_path, _quote_missing_at_line_3('route[R] {\n    xlog("x");\n}\n'))
    assert "kamailio.cfg:3:20: note: this string runs over 102 lines: is its closing quote missing?" in out


# ---------------------------------------------------------------- core actions' arguments (cfg.y)

@pytest.mark.parametrize("call, message", [
    ("setavpflag($x, f9);", "3:16: error: setavpflag(): avpflag not declared"),
    ("isavpflagset($avp(x), f1);", "3:14: error: isavpflagset(): error parsing first parameter"),
    ("udp_mtu_try_proto(foo);", "3:1: error: udp_mtu_try_proto(): bad argument, UDP, TCP, TLS or SCTP"),
])
def test_core_action_arguments_cfg_y_refuses_are_refused(tmp_path, call, message):
    out = assert_both_refuse(tmp_path, f"avpflags f1;\nrequest_route {{\n{call}\n}}\n")
    assert message in out


def test_avpflags_and_udp_mtu_are_accepted(tmp_path):
    assert_both_accept(tmp_path, 'avpflags f1, "F2";\nudp_mtu=1300\nudp_mtu_try_proto=TCP\n'
                                 'loadmodule "pv.so"\nrequest_route {\n$avp(x) = 1;\n'
                                 'setavpflag($x, f1);\nresetavpflag("x", F2);\n'
                                 'if (isavpflagset("s:x", f1)) udp_mtu_try_proto(tls);\n}\n')
