"""The permissions module in-process: the address table (SQLite and MariaDB, or address_file), trusted
peers (cached and not), allow/deny rule files, and the RPCs reloading and dumping the tables."""
from __future__ import annotations

from pathlib import Path

import pytest

from kampy.api import RpcFault
from kampy.db import connect
from kampy.testing import Harness
from tests.authkit import make_tables
from kampy.modules.permissions.trusted import bre_to_ere

MODULES = "".join(f'loadmodule "{m}.so"\n' for m in ("sl", "pv", "textops", "permissions"))
ADDRESSES = [
    {"grp": 1, "ip_addr": "192.0.2.10", "mask": 32, "port": 0, "tag": "gw1"},
    {"grp": 1, "ip_addr": "192.0.2.11", "mask": 32, "port": 5080, "tag": None},
    {"grp": 2, "ip_addr": "198.51.100.0", "mask": 24, "port": 0, "tag": "net2"},
    {"grp": 3, "ip_addr": "gw.example.test", "mask": 32, "port": 0, "tag": "named"},
    {"grp": 4, "ip_addr": "2001:db8::1", "mask": 128, "port": 0, "tag": None},
]


def insert(url: str, table: str, *rows: dict[str, object]) -> None:
    with connect(url) as db:
        for row in rows:
            db.insert(table, row)


@pytest.fixture
def load(kampy_cfg, db_url: str):
    make_tables(db_url, "address", "trusted")
    insert(db_url, "address", *ADDRESSES)

    def make(route: str, params: str = "") -> Harness:
        text = MODULES + f'modparam("permissions", "db_url", "{db_url}")\n' + params
        return kampy_cfg(text + "request_route {\n" + route + "\n}\n", db=None)
    return make


CHECK = 'if ({call}) {{ sl_send_reply("200", "yes $avp(tag)"); exit; }}\nsl_send_reply("403", "no");'


def answer(sip: Harness, src: str, route_headers: dict[str, str] | None = None) -> str:
    result = sip.send_request("OPTIONS", "sip:x@example.test", src=src, headers=route_headers)
    return f"{result.reply.status} {result.reply.reason}"


TAGGED = 'modparam("permissions", "peer_tag_avp", "$avp(tag)")\n'


def test_allow_source_address_matches_the_address_of_group_1(load) -> None:
    sip = load(CHECK.format(call="allow_source_address()"), TAGGED)
    assert answer(sip, "192.0.2.10:5060") == "200 yes gw1"
    assert answer(sip, "192.0.2.99:5060") == "403 no"


def test_a_port_in_the_table_must_be_the_source_port(load) -> None:
    sip = load(CHECK.format(call='allow_source_address("1")'), TAGGED)
    assert answer(sip, "192.0.2.11:5080") == "200 yes <null>"
    assert answer(sip, "192.0.2.11:5060") == "403 no"


def test_a_subnet_of_the_group_matches(load) -> None:
    sip = load(CHECK.format(call='allow_source_address("2")'), TAGGED)
    assert answer(sip, "198.51.100.77:5060") == "200 yes net2"
    assert answer(sip, "198.51.101.1:5060") == "403 no"


def test_another_group_does_not_match(load) -> None:
    assert answer(load(CHECK.format(call='allow_source_address("2")')), "192.0.2.10:5060") == "403 no"


def test_allow_address_matches_domain_names_exactly_and_ipv6(load) -> None:
    route = CHECK.format(call='allow_address("$(hdr(X-Group){s.int})", "$hdr(X-Addr)", "5060")')
    sip = load(route, TAGGED)
    assert answer(sip, "203.0.113.1:5060", {"X-Group": "3", "X-Addr": "gw.example.test"}) == "200 yes named"
    assert answer(sip, "203.0.113.1:5060", {"X-Group": "3", "X-Addr": "GW.example.test"}) == "403 no"
    assert answer(sip, "203.0.113.1:5060", {"X-Group": "4", "X-Addr": "2001:db8::1"}) == "200 yes <null>"
    assert answer(sip, "203.0.113.1:5060", {"X-Group": "4", "X-Addr": "[2001:db8::1]"}) == "200 yes <null>"


def test_allow_source_address_group_gives_the_group(load) -> None:
    sip = load('allow_source_address_group();\n$var(g) = $rc;\nsl_send_reply("200", "group $var(g)");')
    assert answer(sip, "198.51.100.3:5060") == "200 group 2"
    assert answer(sip, "203.0.113.3:5060") == "200 group -1"


def test_allow_address_group_finds_names_too(load) -> None:
    sip = load('allow_address_group("$hdr(X-Addr)", "5060");\n$var(g) = $rc;\n'
               'sl_send_reply("200", "g=$var(g)");')
    assert answer(sip, "203.0.113.1:5060", {"X-Addr": "gw.example.test"}) == "200 g=3"
    assert answer(sip, "203.0.113.1:5060", {"X-Addr": "192.0.2.10"}) == "200 g=1"


def test_max_subnets_leaves_the_rest_out(load, db_url: str) -> None:
    insert(db_url, "address", {"grp": 5, "ip_addr": "203.0.113.0", "mask": 24, "port": 0})
    sip = load(CHECK.format(call='allow_source_address("5")'), 'modparam("permissions", "max_subnets", 1)\n')
    assert answer(sip, "203.0.113.5:5060") == "403 no"


def test_a_bad_mask_refuses_the_start(load, db_url: str) -> None:
    insert(db_url, "address", {"grp": 6, "ip_addr": "10.0.0.0", "mask": 33, "port": 0})
    with pytest.raises(Exception, match="address table"):
        load(CHECK.format(call="allow_source_address()"))


def test_without_db_url_the_address_functions_fail(kampy_cfg) -> None:
    sip = kampy_cfg(MODULES + "request_route {\n" + CHECK.format(call="allow_source_address()") + "\n}\n",
                    db=None)
    assert answer(sip, "192.0.2.10:5060") == "403 no"
    with pytest.raises(RpcFault, match="No address table"):
        sip.core.rpc.call("permissions.addressDump")


def test_address_file_replaces_the_table(kampy_cfg, tmp_path: Path) -> None:
    path = tmp_path / "address.list"
    path.write_text("# groups\n1 192.0.2.50 32 0 filetag\n2 10.1.0.0 16 # a subnet\n3 [2001:db8::7]\n")
    params = f'modparam("permissions", "address_file", "{path}")\n' + TAGGED
    sip = kampy_cfg(MODULES + params + "request_route {\n" + CHECK.format(call="allow_source_address()")
                    + "\n}\n", db=None)
    assert answer(sip, "192.0.2.50:5060") == "200 yes filetag"
    assert [d["item"]["ip"] for d in sip.core.rpc.call("permissions.subnetDump")] == ["10.1.0.0"]


# ------------------------------------------------------------------ RPCs


def test_address_dump_lists_each_address_with_its_slot(load) -> None:
    dump = load("exit;").core.rpc.call("permissions.addressDump")
    assert sorted((d["group"], d["item"]["ip"], d["item"]["port"], d["item"]["tag"]) for d in dump) == [
        (1, "192.0.2.10", 0, "gw1"), (1, "192.0.2.11", 5080, "NULL"), (4, "2001:db8::1", 0, "NULL")]
    assert all(0 <= d["table"] < 128 for d in dump)


def test_subnet_and_domain_dumps(load) -> None:
    sip = load("exit;")
    assert sip.core.rpc.call("permissions.subnetDump") == [
        {"id": 0, "group": 2, "item": {"ip": "198.51.100.0", "mask": 24, "port": 0, "tag": "net2"}}]
    names = sip.core.rpc.call("permissions.domainDump")
    assert [(k, v) for k, v in names.pairs if k != "table"] == [
        ("group", 3), ("item", {"domain_name": "gw.example.test", "port": 0, "tag": "named"})]


def test_address_reload_is_seen_by_the_functions(load, db_url: str) -> None:
    sip = load(CHECK.format(call="allow_source_address()"))
    insert(db_url, "address", {"grp": 1, "ip_addr": "203.0.113.9", "mask": 32, "port": 0})
    assert answer(sip, "203.0.113.9:5060") == "403 no"
    assert sip.core.rpc.call("permissions.addressReload") == "Reload OK"
    assert answer(sip, "203.0.113.9:5060") == "200 yes <null>"


def test_a_second_reload_within_reload_delta_is_refused(load) -> None:
    sip = load("exit;")
    sip.core.rpc.call("permissions.addressReload")
    with pytest.raises(RpcFault, match="ongoing reload"):
        sip.core.rpc.call("permissions.addressReload")
    sip.advance(6)
    assert sip.core.rpc.call("permissions.addressReload") == "Reload OK"


def test_workers_share_the_address_table_and_its_reloads(db_url: str, store) -> None:
    from kampy.config.pipeline import load_text
    from kampy.runtime.server import Server
    from tests.reg_helpers import SOCKET

    make_tables(db_url, "address", "trusted")
    insert(db_url, "address", *ADDRESSES)
    text = MODULES + f'modparam("permissions", "db_url", "{db_url}")\nrequest_route {{ exit; }}\n'
    workers = [Server.from_config(load_text(text, "t.cfg"), sockets=[SOCKET], shared=store.reopen(),
                                  rank=rank, workers=2) for rank in (1, 2)]
    try:
        insert(db_url, "address", {"grp": 7, "ip_addr": "203.0.113.7", "mask": 32, "port": 0})
        groups = [w.core.modules["permissions"] for w in workers]
        assert [m.address_group(None, "203.0.113.7", 5060) for m in groups] == [-1, -1]
        workers[1].core.rpc.call("permissions.addressReload")
        assert [m.address_group(None, "203.0.113.7", 5060) for m in groups] == [7, 7]
        with pytest.raises(RpcFault, match="ongoing reload"):
            workers[0].core.rpc.call("permissions.addressReload")
    finally:
        for w in workers:
            w.shutdown()


# ------------------------------------------------------------------ trusted peers


TRUSTED = [
    {"src_ip": "192.0.2.20", "proto": "any", "from_pattern": None, "ruri_pattern": None, "tag": "low",
     "priority": 1},
    {"src_ip": "192.0.2.20", "proto": "udp", "from_pattern": "^sip:.*@example\\.test$", "ruri_pattern": None,
     "tag": "high", "priority": 5},
    {"src_ip": "192.0.2.21", "proto": "tcp", "from_pattern": None, "ruri_pattern": "^sip:pstn",
     "tag": "tcp-peer", "priority": 0},
    {"src_ip": "192.0.2.22", "proto": "none", "from_pattern": None, "ruri_pattern": None, "tag": "never",
     "priority": 0},
]


@pytest.fixture
def trusted(load, db_url: str):
    insert(db_url, "trusted", *TRUSTED)

    def make(route: str, mode: int, params: str = "") -> Harness:
        return load(route, TAGGED + f'modparam("permissions", "db_mode", {mode})\n' + params)
    return make


TRUSTED_CHECK = ('allow_trusted();\n$var(rc) = $rc;\n'
                 'sl_send_reply("200", "rc=$var(rc) $(avp(tag)[0]) $(avp(tag)[1])");')


def trust(sip: Harness, src: str, from_: str = "sip:alice@example.test", ruri: str = "sip:bob@example.test",
          transport: str | None = None) -> str:
    return sip.send_request("OPTIONS", ruri, from_=from_, src=src, transport=transport).reply.reason


@pytest.mark.parametrize("mode", [0, 1])
def test_allow_trusted_takes_the_peer_of_highest_priority_first(trusted, mode: int) -> None:
    sip = trusted(TRUSTED_CHECK, mode)
    first = "high" if mode == 1 else "low"  # cached: highest priority first; the table: ascending
    assert trust(sip, "192.0.2.20:5060") == f"rc=1 {first} <null>"


@pytest.mark.parametrize("mode", [0, 1])
def test_the_from_pattern_must_match(trusted, mode: int) -> None:
    sip = trusted(TRUSTED_CHECK, mode)
    assert trust(sip, "192.0.2.20:5060", from_="sip:alice@other.test") == "rc=1 low <null>"


@pytest.mark.parametrize("mode", [0, 1])
def test_the_protocol_and_the_ruri_pattern_must_match(trusted, mode: int) -> None:
    sip = trusted(TRUSTED_CHECK, mode)
    assert trust(sip, "192.0.2.21:5060") == "rc=-1 <null> <null>"
    assert trust(sip, "192.0.2.21:5060", transport="tcp") == "rc=-1 <null> <null>"
    assert trust(sip, "192.0.2.21:5060", ruri="sip:pstn@example.test", transport="tcp") == \
        "rc=1 tcp-peer <null>"
    assert trust(sip, "192.0.2.22:5060") == "rc=-1 <null> <null>"  # proto none: never


@pytest.mark.parametrize("mode", [0, 1])
def test_peer_tag_mode_1_counts_and_tags_every_peer(trusted, mode: int) -> None:
    sip = trusted(TRUSTED_CHECK, mode, 'modparam("permissions", "peer_tag_mode", 1)\n')
    assert trust(sip, "192.0.2.20:5060").startswith("rc=2 ")


def test_allow_trusted_with_an_address_and_a_protocol(trusted) -> None:
    route = ('allow_trusted("$hdr(X-Ip)", "$hdr(X-Proto)");\n$var(rc) = $rc;\n'
             'sl_send_reply("200", "rc=$var(rc)");')
    sip = trusted(route, 1)
    ask = lambda ip, proto: sip.send_request("OPTIONS", "sip:pstn@example.test",  # noqa: E731
                                             headers={"X-Ip": ip, "X-Proto": proto}).reply.reason
    assert ask("192.0.2.21", "TCP") == "rc=1"
    assert ask("192.0.2.21", "any") == "rc=1"
    assert ask("192.0.2.21", "udp") == "rc=-1"
    assert ask("192.0.2.21", "quic") == "rc=-1"


def test_allow_trusted_with_a_uri_checks_it_instead_of_from(trusted) -> None:
    route = ('allow_trusted("192.0.2.20", "udp", "sip:carol@example.test");\n$var(rc) = $rc;\n'
             'sl_send_reply("200", "rc=$var(rc) $avp(tag)");')
    sip = trusted(route, 1)
    result = sip.send_request("OPTIONS", "sip:x@x.test", from_="sip:x@elsewhere.test")
    assert result.reply.reason == "rc=1 high"


def test_trusted_dump_and_reload_in_cached_mode(trusted, db_url: str) -> None:
    sip = trusted("exit;", 1)
    dump = sip.core.rpc.call("permissions.trustedDump")
    items = [v for k, v in dump.pairs if k == "item"]
    assert [(i["ip"], i["proto"], i["tag"], i["priority"]) for i in items if i["ip"] == "192.0.2.20"] == [
        ("192.0.2.20", 1, "high", 5), ("192.0.2.20", 0, "low", 1)]
    insert(db_url, "trusted", {"src_ip": "192.0.2.30", "proto": "any", "priority": 0})
    assert sip.core.rpc.call("permissions.trustedReload") == "Reload OK"
    dump = sip.core.rpc.call("permissions.trustedDump")
    assert "192.0.2.30" in [v["ip"] for k, v in dump.pairs if k == "item"]


def test_trusted_reload_fails_without_the_cache(trusted) -> None:
    sip = trusted("exit;", 0)
    with pytest.raises(RpcFault, match="Reload failed."):
        sip.core.rpc.call("permissions.trustedReload")
    with pytest.raises(RpcFault, match="No trusted table"):
        sip.core.rpc.call("permissions.trustedDump")


@pytest.mark.parametrize(("bre", "matches", "misses"), [
    ("^sip:.*@example\\.test$", "sip:a@example.test", "sip:a@exampleXtest"),
    ("a+b", "xa+by", "aab"),            # + is a plain character in a basic regex
    ("a\\+b", "aab", "a+b"),            # \+ is GNU's one-or-more
    ("\\(ab\\)\\{2\\}", "abab", "ab"),  # groups and intervals are escaped
    ("*star", "*star", "star"),         # a leading * is literal
    ("a|b", "a|b", "a"),                # | too
])
def test_basic_regular_expressions_of_the_trusted_table(bre: str, matches: str, misses: str) -> None:
    import re
    compiled = re.compile(bre_to_ere(bre))
    assert compiled.search(matches) and not compiled.search(misses)
