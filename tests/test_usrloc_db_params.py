"""usrloc's parameters that shape its SQL on the location table: the *_column names, db_insert_update,
db_update_as_insert, db_check_update, db_ops_ruid, expires_type, db_insert_null, server_id_filter,
db_timer_clean and rm_expired_delay, on SQLite and a real MariaDB (Kamailio 5.6's ucontact.c,
udomain.c)."""
from __future__ import annotations

import datetime as dt

import pytest

from kampy.db import connect, create_tables
from kampy.errors import ConfigError
from kampy.modules.usrloc.storage import LocationTable, TableOptions
from kampy.modules.usrloc.ucontact import UContact
from tests.reg_helpers import NOW, FakeClock, config, register, send, server


def ul_cfg(db_url: str, mode: int, extra: str = "") -> str:
    params = f'"timer_interval", 10;"db_mode", {mode};"db_url", "{db_url}"'
    return config(usrloc=params + (";" + extra if extra else ""))


@pytest.fixture
def location_db(db_url: str) -> str:
    with connect(db_url) as db:
        create_tables(db, ["location"])
    return db_url


def sql(db_url: str, *statements: str) -> None:
    with connect(db_url) as db:
        for statement in statements:
            db.execute(statement)


COLS = ("ruid", "username", "contact", "expires", "server_id")


def rows(db_url: str, cols: tuple[str, ...] = COLS) -> list[dict]:
    with connect(db_url) as db:
        return [dict(zip(cols, r, strict=True)) for r in db.query("location", list(cols), order_by="id")]


def expires_of(db_url: str) -> list[dt.datetime]:
    return [r["expires"] for r in rows(db_url)]


def at(offset: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(NOW + offset)


def rename_column(db_url: str, old: str, new: str) -> None:
    sql(db_url, f"ALTER TABLE location RENAME COLUMN {old} TO {new}")


def test_column_parameters_name_the_columns_usrloc_reads_and_writes(location_db: str) -> None:
    rename_column(location_db, "contact", "contact_uri")
    rename_column(location_db, "username", "login")
    srv = server(ul_cfg(location_db, 3, '"contact_column", "contact_uri";"user_column", "login"'))
    send(srv, register())
    assert rows(location_db, ("login", "contact_uri")) == [
        {"login": "alice", "contact_uri": "sip:alice@10.0.0.1:5070"}]
    assert [c.contact for c in srv.core.modules["usrloc"].contacts("alice")] == ["sip:alice@10.0.0.1:5070"]


def test_a_refresh_of_a_row_gone_from_the_table_changes_nothing_by_default(location_db: str) -> None:
    srv = server(ul_cfg(location_db, 1))
    send(srv, register())
    sql(location_db, "DELETE FROM location")
    send(srv, register(expires=120, cseq=2))
    assert rows(location_db) == []


def test_db_check_update_inserts_the_row_an_update_did_not_find(location_db: str) -> None:
    srv = server(ul_cfg(location_db, 1, '"db_check_update", 1'))
    send(srv, register())
    sql(location_db, "DELETE FROM location")
    send(srv, register(expires=120, cseq=2))
    assert expires_of(location_db) == [at(120)]


def test_db_update_as_insert_writes_a_refresh_as_an_insert(location_db: str) -> None:
    srv = server(ul_cfg(location_db, 1, '"db_update_as_insert", 1'))
    send(srv, register())
    sql(location_db, "DELETE FROM location")
    send(srv, register(expires=120, cseq=2))
    assert expires_of(location_db) == [at(120)]


def test_db_update_as_insert_alone_is_refused_by_the_unique_ruid(location_db: str) -> None:
    srv = server(ul_cfg(location_db, 1, '"db_update_as_insert", 1'))
    send(srv, register())
    reply = send(srv, register(expires=120, cseq=2))
    assert reply.startswith(b"SIP/2.0 500")
    assert expires_of(location_db) == [at(3600)]


def test_db_insert_update_makes_an_insert_of_an_existing_ruid_an_update(location_db: str) -> None:
    srv = server(ul_cfg(location_db, 1, '"db_update_as_insert", 1;"db_insert_update", 1'))
    send(srv, register())
    reply = send(srv, register(expires=120, cseq=2))
    assert reply.startswith(b"SIP/2.0 200")
    assert expires_of(location_db) == [at(120)]


def test_db_ops_ruid_0_updates_the_row_by_aor_and_contact(location_db: str) -> None:
    srv = server(ul_cfg(location_db, 1, '"db_ops_ruid", 0'))
    send(srv, register())
    sql(location_db, "UPDATE location SET ruid = 'changed-elsewhere'")
    send(srv, register(expires=120, cseq=2))
    assert [(r["ruid"], r["expires"]) for r in rows(location_db)] == [("changed-elsewhere", at(120))]


def test_db_ops_ruid_1_updates_the_row_by_ruid(location_db: str) -> None:
    srv = server(ul_cfg(location_db, 1))
    send(srv, register())
    sql(location_db, "UPDATE location SET ruid = 'changed-elsewhere'")
    send(srv, register(expires=120, cseq=2))
    assert expires_of(location_db) == [at(3600)]


def test_db_ops_ruid_0_deletes_the_row_by_aor_and_contact(location_db: str) -> None:
    srv = server(ul_cfg(location_db, 1, '"db_ops_ruid", 0'))
    send(srv, register())
    sql(location_db, "UPDATE location SET ruid = 'changed-elsewhere'")
    send(srv, register(expires=0, cseq=2))
    assert rows(location_db) == []


def test_expires_type_1_writes_expires_as_seconds(location_db: str) -> None:
    if location_db.startswith("mysql"):
        sql(location_db, "ALTER TABLE location MODIFY expires BIGINT NOT NULL DEFAULT 0, "
                         "MODIFY last_modified BIGINT NOT NULL DEFAULT 0")
    srv = server(ul_cfg(location_db, 3, '"expires_type", 1'))
    send(srv, register())
    (row,) = rows(location_db, ("expires", "last_modified"))
    assert (int(row["expires"]), int(row["last_modified"])) == (NOW + 3600, NOW)
    assert srv.core.modules["usrloc"].contacts("alice")[0].expires == NOW + 3600


def test_db_insert_null_writes_the_unset_fields_as_null() -> None:
    contact = UContact(aor="alice", contact="sip:alice@10.0.0.1", ruid="r1")
    plain = LocationTable(None, "location").row(contact)  # type: ignore[arg-type]
    with_null = LocationTable(None, "location", TableOptions(insert_null=True)).row(contact)  # type: ignore[arg-type]
    assert "received" not in plain and "path" not in plain
    assert {k: with_null[k] for k in ("received", "path", "socket", "methods", "instance")} == dict.fromkeys(
        ("received", "path", "socket", "methods", "instance"))


def insert_row(db_url: str, user: str, server_id: int, expires: int) -> None:
    with connect(db_url) as db:
        db.insert("location", {"ruid": f"r-{user}", "username": user, "contact": f"sip:{user}@10.0.0.9",
                               "expires": dt.datetime.fromtimestamp(expires), "server_id": server_id,
                               "last_modified": dt.datetime.fromtimestamp(NOW)})


def test_server_id_filter_loads_only_this_servers_rows(location_db: str) -> None:
    insert_row(location_db, "bob", 7, NOW + 3600)
    insert_row(location_db, "carol", 0, NOW + 3600)  # kampy's server_id is 0 by default
    ul = server(ul_cfg(location_db, 1, '"server_id_filter", 1')).core.modules["usrloc"]
    assert (ul.contacts("bob"), len(ul.contacts("carol"))) == ([], 1)


def test_without_server_id_filter_every_row_is_loaded(location_db: str) -> None:
    insert_row(location_db, "bob", 7, NOW + 3600)
    ul = server(ul_cfg(location_db, 1)).core.modules["usrloc"]
    assert len(ul.contacts("bob")) == 1


def test_db_timer_clean_deletes_expired_rows_in_db_mode_1(location_db: str) -> None:
    clock = FakeClock()
    srv = server(ul_cfg(location_db, 1, '"db_timer_clean", 1'), clock)
    insert_row(location_db, "bob", 0, NOW - 10)  # written by another node, not in this one's memory
    clock.advance(10)
    srv.run_timers()
    assert rows(location_db) == []


def test_without_db_timer_clean_db_mode_1_leaves_rows_it_does_not_hold(location_db: str) -> None:
    clock = FakeClock()
    srv = server(ul_cfg(location_db, 1), clock)
    insert_row(location_db, "bob", 0, NOW - 10)
    clock.advance(10)
    srv.run_timers()
    assert len(rows(location_db)) == 1


def test_rm_expired_delay_keeps_expired_rows_that_long_in_db_mode_3(location_db: str) -> None:
    clock = FakeClock()
    srv = server(ul_cfg(location_db, 3, '"rm_expired_delay", 100'), clock)
    send(srv, register(expires=60))
    clock.advance(70)
    srv.run_timers()
    assert len(rows(location_db)) == 1
    clock.advance(100)
    srv.run_timers()
    assert rows(location_db) == []


def insert_socket_row(db_url: str, user: str, socket: str, connection_id: int = -1) -> None:
    with connect(db_url) as db:
        db.insert("location", {"ruid": f"r-{user}", "username": user, "contact": f"sip:{user}@10.0.0.9",
                               "expires": dt.datetime.fromtimestamp(NOW + 3600), "socket": socket,
                               "connection_id": connection_id,
                               "last_modified": dt.datetime.fromtimestamp(NOW)})


def test_skip_remote_socket_leaves_out_rows_of_another_servers_socket(location_db: str) -> None:
    insert_socket_row(location_db, "bob", "udp:192.0.2.7:5060")
    insert_socket_row(location_db, "carol", "udp:127.0.0.1:5060")  # the test server's socket
    ul = server(ul_cfg(location_db, 1, '"skip_remote_socket", 1')).core.modules["usrloc"]
    assert (ul.contacts("bob"), len(ul.contacts("carol"))) == ([], 1)


def test_skip_remote_socket_applies_to_db_mode_3_reads(location_db: str) -> None:
    insert_socket_row(location_db, "bob", "udp:192.0.2.7:5060")
    ul = server(ul_cfg(location_db, 3, '"skip_remote_socket", 1')).core.modules["usrloc"]
    assert ul.contacts("bob") == []


def test_without_skip_remote_socket_rows_of_another_socket_are_loaded(location_db: str) -> None:
    insert_socket_row(location_db, "bob", "udp:192.0.2.7:5060")
    ul = server(ul_cfg(location_db, 1)).core.modules["usrloc"]
    assert len(ul.contacts("bob")) == 1


def test_db_clean_tcp_deletes_connection_bound_rows_before_loading(location_db: str) -> None:
    insert_socket_row(location_db, "bob", "tcp:127.0.0.1:5060", connection_id=12)
    insert_socket_row(location_db, "carol", "udp:127.0.0.1:5060")
    ul = server(ul_cfg(location_db, 1, '"db_clean_tcp", 1')).core.modules["usrloc"]
    assert (ul.contacts("bob"), len(ul.contacts("carol"))) == ([], 1)
    assert [r["username"] for r in rows(location_db)] == ["carol"]


def test_without_db_clean_tcp_connection_bound_rows_are_loaded(location_db: str) -> None:
    insert_socket_row(location_db, "bob", "tcp:127.0.0.1:5060", connection_id=12)
    ul = server(ul_cfg(location_db, 1)).core.modules["usrloc"]
    assert len(ul.contacts("bob")) == 1


def test_fetch_rows_must_be_positive_with_a_database(location_db: str) -> None:
    with pytest.raises(ConfigError, match="invalid fetch_rows number '0'"):
        server(ul_cfg(location_db, 1, '"fetch_rows", 0'))
