"""Several servers (nodes) on one database, in-process: a stored message is sent once whichever node
the REGISTERs reach (issue 19, "msilo exactly once across nodes").

Before sending a row a node claims it in the database: `status` (a column of Kamailio's `silo` table
that Kamailio never reads or writes) takes the time its claim lapses. The claim is renewed every
`check_time` while the delivery waits for its final reply; a 2xx deletes the row, a failure sets
`status` back to 0, and the claims of a node that died lapse after 3 × `check_time`."""
from __future__ import annotations

from pathlib import Path


from kampy.db import connect
from tests.support.msilo import BOB, START, FakeClock, Silo, make_silo, message, register

CHECK_TIME = 10
LEASE = 3 * CHECK_TIME
PARAMS = {"outbound_proxy": "sip:127.0.0.1:5060", "check_time": CHECK_TIME}
REMINDER = {**PARAMS, "reminder": "sip:reminder@example.test", "send_time": 10, "snd_time_avp": "$avp(st)"}


def nodes(tmp_path: Path, url: str, count: int = 2, params: dict | None = None, **kw: str) -> list[Silo]:
    """`count` servers on one database, each with its own clock (all at the same time) and no
    shared store between them: separate machines."""
    made = []
    for i in range(count):
        base = tmp_path / f"node{i}"
        base.mkdir()
        made.append(make_silo(base, url, {**PARAMS, **(params or {})}, clock=FakeClock(), **kw))
    return made


def store(node: Silo, *bodies: str) -> None:
    for body in bodies:
        assert node.send(message(body)) == 202


def bodies(node: Silo) -> list[bytes]:
    return [d.body.rsplit(b"] ", 1)[-1] for d in node.sent]


def advance(nodes_: list[Silo], seconds: float, alive: list[Silo] | None = None) -> None:
    """Move every node's clock; run the timers of those `alive` (all by default)."""
    for node in nodes_:
        node.clock.advance(seconds)
        if alive is None or node in alive:
            node.server.run_timers()


def test_a_message_is_sent_by_one_node_when_the_owner_registers_at_every_node(tmp_path: Path,
                                                                               silo_url: str) -> None:
    one, two = nodes(tmp_path, silo_url)
    store(one, "m0", "m1", "m2")
    one.send(register(), BOB)
    two.send(register(), BOB)
    assert bodies(one) == [b"m0", b"m1", b"m2"] and two.sent == []


def test_a_claim_holds_the_time_it_lapses_in_the_status_column(tmp_path: Path, silo_url: str) -> None:
    (one,) = nodes(tmp_path, silo_url, 1)
    store(one, "m0")
    assert one.rows("status") == [(0,)]
    one.send(register(), BOB)
    assert one.rows("status") == [(int(START) + LEASE,)]


def test_a_failed_delivery_releases_the_claim_for_any_node(tmp_path: Path, silo_url: str) -> None:
    one, two = nodes(tmp_path, silo_url)
    store(one, "m0", "m1")
    one.send(register(), BOB)
    one.sent[1].reply(480)
    assert one.rows("status") == [(int(START) + LEASE,), (0,)]
    two.send(register(), BOB)
    assert bodies(two) == [b"m1"]


def test_a_delivered_message_is_deleted_and_no_node_sends_it_again(tmp_path: Path, silo_url: str) -> None:
    one, two = nodes(tmp_path, silo_url)
    store(one, "m0")
    one.send(register(), BOB)
    one.sent[0].reply(200)
    two.send(register(), BOB)
    assert one.rows() == [] and two.sent == []


def test_a_pending_delivery_keeps_its_claim_past_the_lease(tmp_path: Path, silo_url: str) -> None:
    one, two = nodes(tmp_path, silo_url)
    store(one, "m0")
    one.send(register(), BOB)
    for _ in range(2 * LEASE // CHECK_TIME):  # the reply is slow: one renews its claim meanwhile
        advance([one, two], CHECK_TIME)
    two.send(register(), BOB)
    assert two.sent == []
    one.sent[0].reply(200)
    assert one.rows() == []


def test_the_claims_of_a_node_that_died_lapse_and_another_node_sends_the_message(tmp_path: Path,
                                                                                silo_url: str) -> None:
    one, two = nodes(tmp_path, silo_url)
    store(one, "m0", "m1")
    one.send(register(), BOB)  # one dies now: no reply, no timer
    advance([one, two], LEASE - 1, alive=[two])
    two.send(register(), BOB)
    assert two.sent == []
    advance([one, two], 1, alive=[two])
    two.send(register(), BOB)
    assert bodies(two) == [b"m0", b"m1"]


def lapsed(tmp_path: Path, url: str) -> tuple[Silo, Silo]:
    """Node one sent m0 and its claim lapsed: one stopped renewing it (it hung) for LEASE seconds."""
    one, two = nodes(tmp_path, url)
    store(one, "m0")
    one.send(register(), BOB)
    advance([one, two], LEASE, alive=[two])
    return one, two


def test_a_late_reply_to_a_lapsed_claim_still_deletes_the_delivered_row(
        tmp_path: Path, silo_url: str) -> None:
    one, _ = lapsed(tmp_path, silo_url)
    one.sent[0].reply(200)
    assert one.rows() == []


def test_a_failure_after_another_node_took_over_does_not_release_its_claim(
        tmp_path: Path, silo_url: str) -> None:
    one, two = lapsed(tmp_path, silo_url)
    two.send(register(), BOB)
    one.sent[0].reply(408)
    assert one.rows("status") == [(int(START) + 2 * LEASE,)]
    two.send(register(), BOB)
    assert len(two.sent) == 1


def test_a_due_reminder_is_sent_by_one_node(tmp_path: Path, silo_url: str) -> None:
    one, two = nodes(tmp_path, silo_url, params=REMINDER, pre_store='$avp(st) = "20200101000000";')
    store(one, "rem")
    advance([one, two], 10)
    assert len(one.sent) + len(two.sent) == 1


def test_the_claim_column_is_named_by_sc_status(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/silo.db"
    with connect(url, create_missing=True) as db:
        db.execute("ALTER TABLE silo RENAME COLUMN status TO lease")
    (one,) = nodes(tmp_path, url, 1, params={"sc_status": "lease"})
    store(one, "m0")
    one.send(register(), BOB)
    assert one.rows("lease") == [(int(START) + LEASE,)]
