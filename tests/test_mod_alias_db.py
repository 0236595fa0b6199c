"""alias_db and speeddial in-process, on SQLite and MariaDB: the R-URI rewritten from the dbaliases
and speed_dial tables as `kamctl alias_db add` / the admin fills them."""
from __future__ import annotations

import pytest

from kampy.db import connect
from kampy.testing import Harness
from tests.authkit import make_tables, on_db

ALIAS = "".join(f'loadmodule "{m}.so"\n' for m in ("sl", "pv", "textops", "alias_db", "speeddial"))


def rows(url: str, table: str, *values: dict[str, object]) -> None:
    with connect(url) as db:
        for row in values:
            db.insert(table, row)


@pytest.fixture
def load(kampy_cfg, db_url: str):
    make_tables(db_url, "dbaliases", "speed_dial")
    rows(db_url, "dbaliases",
         {"alias_username": "support", "alias_domain": "example.test", "username": "bob",
          "domain": "example.test"},
         {"alias_username": "support", "alias_domain": "example.test", "username": "carol",
          "domain": "example.org"},
         {"alias_username": "sales", "alias_domain": "example.org", "username": "dave",
          "domain": "example.org"})
    rows(db_url, "speed_dial",
         {"username": "alice", "domain": "example.test", "sd_username": "11", "sd_domain": "example.test",
          "new_uri": "sip:bob@example.test"},
         {"username": "alice", "domain": "example.org", "sd_username": "22", "sd_domain": "example.org",
          "new_uri": "carol@example.org"})

    def make(route: str, params: str = "") -> Harness:
        return kampy_cfg(ALIAS + params + "request_route {\n" + route + "\n}\n", db=None,
                         modparams=on_db(db_url, "alias_db", "speeddial"))
    return make


LOOKUP = '''
    if (!alias_db_lookup("dbaliases"$FLAGS)) { sl_send_reply("404", "no alias"); exit; }
    sl_send_reply("200", "=$ru $bR");
'''


def lookup(sip: Harness, ruri: str) -> str:
    result = sip.send_request("INVITE", ruri)
    return f"{result.reply.status} {result.reply.reason.removeprefix('=')}"


def test_alias_db_lookup_replaces_the_ruri_with_the_first_user(load) -> None:
    sip = load(LOOKUP.replace("$FLAGS", ""))
    assert lookup(sip, "sip:support@example.test:5080;transport=udp") == "200 sip:bob@example.test <null>"


def test_an_unknown_alias_is_minus_1(load) -> None:
    assert lookup(load(LOOKUP.replace("$FLAGS", "")), "sip:nobody@example.test") == "404 no alias"


def test_append_branches_makes_the_other_users_branches(load) -> None:
    sip = load(LOOKUP.replace("$FLAGS", ""), 'modparam("alias_db", "append_branches", 1)\n')
    assert lookup(sip, "sip:support@example.test") == "200 sip:bob@example.test sip:carol@example.org"


def test_use_domain_matches_the_alias_domain(load) -> None:
    sip = load(LOOKUP.replace("$FLAGS", ""), 'modparam("alias_db", "use_domain", 1)\n')
    assert lookup(sip, "sip:sales@example.test") == "404 no alias"
    assert lookup(sip, "sip:sales@example.org") == "200 sip:dave@example.org <null>"


def test_the_d_flag_ignores_the_domain_and_u_uses_it(load) -> None:
    with_domain = 'modparam("alias_db", "use_domain", 1)\n'
    without = load(LOOKUP.replace("$FLAGS", ', "d"'), with_domain)
    assert lookup(without, "sip:sales@example.test").startswith("200")
    assert lookup(load(LOOKUP.replace("$FLAGS", ', "u"')), "sip:sales@example.test") == "404 no alias"


def test_domain_prefix_is_stripped_from_the_host(load) -> None:
    params = 'modparam("alias_db", "use_domain", 1)\nmodparam("alias_db", "domain_prefix", "sip.")\n'
    assert lookup(load(LOOKUP.replace("$FLAGS", ""), params), "sip:sales@sip.example.org").startswith("200")


def test_the_r_flag_finds_the_alias_of_a_user(load) -> None:
    assert lookup(load(LOOKUP.replace("$FLAGS", ', "r"')), "sip:dave@example.org") == \
        "200 sip:sales@example.org <null>"


def test_an_unknown_flag_is_refused_at_start(load) -> None:
    with pytest.raises(Exception, match="unsupported flag 'x'"):
        load(LOOKUP.replace("$FLAGS", ', "x"'))


def test_alias_db_find_writes_the_user_into_a_variable(load) -> None:
    route = ('$var(in) = "sip:support@example.test";\n'
             'if (!alias_db_find("dbaliases", "$var(in)", "$avp(out)")) {\n'
             '    sl_send_reply("404", "no"); exit;\n}\n'
             'sl_send_reply("200", "=$avp(out) $ru");')
    result = load(route).send_request("INVITE", "sip:x@example.test")
    assert result.reply.reason == "=sip:bob@example.test sip:x@example.test"


def test_alias_db_find_with_append_branches_adds_every_user_to_the_avp(load) -> None:
    route = ('$var(in) = "sip:support@example.test";\nalias_db_find("dbaliases", "$var(in)", "$avp(out)");\n'
             'sl_send_reply("200", "=$(avp(out)[0]) $(avp(out)[1])");')
    sip = load(route, 'modparam("alias_db", "append_branches", 1)\n')
    assert sip.send_request("INVITE", "sip:x@example.test").reply.reason == \
        "=sip:carol@example.org sip:bob@example.test"


def test_alias_db_find_refuses_an_output_other_than_avp_or_var(load) -> None:
    with pytest.raises(Exception, match="cannot be written"):
        load('alias_db_find("dbaliases", "$ru", "$du");')


def test_alias_db_lookup_on_a_missing_table_is_minus_1(load) -> None:
    sip = load('if (!alias_db_lookup("no_such_table")) { sl_send_reply("404", "no"); exit; }')
    assert sip.send_request("INVITE", "sip:support@example.test").reply.status == 404


# ------------------------------------------------------------------ speeddial


SD = '''
    if (!sd_lookup("speed_dial"$OWNER)) { sl_send_reply("404", "no"); exit; }
    sl_send_reply("200", "$ru");
'''


def dial(sip: Harness, ruri: str, from_: str = "sip:alice@example.test") -> str:
    result = sip.send_request("INVITE", ruri, from_=from_)
    return f"{result.reply.status} {result.reply.reason}"


def test_sd_lookup_replaces_the_number_with_the_owners_target(load) -> None:
    assert dial(load(SD.replace("$OWNER", "")), "sip:11@example.test") == "200 sip:bob@example.test"


def test_sd_lookup_of_an_unknown_number_is_minus_1(load) -> None:
    assert dial(load(SD.replace("$OWNER", "")), "sip:12@example.test") == "404 no"


def test_sd_lookup_adds_sip_to_a_target_without_it(load) -> None:
    assert dial(load(SD.replace("$OWNER", "")), "sip:22@example.test") == "200 sip:carol@example.org"


def test_use_domain_1_matches_the_owner_domain_and_2_the_ruri_host(load) -> None:
    one = load(SD.replace("$OWNER", ""), 'modparam("speeddial", "use_domain", 1)\n')
    assert dial(one, "sip:22@anything.test", "sip:alice@example.test") == "404 no"
    assert dial(one, "sip:22@anything.test", "sip:alice@example.org") == "200 sip:carol@example.org"
    two = load(SD.replace("$OWNER", ""), 'modparam("speeddial", "use_domain", 2)\n')
    assert dial(two, "sip:22@anything.test", "sip:alice@example.org") == "404 no"
    assert dial(two, "sip:22@example.org", "sip:alice@example.org") == "200 sip:carol@example.org"


def test_domain_prefix_is_stripped_from_both_domains(load) -> None:
    params = 'modparam("speeddial", "use_domain", 2)\nmodparam("speeddial", "domain_prefix", "sip.")\n'
    sip = load(SD.replace("$OWNER", ""), params)
    assert dial(sip, "sip:22@sip.example.org", "sip:alice@sip.example.org") == "200 sip:carol@example.org"


def test_sd_lookup_with_an_owner_uses_its_numbers(load) -> None:
    sip = load(SD.replace("$OWNER", ', "sip:alice@example.test"'))
    assert dial(sip, "sip:11@example.test", "sip:someone@else.test") == "200 sip:bob@example.test"


def test_sd_lookup_with_a_bad_owner_is_minus_1(load) -> None:
    assert dial(load(SD.replace("$OWNER", ', "not a uri"')), "sip:11@example.test") == "404 no"
