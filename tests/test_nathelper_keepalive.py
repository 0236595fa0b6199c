"""nathelper's NAT keepalives in-process: which contacts usrloc gives (nat_bflag, sipping_bflag,
natping_disable_bflag), on which second of the interval (the AoR's hash slot), what a SIP keepalive
looks like (Kamailio's build_sipping), 4-byte UDP pings, keepalive_timeout expiring a contact that
does not answer, and the nathelper.enable_ping RPC."""
from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from kampy.api import core_hash
from kampy.testing import Harness

CFG = """
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "pv.so"
loadmodule "kex.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "nathelper.so"
modparam("usrloc", "nat_bflag", 6)
modparam("nathelper", "natping_interval", 10)
modparam("nathelper", "ping_nated_only", 1)
modparam("nathelper", "sipping_bflag", 7)
modparam("nathelper", "natping_disable_bflag", 8)
modparam("nathelper", "sipping_from", "sip:pinger@kamailio.org")
modparam("nathelper|registrar", "received_avp", "$avp(RECEIVED)")

request_route {
    if (is_method("REGISTER")) {
        if (nat_uac_test("19")) {
            fix_nated_register();
            setbflag(6);
            if ($hdr(X-Ping) == "sip") setbflag(7);
        }
        if ($hdr(X-Ping) == "never") setbflag(8);
        save("location");
        exit;
    }
    sl_send_reply("404", "Not here");
}
"""


@pytest.fixture
def sip(kampy_cfg: Callable[..., Harness]) -> Harness:
    return kampy_cfg(CFG)


def register(sip: Harness, user: str, src: str, ping: str = "sip",
             contact_host: str = "10.0.0.5:5070") -> None:
    sip.send(f"""
        REGISTER sip:example.test SIP/2.0
        Via: SIP/2.0/UDP {contact_host};branch=z9hG4bK-{user}
        From: <sip:{user}@example.test>;tag={user}
        To: <sip:{user}@example.test>
        Call-ID: reg-{user}
        CSeq: 1 REGISTER
        Contact: <sip:{user}@{contact_host}>
        Expires: 3600
        X-Ping: {ping}
        """, src=src).assert_reply(200)


def pings(sip: Harness, seconds: float) -> list:
    """What the timers sent over `seconds` (keepalives only)."""
    return [s for s in sip.advance(seconds).sent if s.port != 5060 or s.host != "127.0.0.1"]


def test_a_nated_contact_gets_a_sip_keepalive_every_interval(sip: Harness) -> None:
    register(sip, "alice", "203.0.113.7:40000")
    sent = pings(sip, 30)
    assert [(s.host, s.port) for s in sent] == [("203.0.113.7", 40000)] * 3
    times = [s.time for s in sent]
    assert times[1] - times[0] == pytest.approx(10) and times[2] - times[1] == pytest.approx(10)


def test_the_keepalive_is_kamailios_stateless_options(sip: Harness) -> None:
    register(sip, "alice", "203.0.113.7:40000")
    ping = pings(sip, 10)[0]
    text = ping.data.decode()
    ruid = sip.core.offered("usrloc").contacts("alice")[0].ruid
    lines = text.split("\r\n")
    assert lines[0] == "OPTIONS sip:alice@10.0.0.5:5070 SIP/2.0"
    assert re.fullmatch(r"Via: SIP/2.0/UDP 127\.0\.0\.1:5060;branch=z9hG4bK\d{7}", lines[1])
    hexhash = format(core_hash("alice"), "x")[::-1]
    tag = rf"{re.escape(ruid)}-{hexhash}-[0-9a-f]+"
    assert re.fullmatch(rf"From: sip:pinger@kamailio\.org;tag={tag}", lines[2])
    assert lines[3] == "To: sip:alice@10.0.0.5:5070"
    assert re.fullmatch(r"Call-ID: [0-9a-f]+-[0-9a-f]+-[0-9a-f]+@127\.0\.0\.1", lines[4])
    assert lines[5:] == ["CSeq: 1 OPTIONS", "Content-Length: 0", "", ""]


def test_a_contact_without_sipping_bflag_gets_a_udp_ping(sip: Harness) -> None:
    register(sip, "alice", "203.0.113.7:40000", ping="udp")
    sent = pings(sip, 10)
    assert [(s.host, s.port, s.data) for s in sent] == [("203.0.113.7", 40000, b"\0\0\0\0")]


def test_a_contact_not_behind_nat_is_not_pinged_with_ping_nated_only(sip: Harness) -> None:
    register(sip, "bob", "198.51.100.5:5070", contact_host="198.51.100.5:5070")
    assert pings(sip, 30) == []


def test_natping_disable_bflag_stops_pings(sip: Harness) -> None:
    register(sip, "alice", "203.0.113.7:40000", ping="never")
    assert pings(sip, 30) == []


def test_each_contact_is_pinged_in_the_second_of_its_hash_slot(sip: Harness) -> None:
    users = [f"user{i}" for i in range(12)]
    for i, user in enumerate(users):
        register(sip, user, f"203.0.113.7:{41000 + i}")
    start = sip.clock.monotonic()
    sent = pings(sip, 20)
    by_port: dict[int, list[float]] = {}
    for s in sent:
        by_port.setdefault(s.port, []).append(s.time - start)
    assert sorted(by_port) == [41000 + i for i in range(12)]
    seconds = {}
    for i, user in enumerate(users):
        first, second = by_port[41000 + i]
        assert second - first == pytest.approx(10)
        seconds[user] = round(first) % 10
    # the first tick pings slot 0 (mod 10), each next second the next one
    slots = {user: (core_hash(user) & 1023) % 10 for user in users}
    offset = (seconds[users[0]] - slots[users[0]]) % 10
    assert all((slots[u] + offset) % 10 == seconds[u] for u in users)


def test_enable_ping_rpc_stops_and_restarts_the_pings(sip: Harness) -> None:
    register(sip, "alice", "203.0.113.7:40000")
    sip.core.rpc.call("nathelper.enable_ping", [0])
    assert pings(sip, 20) == []
    sip.core.rpc.call("nathelper.enable_ping", [1])
    assert len(pings(sip, 10)) == 1


def test_keepalive_timeout_expires_a_contact_that_does_not_answer(kampy_cfg: Callable[..., Harness]) -> None:
    sip = kampy_cfg(CFG.replace('modparam("usrloc", "nat_bflag", 6)',
                                'modparam("usrloc", "nat_bflag", 6)\n'
                                'modparam("nathelper", "keepalive_timeout", 25)'))
    register(sip, "alice", "203.0.113.7:40000")
    register(sip, "bob", "203.0.113.8:40000")
    ul = sip.core.offered("usrloc")
    for _ in range(4):  # bob answers every keepalive, alice none
        for ping in pings(sip, 10):
            if ping.host == "203.0.113.8":
                answered = sip.send_response(ping, 200, "OK")
                assert answered.sent == []  # a reply with one Via goes nowhere
    now = sip.clock.time()
    assert ul.contacts("alice")[0].expires <= now + 10 < ul.contacts("bob")[0].expires
    sip.advance(60)  # usrloc's timer
    assert [c.aor for c in ul.contacts("alice")] == []
    assert [c.aor for c in ul.contacts("bob")] == ["bob"]


def with_params(text: str) -> str:
    return CFG.replace('modparam("usrloc", "nat_bflag", 6)', 'modparam("usrloc", "nat_bflag", 6)\n' + text)


def test_sipping_method_is_the_keepalive_s_method(kampy_cfg: Callable[..., Harness]) -> None:
    sip = kampy_cfg(with_params('modparam("nathelper", "sipping_method", "INFO")'))
    register(sip, "alice", "203.0.113.7:40000")
    lines = pings(sip, 10)[0].data.decode().split("\r\n")
    assert lines[0] == "INFO sip:alice@10.0.0.5:5070 SIP/2.0" and "CSeq: 1 INFO" in lines


@pytest.mark.parametrize(("param", "message"), [
    ('"sipping_method", "NOT ONE"', r"invalid SIP ping method \[NOT ONE\]"),
    ('"natping_socket", "udp:127.0.0.1:port"', "invalid natping_socket parameter"),
    ('"natping_processes", -1', "natping_processes must be >= 0"),
])
def test_a_bad_keepalive_parameter_is_refused_at_start(kampy_cfg: Callable[..., Harness], param: str,
                                                      message: str) -> None:
    with pytest.raises(Exception, match=message):
        kampy_cfg(with_params(f'modparam("nathelper", {param})'))


@pytest.mark.parametrize(("processes", "pinged"), [(3, 12), (0, 0)])
def test_natping_processes_share_the_contacts_and_none_pings_nothing(
        kampy_cfg: Callable[..., Harness], processes: int, pinged: int) -> None:
    sip = kampy_cfg(with_params(f'modparam("nathelper", "natping_processes", {processes})'))
    for i in range(12):
        register(sip, f"user{i}", f"203.0.113.7:{41000 + i}")
    assert sorted(s.port for s in pings(sip, 10)) == [41000 + i for i in range(pinged)]


@pytest.mark.parametrize(("flag", "pinged"), [(0, ["203.0.113.7", "203.0.113.8"]), (1, ["203.0.113.7"])])
def test_filter_server_id_pings_only_the_contacts_this_server_saved(
        kampy_cfg: Callable[..., Harness], tmp_path, flag: int, pinged: list[str]) -> None:
    from kampy.testing.db import Tables

    url = f"sqlite://{tmp_path / 'location.sqlite'}"
    Tables.create(url)
    tables = Tables(url)
    try:
        for n, server_id in ((7, 0), (8, 3)):  # the second saved by server 3 (a shared database)
            tables["location"].insert({
                "ruid": f"uloc-{n}", "username": f"user{n}", "contact": f"sip:user{n}@10.0.0.{n}:5070",
                "received": f"sip:203.0.113.{n}:40000", "expires": "2030-01-01 00:00:00",
                "cflags": (1 << 6) | (1 << 7), "callid": f"c{n}", "cseq": 1, "server_id": server_id,
                "socket": "udp:127.0.0.1:5060"})
    finally:
        tables.close()
    sip = kampy_cfg(with_params(f'modparam("usrloc", "db_mode", 1)\n'
                                f'modparam("nathelper", "filter_server_id", {flag})'), db=url)
    assert sorted(s.host for s in pings(sip, 10)) == pinged


def location_rows(url: str, *rows: dict) -> None:
    from kampy.testing.db import Tables

    Tables.create(url)
    tables = Tables(url)
    try:
        for row in rows:
            tables["location"].insert(row)
    finally:
        tables.close()


def test_a_row_saved_while_pinging_gets_the_partition_of_the_writer_s_pid_and_counter(
        kampy_cfg: Callable[..., Harness], tmp_path) -> None:
    """Kamailio's db_insert_ucontact with nathelper's max partition (natping_processes *
    natping_interval = 10): (a per-process counter + pid) % 10."""
    import os

    from kampy.db import connect

    url = f"sqlite://{tmp_path / 'location.sqlite'}"
    location_rows(url)
    sip = kampy_cfg(with_params('modparam("usrloc", "db_mode", 1)'), db=url)
    register(sip, "alice", "203.0.113.7:40000")
    register(sip, "bob", "203.0.113.8:40000")
    db = connect(url)
    try:
        found = db.query("location", ["username", "partition"], order_by="id")
    finally:
        db.close()
    pid = os.getpid()
    assert [tuple(r) for r in found] == [("alice", pid % 10), ("bob", (pid + 1) % 10)]


def test_db_mode_3_pings_each_row_in_the_second_of_its_partition(
        kampy_cfg: Callable[..., Harness], tmp_path) -> None:
    url = f"sqlite://{tmp_path / 'location.sqlite'}"
    location_rows(url, *({
        "ruid": f"uloc-{n}", "username": f"user{n}", "contact": f"sip:user{n}@10.0.0.{n}:5070",
        "received": f"sip:203.0.113.{n}:40000", "expires": "2030-01-01 00:00:00", "keepalive": 1,
        "cflags": (1 << 6) | (1 << 7), "callid": f"c{n}", "cseq": 1, "socket": "udp:127.0.0.1:5060",
        "partition": part} for n, part in ((2, 2), (7, 7))))
    sip = kampy_cfg(with_params('modparam("usrloc", "db_mode", 3)'), db=url)
    sent = pings(sip, 10)
    at = {s.host: s.time for s in sent}
    assert sorted(at) == ["203.0.113.2", "203.0.113.7"]
    assert at["203.0.113.7"] - at["203.0.113.2"] == pytest.approx(5)
