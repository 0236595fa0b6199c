"""The domain module in-process, on SQLite and MariaDB: local domains, attributes as AVPs, the
`myself` check with register_myself, and the RPCs reloading and dumping the tables for every worker."""
from __future__ import annotations

import pytest

from kampy.api import RpcFault
from kampy.db import connect
from kampy.testing import Harness
from tests.authkit import make_tables, on_db

MODULES = "".join(f'loadmodule "{m}.so"\n' for m in ("sl", "pv", "textops", "domain"))
ROUTE = '''
request_route {
    $var(r) = "";
    if (is_from_local()) { $var(r) = $var(r) + "from "; }
    if (is_uri_host_local()) { $var(r) = $var(r) + "ruri "; }
    if (is_domain_local("$hdr(X-Domain)")) { $var(r) = $var(r) + "hdr "; }
    if (uri == myself) { $var(r) = $var(r) + "myself "; }
    sl_send_reply("200", "[$var(r)]");
}
'''


def rows(url: str, table: str, *values: dict[str, object]) -> None:
    with connect(url) as db:
        for row in values:
            db.insert(table, row)


@pytest.fixture
def load(kampy_cfg, db_url: str):
    def make(route: str = ROUTE, params: str = "") -> Harness:
        return kampy_cfg(MODULES + params + route, db=None, modparams=on_db(db_url, "domain"))
    make_tables(db_url, "domain", "domain_attrs")
    rows(db_url, "domain", {"domain": "example.test", "did": None}, {"domain": "Example.ORG", "did": "org"},
         {"domain": "example.net", "did": "org"})
    rows(db_url, "domain_attrs", {"did": "org", "name": "tier", "type": 0, "value": "3"},
         {"did": "org", "name": "lang", "type": 2, "value": "en"},
         {"did": "org", "name": "lang", "type": 2, "value": "fr"})
    return make


def reason(sip: Harness, ruri: str, from_: str, domain: str = "") -> str:
    return sip.send_request("OPTIONS", ruri, from_=from_, headers={"X-Domain": domain}).reply.reason


def test_local_domains_are_found_in_from_ruri_and_argument(load) -> None:
    sip = load()
    assert reason(sip, "sip:bob@example.test", "sip:alice@example.net", "example.org") == "[from ruri hdr ]"
    assert reason(sip, "sip:bob@elsewhere.test", "sip:alice@elsewhere.test", "nowhere") == "[]"


def test_domains_compare_without_case(load) -> None:
    sip = load()
    assert reason(sip, "sip:bob@EXAMPLE.test", "sip:a@example.org", "eXample.Net") == "[from ruri hdr ]"


def test_register_myself_makes_the_domains_myself(load) -> None:
    assert reason(load(), "sip:bob@example.test", "sip:x@x.test") == "[ruri ]"
    sip = load(params='modparam("domain", "register_myself", 1)\n')
    assert reason(sip, "sip:bob@example.test", "sip:x@x.test") == "[ruri myself ]"
    assert reason(sip, "sip:bob@elsewhere.test", "sip:x@x.test") == "[]"


def test_lookup_domain_adds_the_attributes_and_the_did_as_avps(load) -> None:
    route = ('request_route {\n    if (!lookup_domain("$rd")) { sl_send_reply("404", "no"); exit; }\n'
             '    sl_send_reply("200", "=$avp(did) $avp(tier) $(avp(lang)[0]) $(avp(lang)[1])");\n}\n')
    sip = load(route)
    assert sip.send_request("OPTIONS", "sip:bob@example.net").reply.reason == "=org 3 en fr"
    result = sip.send_request("OPTIONS", "sip:bob@example.test")
    assert result.reply.reason == "=example.test <null> <null> <null>"  # a NULL did is the domain itself
    assert sip.send_request("OPTIONS", "sip:bob@else.test").status == 404


def test_lookup_domain_with_a_prefix_names_the_avps_after_it(load) -> None:
    route = ('request_route {\n    lookup_domain("$rd", "d_");\n'
             '    sl_send_reply("200", "=$avp(d_did) $avp(d_tier)");\n}\n')
    assert load(route).send_request("OPTIONS", "sip:bob@example.org").reply.reason == "=org 3"


def test_the_integer_attributes_are_integer_avps(load) -> None:
    route = ('request_route {\n    lookup_domain("$rd");\n'
             '    sl_send_reply("200", "$(avp(tier){s.int})");\n}\n')
    result = load(route).send_request("OPTIONS", "sip:bob@example.org")
    assert result.reply.reason == "3" and result.avp("tier") == 3


def test_domain_dump_lists_the_domains_and_the_attribute_names(load) -> None:
    dump = load().core.rpc.call("domain.dump")
    assert sorted((d["domain"], d["did"]) for d in dump["domains"]) == [
        ("Example.ORG", "org"), ("example.net", "org"), ("example.test", "example.test")]
    assert dump["attributes"] == [{"did": "org", "attrs": ["lang", "lang", "tier"]}]


def test_domain_reload_is_seen_by_every_worker(load, db_url: str) -> None:
    sip = load()
    rows(db_url, "domain", {"domain": "new.test"})
    assert reason(sip, "sip:bob@new.test", "sip:x@x.test") == "[]"
    assert sip.core.rpc.call("domain.reload") is None
    assert reason(sip, "sip:bob@new.test", "sip:x@x.test") == "[ruri ]"


def test_a_reload_finding_a_bad_row_fails_and_keeps_the_tables(load, db_url: str) -> None:
    sip = load()
    rows(db_url, "domain_attrs", {"did": "org", "name": "bad", "type": 1, "value": "x"})
    with pytest.raises(RpcFault) as fault:
        sip.core.rpc.call("domain.reload")
    assert (fault.value.code, fault.value.message) == (400, "Reload of domain tables failed")
    assert reason(sip, "sip:bob@example.test", "sip:x@x.test") == "[ruri ]"


def test_a_bad_integer_attribute_refuses_the_start(load, db_url: str) -> None:
    rows(db_url, "domain_attrs", {"did": "org", "name": "n", "type": 0, "value": "12a"})
    with pytest.raises(Exception, match="invalid int"):
        load()


def test_a_domain_table_of_another_version_refuses_the_start(load, db_url: str) -> None:
    make_tables(db_url, "domain", "domain_attrs")
    with connect(db_url) as db:
        db.update("version", {"table_name": "domain"}, {"table_version": 1})
    with pytest.raises(Exception, match="version 1"):
        load()


def test_workers_share_the_tables_and_their_reloads(db_url: str, store) -> None:
    from kampy.config.pipeline import load_text
    from kampy.runtime.server import Server
    from tests.reg_helpers import SOCKET

    make_tables(db_url, "domain", "domain_attrs")
    rows(db_url, "domain", {"domain": "one.test"})
    text = MODULES + f'modparam("domain", "db_url", "{db_url}")\n' + ROUTE
    workers = [Server.from_config(load_text(text, "t.cfg"), sockets=[SOCKET], shared=store.reopen(),
                                  rank=rank, workers=2) for rank in (1, 2)]
    try:
        rows(db_url, "domain", {"domain": "two.test"})  # not loaded: the first worker loaded the tables
        module = [w.core.modules["domain"] for w in workers]
        assert [m.is_domain_local("two.test") for m in module] == [-1, -1]
        workers[0].core.rpc.call("domain.reload")
        assert [m.is_domain_local("two.test") for m in module] == [1, 1]
    finally:
        for w in workers:
            w.shutdown()
