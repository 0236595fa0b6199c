"""auth_db in-process, on SQLite and on the suite's MariaDB: the subscriber table as kamctl fills it,
HA1 columns or plain passwords, domains, load_credentials, auth_check()'s user checks, is_subscriber()."""
from __future__ import annotations

import hashlib

import pytest

from kampy.db import connect, subscribers
from kampy.errors import ConfigError
from kampy.testing import Harness
from tests.authkit import DOMAIN, Client, cfg, challenge_of, make_tables, on_db

MODULES = ("sl", "pv", "textops", "auth", "auth_db")
WWW = '''
    if (!www_authorize("$td", "subscriber")) {
        $var(rc) = $rc;
        www_challenge("$td", "0");
        exit;
    }
    sl_send_reply("200", "OK $avp(pw) $var(p)");
'''
CHECK = '''
    if (!auth_check("$fd", "subscriber", "FLAGS")) {
        $var(rc) = $rc;
        if ($var(rc) == -5) { auth_challenge("$fd", "0"); exit; }
        sl_send_reply("403", "rc=$var(rc)");
        exit;
    }
    sl_send_reply("200", "OK");
'''


def params(**values: object) -> str:
    return "".join(f'modparam("auth_db", "{k}", {v!r})\n'.replace("'", '"') for k, v in values.items())


def add_user(url: str, user: str = "alice", password: str = "alice-pw", domain: str = DOMAIN) -> None:
    with connect(url) as db:
        if not subscribers.exists(db, subscribers.Account(user, domain)):
            subscribers.add(db, subscribers.Account(user, domain), password)


@pytest.fixture
def load(kampy_cfg, db_url: str):
    """A config with auth_db on the test's database (SQLite, MariaDB) holding alice."""
    make_tables(db_url, "subscriber")

    def make(route: str = WWW, **values: object) -> Harness:
        sip = kampy_cfg(cfg(route, params=params(**values), modules=MODULES), db=None,
                        modparams=on_db(db_url, "auth_db"))
        add_user(db_url)
        return sip
    return make


def test_the_ha1_column_authenticates_the_user(load) -> None:
    sip = load()
    first, second = Client(sip).register()
    first.assert_reply(401)
    assert first.codes("www_authorize") == [-5]
    second.assert_reply(200)
    assert second.codes("www_authorize") == [1]


def test_a_wrong_password_is_minus_2(load) -> None:
    sip = load()
    assert Client(sip, password="nope").register()[1].codes("www_authorize") == [-2]


def test_an_unknown_user_is_minus_3(load) -> None:
    sip = load()
    assert Client(sip, user="mallory").register()[1].codes("www_authorize") == [-3]


def test_a_username_with_a_domain_is_checked_against_ha1b(load) -> None:
    sip = load()
    client = Client(sip)
    challenge = challenge_of(client.request("REGISTER"))
    client.creds.username = f"alice@{DOMAIN}"  # HA1 of "alice@example.test:example.test:alice-pw": ha1b
    client.request("REGISTER", challenge=challenge).assert_reply(200)


def test_calculate_ha1_reads_the_plain_password_column(load) -> None:
    sip = load(calculate_ha1=1, password_column="password")
    Client(sip).register()[1].assert_reply(200)


def test_calculate_ha1_with_a_domain_in_the_username_uses_the_whole_username(load) -> None:
    sip = load(calculate_ha1=1, password_column="password")
    client = Client(sip)
    challenge = challenge_of(client.request("REGISTER"))
    client.creds.username = f"alice@{DOMAIN}"
    client.request("REGISTER", challenge=challenge).assert_reply(200)


def test_use_domain_tells_the_same_user_of_two_domains_apart(load, db_url: str) -> None:
    sip = load(use_domain=1, calculate_ha1=1, password_column="password")
    add_user(db_url, "alice", "other-pw", "example.org")
    Client(sip).register()[1].assert_reply(200)
    Client(sip, domain="example.org", password="other-pw").register()[1].assert_reply(200)
    assert Client(sip, domain="example.org").register()[1].codes("www_authorize") == [-2]


def test_without_use_domain_the_first_row_of_the_user_is_taken(load, db_url: str) -> None:
    sip = load(calculate_ha1=1, password_column="password")
    Client(sip, domain="example.org").register()[1].assert_reply(200)  # realm example.org, alice's row


def test_load_credentials_puts_columns_in_avps_on_success(load) -> None:
    sip = load(load_credentials="$avp(pw)=password;$var(p)=ha1")
    reply = Client(sip).register()[1].assert_reply(200)
    ha1 = hashlib.md5(f"alice:{DOMAIN}:alice-pw".encode()).hexdigest()
    assert reply.reason == f"OK alice-pw {ha1}"


def test_load_credentials_are_not_loaded_on_failure_unless_forced(load) -> None:
    route = ('if (!www_authorize("$td", "subscriber")) {\n'
             '    if ($avp(password) != $null) { sl_send_reply("403", "got $avp(password)"); exit; }\n'
             '    www_challenge("$td", "0"); exit;\n}\nsl_send_reply("200", "OK");')
    sip = load(route, load_credentials="password")
    Client(sip, password="nope").register()[1].assert_reply(401)
    forced = load(route, load_credentials="password", force_generate_avps=1)
    Client(forced, password="nope").register()[1].assert_reply(403, "got alice-pw")


def test_a_load_credentials_item_without_a_column_is_refused_at_start(kampy_cfg) -> None:
    with pytest.raises(Exception, match="load_credentials|parse failed"):
        kampy_cfg(cfg(WWW, params=params(load_credentials="$avp(x)="), modules=MODULES))


def test_proxy_authorize_checks_proxy_authorization(load) -> None:
    route = ('if (!proxy_authorize("$fd", "subscriber")) { proxy_challenge("$fd", "0"); exit; }\n'
             'sl_send_reply("200", "OK");')
    sip = load(route)
    client = Client(sip)
    challenge = challenge_of(client.request("INVITE"), "Proxy-Authenticate")
    client.request("INVITE", challenge=challenge).assert_reply(200)


def test_www_authenticate_with_a_method_checks_the_response_of_that_method(load) -> None:
    route = ('if (!www_authenticate("$td", "subscriber", "PUBLISH")) { www_challenge("$td", "0"); exit; }\n'
             'sl_send_reply("200", "OK");')
    sip = load(route)
    client = Client(sip)
    challenge = challenge_of(client.request("REGISTER"))
    answer = client.answer(challenge, "PUBLISH", f"sip:{DOMAIN}")
    sip.send_request("REGISTER", f"sip:{DOMAIN}", from_=client.aor, to=client.aor,
                     headers={"Authorization": answer}).assert_reply(200)


# ------------------------------------------------------------------ auth_check


def test_auth_check_challenges_and_accepts_register_and_invite(load) -> None:
    sip = load(CHECK.replace("FLAGS", "1"))
    Client(sip).register()[1].assert_reply(200)
    client = Client(sip)
    challenge = challenge_of(client.request("INVITE"), "Proxy-Authenticate")
    client.request("INVITE", challenge=challenge).assert_reply(200)


def test_auth_check_flag_1_refuses_registering_another_user(load) -> None:
    sip = load(CHECK.replace("FLAGS", "1"))
    client = Client(sip)
    challenge = challenge_of(client.request("REGISTER"))
    client.request("REGISTER", challenge=challenge, to=f"sip:bob@{DOMAIN}").assert_reply(403, "rc=-8")


def test_auth_check_flag_1_refuses_an_invite_from_another_user(load) -> None:
    sip = load(CHECK.replace("FLAGS", "1"))
    client = Client(sip)
    challenge = challenge_of(client.request("INVITE"), "Proxy-Authenticate")
    answer = client.answer(challenge, "INVITE", f"sip:bob@{DOMAIN}")
    result = sip.send_request("INVITE", f"sip:bob@{DOMAIN}", from_=f"sip:carol@{DOMAIN}",
                              headers={"Proxy-Authorization": answer})
    result.assert_reply(403, "rc=-8")


def test_auth_check_flag_2_lets_an_invite_come_from_another_user(load) -> None:
    sip = load(CHECK.replace("FLAGS", "3"))
    client = Client(sip)
    challenge = challenge_of(client.request("INVITE"), "Proxy-Authenticate")
    answer = client.answer(challenge, "INVITE", f"sip:bob@{DOMAIN}")
    sip.send_request("INVITE", f"sip:bob@{DOMAIN}", from_=f"sip:anonymous@{DOMAIN}",
                     headers={"Proxy-Authorization": answer}).assert_reply(200)


def test_auth_check_flag_0_checks_no_user(load) -> None:
    sip = load(CHECK.replace("FLAGS", "0"))
    client = Client(sip)
    challenge = challenge_of(client.request("REGISTER"))
    client.request("REGISTER", challenge=challenge, to=f"sip:bob@{DOMAIN}").assert_reply(200)


def test_auth_check_on_a_missing_table_is_an_error(load) -> None:
    sip = load(CHECK.replace("FLAGS", "1").replace('"subscriber"', '"no_such_table"'))
    client = Client(sip)
    challenge = challenge_of(client.request("REGISTER"))
    client.request("REGISTER", challenge=challenge).assert_reply(403, "rc=-1")


# ------------------------------------------------------------------ is_subscriber


SUBS = '''
    is_subscriber("$var(uri)", "subscriber", "$var(flags)");
    $var(rc) = $rc;
    sl_send_reply("200", "rc=$var(rc) pw=$avp(password)");
'''


@pytest.fixture
def subs(load):
    def make(**values: object) -> Harness:
        route = '$var(uri) = $(hdr(X-Uri)); $var(flags) = $(hdr(X-Flags){s.int});' + SUBS
        return load(route, **values)
    return make


def ask(sip: Harness, uri: str, flags: int) -> str:
    result = sip.send_request("OPTIONS", f"sip:{DOMAIN}", headers={"X-Uri": uri, "X-Flags": str(flags)})
    return result.reply.reason


def test_is_subscriber_finds_the_user_and_loads_its_credentials(subs) -> None:
    sip = subs(load_credentials="password")
    assert ask(sip, f"sip:alice@{DOMAIN}", 1) == "rc=1 pw=alice-pw"


def test_is_subscriber_flag_2_only_checks_that_the_user_exists(subs) -> None:
    sip = subs(load_credentials="password")
    assert ask(sip, f"sip:alice@{DOMAIN}", 3) == "rc=1 pw=<null>"


def test_is_subscriber_of_an_unknown_user_is_minus_2(subs) -> None:
    sip = subs(load_credentials="password")
    assert ask(sip, f"sip:bob@{DOMAIN}", 1) == "rc=-2 pw=<null>"


def test_is_subscriber_flag_1_compares_the_domain(subs) -> None:
    sip = subs(load_credentials="password")
    assert ask(sip, "sip:alice@example.org", 1) == "rc=-2 pw=<null>"
    assert ask(sip, "sip:alice@example.org", 0) == "rc=1 pw=alice-pw"


def test_is_subscriber_without_load_credentials_fails_as_in_kamailio_5_6(subs) -> None:
    sip = subs()
    assert ask(sip, f"sip:alice@{DOMAIN}", 1) == "rc=-1 pw=<null>"  # it queries no column
    assert ask(sip, f"sip:alice@{DOMAIN}", 3) == "rc=1 pw=<null>"


def test_is_subscriber_of_something_not_a_uri_is_an_error(subs) -> None:
    assert ask(subs(load_credentials="password"), "not a uri", 1) == "rc=-1 pw=<null>"


# ------------------------------------------------------------------ the table's version


def test_www_authorize_refuses_a_table_of_another_version_at_start(kampy_cfg, db_url: str) -> None:
    make_tables(db_url, "subscriber")
    with connect(db_url) as db:
        db.update("version", {"table_name": "subscriber"}, {"table_version": 6})
    with pytest.raises(Exception, match="version 6"):
        kampy_cfg(cfg(WWW, modules=MODULES), db=None, modparams=on_db(db_url, "auth_db"))


def test_version_table_0_skips_the_version_check(kampy_cfg, db_url: str) -> None:
    make_tables(db_url, "subscriber")
    with connect(db_url) as db:
        db.update("version", {"table_name": "subscriber"}, {"table_version": 6})
    sip = kampy_cfg(cfg(WWW, params=params(version_table=0), modules=MODULES), db=None,
                    modparams=on_db(db_url, "auth_db"))
    add_user(db_url)
    Client(sip).register()[1].assert_reply(200)


# ------------------------------------------------------------------ the credentials others read back

BACK = '''
    $var(rc) = 0;
    if (!proxy_authorize("$fd", "subscriber")) {
        $var(rc) = $rc;
        if ($var(rc) == -5) { proxy_challenge("$fd", "0"); exit; }
    }
    $var(grp) = is_user_in("Credentials", "voip");
    $var(to) = check_to();
    sl_send_reply("200", "rc=$var(rc) grp=$var(grp) to=$var(to)");
'''


@pytest.fixture
def back(kampy_cfg, db_url: str) -> Harness:
    """auth_db with group and uri_db reading back the credentials proxy_authorize() marked."""
    make_tables(db_url, "subscriber", "grp", "uri")
    with connect(db_url) as db:
        db.insert("grp", {"username": "alice", "domain": DOMAIN, "grp": "voip"})
    readers = ("group", "uri_db")
    sip = kampy_cfg(cfg(BACK, modules=(*MODULES, *readers)), db=None,
                    modparams=on_db(db_url, "auth_db", *readers))
    add_user(db_url)
    return sip


def test_group_and_uri_db_read_the_credentials_proxy_authorize_accepted(back: Harness) -> None:
    client = Client(back)
    challenge = challenge_of(client.request("INVITE"), "Proxy-Authenticate")

    result = client.request("INVITE", ruri=f"sip:alice@{DOMAIN}", challenge=challenge)

    result.assert_reply(200, "rc=0 grp=1 to=1")


def test_credentials_that_fail_are_still_the_ones_group_reads_as_in_kamailio(back: Harness) -> None:
    client = Client(back, password="wrong")
    challenge = challenge_of(client.request("INVITE"), "Proxy-Authenticate")

    result = client.request("INVITE", ruri=f"sip:alice@{DOMAIN}", challenge=challenge)

    result.assert_reply(200, "rc=-2 grp=1 to=1")


def test_a_realm_or_table_that_is_an_unset_pseudo_variable_is_an_error(load) -> None:
    # auth_fixup/auth_check_fixup are fixup_var_str_12: -1 before looking at the credentials
    sip = load('www_authorize("$avp(norealm)", "subscriber"); auth_check("$fd", "$avp(notable)", "0");\n'
               'is_subscriber("$avp(nouri)", "subscriber", "0"); sl_send_reply("200", "OK");')
    result = Client(sip).request("INVITE")
    assert [result.codes(f)[0] for f in ("www_authorize", "auth_check", "is_subscriber")] == [-1, -1, -1]


# the argument handling is the same on every backend
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
METHOD = '''
    $var(m) = "REGISTER";
    if (!www_authenticate("$td", "subscriber", "METHOD")) {
        $var(rc) = $rc;
        www_challenge("$td", "0");
        exit;
    }
    sl_send_reply("200", "OK");
'''


@SQLITE_ONLY
def test_www_authenticate_method_starting_with_a_pseudo_variable_is_that_variable_alone(load) -> None:
    # auth_fixup takes the method as fixup_var_str_12: "$var(m) x" is $var(m)
    sip = load(METHOD.replace("METHOD", "$var(m) junk"))
    assert Client(sip).register()[1].codes("www_authenticate") == [1]


@SQLITE_ONLY
def test_www_authenticate_method_from_an_unset_pseudo_variable_is_an_error(load) -> None:
    sip = load(METHOD.replace("METHOD", "$avp(nomethod)"))
    assert Client(sip).register()[1].codes("www_authenticate") == [-1]


@SQLITE_ONLY
def test_www_authenticate_with_an_empty_method_is_refused_at_load(load) -> None:
    with pytest.raises(ConfigError, match=r"www_authenticate\(\): bad argument 3: empty parameter 3"):
        load(METHOD.replace('"METHOD"', '""'))
