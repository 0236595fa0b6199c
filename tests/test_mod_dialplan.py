"""dialplan: dp_translate(), dp_match(), dp_replace(), dp_reload() and the dialplan.* RPC methods
with rules of the dialplan table (the documentation's examples among them), on SQLite and on
MariaDB; the same rules are run by Kamailio 5.6 in tests/e2e/test_misc_modules_kamailio.py."""
from __future__ import annotations

from typing import Any

import pytest

from kampy.api import Member
from kampy.db import connect, create_tables
from kampy.module import RpcFault

HEAD = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "dialplan.so"
modparam("dialplan", "db_url", "{url}")
modparam("dialplan", "attrs_pvar", "$var(attrs)")
{params}
request_route {{
    {body}
    $avp(attrs) = $var(attrs);
    sl_send_reply("200", "OK");
}}
failure_route[F] {{
    dp_translate("1", "$rU/$rU");
    $var(branch) = $(branch(uri)[0]);
}}
"""

# dpid, pr, match_op, match_exp, match_len, subst_exp, repl_exp, attrs
RULES = [
    (1, 1, 1, "^0[1-9][0-9]+$", 0, "^0([1-9][0-9]+)$", "0049\\1", "de"),   # the documentation's rules
    (1, 2, 1, "^0[1-9][0-9]+$", 0, "^0(.+)$", "$var(prefix)\\1", "xyz"),
    (2, 1, 0, "112", 0, "", "911", "emergency"),
    (2, 2, 2, "8*", 0, "", "", "fn"),
    (3, 5, 1, "^1", 0, "^1(.*)", "short\\1", "four"),
    (3, 9, 1, "^1", 4, "^1(.*)", "len4-\\1", "by length"),
    (4, 1, 1, "^(?<cc>49)(.*)$", 0, "^(49)(.*)$", "+\\1 \\2", "named"),
    (5, 1, 1, "^\\Q+49\\E[[:digit:]]+\\z", 0, "^\\Q+49\\E([[:digit:]]+)$", "0\\1", "pcre spellings"),
]


def seed(url: str, rules: list[tuple[Any, ...]]) -> str:
    with connect(url) as db:
        create_tables(db, ["dialplan"])
        db.delete("dialplan", {})
        for dpid, pr, op, match, length, subst, repl, attrs in rules:
            db.insert("dialplan", {"dpid": dpid, "pr": pr, "match_op": op, "match_exp": match,
                                   "match_len": length, "subst_exp": subst, "repl_exp": repl, "attrs": attrs})
    return url


@pytest.fixture
def plans(db_url: str) -> str:
    return seed(db_url, RULES)


def server(kampy_cfg: Any, url: str, body: str = "", params: str = "") -> Any:
    return kampy_cfg(HEAD.format(url=url, params=params, body=body), db=None)


def send(sip: Any, user: str) -> Any:
    return sip.send_request("OPTIONS", f"sip:{user}@example.test")


def test_dp_translate_rewrites_the_r_uri_user_by_default(kampy_cfg: Any, plans: str) -> None:
    sip = server(kampy_cfg, plans, '$avp(rc) = dp_translate("1"); $avp(ru) = $ru;')
    result = send(sip, "0301234567")
    assert (result.avp("rc"), result.avp("ru"), result.avp("attrs")) == (
        1, "sip:0049301234567@example.test", "de")


def test_dp_translate_from_a_variable_into_another(kampy_cfg: Any, plans: str) -> None:
    sip = server(kampy_cfg, plans, '$avp(src) = "0301234567"; $var(x) = 1; '
                                   '$avp(rc) = dp_translate("$var(x)", "$avp(src)/$var(y)"); '
                                   "$avp(y) = $var(y);")
    assert send(sip, "anything").avp("y") == "0049301234567"


def test_the_lower_priority_wins_and_a_replacement_may_hold_variables(kampy_cfg: Any, db_url: str) -> None:
    url = seed(db_url, [(1, 2, 1, "^0[1-9][0-9]+$", 0, "^0([1-9][0-9]+)$", "0049\\1", "de"),
                        (1, 1, 1, "^0[1-9][0-9]+$", 0, "^0(.+)$", "$var(prefix)\\1", "xyz")])
    sip = server(kampy_cfg, url, '$var(prefix) = "+41"; dp_translate("1", "$rU/$var(out)"); '
                                 "$avp(out) = $var(out);")
    result = send(sip, "0301234567")
    assert (result.avp("out"), result.avp("attrs")) == ("+41301234567", "xyz")


def test_string_and_fnmatch_rules(kampy_cfg: Any, plans: str) -> None:
    sip = server(kampy_cfg, plans, '$var(out) = $null; $avp(rc) = dp_translate("2", "$rU/$var(out)"); '
                                   "$avp(out) = $var(out);")
    result = send(sip, "112")
    assert (result.avp("rc"), result.avp("out"), result.avp("attrs")) == (1, "911", "emergency")
    result = send(sip, "8765")
    # no repl_exp: the output is left as it was
    assert (result.avp("rc"), result.avp("out"), result.avp("attrs")) == (1, 0, "fn")


def test_a_rule_for_the_value_length_is_tried_before_those_for_any_length(kampy_cfg: Any, plans: str) -> None:
    sip = server(kampy_cfg, plans, 'dp_replace("3", "$rU", "$var(out)"); $avp(out) = $var(out);')
    assert send(sip, "1234").avp("out") == "len4-234"
    assert send(sip, "12345").avp("out") == "short2345"


def test_a_pcre_named_group_is_accepted(kampy_cfg: Any, plans: str) -> None:
    sip = server(kampy_cfg, plans, 'dp_replace("4", "$rU", "$var(out)"); $avp(out) = $var(out);')
    assert send(sip, "49301").avp("out") == "+49 301"


def test_pcre_quoting_posix_classes_and_end_anchors_are_read_as_pcre_reads_them(kampy_cfg: Any,
                                                                                plans: str) -> None:
    sip = server(kampy_cfg, plans, '$avp(rc) = dp_replace("5", "$rU", "$var(out)"); $avp(out) = $var(out);')
    assert send(sip, "+49301").avp("out") == "0301"
    assert send(sip, "4930a").avp("rc") == -1


def test_no_rule_matching_is_minus_1_and_an_unknown_dialplan_minus_2(kampy_cfg: Any, plans: str) -> None:
    sip = server(kampy_cfg, plans, '$avp(a) = dp_translate("2", "$rU/$var(o)"); '
                                   '$avp(b) = dp_match("77", "$rU");')
    result = send(sip, "999")
    assert (result.avp("a"), result.avp("b")) == (-1, -2)


def test_dp_match_sets_the_attributes_only(kampy_cfg: Any, plans: str) -> None:
    sip = server(kampy_cfg, plans, '$avp(rc) = dp_match("1", "0$rU"); $avp(ru) = $rU;')
    result = send(sip, "301234567")
    assert (result.avp("rc"), result.avp("attrs"), result.avp("ru")) == (1, "de", "301234567")


def test_a_string_dpid_in_a_variable_is_refused_as_kamailio_refuses_it(kampy_cfg: Any, plans: str) -> None:
    sip = server(kampy_cfg, plans, '$var(id) = "1"; $avp(rc) = dp_translate("$var(id)");')
    assert send(sip, "0301234567").avp("rc") == -1


def test_a_destination_that_is_not_a_variable_or_the_r_uri_is_refused(kampy_cfg: Any, plans: str) -> None:
    with pytest.raises(Exception, match="Unsupported Parameter TYPE"):
        server(kampy_cfg, plans, 'dp_translate("1", "$rU/$fu");')


def test_in_failure_route_a_translated_r_uri_appends_a_branch(kampy_cfg: Any, plans: str) -> None:
    cfg = HEAD.replace('loadmodule "sl.so"', 'loadmodule "sl.so"\nloadmodule "tm.so"')
    body = 'if ($rm == "INVITE") { t_on_failure("F"); t_relay(); exit; } $avp(branch) = $var(branch);'
    sip = kampy_cfg(cfg.format(url=plans, params="", body=body), db=None)
    sip.ua("sip:0301234567@example.test", "192.0.2.20:5062", answer=486)
    sip.send_request("INVITE", "sip:0301234567@192.0.2.20:5062").assert_reply(486)
    # the branch failure_route appended, read back by the next request in the same process
    branch = sip.send_request("OPTIONS", "sip:x@example.test").avp("branch")
    assert branch == "sip:0049301234567@192.0.2.20:5062"


def test_rpc_translate_dump_and_reload(kampy_cfg: Any, plans: str) -> None:
    sip = server(kampy_cfg, plans, 'dp_match("5", "$rU");', 'modparam("dialplan", "reload_delta", 1)')
    rpc = sip.core.rpc
    assert rpc.call("dialplan.translate", [2, "112"]) == {"Output": "911", "Attributes": "emergency"}
    assert rpc.call("dialplan.translate", [1, "s:0301234567"]) == {"Output": "0049301234567",
                                                                   "Attributes": "de"}
    assert rpc.call("dialplan.dump", [2]) == {"DPID": 2, "ENTRIES": [
        Member("ENTRY", {"PRIO": 1, "MATCHOP": 0, "MATCHEXP": "112", "MATCHLEN": 0, "SUBSTEXP": "",
                         "REPLEXP": "911", "ATTRS": "emergency"}),
        Member("ENTRY", {"PRIO": 2, "MATCHOP": 2, "MATCHEXP": "8*", "MATCHLEN": 0, "SUBSTEXP": "",
                         "REPLEXP": "", "ATTRS": "fn"})]}
    for method, params, message in (("dialplan.translate", [9, "1"], "Dialplan ID not matched"),
                                    ("dialplan.translate", [2, "999"], "No translation"),
                                    ("dialplan.dump", [9], "Dialplan ID not matched")):
        with pytest.raises(RpcFault, match=message):
            rpc.call(method, params)
    with connect(plans) as db:
        db.insert("dialplan", {"dpid": 5, "pr": 1, "match_op": 0, "match_exp": "5", "match_len": 0,
                               "subst_exp": "", "repl_exp": "five", "attrs": "new"})
    assert send(sip, "5").avp("attrs") == 0  # $var(attrs) was never set
    rpc.call("dialplan.reload")
    assert send(sip, "5").avp("attrs") == "new"
    with pytest.raises(RpcFault, match="ongoing reload"):
        rpc.call("dialplan.reload")


def test_dp_reload_reads_the_table_again(kampy_cfg: Any, plans: str) -> None:
    sip = server(kampy_cfg, plans, '$avp(before) = dp_match("6", "$rU"); dp_reload(); '
                                   '$avp(after) = dp_match("6", "$rU");')
    with connect(plans) as db:
        db.insert("dialplan", {"dpid": 6, "pr": 1, "match_op": 0, "match_exp": "6", "match_len": 0,
                               "subst_exp": "", "repl_exp": "", "attrs": "six"})
    result = send(sip, "6")
    assert (result.avp("before"), result.avp("after")) == (-2, 1)


def test_match_dynamic_evaluates_variables_in_the_match_expression(kampy_cfg: Any, db_url: str) -> None:
    url = seed(db_url, [(7, 1, 1, "^$var(cc)[0-9]+$", 0, "^$var(cc)(.*)$", "x\\1", "dyn")])
    sip = server(kampy_cfg, url, '$var(cc) = "44"; $avp(rc) = dp_replace("7", "$rU", "$var(out)"); '
                                 "$avp(out) = $var(out);", 'modparam("dialplan", "match_dynamic", 1)')
    result = send(sip, "44123")
    assert (result.avp("rc"), result.avp("out")) == (1, "x123")
    assert send(sip, "33123").avp("rc") == -1


def test_a_rule_that_does_not_build_refuses_the_start(kampy_cfg: Any, db_url: str) -> None:
    url = seed(db_url, [(1, 1, 1, "^(a$", 0, "", "", "")])
    with pytest.raises(Exception, match="could not initialize data"):
        server(kampy_cfg, url)


def test_a_replacement_with_more_groups_than_the_substitution_refuses_the_start(kampy_cfg: Any,
                                                                                  db_url: str) -> None:
    url = seed(db_url, [(1, 1, 1, "^1", 0, "^1(.)", "\\2", "")])
    with pytest.raises(Exception, match="refers to 2 sub-expressions"):
        server(kampy_cfg, url)
