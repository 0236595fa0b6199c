"""uri_db: check_to(), check_from(), check_uri() against the authorized credentials, with and
without the uri table, and does_uri_exist() against subscriber and uri, on SQLite and MariaDB."""
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
loadmodule "uri_db.so"
modparam("uri_db", "db_url", "{{url}}")
{{params}}
request_route {{{{
    accept_credentials("Proxy-Authorization");
    {{body}}
    sl_send_reply("200", "OK");
}}}}
"""
CREDENTIALS = {"Proxy-Authorization": 'Digest username="alice", realm="example.test", nonce="n", '
                                      'uri="sip:x@example.test", response="00"'}
URI_TABLE = 'modparam("uri_db", "use_uri_table", 1)\nmodparam("uri_db", "db_table", "uri")'


@pytest.fixture
def users(db_url: str) -> str:
    with connect(db_url) as db:
        create_tables(db, ["subscriber", "uri"])
        db.insert("subscriber", {"username": "alice", "domain": "example.test", "password": "x",
                                 "ha1": "", "ha1b": ""})
        db.insert("uri", {"username": "alice", "domain": "example.test", "uri_user": "sales",
                          "last_modified": "2024-01-01 00:00:00"})
    return db_url


def run(kampy_cfg: Any, url: str, body: str, params: str = "", **request: Any) -> Any:
    sip = kampy_cfg(HEAD.format(url=url, params=params, body=body), db=None)
    request.setdefault("headers", CREDENTIALS)
    return sip.send_request("OPTIONS", request.pop("ruri", "sip:x@example.test"), **request)


def test_check_from_matches_the_authorized_username(kampy_cfg: Any, users: str) -> None:
    result = run(kampy_cfg, users, "$avp(a) = check_from(); $avp(b) = check_to();",
                 from_="sip:Alice@example.test", to="sip:bob@example.test")
    assert (result.avp("a"), result.avp("b")) == (1, -10)


def test_without_credentials_the_checks_fail_with_minus_2(kampy_cfg: Any, users: str) -> None:
    result = run(kampy_cfg, users, "$avp(a) = check_from();", headers={}, from_="sip:alice@example.test")
    assert result.avp("a") == -2


def test_a_uri_without_user_is_minus_4(kampy_cfg: Any, users: str) -> None:
    assert run(kampy_cfg, users, '$avp(a) = check_uri("sip:example.test");').avp("a") == -4


def test_check_uri_uses_the_username_and_realm_given(kampy_cfg: Any, users: str) -> None:
    result = run(kampy_cfg, users, '$avp(a) = check_uri("sip:bob@x", "bob", "x"); '
                                   '$avp(b) = check_uri("sip:bob@x"); '
                                   '$avp(c) = check_uri("sip:alice@x", "", "");')
    assert (result.avp("a"), result.avp("b"), result.avp("c")) == (1, -10, 1)


def test_with_the_uri_table_an_alias_of_the_user_passes(kampy_cfg: Any, users: str) -> None:
    result = run(kampy_cfg, users, '$avp(a) = check_from(); $avp(b) = check_uri("sip:alice@example.test");',
                 URI_TABLE, from_="sip:sales@example.test")
    assert (result.avp("a"), result.avp("b")) == (1, -9)


def test_does_uri_exist_looks_the_user_up_in_subscriber(kampy_cfg: Any, users: str) -> None:
    assert run(kampy_cfg, users, "$avp(a) = does_uri_exist();", ruri="sip:alice@anywhere.test").avp("a") == 1
    assert run(kampy_cfg, users, "$avp(a) = does_uri_exist();", ruri="sip:nobody@example.test").avp("a") == -5


def test_does_uri_exist_with_use_domain_matches_the_domain_too(kampy_cfg: Any, users: str) -> None:
    params = 'modparam("uri_db", "use_domain", 1)'
    assert run(kampy_cfg, users, "$avp(a) = does_uri_exist();", params,
               ruri="sip:alice@anywhere.test").avp("a") == -5
    assert run(kampy_cfg, users, "$avp(a) = does_uri_exist();", params,
               ruri="sip:alice@example.test").avp("a") == 1


def test_does_uri_exist_with_the_uri_table_looks_up_the_uri_user(kampy_cfg: Any, users: str) -> None:
    assert run(kampy_cfg, users, "$avp(a) = does_uri_exist();", URI_TABLE,
               ruri="sip:sales@example.test").avp("a") == 1


def test_without_a_database_the_checks_compare_the_username(kampy_cfg: Any) -> None:
    result = run(kampy_cfg, "", "$avp(a) = check_from();", from_="sip:alice@example.test")
    assert result.avp("a") == 1


def test_does_uri_exist_without_a_database_refuses_the_start(kampy_cfg: Any) -> None:
    with pytest.raises(Exception, match=r"does_uri_exist\(\) called with no database URL"):
        run(kampy_cfg, "", "does_uri_exist();")


def test_use_uri_table_without_a_database_refuses_the_start(kampy_cfg: Any) -> None:
    with pytest.raises(Exception, match="no database URL, but use_uri_table is set"):
        run(kampy_cfg, "", "", 'modparam("uri_db", "use_uri_table", 1)')
