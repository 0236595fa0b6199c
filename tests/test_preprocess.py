"""The config preprocessor: Kamailio's #! directives, define substitution, includes, line mapping."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from kampy.config.preprocess import format_cfg_print, preprocess_file, preprocess_text
from kampy.errors import ConfigError

STOCK_CFG = Path("/etc/kamailio/kamailio.cfg")


def pp(text: str, **kw):
    return preprocess_text(text, filename="t.cfg", **kw)


def out(text: str, **kw) -> list[str]:
    return pp(text, **kw).text.splitlines()


def error_of(text: str, **kw) -> str:
    with pytest.raises(ConfigError) as exc:
        pp(text, **kw)
    return str(exc.value)


# ---------------------------------------------------------------- defines


def test_define_substitutes_in_token_positions():
    lines = out('#!define PORT 5060\nport=PORT\nmodparam("tm", "fr_timer", PORT)\nroute(PORT);\n')
    assert lines == ["", "port=5060", 'modparam("tm", "fr_timer", 5060)', "route(5060);"]


def test_define_not_substituted_in_strings_or_comments():
    lines = out("#!define X 1\nxlog(\"X\");\n# X\n/* X */\nx = 'X';\n")
    assert lines[1:] == ['xlog("X");', "# X", "/* X */", "x = 'X';"]


def test_define_not_substituted_inside_pseudo_variable_names():
    assert out("#!define x 1\n$var(x) = $x;\n")[1] == "$var(x) = $x;"


def test_define_not_substituted_in_event_route_name():
    assert (
        out("#!define tm 1\nevent_route[tm:local-request] { tm; }\n")[1]
        == "event_route[tm:local-request] { 1; }"
    )


def test_define_substituted_in_route_name():
    assert out("#!define R MAIN\nroute[R] { route(R); }\n")[1] == "route[MAIN] { route(MAIN); }"


def test_define_not_substituted_inside_longer_identifier_or_number():
    assert out("#!define A 1\nAB 2A A_ A.A\n")[1] == "AB 2A A_ 1.1"


def test_define_named_like_a_keyword_is_not_substituted():
    assert out("#!define udp tcp\nlisten=udp:1.2.3.4\n")[1] == "listen=udp:1.2.3.4"


def test_define_value_expands_recursively():
    assert out("#!define A B\n#!define B 42\nx=A\n")[2] == "x=42"


def test_define_that_refers_to_itself_is_an_error():
    assert "t.cfg:2:" in error_of("#!define A A\nx=A\n")


def test_define_without_value_expands_to_nothing():
    result = pp("#!define EMPTY\nx=EMPTY;\n")
    assert result.text.splitlines()[1] == "x=;"
    assert result.defines["EMPTY"] == ""


def test_define_value_continues_after_trailing_backslash():
    result = pp('#!define LONG "a" \\\n  "b"\nx=LONG\n')
    assert result.defines["LONG"] == '"a"   "b"'
    assert result.text.splitlines() == ["", "", 'x="a"   "b"']


def test_define_value_keeps_a_trailing_comment_like_kamailio():
    assert pp("#!define A 1 # one\n").defines["A"] == "1 # one"


def test_define_twice_is_an_error_with_both_places():
    message = error_of("#!define A 1\n#!define A 2\n")
    assert "t.cfg:2:1" in message and "t.cfg:1" in message and "already defined" in message


def test_define_name_with_minus_is_an_error():
    assert "'-' is not allowed" in error_of("#!define A-B 1\n")


def test_trydef_keeps_existing_value():
    assert pp("#!define A 1\n#!trydef A 2\n#!trydef B 3\n").defines.items() >= {"A": "1", "B": "3"}.items()


def test_redefine_replaces_value():
    assert pp("#!define A 1\n#!redefine A 2\n#!redef B\n").defines.items() >= {"A": "2", "B": ""}.items()


def test_undef_removes_define_and_tryundef_ignores_missing():
    result = pp("#!define A 1\n#!undef A\n#!tryundef B\nx=A\n")
    assert "A" not in result.defines
    assert result.text.splitlines()[3] == "x=A"


def test_undef_of_unknown_name_is_a_warning():
    warnings = [w.message for w in pp("#!undef NOPE\n").warnings]
    assert "#!undef NOPE: NOPE is not defined" in warnings


def test_directives_of_later_kamailios_are_accepted_with_a_warning():
    warnings = [w.message for w in pp("#!define A 2\n#!ifexp A > 1\nx\n#!endif\n#!undef A\n").warnings]
    assert [w.split(" is ")[0] for w in warnings] == ["#!ifexp", "#!undef"]


def test_unterminated_comment_runs_to_the_end_of_the_file_with_a_warning():
    result = pp("x\n/* open\ny\n")
    assert result.text.splitlines() == ["x", "", ""]
    assert result.warnings[0].message.startswith("unterminated /* comment")


def test_bang_bang_prefix_is_a_synonym():
    result = pp("!!define A 1\n!!ifdef A\nyes\n!!endif\nif (!!$x) {}\n")
    assert result.text.splitlines() == ["", "", "yes", "", "if (!!$x) {}"]


def test_command_line_defines():
    result = pp("#!ifdef WITH_X\nx=VAL\n#!endif\n", defines={"WITH_X": None, "VAL": "7"})
    assert result.text.splitlines()[1] == "x=7"


def test_command_line_define_in_name_equals_value_form():
    assert pp("x=V\n", defines={"V=3": None}).text == "x=3\n"


def test_core_version_defines_exist():
    assert "KAMAILIO_5" in pp("").defines and "KAMAILIO_5_6" in pp("").defines


def test_loadmodule_defines_mod_name():
    lines = out('loadmodule "/usr/lib/kamailio/modules/tls.so"\n#!ifdef MOD_tls\nhas_tls\n#!endif\n')
    assert lines[2] == "has_tls"


# ---------------------------------------------------------------- conditionals


def test_ifdef_else_endif_select_branch():
    text = "#!ifdef A\na\n#!else\nnot_a\n#!endif\n"
    assert out(text) == ["", "", "", "not_a", ""]
    assert out(text, defines={"A": None}) == ["", "a", "", "", ""]


def test_ifndef_is_the_negation():
    assert out("#!ifndef A\nno_a\n#!endif\n")[1] == "no_a"


def test_nested_ifdef_inside_inactive_block_stays_inactive():
    text = "#!ifdef A\n#!ifdef B\nab\n#!else\nnot_b\n#!endif\n#!endif\nafter\n"
    assert [line for line in out(text, defines={"B": None}) if line] == ["after"]
    assert [line for line in out(text, defines={"A": None}) if line] == ["not_b", "after"]


def test_ifdef_inactive_block_may_contain_unbalanced_quotes():
    text = "#!ifdef NOPE\n  ALTER TABLE acc ADD src VARCHAR(64) DEFAULT ''';\n\"open\n/* open\n#!endif\nok\n"
    assert out(text)[-1] == "ok"


def test_inactive_block_does_not_define():
    assert "A" not in pp("#!ifdef NOPE\n#!define A 1\n#!endif\n").defines


def test_unterminated_ifdef_points_at_opening_directive():
    message = error_of("x\n#!ifdef A\ny\n")
    assert "t.cfg:2:1" in message and "never closed" in message


def test_endif_followed_by_comment_is_a_comment_as_in_kamailio():
    message = error_of("#!ifdef A\nx\n#!endif # A\n")
    assert "t.cfg:1:1" in message and "t.cfg:3:1" in message


def test_endif_without_ifdef_is_an_error():
    assert "t.cfg:2:1" in error_of("x\n#!endif\n")


def test_else_without_ifdef_is_a_warning_and_the_text_after_it_is_read():
    result = pp("#!else\nx\n")
    assert [w.format().splitlines()[0] for w in result.warnings] == [
        "t.cfg:1:1: warning: #!else without an open #!ifdef or #!ifndef is ignored "
        "(Kamailio: 'invalid position for preprocessor directive')"]
    assert result.text.splitlines() == ["", "x"]


def test_stray_endif_balances_an_ifdef_left_open_at_the_end():
    result = pp("#!endif\nx\n#!ifdef NOPE\ny\n")
    assert [w.pos.line for w in result.warnings] == [1, 3]
    assert result.text.splitlines() == ["", "x", "", ""]


def test_endif_on_a_last_line_without_a_line_break_is_a_comment():
    message = error_of("#!ifdef X\n#!endif")
    assert "t.cfg:1:1: error: #!ifdef is never closed" in message
    assert "t.cfg:2:1: note: this line is not an #!else/#!endif for Kamailio" in message


def test_ifdef_without_name_is_an_error():
    assert "t.cfg:1:" in error_of("#!ifdef \n#!endif\n")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("A && B", False),
        ("A || B", True),
        ("!B", True),
        ("LEVEL == 3", True),
        ("LEVEL > 2 && A", True),
        ('NAME == "mysql"', True),
        ("(1 + 2) * 3 == 9", True),
        ("2 ** 3 == 8", True),
        ("UNDEFINED", False),
        ("1 << 3 == 8", True),
    ],
)
def test_ifexp_evaluates_expression_with_defines(expression, expected):
    text = f'#!define A\n#!define LEVEL 3\n#!define NAME "mysql"\n#!ifexp {expression}\nyes\n#!endif\n'
    assert ("yes" in out(text)) is expected


def test_ifexp_bad_expression_is_an_error():
    assert "t.cfg:1:1" in error_of("#!ifexp (1 +\n#!endif\n")


def test_defexp_defines_the_value_of_an_expression():
    # as in Kamailio a define's value is a string: 1 + A adds, A + 1 would concatenate
    assert (
        pp("#!define A 2\n#!defexp B 1 + A\n#!defexps C 40 + 2\n").defines.items()
        >= {"B": "3", "C": '"42"'}.items()
    )


# ---------------------------------------------------------------- environment


def test_defenv_defines_from_environment(monkeypatch):
    monkeypatch.setenv("KAMPY_T_HOST", "10.0.0.1")
    result = pp("#!defenv MYHOST=KAMPY_T_HOST\n#!defenvs KAMPY_T_HOST\n#!trydefenv NOT_SET_KAMPY_X\n")
    assert result.defines["MYHOST"] == "10.0.0.1"
    assert result.defines["KAMPY_T_HOST"] == '"10.0.0.1"'
    assert "NOT_SET_KAMPY_X" not in result.defines


def test_defenv_of_missing_variable_is_an_error(monkeypatch):
    monkeypatch.delenv("KAMPY_T_MISSING", raising=False)
    assert "t.cfg:1:1" in error_of("#!defenv KAMPY_T_MISSING\n")


# ---------------------------------------------------------------- #!subst


def test_subst_applies_inside_strings_only():
    lines = out('#!subst "/DOMAIN/example.com/g"\nx = "sip:DOMAIN DOMAIN";\ny = DOMAIN;\n')
    assert lines[1:] == ['x = "sip:example.com example.com";', "y = DOMAIN;"]


def test_subst_with_other_delimiter_flags_and_backreference():
    assert out('#!subst "|a(b)|<\\1>|i"\nx="AB ab";\n')[1] == 'x="<B> ab";'


def test_subst_applies_to_pseudo_variables_with_parens():
    assert out('#!subst "/NAME/real/"\n$var(NAME) = 1;\n')[1] == "$var(real) = 1;"


def test_substdef_defines_and_substitutes():
    result = pp('#!substdef "!MYIP!10.0.0.1!g"\nlisten=MYIP\nx="MYIP";\n')
    assert result.defines["MYIP"] == "10.0.0.1"
    assert result.text.splitlines()[1:] == ["listen=10.0.0.1", 'x="10.0.0.1";']


def test_substdefs_defines_a_quoted_string():
    assert pp('#!substdefs "/DBURL/mysql:\\/\\/db/"\n').defines["DBURL"] == '"mysql:\\/\\/db"'


def test_malformed_subst_is_an_error():
    message = error_of('x\n#!subst "/abc/def"\n')
    assert "t.cfg:2:1" in message and "bad #!subst" in message


def test_subst_with_unknown_flag_is_an_error():
    assert "unknown flag" in error_of('#!subst "/a/b/q"\n')


# ---------------------------------------------------------------- headers and comments


def test_kamailio_header_is_dropped():
    assert out("#!KAMAILIO\nx\n") == ["", "x"]


def test_unknown_bang_word_is_a_comment():
    assert out("#!something else\n#! spaced\n") == ["#!something else", "#! spaced"]


def test_directive_inside_block_comment_is_ignored():
    assert "A" not in pp("/*\n#!define A 1\n*/\n").defines


def test_unterminated_string_is_an_error():
    assert "t.cfg:2:3" in error_of('x\ny="abc\n')


# ---------------------------------------------------------------- includes


def test_include_file_inserts_lines_with_their_own_mapping(tmp_path: Path):
    (tmp_path / "inc.cfg").write_text("a=1\nb=2\n")
    main = tmp_path / "main.cfg"
    main.write_text('first\ninclude_file "inc.cfg"\nlast\n')
    result = preprocess_file(main)
    assert result.text.splitlines() == ["first", "a=1", "b=2", "", "last"]
    inc = str(tmp_path / "inc.cfg")
    assert result.origin(1) == (str(main), 1)
    assert result.origin(2) == (inc, 1) and result.origin(3) == (inc, 2)
    assert result.origin(5) == (str(main), 3)


def test_include_file_defines_are_shared(tmp_path: Path):
    (tmp_path / "defs.cfg").write_text("#!define PORT 5080\n")
    main = tmp_path / "main.cfg"
    main.write_text('#!include_file "defs.cfg"\nport=PORT\n')
    assert "port=5080" in preprocess_file(main).text


def test_include_found_relative_to_working_directory_first(tmp_path: Path, monkeypatch):
    (tmp_path / "cwd").mkdir()
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cwd" / "x.cfg").write_text("from_cwd\n")
    (tmp_path / "cfg" / "x.cfg").write_text("from_cfg_dir\n")
    (tmp_path / "cfg" / "main.cfg").write_text('include_file "x.cfg"\n')
    monkeypatch.chdir(tmp_path / "cwd")
    assert "from_cwd" in preprocess_file(tmp_path / "cfg" / "main.cfg").text
    monkeypatch.chdir(tmp_path)
    assert "from_cfg_dir" in preprocess_file(tmp_path / "cfg" / "main.cfg").text


def test_missing_include_file_is_an_error(tmp_path: Path):
    main = tmp_path / "main.cfg"
    main.write_text('x\ninclude_file "nope.cfg"\n')
    with pytest.raises(ConfigError, match=re.escape(f"{main}:2:1")):
        preprocess_file(main)


def test_missing_import_file_is_ignored(tmp_path: Path):
    main = tmp_path / "main.cfg"
    main.write_text('import_file "nope.cfg"\n#!import_file "nope2.cfg"\nx\n')
    assert preprocess_file(main).text.split() == ["x"]


def test_include_cycle_is_an_error_with_the_chain(tmp_path: Path):
    (tmp_path / "a.cfg").write_text('include_file "b.cfg"\n')
    (tmp_path / "b.cfg").write_text('\ninclude_file "a.cfg"\n')
    with pytest.raises(ConfigError) as exc:
        preprocess_file(tmp_path / "a.cfg")
    message = str(exc.value)
    assert f"{tmp_path / 'b.cfg'}:2:1" in message and "include cycle" in message
    assert message.count("a.cfg") >= 2


def test_include_file_name_must_be_quoted(tmp_path: Path):
    assert "double quotes" in error_of("include_file inc.cfg\n", base_dir=tmp_path)


def test_ifdef_in_included_file_skips_lines(tmp_path: Path):
    (tmp_path / "inc.cfg").write_text("#!ifdef NOPE\nhidden\n#!endif\nshown\n")
    main = tmp_path / "main.cfg"
    main.write_text('include_file "inc.cfg"\n')
    assert preprocess_file(main).text.split() == ["shown"]


# ---------------------------------------------------------------- line mapping and cfg-print


def test_line_mapping_is_aligned_within_one_file():
    result = pp("#!define A 1\n#!ifdef B\nx\n#!endif\n/* a\nb */ y=A\n")
    assert len(result.lines) == len(result.text.splitlines()) == 6
    assert [result.origin(n) for n in (1, 6)] == [("t.cfg", 1), ("t.cfg", 6)]


def test_cfg_print_keeps_defines_and_drops_conditionals(tmp_path: Path):
    (tmp_path / "inc.cfg").write_text("inc\n")
    main = tmp_path / "main.cfg"
    main.write_text('#!define A 1\n#!ifdef A\nx=A\n#!else\ny\n#!endif\ninclude_file "inc.cfg"\n')
    assert format_cfg_print(preprocess_file(main)) == "#!define A 1\nx=A\ninc\n\n"


# ---------------------------------------------------------------- the stock config


def _stock_features() -> list[str]:
    if not STOCK_CFG.exists():
        return []
    return sorted(set(re.findall(r"#!ifdef (WITH_\w+)", STOCK_CFG.read_text())))


@pytest.mark.skipif(not STOCK_CFG.exists(), reason="no /etc/kamailio/kamailio.cfg")
@pytest.mark.parametrize("feature", [None, *_stock_features()])
def test_stock_kamailio_cfg_preprocesses_with_each_feature(feature):
    result = preprocess_file(STOCK_CFG, {feature: None} if feature else None)
    assert len(result.lines) == len(result.text.splitlines())
    assert "FLT_ACC" not in result.text.split("#!define FLT_ACC")[-1].replace("FLT_ACCMISSED", "")


@pytest.mark.skipif(not STOCK_CFG.exists(), reason="no /etc/kamailio/kamailio.cfg")
def test_stock_kamailio_cfg_is_fast():
    preprocess_file(STOCK_CFG)
    start = time.perf_counter()
    preprocess_file(STOCK_CFG, {"WITH_MYSQL": None, "WITH_AUTH": None, "WITH_NAT": None})
    assert time.perf_counter() - start < 0.05


def test_ppdefines_lists_every_define_in_definition_order_with_its_kind():
    """What core.ppdefines_full shows: the core's defines, the command line's, then the config's, with
    None for a define without value and Kamailio's type (0 #!define, 1 #!trydef, 2 #!redefine)."""
    result = pp("#!define A 1\n#!trydef B\n#!trydef A 3\n#!redefine C x\n", defines={"D": None})
    assert result.ppdefines[-4:] == [("D", None, 0), ("A", "1", 0), ("B", None, 1), ("C", "x", 2)]
    assert [name for name, _, _ in result.ppdefines[:3]] == ["KAMAILIO_5", "KAMAILIO_5_6", "KAMAILIO_5_6_3"]
