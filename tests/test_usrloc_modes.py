"""usrloc: the expiry timer, statistics, RPCs and db_mode 0-3 on SQLite and a real MariaDB."""
from __future__ import annotations

import datetime as dt

import pytest

from kampy.api import RpcFault
from kampy.db import connect, create_tables
from tests.reg_helpers import NOW, FakeClock, config, register, send, server


def ul_cfg(db_url: str | None = None, mode: int = 0, extra: str = "") -> str:
    params = f'"timer_interval", 10;"db_mode", {mode}'
    if db_url:
        params += f';"db_url", "{db_url}"'
    return config(usrloc=params + (";" + extra if extra else ""))


@pytest.fixture
def location_db(db_url: str) -> str:
    db = connect(db_url)
    create_tables(db)
    db.close()
    return db_url


def rows(db_url: str) -> list[dict]:
    db = connect(db_url)
    try:
        cols = ["ruid", "username", "domain", "contact", "received", "path", "expires", "q", "callid", "cseq",
                "last_modified", "flags", "cflags", "user_agent", "socket", "methods", "instance", "reg_id",
                "server_id", "connection_id", "keepalive", "partition"]
        return [dict(zip(cols, r, strict=True)) for r in db.query("location", cols, order_by="id")]
    finally:
        db.close()


def test_timer_deletes_expired_contacts_and_counts_them() -> None:
    clock = FakeClock()
    srv = server(ul_cfg(), clock)
    send(srv, register(expires=60))
    clock.advance(61)
    srv.run_timers()
    ul = srv.core.modules["usrloc"]
    assert ul.contacts("alice") == []
    assert srv.core.stats.get("usrloc:location_expires") == 1
    assert srv.core.stats.get("usrloc:registered_users") == 0


def test_timer_runs_the_expiry_in_rank_1_only() -> None:
    clock = FakeClock()
    srv = server(ul_cfg(), clock, rank=2, workers=2)
    send(srv, register(expires=60))
    clock.advance(61)
    srv.run_timers()
    assert len(srv.core.modules["usrloc"].contacts("alice")) == 1


def test_statistics_count_users_and_contacts_per_domain() -> None:
    srv = server(ul_cfg())
    send(srv, register(contact="<sip:a@1.1.1.1>, <sip:a@2.2.2.2>"))
    send(srv, register(user="bob", contact="<sip:b@3.3.3.3>", callid="b"))
    stats = srv.core.stats
    assert (stats.get("usrloc:registered_users"), stats.get("usrloc:location_users"),
            stats.get("usrloc:location_contacts")) == (2, 2, 3)


def test_rpc_dump_shows_domains_aors_and_contacts() -> None:
    srv = server(ul_cfg())
    send(srv, register())
    dump = srv.core.modules["usrloc"].rpc_dump()
    domain = dump["Domains"][0]["Domain"]
    assert domain["Domain"] == "location" and domain["Stats"]["Records"] == 1
    info = domain["AoRs"][0]["Info"]
    contact = info["Contacts"][0]["Contact"]
    assert info["AoR"] == "alice"
    assert (contact["Address"], contact["Expires"], contact["Q"], contact["Call-ID"], contact["CSeq"],
            contact["Socket"], contact["Methods"]) == (
        "sip:alice@10.0.0.1:5070", 3600, -1.0, "reg-1@10.0.0.1", 1, "udp:127.0.0.1:5060", 0xFFFFFFFF)


def test_rpc_lookup_returns_the_aor_contacts_or_a_fault() -> None:
    srv = server(ul_cfg())
    ul = srv.core.modules["usrloc"]
    with pytest.raises(RpcFault, match="AOR not found"):
        ul.rpc_lookup("location", "alice")
    send(srv, register())
    assert ul.rpc_lookup("location", "Alice@example.test")["Contacts"][0]["Contact"]["Address"] == \
        "sip:alice@10.0.0.1:5070"


def test_rpc_add_rm_contact_and_rm() -> None:
    srv = server(ul_cfg())
    ul = srv.core.modules["usrloc"]
    ul.rpc_add("location", "carol", "sip:carol@10.0.0.3", 0, 0.5, "0", 0, 0, 0xFFFFFFFF)
    ul.rpc_add("location", "carol", "sip:carol@10.0.0.4", 600, 1.0, "0", 0, 0, 0xFFFFFFFF)
    contacts = ul.contacts("carol")
    assert [(c.contact, c.expires, c.q) for c in contacts] == [
        ("sip:carol@10.0.0.4", NOW + 600, 1000), ("sip:carol@10.0.0.3", 0, 500)]
    ul.rpc_rm_contact("location", "carol", "sip:carol@10.0.0.3")
    with pytest.raises(RpcFault, match="Contact not found"):
        ul.rpc_rm_contact("location", "carol", "sip:carol@10.0.0.3")
    ul.rpc_rm("location", "carol")
    assert ul.contacts("carol") == []


def test_db_mode_3_keeps_bindings_in_the_location_table(location_db: str) -> None:
    srv = server(ul_cfg(location_db, 3))
    send(srv, register())
    assert [r["contact"] for r in rows(location_db)] == ["sip:alice@10.0.0.1:5070"]
    assert srv.core.modules["usrloc"].contacts("alice")[0].contact == "sip:alice@10.0.0.1:5070"
    send(srv, register(expires=0, cseq=2))
    assert rows(location_db) == []


def test_db_mode_3_writes_a_row_as_kamailio_does(location_db: str) -> None:
    srv = server(ul_cfg(location_db, 3))
    send(srv, register(contact="<sip:alice@10.0.0.1:5070>;q=0.5", extra="User-Agent: phone/1"))
    row = rows(location_db)[0]
    assert row["expires"] == dt.datetime.fromtimestamp(NOW + 3600)
    assert row["last_modified"] == dt.datetime.fromtimestamp(NOW)
    assert float(row["q"]) == 0.5
    assert (row["username"], row["domain"], row["callid"], row["cseq"], row["user_agent"], row["socket"]) == (
        "alice", None, "reg-1@10.0.0.1", 1, "phone/1", "udp:127.0.0.1:5060")
    assert (row["methods"], row["received"], row["path"], row["instance"], row["connection_id"]) == (
        None, None, None, None, -1)
    parts = row["ruid"].split("-")
    assert parts[0] == "uloc" and len(parts) == 4 and int(parts[1], 16) == NOW


def duplicate_last_row(db_url: str, ruid: str, callid: str, last_modified: int) -> None:
    """What two nodes saving one binding at the same moment leave: a second row for it."""
    db = connect(db_url)
    try:
        cols = ["username", "contact", "expires", "q", "cseq", "flags", "cflags", "user_agent", "socket"]
        (row,) = db.query("location", cols, order_by="id")
        db.insert("location", {**dict(zip(cols, row, strict=True)), "ruid": ruid, "callid": callid,
                               "last_modified": dt.datetime.fromtimestamp(last_modified)})
    finally:
        db.close()


def test_db_mode_3_keeps_one_row_of_a_binding_two_nodes_saved_at_once(location_db: str) -> None:
    srv = server(ul_cfg(location_db, 3))
    send(srv, register())
    duplicate_last_row(location_db, "other-node-ruid", "reg-2@10.0.0.1", NOW + 1)
    (kept,) = srv.core.offered("usrloc").contacts("alice")
    assert kept.ruid == "other-node-ruid"  # the one saved last
    assert [r["ruid"] for r in rows(location_db)] == ["other-node-ruid"]


def test_db_mode_3_answers_a_register_with_a_duplicated_binding_listed_once(location_db: str) -> None:
    srv = server(ul_cfg(location_db, 3))
    send(srv, register())
    duplicate_last_row(location_db, "other-node-ruid", "reg-2@10.0.0.1", NOW)
    reply = send(srv, register(cseq=2))
    assert reply.count(b"<sip:alice@10.0.0.1:5070>") == 1
    assert len(rows(location_db)) == 1


def test_db_mode_1_writes_through_on_every_change(location_db: str) -> None:
    clock = FakeClock()
    srv = server(ul_cfg(location_db, 1), clock)
    send(srv, register())
    assert len(rows(location_db)) == 1
    clock.advance(10)
    send(srv, register(expires=120, cseq=2))
    assert rows(location_db)[0]["expires"] == dt.datetime.fromtimestamp(NOW + 130)
    send(srv, register(expires=0, cseq=3))
    assert rows(location_db) == []


def test_db_mode_2_writes_back_on_the_timer(location_db: str) -> None:
    clock = FakeClock()
    srv = server(ul_cfg(location_db, 2), clock)
    send(srv, register())
    assert rows(location_db) == []
    clock.advance(10)
    srv.run_timers()
    assert len(rows(location_db)) == 1
    send(srv, register(expires=0, cseq=2))
    assert len(rows(location_db)) == 1
    srv.core.modules["usrloc"].rpc_flush()
    assert rows(location_db) == []


@pytest.mark.parametrize("mode", [1, 2])
def test_db_modes_1_and_2_load_existing_rows_at_start(location_db: str, mode: int) -> None:
    first = server(ul_cfg(location_db, 3))
    send(first, register())
    srv = server(ul_cfg(location_db, mode))
    assert [c.contact for c in srv.core.modules["usrloc"].contacts("alice")] == ["sip:alice@10.0.0.1:5070"]


def test_use_domain_splits_the_aor_into_username_and_domain(location_db: str) -> None:
    srv = server(ul_cfg(location_db, 3, '"use_domain", 1'))
    send(srv, register())
    row = rows(location_db)[0]
    assert (row["username"], row["domain"]) == ("alice", "example.test")
    assert srv.core.modules["usrloc"].contacts("alice@example.test")


def test_db_mode_3_timer_deletes_expired_rows(location_db: str) -> None:
    clock = FakeClock()
    srv = server(ul_cfg(location_db, 3), clock)
    send(srv, register(expires=60))
    clock.advance(70)
    srv.run_timers()
    assert rows(location_db) == []


def test_timer_procs_gives_the_timer_to_processes_of_its_own() -> None:
    from kampy.modules.usrloc import EXPORTS
    procs = EXPORTS.processes({**EXPORTS.defaults(), "timer_procs": 2, "timer_interval": 30})
    assert [(p.description, p.handler, p.interval, p.args) for p in procs] == [
        ("USRLOC Timer", "timer_part", 30, (0,)), ("USRLOC Timer", "timer_part", 30, (1,))]


def test_without_timer_procs_no_process_of_its_own() -> None:
    from kampy.modules.usrloc import EXPORTS
    assert EXPORTS.processes(EXPORTS.defaults()) == ()


def test_timer_procs_processes_expire_the_aors_of_their_slots() -> None:
    from kampy.api import core_hash
    clock = FakeClock()
    srv = server(ul_cfg(extra='"timer_procs", 2'), clock)
    users = [f"u{i}" for i in range(8)]
    for i, user in enumerate(users):
        send(srv, register(user=user, contact=f"<sip:{user}@10.0.0.{i + 1}>", callid=f"c{i}", expires=60))
    clock.advance(61)
    ul = srv.core.modules["usrloc"]
    ul.timer()  # rank 1's timer leaves the work to the processes
    assert all(ul.contacts(u) for u in users)
    ul.timer_part(1)
    odd = {u for u in users if (core_hash(u) & 1023) % 2 == 1}
    assert {u for u in users if not ul.contacts(u)} == odd and 0 < len(odd) < len(users)
    ul.timer_part(0)
    assert not any(ul.contacts(u) for u in users)
