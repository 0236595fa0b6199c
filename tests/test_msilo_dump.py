"""m_dump: spec §4 and the issue's decisions (row deleted on 2xx, never sent twice at once)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from kampy.api import MessageContext, parse_message
from kampy.db import connect
from kampy.runtime.shared import SharedStore
from tests.support.msilo import BOB, FakeClock, Silo, make_silo, message, register, wire_packet

PROXY = {"outbound_proxy": "sip:127.0.0.1:5060"}


def stored(tmp_path: Path, bodies: list[str] | None = None, params: dict | None = None,
           url: str | None = None, **kw: object) -> Silo:
    s = make_silo(tmp_path, url or f"sqlite://{tmp_path}/silo.db", {**PROXY, **(params or {})}, **kw)
    for body in bodies if bodies is not None else ["Hello Bob #1"]:
        assert s.send(message(body)) == 202
    return s


def test_dump_sends_the_stored_message_as_the_wire_trace_shows(tmp_path: Path, silo_url: str) -> None:
    s = stored(tmp_path, [], url=silo_url)
    assert s.send(wire_packet("store_notification.txt", 1)) == 202
    assert s.send(wire_packet("dump_200.txt", 1), BOB) == 200 and s.reason() == "OK dumped"
    (dump,) = s.sent
    head, _, body = wire_packet("dump_200.txt", 3).partition(b"\r\n\r\n")
    assert (dump.ruri, dump.to_uri, dump.from_uri) == ("sip:bob@example.test", "sip:bob@example.test",
                                                      "sip:alice@example.test")
    assert head.endswith(b"User-Agent: kamailio (5.6.3 (x86_64/linux))\r\n" + dump.headers.encode().rstrip())
    assert dump.body == body
    assert dump.next_hop == "sip:127.0.0.1:5060"


def test_dump_headers_are_date_content_type_contact_param_then_stored(tmp_path: Path) -> None:
    s = stored(tmp_path, [], {"add_contact": 1, "extra_hdrs": "X-Extra: $tU-$ci\r\n"})
    s.send(message("Hi", extra=["X-Custom: one", "P-Asserted-Identity: <sip:alice@example.test>"]))
    s.send(register(call_id="reg-1"), BOB)
    assert s.sent[0].headers == (
        "Date: Thu, 26 Nov 2026 11:54:30 GMT\r\nContent-Type: text/plain\r\n"
        "Contact: <sip:alice@example.test>;msilo=yes\r\nX-Extra: bob-reg-1\r\n"
        "X-Custom: one\r\nP-Asserted-Identity: <sip:alice@example.test>\r\n")


def test_dump_goes_to_the_stored_to_uri_with_its_parameters(tmp_path: Path) -> None:
    s = stored(tmp_path, [])
    s.send(message(to="<sip:bob@example.test;xp=1>"))
    s.send(register(), BOB)
    assert s.sent[0].ruri == s.sent[0].to_uri == "sip:bob@example.test;xp=1"


def test_offline_prefix_uses_local_ctime_of_the_store_time(tmp_path: Path) -> None:
    s = stored(tmp_path, ["hi"])
    s.clock.advance(3600)
    s.send(register(), BOB)
    assert s.sent[0].body == f"[Offline message - {time.ctime(1795694070)}] hi".encode()


@pytest.mark.parametrize(("size", "prefixed"), [(978, True), (979, False)])
def test_prefix_only_for_bodies_up_to_978_bytes(tmp_path: Path, size: int, prefixed: bool) -> None:
    s = stored(tmp_path, ["x" * size])
    s.send(register(), BOB)
    assert s.sent[0].body.startswith(b"[Offline message - ") is prefixed


def test_no_prefix_for_other_content_types_or_without_add_date(tmp_path: Path) -> None:
    s = stored(tmp_path, [])
    s.send(message("<b>hi</b>", ctype="text/html"))
    s.send(register(), BOB)
    assert s.sent[0].body == b"<b>hi</b>"
    s2 = stored(tmp_path / "b", ["plain"], {"add_date": 0})
    s2.send(register(), BOB)
    assert s2.sent[0].body == b"plain"


def test_cpim_is_dumped_as_text_plain_with_the_prefix(tmp_path: Path) -> None:
    s = stored(tmp_path, [])
    s.send(message("cpim body", ctype="message/cpim"))
    s.send(register(), BOB)
    assert "Content-Type: text/plain\r\n" in s.sent[0].headers
    assert s.sent[0].body.startswith(b"[Offline message - ")


def test_messages_are_dumped_in_id_order(tmp_path: Path) -> None:
    s = stored(tmp_path, [f"m{i}" for i in range(5)], {"add_date": 0})
    s.send(register(), BOB)
    assert [d.body for d in s.sent] == [f"m{i}".encode() for i in range(5)]


def test_2xx_deletes_the_row_at_once(tmp_path: Path, silo_url: str) -> None:
    s = stored(tmp_path, ["a", "b"], url=silo_url)
    s.send(register(), BOB)
    s.sent[0].reply(200)
    assert [r[6] for r in s.rows()] == [b"b"]
    assert s.stat("dumped_messages") == 1 and s.stat("dumped_reminders") == 0


@pytest.mark.parametrize("status", [404, 408, 480, 500, 603])
def test_failure_keeps_the_row_and_counts_failed_messages(tmp_path: Path, status: int) -> None:
    s = stored(tmp_path)
    s.send(register(), BOB)
    s.sent[0].reply(status)
    assert len(s.rows()) == 1
    assert s.stat("failed_messages") == 1 and s.stat("dumped_messages") == 0


def test_a_failed_message_is_sent_again_on_the_next_register(tmp_path: Path) -> None:
    s = stored(tmp_path)
    s.send(register(), BOB)
    s.sent[0].reply(480)
    s.send(register(), BOB)
    assert len(s.sent) == 2 and s.sent[1].body == s.sent[0].body
    s.sent[1].reply(200)
    assert s.rows() == []


def test_no_second_send_while_a_delivery_is_in_flight(tmp_path: Path) -> None:
    s = stored(tmp_path, ["a", "b"])
    s.send(register(), BOB)
    s.sent[0].reply(200)
    s.send(register(), BOB)
    assert len(s.sent) == 2  # "b" is still in flight: not sent again
    s.sent[1].reply(200)
    assert s.rows() == []


def test_two_workers_sharing_the_store_never_send_a_message_twice(tmp_path: Path) -> None:
    store = SharedStore.create(tmp_path)
    try:
        clock = FakeClock()
        url = f"sqlite://{tmp_path}/silo.db"
        one = make_silo(tmp_path, url, PROXY, clock=clock, shared=store, rank=1)
        two = make_silo(tmp_path, url, PROXY, clock=clock, shared=store.reopen(), rank=2)
        for i in range(3):
            one.send(message(f"m{i}"))
        one.send(register(), BOB)
        two.send(register(), BOB)
        assert len(one.sent) == 3 and two.sent == []
        one.sent[1].reply(480)  # released: the next REGISTER, on either worker, sends it again
        two.send(register(), BOB)
        assert [d.body[-2:] for d in two.sent] == [b"m1"]
    finally:
        store.remove()


def test_claim_is_released_when_tm_cannot_send(tmp_path: Path) -> None:
    s = stored(tmp_path)
    s.tm.fail_sending = True
    s.send(register(), BOB)
    assert s.stat("failed_messages") == 1 and s.rows("status") == [(0,)]
    assert s.module.claims.held() == []
    s.tm.fail_sending = False
    s.send(register(), BOB)
    assert len(s.sent) == 1


def test_a_stored_body_too_large_to_deliver_is_not_sent_and_stays(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    # a row another server stored (Kamailio reads 65,000 bytes over UDP): never sent, left to expire
    s = stored(tmp_path, ["before"])
    s.module.db.insert("silo", {"src_addr": "sip:alice@example.test", "dst_addr": "sip:bob@example.test",
                                "username": "bob", "domain": "example.test", "inc_time": 1,
                                "exp_time": 2000000000, "ctype": "text/plain", "body": b"x" * 65000})
    s.send(message("after"))
    assert s.send(register(), BOB) == 200 and s.reason() == "OK dumped"
    assert [d.body[-6:] for d in s.sent] == [b"before", b" after"]
    assert len(s.rows()) == 3
    assert "too large to deliver" in caplog.text


def test_headers_of_1024_bytes_or_more_stop_the_dump(tmp_path: Path) -> None:
    s = stored(tmp_path, [], {"extra_hdrs": "X-Pad: " + "p" * 960 + "\r\n"})
    s.send(message("short", extra=()))
    s.send(message("long", extra=["X-Long: " + "l" * 40]))
    s.send(message("later", extra=()))
    assert s.send(register(), BOB) == 200 and s.reason() == "OK not dumped"
    assert [d.body[-5:] for d in s.sent] == [b"short"]
    assert s.stat("failed_messages") == 1 and len(s.rows()) == 3


def test_owner_argument_chooses_the_inbox(tmp_path: Path) -> None:
    s = stored(tmp_path, [], dump_args='"sip:carol@other.test"')
    s.send(message(ruri="sip:carol@other.test"))
    s.send(register(), BOB)
    assert len(s.sent) == 1


def test_nothing_to_send_is_still_true(tmp_path: Path) -> None:
    s = stored(tmp_path, [])
    assert s.send(register(), BOB) == 200 and s.reason() == "OK dumped"


def test_pending_reminders_are_not_dumped(tmp_path: Path) -> None:
    s = stored(tmp_path, [], {"snd_time_avp": "$avp(st)"}, pre_store='$avp(st) = "20370101000000";')
    s.send(message())
    s.send(register(), BOB)
    assert s.sent == [] and s.reason() == "OK dumped"


def test_expired_rows_not_yet_purged_are_still_dumped(tmp_path: Path) -> None:
    s = stored(tmp_path, [])
    s.send(message(extra=["Expires: 10"]))
    s.clock.advance(100)
    s.send(register(), BOB)
    assert len(s.sent) == 1


@pytest.mark.parametrize(("kwargs", "dumps"), [
    ({}, True),
    ({"expires": None}, True),
    ({"expires": "0"}, False),
    ({"contact": "<sip:bob@127.0.0.1:35066>;expires=0"}, False),
    ({"contact": None}, False),
    ({"contact": "*", "expires": "0"}, False),
    ({"extra": ["Allow: INVITE, ACK"]}, False),
    ({"extra": ["Allow: INVITE, MESSAGE"]}, True),
    ({"contact": '<sip:bob@127.0.0.1:35066>;methods="INVITE"', "extra": ["Allow: MESSAGE"]}, False),
    ({"contact": '<sip:bob@127.0.0.1:35066>;methods="INVITE"'}, True),
    ({"contact": '<sip:bob@127.0.0.1:35066>;methods="INVITE,MESSAGE"', "extra": ["Allow: INVITE"]}, True),
    ({"contact": "<sip:bob@127.0.0.1:35066>;expires=0, <sip:bob@127.0.0.1:35067>"}, True),
])
def test_register_checks(tmp_path: Path, kwargs: dict, dumps: bool) -> None:
    s = stored(tmp_path)
    s.send(register(**kwargs), BOB)
    assert (s.reason() == "OK dumped") is dumps
    assert bool(s.sent) is dumps


def test_register_checks_do_not_apply_to_other_methods(tmp_path: Path) -> None:
    s = stored(tmp_path)
    msg = parse_message(register(contact=None).replace(b"REGISTER", b"OPTIONS"))
    assert s.module.m_dump(MessageContext(msg, BOB, s.server.core)) == 1
    assert len(s.sent) == 1


def test_unparsable_to_uri_fails(tmp_path: Path) -> None:
    s = stored(tmp_path)
    msg = parse_message(register(to="<sip:@@>"))
    assert s.module.m_dump(MessageContext(msg, BOB, s.server.core)) == -1
    s.server.handle(register(to="<sip:@@>"), BOB)
    assert s.sent == []


def test_ten_thousand_messages_are_dumped_by_one_register_in_id_order(tmp_path: Path) -> None:
    s = stored(tmp_path, [])
    db = connect(f"sqlite://{tmp_path}/silo.db")
    now = int(s.clock.now)
    db.execute("BEGIN")
    for i in range(10_000):
        db.insert("silo", {"src_addr": "sip:alice@example.test", "dst_addr": "sip:bob@example.test",
                           "username": "bob", "domain": "example.test", "inc_time": now,
                           "exp_time": now + 3600, "snd_time": 0, "ctype": "text/plain",
                           "body": f"n{i}".encode(), "extra_hdrs": ""})
    db.execute("COMMIT")
    db.close()
    s = make_silo(tmp_path, f"sqlite://{tmp_path}/silo.db", {**PROXY, "add_date": 0})
    s.send(register(), BOB)
    assert [d.body for d in s.sent] == [f"n{i}".encode() for i in range(10_000)]
    for d in s.sent:
        d.reply(200)
    assert s.rows() == [] and s.stat("dumped_messages") == 10_000
