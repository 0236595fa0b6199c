"""usrloc's xavp_contact: the fields of the XAVP saved with each contact by save() and given back by
lookup() (item 0 for the R-URI's contact, item n for branch n) and registered() (match_action 1)."""
from __future__ import annotations

import datetime as dt

import pytest

from kampy.db import connect, create_tables
from kampy.api import xavp_clone_level as clone_level
from kampy.modules.usrloc.attrs import insert_attrs
from tests.modkit import ctx_for
from tests.reg_helpers import FakeClock, config, header, register, request, send, server

ROUTE = r'''
request_route {
    if (is_method("REGISTER")) {
        if ($hdr(X-Tenant) != $null) {
            $xavp(ulattrs=>tenant) = $hdr(X-Tenant);
            $xavp(ulattrs[0]=>level) = 3;
        }
        save("location");
        exit;
    }
    ROUTE
    append_to_reply("X-T0: $xavp(ulattrs[0]=>tenant)\r\nX-L0: $xavp(ulattrs[0]=>level)\r\n"
                    "X-T1: $xavp(ulattrs[1]=>tenant)\r\nX-N: $cnt($xavp(ulattrs))\r\n");
    sl_send_reply("200", "Looked");
}
'''


def probe(route: str = 'lookup("location");', xavp: bool = True, registrar: str = "") -> str:
    usrloc = '"xavp_contact", "ulattrs"' if xavp else ""
    return config(route=ROUTE.replace("ROUTE", route), usrloc=usrloc, registrar=registrar)


def shown(reply: bytes) -> list[str]:
    return [header(reply, h)[0] for h in ("X-T0", "X-L0", "X-T1", "X-N")]


def test_lookup_gives_back_the_fields_saved_with_the_contact() -> None:
    srv = server(probe())
    send(srv, register(extra="X-Tenant: acme\r\n"))
    assert shown(send(srv, request())) == ["acme", "3", "<null>", "1"]


def test_without_the_parameter_nothing_is_stored() -> None:
    srv = server(probe(xavp=False))
    send(srv, register(extra="X-Tenant: acme\r\n"))
    assert shown(send(srv, request())) == ["<null>", "<null>", "<null>", "0"]


def test_a_contact_saved_without_the_xavp_gives_nothing_back() -> None:
    srv = server(probe())
    send(srv, register())
    assert shown(send(srv, request())) == ["<null>", "<null>", "<null>", "0"]


def test_a_refresh_replaces_the_stored_fields() -> None:
    srv = server(probe())
    send(srv, register(extra="X-Tenant: acme\r\n"))
    send(srv, register(cseq=2, extra="X-Tenant: globex\r\n"))
    assert shown(send(srv, request()))[0] == "globex"


def test_a_refresh_without_the_xavp_drops_the_stored_fields() -> None:
    srv = server(probe())
    send(srv, register(extra="X-Tenant: acme\r\n"))
    send(srv, register(cseq=2))
    assert shown(send(srv, request())) == ["<null>", "<null>", "<null>", "0"]


def test_each_branch_gets_the_fields_of_its_contact_at_its_index() -> None:
    srv = server(probe())
    send(srv, register(contact="<sip:alice@10.0.0.1:5070>;q=0.9", extra="X-Tenant: first\r\n"))
    send(srv, register(contact="<sip:alice@10.0.0.2:5070>;q=0.5", callid="reg-2@10.0.0.2",
                       extra="X-Tenant: second\r\n"))
    assert shown(send(srv, request())) == ["first", "3", "second", "2"]


def test_registered_with_match_action_1_gives_the_fields_back() -> None:
    srv = server(probe('registered("location", "$ru", 0, 1);'))
    send(srv, register(extra="X-Tenant: acme\r\n"))
    assert shown(send(srv, request()))[:2] == ["acme", "3"]


def test_registered_without_match_action_1_gives_nothing_back() -> None:
    srv = server(probe('registered("location");'))
    send(srv, register(extra="X-Tenant: acme\r\n"))
    assert shown(send(srv, request()))[3] == "0"


def test_a_worker_sees_the_fields_another_worker_saved() -> None:
    first = server(probe(), rank=1, workers=2)
    send(first, register(extra="X-Tenant: acme\r\n"))
    other = server(probe(), shared=first.core.shared, rank=2, workers=2)
    assert shown(send(other, request()))[:2] == ["acme", "3"]


def test_the_clone_keeps_strings_and_integers_only() -> None:
    assert clone_level({"a": ["x", 1], "b": [{"nested": ["y"]}], "c": [True]}) == {"a": ["x", 1]}


def test_inserting_at_an_index_fills_the_missing_items_with_empty_ones() -> None:
    ctx = ctx_for(b"OPTIONS sip:x@example.test SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1\r\n"
                  b"From: <sip:a@example.test>;tag=1\r\nTo: <sip:x@example.test>\r\nCall-ID: c\r\n"
                  b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    insert_attrs(ctx, "u", {"t": ["b2"]}, 2)
    assert ctx.xavps["u"] == [{}, {}, {"t": ["b2"]}]
    insert_attrs(ctx, "u", {"t": ["r"]}, 0)  # an empty item at the index is replaced
    insert_attrs(ctx, "u", {"t": ["b1"]}, 1)
    assert ctx.xavps["u"] == [{"t": ["r"]}, {"t": ["b1"]}, {"t": ["b2"]}]
    insert_attrs(ctx, "u", {"t": ["x"]}, 1)  # a full item at the index moves down
    assert ctx.xavps["u"] == [{"t": ["r"]}, {"t": ["x"]}, {"t": ["b1"]}, {"t": ["b2"]}]
    insert_attrs(ctx, "u", {"t": ["y"]}, None)  # registered(): first
    assert ctx.xavps["u"][0] == {"t": ["y"]}


# ---------------------------------------------------------------- in the database (db_mode 1-3)

@pytest.fixture
def location_db(db_url: str) -> str:
    with connect(db_url) as db:
        create_tables(db, ["location", "location_attrs"])
    return db_url


def attrs_rows(db_url: str) -> list[tuple]:
    with connect(db_url) as db:
        return [tuple(r) for r in db.query("location_attrs", ["username", "aname", "atype", "avalue"],
                                           order_by="id")]


def db_probe(url: str, mode: int) -> str:
    return config(route=ROUTE.replace("ROUTE", 'lookup("location");'),
                  usrloc=f'"xavp_contact", "ulattrs";"db_mode", {mode};"db_url", "{url}"')


@pytest.mark.parametrize("mode", [1, 3])
def test_save_writes_one_attrs_row_per_field_value(location_db: str, mode: int) -> None:
    srv = server(db_probe(location_db, mode))
    send(srv, register(extra="X-Tenant: acme\r\n"))
    assert sorted(attrs_rows(location_db)) == [("alice", "level", 1, "3"), ("alice", "tenant", 0, "acme")]


def test_db_mode_3_lookup_reads_the_fields_back_from_the_table(location_db: str) -> None:
    srv = server(db_probe(location_db, 3))
    send(srv, register(extra="X-Tenant: acme\r\n"))
    assert shown(send(srv, request())) == ["acme", "3", "<null>", "1"]


def test_an_update_rewrites_the_rows(location_db: str) -> None:
    srv = server(db_probe(location_db, 1))
    send(srv, register(extra="X-Tenant: acme\r\n"))
    send(srv, register(cseq=2, extra="X-Tenant: globex\r\n"))
    assert sorted(attrs_rows(location_db)) == [("alice", "level", 1, "3"), ("alice", "tenant", 0, "globex")]


def test_db_mode_1_loads_the_fields_at_start_and_drops_rows_of_no_contact(location_db: str) -> None:
    first = server(db_probe(location_db, 1))
    send(first, register(extra="X-Tenant: acme\r\n"))
    with connect(location_db) as db:
        db.insert("location_attrs", {"username": "ghost", "ruid": "nope", "aname": "x", "atype": 0,
                                     "avalue": "y", "last_modified": dt.datetime(2026, 1, 1)})
    restarted = server(db_probe(location_db, 1), shared=None)
    assert shown(send(restarted, request()))[:2] == ["acme", "3"]
    assert [r[0] for r in attrs_rows(location_db)] == ["alice", "alice"]


def test_db_mode_2_writes_the_rows_on_the_timer(location_db: str) -> None:
    clock = FakeClock()
    srv = server(db_probe(location_db, 2), clock)
    send(srv, register(extra="X-Tenant: acme\r\n"))
    assert attrs_rows(location_db) == []
    clock.advance(60)
    srv.run_timers()
    assert len(attrs_rows(location_db)) == 2
