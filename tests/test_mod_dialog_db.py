"""dialog's database persistence on SQLite and MariaDB: the `dialog` and `dialog_vars` rows of
db_mode 1 (at each change), 2 (every db_update_period) and 3 (at shutdown), with Kamailio's
columns, and the dialogs loaded back when the server starts."""
from __future__ import annotations

from typing import Any

from kampy.api import Database
from kampy.testing import Harness
from tests.test_mod_dialog import BOB, proxy

COLUMNS = ["hash_entry", "hash_id", "callid", "from_uri", "from_tag", "to_uri", "to_tag", "caller_cseq",
           "callee_cseq", "caller_contact", "callee_contact", "state", "timeout", "sflags", "req_uri"]


def dialog_rows(db: Database) -> list[dict[str, Any]]:
    return [dict(zip(COLUMNS, row, strict=True)) for row in db.query("dialog", COLUMNS)]


def vars_rows(db: Database) -> list[tuple[Any, ...]]:
    return sorted(db.query("dialog_vars", ["dialog_key", "dialog_value"]))


def load(db_url: str, mode: int, **params: Any) -> Harness:
    return Harness.load(proxy(), db=None, modparams={"dialog": {"db_url": db_url, "db_mode": mode, **params}})


def test_db_mode_1_writes_a_confirmed_dialog_and_deletes_it_at_bye(db: Database, db_url: str) -> None:
    with load(db_url, 1) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        call = sip.invite(BOB, call_id="db-1")
        call.ack()
        listed = sip.rpc("dlg.list")[0]

        rows = dialog_rows(db)
        assert len(rows) == 1
        row = rows[0]
        assert (row["hash_entry"], row["hash_id"], row["callid"], row["state"]) == (
            listed["h_entry"], listed["h_id"], "db-1", 4)
        assert row["from_tag"] == listed["caller"]["tag"] and row["to_tag"] == listed["callee"]["tag"]
        assert row["callee_contact"] == "sip:bob@192.0.2.20:5062"
        assert row["timeout"] == listed["timeout"]
        assert vars_rows(db) == [("color", "blue")]

        call.bye()
        assert dialog_rows(db) == [] and vars_rows(db) == []


def test_db_mode_1_writes_nothing_before_the_answer(db: Database, db_url: str) -> None:
    with load(db_url, 1) as sip:
        sip.ua(BOB, "192.0.2.20:5062", answer=180)
        sip.invite(BOB)
        assert sip.rpc("dlg.list")[0]["state"] == 2
        assert dialog_rows(db) == []


def test_db_mode_2_writes_every_update_period(db: Database, db_url: str) -> None:
    with load(db_url, 2, db_update_period=10) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        sip.advance(1)
        sip.invite(BOB).ack()
        assert dialog_rows(db) == []
        sip.advance(11)
        assert [r["state"] for r in dialog_rows(db)] == [4]


def test_db_mode_3_writes_at_shutdown_and_loads_at_start(db: Database, db_url: str) -> None:
    with load(db_url, 3) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        sip.invite(BOB, call_id="db-3").ack()
        assert dialog_rows(db) == []
    assert [r["callid"] for r in dialog_rows(db)] == ["db-3"]

    with load(db_url, 3) as again:
        listed = again.rpc("dlg.list")
        assert [(d["call-id"], d["state"]) for d in listed] == [("db-3", 4)]
        assert listed[0]["variables"] == [{"color": "blue"}]
        assert again.stat("dialog:active_dialogs") == 1
        assert dialog_rows(db) == []  # loaded, and the table emptied as Kamailio's shutdown mode


def test_a_dialog_loaded_at_start_ends_with_its_bye(db: Database, db_url: str) -> None:
    with load(db_url, 1) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        call = sip.invite(BOB, call_id="db-4")
        call.ack()
        caller = call.caller_view
        record_route = call.result.forwarded[0].header("Record-Route")

    with load(db_url, 1) as again:
        bye = again.send_request("BYE", "sip:bob@192.0.2.20:5062", call_id="db-4", cseq=2,
                                 from_tag=caller.local_tag, to_tag=caller.remote_tag,
                                 headers={"Route": record_route})
        assert [s.dest for s in bye.forwarded] == ["udp:192.0.2.20:5062"]  # (no phone there now)
        assert dialog_rows(db) == []
        assert [d["state"] for d in again.rpc("dlg.list")] == [5]  # until the BYE is answered
        again.advance(40)  # tm's 408
        assert again.rpc("dlg.list") == []


def test_a_loaded_dialog_of_another_servers_socket_is_no_longer_replicated(db: Database, db_url: str) -> None:
    with load(db_url, 3) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        sip.invite(BOB, call_id="db-mine").ack()
        sip.invite(BOB, call_id="db-other").ack()
    db.update("dialog", {"callid": "db-other"}, {"caller_sock": "udp:192.0.2.99:5060"})
    db.update("dialog", None, {"iflags": 64})  # DLG_IFLAG_DMQ_SYNC: replicated over DMQ

    with load(db_url, 3) as again:
        assert {d["call-id"]: d["iflags"] for d in again.rpc("dlg.list")} == {"db-mine": 64, "db-other": 0}
