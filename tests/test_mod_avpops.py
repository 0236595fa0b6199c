"""avpops: the AVPs of usr_preferences loaded, stored and deleted (SQLite and MariaDB), loaded by
a query, and the operations on the message's AVPs; tests/e2e/units/test_tavpop0001.py runs
Kamailio's own unit, tests/e2e/test_misc_modules_kamailio.py compares with Kamailio 5.6."""
from __future__ import annotations

import logging
from typing import Any

import pytest

from kampy.db import connect, create_tables

HEAD = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "avpops.so"
{db}
{params}
request_route {{
    {body}
    sl_send_reply("200", "OK");
}}
"""
DB = 'modparam("avpops", "db_url", "{url}")\nmodparam("avpops", "avp_table", "usr_preferences")'


@pytest.fixture
def prefs(db_url: str) -> str:
    """usr_preferences rows as a provisioning tool writes them (type 0 string, 1 integer value,
    2 integer name, 3 both)."""
    with connect(db_url) as db:
        create_tables(db, ["usr_preferences"])
        for uuid, user, domain, attribute, kind, value in (
                ("", "alice", "example.test", "fwd", 0, "sip:voicemail@example.test"),
                ("", "alice", "example.test", "timeout", 1, "30"),
                ("", "alice", "other.test", "fwd", 0, "sip:other@other.test"),
                ("", "alice", "example.test", "678", 2, "sip:by-id@example.test"),
                ("u-42", "", "", "lang", 0, "de")):
            db.insert("usr_preferences", {"uuid": uuid, "username": user, "domain": domain,
                                          "attribute": attribute, "type": kind, "value": value})
    return db_url


def run(kampy_cfg: Any, body: str, url: str | None = None, params: str = "", **request: Any) -> Any:
    sip = kampy_cfg(HEAD.format(db=DB.format(url=url) if url else "", params=params, body=body), db=None)
    request.setdefault("from_", "sip:alice@example.test")
    return sip.send_request("OPTIONS", request.pop("ruri", "sip:bob@example.test"), **request)


def rows(url: str, **where: Any) -> list[tuple[Any, ...]]:
    with connect(url) as db:
        columns = ["uuid", "username", "domain", "attribute", "type", "value"]
        return sorted(db.query("usr_preferences", columns, where))


# ---------------------------------------------------------------- avp_db_load


def test_db_load_of_the_from_uri_loads_its_user_s_avps(kampy_cfg: Any, prefs: str) -> None:
    result = run(kampy_cfg, '$avp(rc) = avp_db_load("$fu", "a");', prefs)
    assert result.avp("rc") == 1
    assert sorted(result.avps["fwd"]) == ["sip:other@other.test", "sip:voicemail@example.test"]
    assert result.avp("timeout") == 30                       # type 1: an integer value
    assert result.avp("i:678") == "sip:by-id@example.test"   # type 2: an integer name


def test_use_domain_restricts_to_the_uri_s_domain(kampy_cfg: Any, prefs: str) -> None:
    result = run(kampy_cfg, 'avp_db_load("$fu", "$avp(fwd)");', prefs, 'modparam("avpops", "use_domain", 1)')
    assert result.avps["fwd"] == ["sip:voicemail@example.test"]


def test_a_named_avp_loads_only_that_attribute(kampy_cfg: Any, prefs: str) -> None:
    result = run(kampy_cfg, '$avp(rc) = avp_db_load("$fu/username", "$avp(timeout)"); '
                            '$avp(n) = avp_db_load("$fu", "$avp(i:678)");', prefs)
    assert (result.avp("rc"), result.avp("timeout"), result.avp("n")) == (1, 30, 1)
    assert "fwd" not in result.avps


def test_type_letters_load_the_avps_of_that_name_type(kampy_cfg: Any, prefs: str) -> None:
    result = run(kampy_cfg, 'avp_db_load("$fu", "i");', prefs)
    assert result.avp("i:678") == "sip:by-id@example.test"
    assert "fwd" not in result.avps


def test_script_flags_of_a_type_letter_mark_the_avps_loaded(kampy_cfg: Any, prefs: str,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="kampy.avpops"):
        result = run(kampy_cfg, '$avp(rc) = avp_db_load("$fu", "s5"); avp_print();', prefs)
    assert (result.avp("rc"), result.avp("timeout")) == (1, 30)
    assert "flags=0x1511" in caplog.text and "flags=0x1513" in caplog.text  # 5 << 8, AVP_IS_IN_DB


def test_a_script_flag_with_bit_2_loads_the_avps_out_of_sight(kampy_cfg: Any, prefs: str) -> None:
    """2 << 8 is Kamailio's AVP_TRACK_TO: the AVPs go to the To track, which $avp() never reads."""
    result = run(kampy_cfg, '$avp(rc) = avp_db_load("$fu", "a3");', prefs)
    assert result.avp("rc") == 1
    assert "fwd" not in result.avps and "timeout" not in result.avps


def test_a_constant_is_a_uuid(kampy_cfg: Any, prefs: str) -> None:
    result = run(kampy_cfg, '$avp(rc) = avp_db_load("u-42", "s");', prefs)
    assert (result.avp("rc"), result.avp("lang")) == (1, "de")


def test_nothing_to_load_is_minus_1(kampy_cfg: Any, prefs: str) -> None:
    assert run(kampy_cfg, '$avp(rc) = avp_db_load("$fu", "a");', prefs,
               from_="sip:nobody@example.test").avp("rc") == -1


def test_a_db_scheme_loads_a_column_of_another_table(kampy_cfg: Any, prefs: str) -> None:
    with connect(prefs) as db:
        create_tables(db, ["subscriber"])
        db.insert("subscriber", {"username": "alice", "domain": "example.test", "password": "pw",
                                 "ha1": "h1", "ha1b": "h2"})
    result = run(kampy_cfg, '$avp(rc) = avp_db_load("$fu", "$avp(pw)/$sub");', prefs,
                 'modparam("avpops", "db_scheme", "sub:table=subscriber;value_col=password")')
    assert (result.avp("rc"), result.avp("pw")) == (1, "pw")


def test_without_db_url_the_db_functions_are_refused(kampy_cfg: Any) -> None:
    with pytest.raises(Exception, match="you have to configure a db_url"):
        run(kampy_cfg, 'avp_db_load("$fu", "a");')


def test_a_scheme_for_store_is_refused(kampy_cfg: Any, prefs: str) -> None:
    with pytest.raises(Exception, match="function doesn't support DB schemes"):
        run(kampy_cfg, 'avp_db_store("$fu", "$avp(x)/$sub");', prefs,
            'modparam("avpops", "db_scheme", "sub:table=subscriber;value_col=password")')


# ---------------------------------------------------------------- avp_db_store, avp_db_delete


def test_db_store_writes_usr_preferences_rows(kampy_cfg: Any, prefs: str) -> None:
    result = run(kampy_cfg, '$avp(color) = "blue"; $avp(i:7) = 12; '
                            '$avp(rc) = avp_db_store("$fu", "$avp(color)"); '
                            '$avp(rc2) = avp_db_store("$fu", "$avp(i:7)");', prefs,
                 from_="sip:carol@example.test")
    assert (result.avp("rc"), result.avp("rc2")) == (1, 1)
    assert rows(prefs, username="carol") == [("", "carol", "", "7", 3, "12"),
                                             ("", "carol", "", "color", 0, "blue")]


def test_an_avp_loaded_or_stored_is_not_stored_again(kampy_cfg: Any, prefs: str) -> None:
    result = run(kampy_cfg, 'avp_db_load("$fu", "$avp(fwd)"); $avp(a) = avp_db_store("$fu", "$avp(fwd)"); '
                            '$avp(new) = "x"; $avp(b) = avp_db_store("$fu", "s"); '
                            '$avp(c) = avp_db_store("$fu", "$avp(new)");', prefs,
                 'modparam("avpops", "use_domain", 1)')
    assert (result.avp("a"), result.avp("b"), result.avp("c")) == (-1, 1, -1)
    assert [r for r in rows(prefs, username="alice") if r[3] == "new"] == [
        ("", "alice", "example.test", "new", 0, "x")]


def test_a_value_set_again_equal_to_a_loaded_one_is_stored(kampy_cfg: Any, prefs: str) -> None:
    """30 and 30 are one Python object: the AVP loaded stays in the database, the one set is not."""
    result = run(kampy_cfg, 'avp_db_load("$fu", "$avp(timeout)"); $avp(timeout) = 30; '
                            '$avp(a) = avp_db_store("$fu", "$avp(timeout)"); '
                            '$avp(b) = avp_db_store("$fu", "$avp(timeout)");', prefs)
    assert (result.avp("a"), result.avp("b")) == (1, -1)
    assert rows(prefs, username="alice", attribute="timeout") == [
        ("", "alice", "", "timeout", 1, "30"), ("", "alice", "example.test", "timeout", 1, "30")]


def test_db_delete_removes_the_owner_s_rows(kampy_cfg: Any, prefs: str) -> None:
    result = run(kampy_cfg, '$avp(rc) = avp_db_delete("$fu", "$avp(fwd)");', prefs,
                 'modparam("avpops", "use_domain", 1)')
    assert result.avp("rc") == 1
    assert [r[2:4] for r in rows(prefs, username="alice")] == [
        ("example.test", "678"), ("example.test", "timeout"), ("other.test", "fwd")]


# ---------------------------------------------------------------- avp_db_query


def test_db_query_puts_each_column_in_its_avp(kampy_cfg: Any, prefs: str) -> None:
    result = run(kampy_cfg, '$avp(rc) = avp_db_query("select attribute, type from usr_preferences where '
                            'username = \'$fU\' and domain = \'$fd\' order by attribute", '
                            '"$avp(a);$avp(t)");',
                 prefs)
    assert result.avp("rc") == 1
    # the rows go in from the last: the first row's values are the newest
    assert result.avps["a"] == ["678", "fwd", "timeout"]
    assert result.avps["t"] == [2, 0, 1]


def test_db_query_without_dest_uses_integer_names(kampy_cfg: Any, prefs: str) -> None:
    result = run(kampy_cfg, '$avp(rc) = avp_db_query("select value, type from usr_preferences '
                            'where uuid = \'u-42\'");',
                 prefs)
    assert (result.avp("rc"), result.avp("i:1"), result.avp("i:2")) == (1, "de", 0)


def test_db_query_without_rows_is_minus_2_and_a_bad_query_minus_1(kampy_cfg: Any, prefs: str) -> None:
    result = run(kampy_cfg, '$avp(a) = avp_db_query("select value from usr_preferences '
                            'where uuid = \'none\'"); '
                            '$avp(b) = avp_db_query("select nonsense from nowhere");', prefs)
    assert (result.avp("a"), result.avp("b")) == (-2, -1)


# ---------------------------------------------------------------- the message's AVPs


def test_avp_delete_removes_the_newest_value_or_all_with_g(kampy_cfg: Any) -> None:
    result = run(kampy_cfg, '$avp(x) = 1; $avp(x) = 2; $avp(y) = 3; $avp(y) = 4; avp_delete("$avp(x)"); '
                            'avp_delete("$avp(y)/g"); $avp(rc) = avp_delete("$avp(y)");')
    assert (result.avps["x"], "y" in result.avps, result.avp("rc")) == ([1], False, -1)


def test_avp_delete_of_a_name_type_removes_every_avp_of_it(kampy_cfg: Any) -> None:
    result = run(kampy_cfg, '$avp(i:1) = 1; $avp(s) = "s"; avp_delete("i");')
    assert "i:1" not in result.avps and result.avp("s") == "s"


def test_avp_copy_copies_moves_and_casts(kampy_cfg: Any) -> None:
    result = run(kampy_cfg, '$avp(a) = "1"; $avp(a) = "2"; avp_copy("$avp(a)", "$avp(b)/g"); '
                            'avp_copy("$avp(a)", "$avp(c)/gdn");')
    assert result.avps["b"] == ["1", "2"]   # a list copied comes out reversed
    assert result.avps["c"] == [1, 2]
    assert "a" not in result.avps


def test_avp_pushto_sets_the_r_uri_its_parts_du_and_branches(kampy_cfg: Any) -> None:
    result = run(kampy_cfg, '$avp(u) = "carol"; $avp(d) = "sip:10.0.0.1:5070"; '
                            'avp_pushto("$ru/username", "$avp(u)"); '
                            'avp_pushto("$du", "$avp(d)"); $avp(b) = "sip:b1@x"; $avp(b) = "sip:b2@x"; '
                            'avp_pushto("$br", "$avp(b)/g"); avp_pushto("$ru/domain", "$fd"); '
                            "$avp(ru) = $ru; $avp(du) = $du; $avp(b0) = $(branch(uri)[0]); "
                            "$avp(b1) = $(branch(uri)[1]);")
    assert [result.avp(n) for n in ("ru", "du", "b0", "b1")] == [
        "sip:carol@example.test", "sip:10.0.0.1:5070", "sip:b2@x", "sip:b1@x"]


def test_avp_pushto_of_several_values_to_the_r_uri_appends_branches(kampy_cfg: Any) -> None:
    result = run(kampy_cfg, '$avp(t) = "sip:one@x"; $avp(t) = "sip:two@x"; avp_pushto("$ru", "$avp(t)/g"); '
                            "$avp(ru) = $ru; $avp(b0) = $(branch(uri)[0]);")
    assert (result.avp("ru"), result.avp("b0")) == ("sip:one@x", "sip:two@x")


@pytest.mark.parametrize(("setup", "check", "expected"), [
    ("$avp(i:678) = 300;", '"$avp(i:678)", "lt/i:345/g"', 1),
    ("$avp(i:678) = 400;", '"$avp(i:678)", "lt/i:345/g"', -1),
    ("", '"$fd", "eq/$td/I"', -1),
    ("", '"$fd", "eq/example.TEST/i"', 1),
    ('$avp(s:foo) = "sip:a@bar.net";', '"$avp(s:foo)", "re/sip:.*@bar.net/g"', 1),
    ('$avp(s:foo) = "abc"; $avp(fm_avp) = "a*";', '"$avp(s:foo)", "fm/$avp(fm_avp)/g"', 1),
    ('$avp(s:foo) = "b"; $var(bar) = "x"; $avp(x) = "a";', '"$avp(s:foo)", "gt/$avp($var(bar))/g"', 1),
    ("$avp(n) = 6;", '"$avp(n)", "and/i:0x2"', 1),
    ('$avp(n) = "6";', '"$avp(n)", "eq/i:6"', -1),  # a string is not an integer
    ('$avp(v) = "x"; $avp(v) = "y";', '"$avp(v)", "eq/x"', -1),  # without g, the newest only
    ('$avp(v) = "x"; $avp(v) = "y";', '"$avp(v)", "eq/x/g"', 1),
    ('$xavp(op=>lt) = 100;', '"$xavp(op[0]=>lt[0])", "lt/i:345/g"', 1),
    ('$xavp(op=>foo) = "q"; $xavp(op[0]=>foo) = "z";', '"$xavp(op[0]=>foo[*])", "eq/q"', 1),
])
def test_avp_check(kampy_cfg: Any, setup: str, check: str, expected: int) -> None:
    result = run(kampy_cfg, f"{setup} $avp(rc) = avp_check({check});", ruri="sip:bob@example.test",
                 to="sip:bob@example.com")
    assert result.avp("rc") == expected


def test_avp_op_computes_on_every_integer_value(kampy_cfg: Any) -> None:
    result = run(kampy_cfg, '$avp(n) = 10; $avp(n) = "skip"; $avp(n) = 20; '
                            'avp_op("$avp(n)/$avp(sum)", "add/i:5"); '
                            '$avp(m) = 7; avp_op("$avp(m)", "mod/i:4/d"); '
                            '$avp(k) = -7; avp_op("$avp(k)", "div/i:2"); '
                            '$avp(z) = 1; avp_op("$avp(z)", "not/i:0");')
    assert result.avps["sum"] == [15, 25]
    assert result.avps["m"] == [3]
    assert result.avps["k"][0] == -3
    assert result.avps["z"][0] == -1


def test_avp_op_needs_an_integer_value(kampy_cfg: Any) -> None:
    with pytest.raises(Exception, match="value must be int"):
        run(kampy_cfg, 'avp_op("$avp(n)", "add/5");')


def test_avp_subst_of_the_documentation(kampy_cfg: Any) -> None:
    result = run(kampy_cfg, '$avp(i:678) = "alice@old.test"; '
                            'avp_subst("$avp(i:678)", "/(.*)@(.*)/\\1@$rd/"); $avp(i:678) = "x@y"; '
                            'avp_subst("$avp(i:678)/$avp(i:679)/g", "/(.*)@(.*)/\\1@$rd/");')
    assert result.avps["i:678"] == ["x@y", "alice@example.test"]
    assert result.avps["i:679"] == ["alice@example.test", "x@example.test"]


def test_avp_subst_without_a_match_leaves_the_avp(kampy_cfg: Any) -> None:
    result = run(kampy_cfg, '$avp(s) = "abc"; $avp(rc) = avp_subst("$avp(s)", "/z/y/");')
    assert (result.avp("rc"), result.avp("s")) == (-1, "abc")


@pytest.mark.parametrize(("setup", "flags", "expected"), [
    ("$avp(x) = 1;", "", 1), ("", "", -1), ('$avp(x) = "";', "/e", 1), ("$avp(x) = 0;", "/e", 1),
    ("$avp(x) = 5;", "/e", -1), ('$avp(x) = "a";', "/s", 1), ("$avp(x) = 1;", "/s", -1),
    ("$avp(x) = 1;", "/n", 1),
])
def test_is_avp_set(kampy_cfg: Any, setup: str, flags: str, expected: int) -> None:
    assert run(kampy_cfg, f'{setup} $avp(rc) = is_avp_set("$avp(x){flags}");').avp("rc") == expected


def test_is_avp_set_looks_at_the_index(kampy_cfg: Any) -> None:
    result = run(kampy_cfg, '$avp(x) = 1; $avp(x) = "two"; $avp(a) = is_avp_set("$(avp(x)[1])/n"); '
                            '$avp(b) = is_avp_set("$(avp(x)[2])");')
    assert (result.avp("a"), result.avp("b")) == (1, -1)


def test_the_aliases_of_pv_name_avps_in_the_arguments(kampy_cfg: Any) -> None:
    result = run(kampy_cfg, '$avp(s:email_addr) = "x"; $avp(i:100) = 5; avp_copy("$avp(em)", "$avp(dst)"); '
                            'avp_op("$avp(tmp)", "add/i:2");',
                 params='modparam("pv", "avp_aliases", "em=s:email_addr;tmp=i:100")')
    assert (result.avp("dst"), result.avp("i:100")) == ("x", 7)


def test_a_computed_avp_name_is_no_alias(kampy_cfg: Any) -> None:
    result = run(kampy_cfg, '$avp(s:email_addr) = "x"; $var(n) = "em"; '
                            '$avp(rc) = avp_check("$avp($var(n))", "eq/x");',
                 params='modparam("pv", "avp_aliases", "em=s:email_addr")')
    assert result.avp("rc") == -1


def test_avp_print_shows_the_names_last_added_first(kampy_cfg: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="kampy.avpops"):
        run(kampy_cfg, '$avp(first) = 1; $avp(second) = 2; avp_print();')
    assert caplog.text.index("name=<second>") < caplog.text.index("name=<first>")


def test_avp_print_logs_every_avp(kampy_cfg: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="kampy.avpops"):
        run(kampy_cfg, '$avp(s:name) = "value"; $avp(i:5) = 7; avp_print();')
    assert "name=<name>" in caplog.text and "val_str=<value / 5>" in caplog.text
    assert "id=<5>" in caplog.text and "val_int=<7>" in caplog.text
