"""The config parser: Kamailio 5.6 syntax (after preprocessing) -> AST, and its error messages."""
from __future__ import annotations

import pytest

from kampy.config import ast
from kampy.config.parse import parse
from kampy.config.to_ast import unescape
from kampy.errors import ConfigError
from tests.support.seed import seed_sample_config


def items(text: str) -> tuple:
    return parse(text, "t.cfg").items


def route_body(stmts: str) -> tuple:
    """The statements of `request_route { <stmts> }`."""
    (route,) = items("request_route {\n" + stmts + "\n}\n")
    return route.body.stmts


def expr(text: str) -> ast.Expr:
    """The value assigned in `$var(x) = <text>;`."""
    (assign,) = route_body(f"$var(x) = {text};")
    return assign.value


def cond(text: str) -> ast.Expr:
    """The condition of `if <text> exit;`."""
    (if_,) = route_body(f"if {text} exit;")
    return if_.cond


def error(text: str, filename: str = "t.cfg") -> str:
    with pytest.raises(ConfigError) as exc:
        parse(text, filename)
    return str(exc.value)


def shape(node: object) -> object:
    """A compact view of an expression: ('op', left, right), literals as Python values."""
    if isinstance(node, ast.BinOp):
        return (node.op, shape(node.left), shape(node.right))
    if isinstance(node, ast.UnOp):
        return (node.op, shape(node.operand))
    if isinstance(node, (ast.Str, ast.Int)):
        return node.value
    if isinstance(node, ast.PVar):
        return node.text
    if isinstance(node, (ast.Ident, ast.Keyword)):
        return node.name
    if isinstance(node, ast.Call):
        return (node.name, *[shape(a) for a in node.args])
    return node


# ------------------------------------------------------------------ core parameters


@pytest.mark.parametrize("text, value", [
    ("debug=3", ast.Int(3)),
    ("debug = -1", ast.Int(-1)),
    ("children=0x10", ast.Int(16)),
    ("fork=yes", ast.Ident("yes")),
    ("log_facility=LOG_LOCAL0", ast.Ident("LOG_LOCAL0")),
    ('server_header="Server: kampy"', ast.Str("Server: kampy")),
    ("tcp_source_ipv4 = 10.0.0.1", ast.Ident("10.0.0.1")),
    ("tcp_source_ipv6 = [::1]", ast.Ident("[::1]")),
    ("advertised_address = sip.example.com", ast.Ident("sip.example.com")),
])
def test_core_param_values(text: str, value: ast.Expr) -> None:
    (param,) = items(text)
    name = text.split("=")[0].strip()
    assert param == ast.CoreParam(name, value)


def test_core_param_position_is_its_name() -> None:
    (param,) = items("\n  debug=3")
    assert param.pos == ast.Pos("t.cfg", 2, 3)


def test_unknown_core_param_is_left_to_the_compiler() -> None:
    assert items('fifo="/tmp/fifo"') == (ast.CoreParam("fifo", ast.Str("/tmp/fifo")),)


@pytest.mark.parametrize("text, proto, host, port", [
    ("listen=10.0.0.2", None, "10.0.0.2", None),
    ("listen=udp:127.0.0.1:5060", "udp", "127.0.0.1", 5060),
    ("listen=tcp:eth0:5060", "tcp", "eth0", 5060),
    ("listen=eth0:5060", None, "eth0", 5060),
    ("listen=tls:sip.example.com", "tls", "sip.example.com", None),
    ("listen=udp:[2001:db8::1]:5060", "udp", "[2001:db8::1]", 5060),
    ('listen="udp:1.2.3.4:5060"', None, "udp:1.2.3.4:5060", None),
])
def test_listen_forms(text: str, proto: str | None, host: str, port: int | None) -> None:
    (param,) = items(text)
    assert param.name == "listen"
    assert (param.value.proto, param.value.host, param.value.port) == (proto, host, port)


def test_listen_advertise_name_virtual() -> None:
    (param,) = items('listen=udp:10.0.0.1:5060 advertise 1.2.3.4:5080 name "pub" virtual')
    assert param.value == ast.ListenValue("udp", "10.0.0.1", 5060, "1.2.3.4:5080", "pub", True)


def test_listen_list_is_a_tuple_and_ends_at_next_core_param() -> None:
    first, second = items("listen=udp:1.2.3.4:5060 tcp:1.2.3.4:5060\nport=5060")
    assert [v.proto for v in first.value] == ["udp", "tcp"]
    assert second == ast.CoreParam("port", ast.Int(5060))


def test_alias_with_port() -> None:
    (param,) = items("alias=example.com:5060")
    assert param.value == ast.ListenValue(None, "example.com", 5060)


def test_custom_config_variable_with_description() -> None:
    (var,) = items('pstn.gw_ip = "10.0.0.1" desc "PSTN GW Address"')
    assert var == ast.CfgVar("pstn", "gw_ip", ast.Str("10.0.0.1"), "PSTN GW Address")


def test_custom_config_variable_right_after_a_listen_line() -> None:
    listen, var = items("listen=10.0.0.1\ntm.fr_timer = 100")
    assert var == ast.CfgVar("tm", "fr_timer", ast.Int(100))


def test_kemi_callback_is_a_core_param() -> None:
    (param,) = items('kemi.onsend_route_callback="ksr_onsend"')
    assert param == ast.CoreParam("kemi.onsend_route_callback", ast.Str("ksr_onsend"))


def test_top_level_semicolons_are_ignored() -> None:
    assert items("debug=1;\n;\nfork=no;") == (
        ast.CoreParam("debug", ast.Int(1)), ast.CoreParam("fork", ast.Ident("no")))


# ------------------------------------------------------------------ modules


def test_loadmodule_loadmodulex_loadpath_mpath() -> None:
    assert items('loadmodule "tm.so"\nloadmodulex "$def(M)"\nloadpath "/a"\nmpath="/b"') == (
        ast.LoadModule("tm.so"), ast.LoadModule("$def(M)", expand=True),
        ast.LoadPath("/a"), ast.LoadPath("/b"))


@pytest.mark.parametrize("text, value", [
    ('"str"', ast.Str("str")),
    ("30", ast.Int(30)),
    ("-5", ast.Int(-5)),
    ('"a" "b"\n "c"', ast.Str("abc")),
    ("yes", ast.Int(1)),
])
def test_modparam_values(text: str, value: ast.Expr) -> None:
    (mp,) = items(f'modparam("tm", "p", {text})')
    assert mp == ast.ModParam("tm", "p", value)


def test_modparam_value_that_is_a_bare_word_is_invalid_arguments() -> None:
    with pytest.raises(ConfigError, match="t.cfg:1:21: error: Invalid arguments"):
        items('modparam("tm", "p", UNEXPANDED)')


def test_modparam_module_may_be_a_regex() -> None:
    (mp,) = items('modparam("acc|tm", "db_url", "x")')
    assert mp.module == "acc|tm"


def test_modparamx_takes_env_read_when_the_config_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAMPY_TEST_X", "from the environment")
    (mp,) = items('modparamx("tm", "p", $env(KAMPY_TEST_X))')
    assert mp.expand and mp.value == ast.Str("from the environment")


def test_modparam_takes_no_pseudo_variable() -> None:
    with pytest.raises(ConfigError, match="t.cfg:1:21: error: Invalid arguments: modparam takes no pseudo"):
        items('modparam("tm", "p", $env(X))')


def test_flags_declaration() -> None:
    (decl,) = items('flags FLAG_A: 1, "FLAG_B", FLAG_C: 3')
    assert decl.names == (("FLAG_A", 1), ("FLAG_B", None), ("FLAG_C", 3))


def test_avpflags_declaration() -> None:
    (decl,) = items("avpflags one, two")
    assert decl == ast.FlagDecl((("one", None), ("two", None)), avp=True)


# ------------------------------------------------------------------ route blocks


@pytest.mark.parametrize("text, kind, name", [
    ("request_route { exit; }", "request", None),
    ("route { exit; }", "request", None),
    ("route[RELAY] { exit; }", "route", "RELAY"),
    ("route[2] { exit; }", "route", "2"),
    ('route["quoted"] { exit; }', "route", "quoted"),
    ("failure_route { exit; }", "failure", None),
    ("failure_route[MANAGE_FAILURE] { exit; }", "failure", "MANAGE_FAILURE"),
    ("onreply_route { exit; }", "onreply", None),
    ("onreply_route[1] { exit; }", "onreply", "1"),
    ("reply_route { exit; }", "reply", None),
    ("branch_route[B] { exit; }", "branch", "B"),
    ("onsend_route { exit; }", "onsend", None),
    ("event_route[xhttp:request] { exit; }", "event", "xhttp:request"),
    ("event_route[tm:branch-failure:rtpengine] { exit; }", "event", "tm:branch-failure:rtpengine"),
])
def test_route_blocks(text: str, kind: str, name: str | None) -> None:
    (route,) = items(text)
    assert (route.kind, route.name) == (kind, name)


def test_request_route_takes_no_name() -> None:
    assert "'request_route' takes no name" in error("request_route[X] { exit; }")


def test_route_block_followed_by_semicolon() -> None:
    assert len(items("route { exit; };\nroute[A] { exit; };")) == 2


def test_empty_blocks_are_accepted() -> None:
    (route,) = items("route[A] { }")
    assert route.body.stmts == ()


# ------------------------------------------------------------------ statements


def test_if_else_if_else() -> None:
    (if_,) = route_body('if ($rU == "a") exit; else if ($rU == "b") { drop; } else { return 1; }')
    assert isinstance(if_.then, ast.Block) and isinstance(if_.then.stmts[0], ast.Exit)
    inner = if_.orelse.stmts[0]
    assert isinstance(inner, ast.If)
    assert inner.then.stmts == (ast.Drop(),)
    assert inner.orelse.stmts == (ast.Return(ast.Int(1)),)


def test_if_condition_without_parentheses() -> None:
    assert shape(cond("$var(a) == 1")) == ("==", "$var(a)", 1)


def test_else_binds_to_nearest_if() -> None:
    (outer,) = route_body("if ($a) if ($b) exit; else drop;")
    assert outer.orelse is None
    assert outer.then.stmts[0].orelse.stmts == (ast.Drop(),)


def test_block_followed_by_semicolon_inside_a_route() -> None:
    stmts = route_body("if ($a) { exit; };\n$var(x) = 1;")
    assert [type(s) for s in stmts] == [ast.If, ast.Assign]


def test_switch_cases_default_break() -> None:
    (sw,) = route_body('switch ($rU) { case "a": case -1: xlog("x"); break; '
                       'case /"^b": exit; default: drop; }')
    assert [c.value for c in sw.cases] == [ast.Str("a"), ast.Int(-1), ast.Str("^b"), None]
    assert sw.cases[0].stmts == ()
    assert sw.cases[1].stmts[1] == ast.Break()
    assert sw.cases[2].regex and not sw.cases[1].regex


def test_switch_without_cases() -> None:
    (sw,) = route_body("switch ($rU) { }")
    assert sw.cases == ()


def test_while_loop() -> None:
    (loop,) = route_body("while ($var(i) < 10) { $var(i) = $var(i) + 1; }")
    assert shape(loop.cond) == ("<", "$var(i)", 10)
    assert isinstance(loop.body.stmts[0], ast.Assign)


@pytest.mark.parametrize("text, node", [
    ("return;", ast.Return()),
    ("return();", ast.Return()),
    ("return 1;", ast.Return(ast.Int(1))),
    ("return(-1);", ast.Return(ast.Int(-1))),
    ("exit;", ast.Exit()),
    ("exit 0;", ast.Exit(ast.Int(0))),
    ("drop;", ast.Drop()),
    ("drop();", ast.Drop()),
    ("break;", ast.Break()),
])
def test_return_exit_drop_break_forms(text: str, node: ast.Stmt) -> None:
    assert route_body(text) == (node,)


@pytest.mark.parametrize("text, name", [
    ("route(RELAY);", "RELAY"),
    ('route("RELAY");', "RELAY"),
    ("route(1);", "1"),
])
def test_route_call_names(text: str, name: str) -> None:
    assert route_body(text) == (ast.RouteCall(name),)


def test_route_call_with_dynamic_name() -> None:
    (call,) = route_body("route($var(next));")
    assert isinstance(call.name, ast.PVar)


def test_route_call_inside_a_condition() -> None:
    assert cond("(!route(CHECK))") == ast.UnOp("!", ast.RouteCall("CHECK"))


def test_assignment_to_pseudo_variable() -> None:
    (assign,) = route_body('$avp(s:x) = "v";')
    assert assign == ast.Assign(assign.target, "=", ast.Str("v"))
    assert (assign.target.cls, assign.target.arg) == ("avp", "s:x")


@pytest.mark.parametrize("op", [":=", "+="])
def test_other_assignment_operators_are_rejected_like_kamailio(op: str) -> None:
    error(f"route {{ $var(a) {op} 1; }}")


def test_bare_block_statement_is_rejected_like_kamailio() -> None:
    assert "unexpected '{' — expected a statement or '}'" in error("route { { exit; } }")


# ------------------------------------------------------------------ function calls


@pytest.mark.parametrize("text, call", [
    ("t_relay();", ("t_relay",)),
    ('sl_send_reply("404", "Not here");', ("sl_send_reply", "404", "Not here")),
    ("xlog(\"L_INFO\", \"$rU\\n\");", ("xlog", "L_INFO", "$rU\n")),
    ("setflag(1);", ("setflag", 1)),
    ("setflag(FLT_ACC);", ("setflag", "FLT_ACC")),
    ('log(1, "msg");', ("log", 1, "msg")),
    ('rewriteuri("sip:a@b");', ("rewriteuri", "sip:a@b")),
    ("strip(2);", ("strip", 2)),
    ("f($var(a) + 1, -2);", ("f", ("+", "$var(a)", 1), -2)),
    ("force_rport;", ("force_rport",)),
    ("force_rport();", ("force_rport",)),
    ("revert_uri;", ("revert_uri",)),
    ("set_advertised_address(1.2.3.4);", ("set_advertised_address", "1.2.3.4")),
    ("force_send_socket(udp:10.0.0.1:5060);", ("force_send_socket", "udp:10.0.0.1:5060")),
    ("forward(sip.example.com, 5060);", ("forward", "sip.example.com", 5060)),
    ("forward(uri:host, uri:port);", ("forward", "uri:host", "uri:port")),
])
def test_function_calls(text: str, call: tuple) -> None:
    (stmt,) = route_body(text)
    assert shape(stmt) == call


def test_function_without_parentheses_is_an_error() -> None:
    assert "t.cfg:2:9: error: 't_relay' needs parentheses: write t_relay();" in error(
        "route {\n\tt_relay;\n}")


def test_function_call_in_condition() -> None:
    assert shape(cond('(!is_method("INVITE"))')) == ("!", ("is_method", "INVITE"))


# ------------------------------------------------------------------ expressions and precedence


def test_not_binds_to_whole_method_comparison() -> None:
    assert shape(cond('(!method=="MESSAGE")')) == ("!", ("==", "method", "MESSAGE"))


def test_not_binds_tighter_than_comparison_on_values() -> None:
    assert shape(cond('(!$rm == "X")')) == ("==", ("!", "$rm"), "X")


def test_and_binds_tighter_than_or() -> None:
    assert shape(cond("($a || $b && $c)")) == ("||", "$a", ("&&", "$b", "$c"))


def test_word_operators_fold_to_symbols() -> None:
    assert shape(cond("(not $a and $b or $c)")) == ("||", ("&&", ("!", "$a"), "$b"), "$c")


def test_bit_operators_bind_looser_than_comparison() -> None:
    assert shape(cond("($a & 4 == 4)")) == ("&", "$a", ("==", 4, 4))


def test_bit_operator_levels() -> None:
    assert shape(expr("1 | 2 & 3 ^ 4 << 5 >> 6")) == ("|", 1, ("&", 2, ("^", 3, ("<<", 4, (">>", 5, 6)))))


def test_relational_binds_tighter_than_equality() -> None:
    assert shape(expr("1 < 2 == 3 > 4")) == ("==", ("<", 1, 2), (">", 3, 4))


def test_arithmetic_precedence_and_left_associativity() -> None:
    assert shape(expr("1 - 2 - 3 * 4 mod 5")) == ("-", ("-", 1, 2), ("%", ("*", 3, 4), 5))


@pytest.mark.parametrize("op", ["==", "!=", "=~", "eq", "ne", "ieq", "ine", "<", ">", "<=", ">="])
def test_comparison_operators(op: str) -> None:
    assert shape(cond(f'($var(a) {op} "x")')) == (op, "$var(a)", "x")


def test_unary_operators() -> None:
    assert shape(expr("~$var(a) + -$var(b)")) == ("+", ("~", "$var(a)"), ("-", "$var(b)"))


def test_defined_strlen_strempty() -> None:
    assert shape(cond("(defined $avp(x) && strlen($rU) > 3 && !strempty($fU))")) == (
        "&&", ("&&", ("defined", "$avp(x)"), (">", ("strlen", "$rU"), 3)), ("!", ("strempty", "$fU")))


def test_casts() -> None:
    assert shape(expr('(int)"5" + (str)$var(a)')) == ("+", ("int", "5"), ("str", "$var(a)"))


def test_selval() -> None:
    assert shape(expr('selval($var(a) == 1, "yes", "no")')) == ("selval", ("==", "$var(a)", 1), "yes", "no")


@pytest.mark.parametrize("text, expected", [
    ('(uri == myself)', ("==", "uri", "myself")),
    ('(from_uri =~ "^sip:a")', ("=~", "from_uri", "^sip:a")),
    ("(myself == to_uri)", ("==", "myself", "to_uri")),
    ("(method == INVITE)", ("==", "method", "INVITE")),
    ('(status == "200")', ("==", "status", "200")),
    ("(src_ip == 10.0.0.0/8)", ("==", "src_ip", "10.0.0.0/8")),
    ("(src_ip != 10.0.0.0/255.0.0.0)", ("!=", "src_ip", "10.0.0.0/255.0.0.0")),
    ("(dst_ip == 192.168.1.1)", ("==", "dst_ip", "192.168.1.1")),
    ("(src_ip == ::1)", ("==", "src_ip", "::1")),
    ("(snd_ip == [2001:db8::1])", ("==", "snd_ip", "[2001:db8::1]")),
    ("(src_ip == gw-1.example.com)", ("==", "src_ip", "gw-1.example.com")),
    ("(src_port > 5000 + 60)", (">", "src_port", ("+", 5000, 60))),
    ("(dst_port == 5060)", ("==", "dst_port", 5060)),
    ("(proto == UDP)", ("==", "proto", "UDP")),
    ("(af == INET6)", ("==", "af", "INET6")),
    ("(msg:len >= 4096)", (">=", "msg:len", 4096)),
    ("(snd_af == inet)", ("==", "snd_af", "inet")),
])
def test_keyword_comparisons(text: str, expected: tuple) -> None:
    assert shape(cond(text)) == expected


def test_keyword_comparison_stops_at_logical_operator() -> None:
    assert shape(cond('(method == "A" || method == "B")')) == (
        "||", ("==", "method", "A"), ("==", "method", "B"))


def test_bare_word_is_not_a_value() -> None:
    assert "'FOO' is not a value" in error("route { $var(a) = FOO; }")


# ------------------------------------------------------------------ literals


@pytest.mark.parametrize("text, value", [
    ("42", 42), ("0", 0), ("-7", -7), ("0x1F", 31), ("0755", 0o755), ("101b", 5),
])
def test_numbers(text: str, value: int) -> None:
    assert expr(text) == ast.Int(value)


@pytest.mark.parametrize("raw, value", [
    (r"a\nb", "a\nb"), (r"a\rb", "a\rb"), (r"a\tb", "a\tb"), (r"\"q\"", '"q"'),
    (r"back\\slash", "back\\slash"),
    (r"x\x41y", "xAy"), (r"\101", "A"), (r"it\'s", "it\\'s"), (r"sub \1", "sub \\1"), ("a\\\nb", "ab"),
])
def test_string_escapes_mirror_cfg_lex(raw: str, value: str) -> None:
    assert unescape(raw) == value
    assert expr(f'"{raw}"') == ast.Str(value)


def test_single_quoted_string_is_raw() -> None:
    assert expr(r"'a\n$rU'") == ast.Str(r"a\n$rU")


def test_adjacent_double_quoted_strings_join() -> None:
    assert expr('"a" "b"\n   "c"') == ast.Str("abc")


def test_pseudo_variables_stay_inside_strings() -> None:
    assert expr('"to $rU@$rd"') == ast.Str("to $rU@$rd")


def test_string_may_span_lines() -> None:
    assert expr('"line1\nline2"') == ast.Str("line1\nline2")


# ------------------------------------------------------------------ pseudo-variables and selects


@pytest.mark.parametrize("text, cls, arg, index, transforms", [
    ("$rU", "rU", None, None, ()),
    ("$T_reply_code", "T_reply_code", None, None, ()),
    ("$var(x)", "var", "x", None, ()),
    ("$avp(s:x)", "avp", "s:x", None, ()),
    ("$avp(i:1)", "avp", "i:1", None, ()),
    ("$xavp(a=>b[0])", "xavp", "a=>b[0]", None, ()),
    ("$sht(t=>$var(k))", "sht", "t=>$var(k)", None, ()),
    ("$def(X)", "def", "X", None, ()),
    ("$(hdr(Via)[-1])", "hdr", "Via", "-1", ()),
    ("$(avp(x)[*])", "avp", "x", "*", ()),
    ("$(avp(x)[$var(i)])", "avp", "x", "$var(i)", ()),
    ("$(ru{uri.user})", "ru", None, None, (("uri", "user", ()),)),
    ("$(var(x){s.substr,0,3}{s.len})", "var", "x", None, (("s", "substr", ("0", "3")), ("s", "len", ()))),
    ("$(var(x){s.select,$var(i),;})", "var", "x", None, (("s", "select", ("$var(i)", ";")),)),
    ("$?", "?", None, None, ()),
    ("$retcode", "retcode", None, None, ()),
    ("$null", "null", None, None, ()),
])
def test_pseudo_variable_forms(text: str, cls: str, arg: str | None, index: str | None,
                               transforms: tuple) -> None:
    pv = expr(text)
    assert isinstance(pv, ast.PVar) and pv.text == text
    assert (pv.cls, pv.arg, pv.index) == (cls, arg, index)
    assert tuple((t.cls, t.name, t.params) for t in pv.transforms) == transforms


def test_index_after_closing_parenthesis_is_rejected_like_kamailio() -> None:
    error("route { $var(x) = $hdr(Via)[1]; }")


@pytest.mark.parametrize("text", [
    "@to.tag", "@hf_value.contact[1].uri", "@via[1].branch", "@cfg_get.core.debug"])
def test_selects(text: str) -> None:
    assert expr(text) == ast.Select(text)


# ------------------------------------------------------------------ comments


def test_comments_of_every_kind() -> None:
    text = "# hash\n// slashes\ndebug=1 # trailing\n/* block\n /* nested */ still comment */\nfork=no // end"
    assert [i.name for i in items(text)] == ["debug", "fork"]


def test_hash_inside_string_and_pseudo_variable_is_not_a_comment() -> None:
    assert expr('"a#b" + $(var(x){s.select,0,#})') == ast.BinOp(
        "+", ast.Str("a#b"), expr("$(var(x){s.select,0,#})"))


def test_line_continuation() -> None:
    assert shape(expr("1 +\\\n 2")) == ("+", 1, 2)


# ------------------------------------------------------------------ positions and the line map


def test_positions_of_nested_nodes() -> None:
    (route,) = items('route {\n  if ($rU == "a") {\n    xlog("x");\n  }\n}')
    if_ = route.body.stmts[0]
    assert if_.pos == ast.Pos("t.cfg", 2, 3)
    assert if_.cond.right.pos == ast.Pos("t.cfg", 2, 14)
    assert if_.then.stmts[0].pos == ast.Pos("t.cfg", 3, 5)


def test_line_map_gives_original_file_and_line() -> None:
    def line_map(line: int) -> tuple[str, int]:
        return ("main.cfg", line) if line < 3 else ("inc.cfg", line + 7)

    config = parse("debug=1\n\nfork=yes\n", "main.cfg", line_map)
    assert [i.pos for i in config.items] == [ast.Pos("main.cfg", 1, 1), ast.Pos("inc.cfg", 10, 1)]


def test_error_position_uses_the_line_map() -> None:
    with pytest.raises(ConfigError) as exc:
        parse("debug=1\n\nroute { exit }\n", "main.cfg", lambda line: ("routes.cfg", line + 40))
    assert exc.value.diagnostics[0].pos == ast.Pos("routes.cfg", 43, 14)


# ------------------------------------------------------------------ error messages


def test_error_is_a_config_error_with_file_line_col() -> None:
    with pytest.raises(ConfigError) as exc:
        parse("route {\n  exit\n}\n", "x.cfg")
    (diag,) = exc.value.diagnostics
    assert str(diag.pos) == "x.cfg:2:7"


def test_missing_semicolon_points_after_previous_statement() -> None:
    assert "t.cfg:2:14: error: missing ';' after number 1 (before 'exit' at line 3)" in error(
        "route {\n  $var(a) = 1\n  exit;\n}")


def test_stray_brace_points_at_it() -> None:
    text = 'route {\n    if (uri==myself) {\n    {\n        exit;\n    };\n}\n'
    assert error(text).startswith("t.cfg:3:5: error: unexpected '{' — expected a statement or '}'")


def test_seed_msilo_sample_error_points_at_stray_brace() -> None:
    text = seed_sample_config()
    lines = text.splitlines()
    # the `{` alone on the line right after `if (uri==myself) {`
    stray = 1 + next(i for i in range(1, len(lines))
                     if lines[i].strip() == "{" and lines[i - 1].rstrip().endswith("{"))
    assert error(text).startswith(f"t.cfg:{stray}:5: error: unexpected '{{' — expected a statement or '}}'")


def test_unclosed_brace_at_end_of_file() -> None:
    message = error("route {\n  if ($a) {\n    exit;\n}\n")
    assert message.startswith(
        "t.cfg:1:7: error: unclosed '{' opened at line 1 — the file ends before its '}'")


def test_route_block_inside_unclosed_block() -> None:
    message = error("route {\n  if ($a) {\n    exit;\n  }\n\nfailure_route[F] {\n  exit;\n}\n")
    assert message.startswith("t.cfg:1:7: error: unclosed '{' opened at line 1 — 'failure_route' at line 6 "
                              "is still inside it")
    assert "t.cfg:6:1: error: unexpected 'failure_route' — expected a statement or '}'" in message


def test_named_route_inside_unclosed_block() -> None:
    assert "unclosed '{' opened at line 1 — 'route' at line 3 is still inside it" in error(
        "route {\n  exit;\nroute[X] {\n  exit;\n}\n")


def test_extra_closing_brace() -> None:
    assert "t.cfg:1:17: error: unexpected '}' — there is no open '{' for it to close" in error(
        "route { exit; } }")


def test_unexpected_token_names_what_was_expected() -> None:
    assert "t.cfg:1:19: error: unexpected ')' — expected a value or an expression" in error(
        "route { if ($a == ) exit; }")


def test_expected_operator_or_semicolon() -> None:
    assert "unexpected number 2 — expected an operator or ';'" in error("route { $var(a) = 1 2; }")


def test_top_level_expectation_in_words() -> None:
    message = error('debug=1\n"x"')
    assert 'unexpected string "x" — expected a core parameter, loadmodule, modparam or a route block' \
        in message


def test_unterminated_string() -> None:
    assert "t.cfg:1:14: error: unterminated string" in error('route { xlog("oops); }')


def test_unterminated_comment() -> None:
    assert "t.cfg:2:1: error: unterminated comment" in error("debug=1\n/* never closed\n")


def test_malformed_pseudo_variable() -> None:
    assert "t.cfg:1:19: error: malformed pseudo-variable '$var('" in error("route { $var(x) = $var(y; }")


def test_percent_is_not_modulo() -> None:
    assert "unexpected character '%' — expected an operator or ';'" in error("route { $var(a) = 5 % 2; }")


def test_bad_listen_port() -> None:
    assert "bad port 'abc'" in error("listen=udp:1.2.3.4:abc")


def test_loadmodule_needs_a_string() -> None:
    assert "unexpected name 'tm' — expected a string" in error("loadmodule tm")


def test_no_python_traceback_text_in_errors() -> None:
    assert "Traceback" not in error("route { if ( { } }")
