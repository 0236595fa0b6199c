"""msilo's timers (spec §5): reminders every send_time, the expiry purge every check_time ×
clean_period, stale delivery claims released; and the statistics they count."""
from __future__ import annotations

import time
from pathlib import Path

from kampy.runtime.shared import SharedStore
from tests.support.msilo import BOB, FakeClock, Silo, make_silo, message, register

REMINDER = {"reminder": "sip:reminder@example.test", "send_time": 10, "snd_time_avp": "$avp(st)",
            "outbound_proxy": "sip:127.0.0.1:5060"}


def local(stamp: str) -> int:
    return int(time.mktime(time.strptime(stamp, "%Y%m%d%H%M%S")[:8] + (0,)))


def reminder_silo(tmp_path: Path, when: str, params: dict | None = None, **kw: object) -> Silo:
    s = make_silo(tmp_path, f"sqlite://{tmp_path}/silo.db", {**REMINDER, **(params or {})},
                  pre_store=f'$avp(st) = "{when}";', **kw)
    assert s.send(message("rem-body")) == 202
    return s


def test_a_due_reminder_is_sent_at_the_next_tick(tmp_path: Path) -> None:
    s = reminder_silo(tmp_path, "20261126115500", {"add_contact": 1})
    s.clock.now = local("20261126115500") + 1
    s.tick(10)
    (rem,) = s.sent
    assert (rem.ruri, rem.to_uri) == ("sip:bob@example.test",) * 2
    assert rem.from_uri == "sip:reminder@example.test"
    assert rem.headers == "Content-Type: text/plain\r\nContact: <sip:reminder@example.test>;msilo=yes\r\n"
    assert rem.body == f"[Reminder message - {time.ctime(local('20261126115500'))}] rem-body".encode()
    assert rem.next_hop == "sip:127.0.0.1:5060"


def test_a_reminder_is_not_sent_before_its_time(tmp_path: Path) -> None:
    s = reminder_silo(tmp_path, "20301126115500")
    s.tick(10)
    assert s.sent == []


def test_a_delivered_reminder_is_deleted_and_counted_as_a_reminder(tmp_path: Path) -> None:
    s = reminder_silo(tmp_path, "20200101000000")
    s.tick(10)
    s.sent[0].reply(200)
    assert s.rows() == []
    assert s.stat("dumped_reminders") == 1 and s.stat("dumped_messages") == 0


def test_a_failed_reminder_becomes_an_ordinary_offline_message(tmp_path: Path) -> None:
    s = reminder_silo(tmp_path, "20200101000000")
    s.tick(10)
    s.sent[0].reply(408)
    assert s.stat("failed_reminders") == 1 and s.stat("failed_messages") == 0
    assert [r[7] for r in s.rows()] == [0]
    s.tick(10)
    assert len(s.sent) == 1  # no longer a reminder
    s.send(register(), BOB)
    dump = s.sent[1]
    assert dump.from_uri == "sip:alice@example.test" and dump.headers.startswith("Date: ")
    assert dump.body.startswith(f"[Offline message - {time.ctime(1795694070)}] ".encode())


def test_a_reminder_in_flight_is_not_sent_twice(tmp_path: Path) -> None:
    s = reminder_silo(tmp_path, "20200101000000")
    s.tick(10)
    s.tick(10)
    assert len(s.sent) == 1


def test_reminder_date_after_2038_wraps_and_goes_out_at_once(tmp_path: Path) -> None:
    s = reminder_silo(tmp_path, "20990101000000")
    assert s.rows("snd_time")[0][0] < 0
    s.tick(10)
    assert len(s.sent) == 1 and b"19" in s.sent[0].body[:45]


def test_no_reminder_timer_without_the_reminder_param(tmp_path: Path) -> None:
    s = reminder_silo(tmp_path, "20200101000000", {"reminder": ""})
    s.tick(10)
    assert s.sent == []


def test_timers_run_on_rank_1_only(tmp_path: Path) -> None:
    store = SharedStore.create(tmp_path)
    try:
        s = reminder_silo(tmp_path, "20200101000000", shared=store, rank=2)
        s.tick(10)
        assert s.sent == []
    finally:
        store.remove()


def test_expired_rows_are_purged_every_check_time_times_clean_period(tmp_path: Path) -> None:
    s = make_silo(tmp_path, f"sqlite://{tmp_path}/silo.db", {"check_time": 10, "clean_period": 3})
    s.send(message("short", extra=["Expires: 5"]))
    s.send(message("long"))
    s.tick(10)
    s.tick(10)
    assert len(s.rows()) == 2  # two cleanup runs: no purge yet
    s.tick(10)
    assert [r[6] for r in s.rows()] == [b"long"]


def test_the_purge_also_removes_expired_reminders(tmp_path: Path) -> None:
    s = reminder_silo(tmp_path, "20301126115500", {"check_time": 5, "clean_period": 1, "expire_time": 3})
    s.tick(5)
    assert s.rows() == []


def test_after_a_restart_an_unanswered_delivery_goes_out_again_once_its_claim_lapses(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/silo.db"
    clock = FakeClock()
    before = make_silo(tmp_path, url, {"check_time": 30}, clock=clock)
    before.send(message())
    before.send(register(), BOB)  # the server dies before the reply comes
    after = make_silo(tmp_path, url, {"check_time": 30}, clock=clock)
    clock.advance(89)
    after.send(register(), BOB)
    assert after.sent == []  # the claim lasts 3 x check_time
    clock.advance(1)
    after.send(register(), BOB)
    assert len(after.sent) == 1 and len(after.rows()) == 1


def test_a_worker_renews_the_claims_of_its_deliveries_every_check_time(tmp_path: Path) -> None:
    s = make_silo(tmp_path, f"sqlite://{tmp_path}/silo.db", {"check_time": 30})
    s.send(message())
    s.send(register(), BOB)
    s.tick(30)
    assert s.rows("status") == [(1795694070 + 30 + 90,)]


def test_statistics_count_what_the_seed_documents(tmp_path: Path) -> None:
    s = make_silo(tmp_path, f"sqlite://{tmp_path}/silo.db", REMINDER,
                  pre_store='if ($hdr(X-Rem) == "1") { $avp(st) = "20200101000000"; }')
    for i in range(5):
        s.send(message(f"m{i}"))
    for _ in range(2):
        s.send(message("r", extra=["X-Rem: 1"]))
    s.send(register(), BOB)
    s.tick(10)
    assert len(s.sent) == 7
    for d in s.sent[:4] + s.sent[5:]:
        d.reply(200)
    s.sent[4].reply(486)
    assert {n: s.stat(n) for n in ("stored_messages", "dumped_messages", "failed_messages",
                                   "dumped_reminders", "failed_reminders")} == {
        "stored_messages": 7, "dumped_messages": 4, "failed_messages": 1, "dumped_reminders": 2,
        "failed_reminders": 0}


def test_a_reused_sqlite_id_is_not_deleted_by_a_late_2xx(tmp_path: Path) -> None:
    clock = FakeClock()
    s = make_silo(tmp_path, f"sqlite://{tmp_path}/silo.db", {"check_time": 5, "clean_period": 1}, clock=clock)
    s.send(message("old", extra=["Expires: 1"]))
    s.send(register(), BOB)
    s.tick(5)  # purged while in flight; SQLite reuses its id for the next row
    clock.advance(1)
    s.send(message("new"))
    s.sent[0].reply(200)
    assert [r[6] for r in s.rows()] == [b"new"]
