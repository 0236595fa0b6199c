"""samples/msilo.cfg under test: offline storage, dumps, re-store, expiry, reminders, limits.

Runs with the kampy pytest plugin (`kampy_cfg`): no sockets, a fake clock, a fresh SQLite file
for the `silo` table in each test.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from kampy.testing import Harness, UserAgent

CFG = Path(__file__).resolve().parent.parent / "msilo.cfg"
ALICE = "sip:alice@example.test"
BOB = "sip:bob@example.test"
HOUR = 3600


@pytest.fixture
def sip(kampy_cfg) -> Harness:
    return kampy_cfg(CFG)


@pytest.fixture
def bob(sip: Harness) -> UserAgent:
    """Bob's phone, not registered yet; it accepts whatever it gets with 200."""
    return sip.ua(BOB, "192.0.2.20:5062")


def store_for_bob(sip: Harness, text: str = "hello bob") -> None:
    sip.send_request("MESSAGE", BOB, from_=ALICE, body=text).assert_reply(202, "Accepted")


def test_offline_message_is_stored_with_202_and_a_notice(sip: Harness) -> None:
    result = sip.send_request("MESSAGE", BOB, from_=ALICE, body="are you there?")

    result.assert_reply(202, "Accepted")
    assert result.codes("m_store") == [1]
    rows = sip.tables["silo"].rows()
    assert [(r["username"], r["domain"], r["body"]) for r in rows] == [("bob", "example.test",
                                                                         b"are you there?")]
    notice = result.assert_forwarded("MESSAGE", to="127.0.0.1:5060")  # msilo -> its outbound_proxy
    assert notice.ruri == ALICE
    assert notice.body == b"*** User bob is offline!"
    assert "route[FROM_MSILO]" in result.routes
    assert sip.stat("msilo:stored_messages") == 1


def test_register_dumps_the_stored_messages(sip: Harness, bob: UserAgent) -> None:
    store_for_bob(sip, "first")
    store_for_bob(sip, "second")

    bob.register().assert_reply(200)

    assert [m.body.endswith(text) for m, text in zip(bob.messages, [b"first", b"second"], strict=True)] \
        == [True, True]
    assert all(";msilo=yes" in m.header("Contact") for m in bob.messages)
    assert sip.tables["silo"].rows() == []  # each deleted on bob's 200


def test_failure_route_stores_what_the_device_refuses(sip: Harness, bob: UserAgent) -> None:
    bob.answers(405)
    bob.register()

    result = sip.send_request("MESSAGE", BOB, from_=ALICE, body="plain text please")

    result.assert_route("failure_route[1]")
    result.assert_reply(202)
    assert len(bob.messages) == 1
    (row,) = sip.tables["silo"].rows()
    assert (row["dst_addr"], row["body"]) == (BOB, b"plain text please")


def test_stored_messages_expire(kampy_cfg) -> None:
    """After expire_time (72 hours in the sample; 2 here, so the fake clock has fewer timer runs to
    step through), the clean timer removes the message."""
    sip = kampy_cfg(CFG, modparams={"msilo": {"expire_time": 2 * HOUR}})
    store_for_bob(sip)
    sip.advance(HOUR + 50 * 60)
    assert len(sip.tables["silo"]) == 1

    sip.advance(HOUR)  # past expire_time; the clean timer has run since

    assert len(sip.tables["silo"]) == 0


def test_a_reminder_fires(kampy_cfg) -> None:
    sip = kampy_cfg(CFG, modparams={"msilo": {"reminder": "sip:reminder@example.test", "send_time": 60}})
    bob = sip.ua(BOB, "192.0.2.20:5062")
    bob.register()
    now = int(sip.clock.time())
    sip.tables["silo"].insert({"src_addr": "sip:reminder@example.test", "dst_addr": BOB, "username": "bob",
                               "domain": "example.test", "inc_time": now, "exp_time": now + 24 * HOUR,
                               "snd_time": now + 1800, "ctype": "text/plain", "body": b"stand-up at 10"})

    assert sip.advance(1800 - 60).forwarded == []  # bob's binding (3600 s) outlives the reminder
    result = sip.advance(120)

    (reminder,) = bob.messages
    assert reminder.body.endswith(b"stand-up at 10")
    assert reminder.from_uri == "sip:reminder@example.test"
    assert result.sent[0].time - now == pytest.approx(1800, abs=60)
    assert sip.tables["silo"].rows() == []


def test_max_messages_limits_each_user(kampy_cfg) -> None:
    sip = kampy_cfg(CFG, modparams={"msilo": {"max_messages": 2}})
    store_for_bob(sip)
    store_for_bob(sip)

    third = sip.send_request("MESSAGE", BOB, from_=ALICE, body="one too many")

    third.assert_reply(503, "Service Unavailable")
    assert third.codes("m_store") == [-1]
    assert len(sip.tables["silo"]) == 2
