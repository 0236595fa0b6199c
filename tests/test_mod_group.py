"""group: is_user_in() against the grp table and get_user_group() against the re_grp table, on
SQLite and on MariaDB, with every source of the user (Request-URI, To, From, Credentials, an AVP)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kampy.db import connect, create_tables

PROBES = Path(__file__).resolve().parent / "e2e" / "modules"

HEAD = f"""
loadpath "{PROBES}"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "auth_probe"
loadmodule "group.so"
modparam("group", "db_url", "{{url}}")
{{params}}
request_route {{{{
    {{body}}
    sl_send_reply("200", "OK");
}}}}
"""


@pytest.fixture
def groups(db_url: str) -> str:
    """The grp and re_grp tables, with rows as `kamctl acl grant` writes them."""
    with connect(db_url) as db:
        create_tables(db, ["grp", "re_grp"])
        for user, domain, grp in (("alice", "example.test", "test"), ("alice", "example.test", "ld"),
                                  ("bob", "other.test", "test")):
            db.insert("grp", {"username": user, "domain": domain, "grp": grp})
        db.insert("re_grp", {"reg_exp": "^sip:[a-c].*@example\\.test$", "group_id": 1})
        db.insert("re_grp", {"reg_exp": "^sip:alice@", "group_id": 2})
        db.insert("re_grp", {"reg_exp": "^sip:bob@", "group_id": 3})
    return db_url


def server(kampy_cfg: Any, url: str, body: str, params: str = "") -> Any:
    return kampy_cfg(HEAD.format(url=url, params=params, body=body), db=None)


def test_a_user_of_the_group_is_in_it(kampy_cfg: Any, groups: str) -> None:
    sip = server(kampy_cfg, groups, '$avp(r) = is_user_in("Request-URI", "test");')
    assert sip.send_request("OPTIONS", "sip:alice@example.test").avp("r") == 1


def test_a_user_not_in_the_group_is_minus_6(kampy_cfg: Any, groups: str) -> None:
    sip = server(kampy_cfg, groups, '$avp(r) = is_user_in("Request-URI", "ld");')
    assert sip.send_request("OPTIONS", "sip:bob@other.test").avp("r") == -6


def test_without_use_domain_the_domain_is_not_compared(kampy_cfg: Any, groups: str) -> None:
    sip = server(kampy_cfg, groups, '$avp(r) = is_user_in("Request-URI", "test");')
    assert sip.send_request("OPTIONS", "sip:alice@elsewhere.test").avp("r") == 1


def test_with_use_domain_the_domain_must_match_too(kampy_cfg: Any, groups: str) -> None:
    sip = server(kampy_cfg, groups, '$avp(r) = is_user_in("Request-URI", "test");',
                 'modparam("group", "use_domain", 1)')
    assert sip.send_request("OPTIONS", "sip:alice@elsewhere.test").avp("r") == -6
    assert sip.send_request("OPTIONS", "sip:alice@example.test").avp("r") == 1


def test_the_user_may_come_from_to_from_or_an_avp(kampy_cfg: Any, groups: str) -> None:
    sip = server(kampy_cfg, groups, '$avp(t) = is_user_in("To", "ld"); $avp(f) = is_user_in("From", "ld"); '
                                    '$avp(u) = "sip:bob@x"; $avp(a) = is_user_in("$avp(u)", "test");')
    result = sip.send_request("OPTIONS", "sip:nobody@example.test", to="sip:alice@example.test",
                              from_="sip:carol@example.test")
    assert (result.avp("t"), result.avp("f"), result.avp("a")) == (1, -6, 1)


def test_credentials_are_the_authorized_username_and_realm(kampy_cfg: Any, groups: str) -> None:
    sip = server(kampy_cfg, groups, '$avp(before) = is_user_in("Credentials", "test"); '
                                    'accept_credentials("Authorization"); '
                                    '$avp(after) = is_user_in("Credentials", "test");',
                 'modparam("group", "use_domain", 1)')
    result = sip.send_request("OPTIONS", "sip:x@example.test", headers={
        "Authorization": 'Digest username="bob", realm="other.test", nonce="n", uri="sip:x@example.test", '
                         'response="00"'})
    assert (result.avp("before"), result.avp("after")) == (-1, 1)


def test_an_unknown_source_is_refused_at_load(kampy_cfg: Any, groups: str) -> None:
    with pytest.raises(Exception, match="unsupported User Field identifier"):
        server(kampy_cfg, groups, 'is_user_in("Contact", "test");')


def test_get_user_group_adds_every_matching_group_id(kampy_cfg: Any, groups: str) -> None:
    sip = server(kampy_cfg, groups, '$avp(n) = get_user_group("Request-URI", "$avp(gid)");',
                 'modparam("group", "re_table", "re_grp")')
    result = sip.send_request("OPTIONS", "sip:alice@example.test")
    assert result.avp("n") == 2
    assert sorted(result.avps["gid"]) == [1, 2]


def test_multiple_gid_0_stops_at_the_first_group(kampy_cfg: Any, groups: str) -> None:
    sip = server(kampy_cfg, groups, '$avp(n) = get_user_group("Request-URI", "$avp(gid)");',
                 'modparam("group", "re_table", "re_grp")\nmodparam("group", "multiple_gid", 0)')
    result = sip.send_request("OPTIONS", "sip:alice@example.test")
    assert result.avp("n") == 1
    assert len(result.avps["gid"]) == 1


def test_get_user_group_without_a_match_is_minus_1(kampy_cfg: Any, groups: str) -> None:
    sip = server(kampy_cfg, groups, '$avp(n) = get_user_group("Request-URI", "$avp(gid)");',
                 'modparam("group", "re_table", "re_grp")')
    assert sip.send_request("OPTIONS", "sip:zed@nowhere.test").avp("n") == -1


def test_a_table_of_another_version_refuses_the_start(kampy_cfg: Any, groups: str) -> None:
    with connect(groups) as db:
        db.update("version", {"table_name": "grp"}, {"table_version": 1})
    with pytest.raises(Exception, match="table 'grp' .* is version 1, kampy needs version 2"):
        server(kampy_cfg, groups, "")
