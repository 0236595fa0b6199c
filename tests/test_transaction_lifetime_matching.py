"""The sans-IO transaction layer's end of life (TimerConfig.end_of_life, set_end_of_life) and what
matching compares (Matching: ruri, via1, callid, bucket)."""
from __future__ import annotations

from kampy.sip.message import Request
from kampy.sip.transaction import (
    ClientTransaction,
    Matching,
    ServerTransaction,
    StartTimer,
    TimerConfig,
    TransactionTable,
)
from tests.test_transaction_support import INVITE, MESSAGE, reply, request

OLD_VIA = b"Via: SIP/2.0/UDP proxy.atlanta.com;branch=z9hG4bK-px-1"
INVITE_2543 = INVITE.replace(OLD_VIA, b"Via: SIP/2.0/UDP proxy.atlanta.com")


def _timers(actions: list[object]) -> dict[str, float]:
    return {a.name: a.at for a in actions if isinstance(a, StartTimer)}


def test_final_response_timers_do_not_run_past_the_end_of_life() -> None:
    config = TimerConfig.from_kamailio(fr_timer=30000).with_end_of_life(10.0)
    _, actions = ClientTransaction.new(MESSAGE, reliable=True, now=0.0, timers=config)
    assert _timers(actions) == {"F": 10.0}


def test_fr_inv_restarted_by_a_provisional_stops_at_the_end_of_life() -> None:
    config = TimerConfig.from_kamailio(fr_inv_timer=120000).with_end_of_life(50.0)
    tx, _ = ClientTransaction.new(INVITE, reliable=True, now=0.0, timers=config)
    assert _timers(tx.on_response(reply(INVITE, 180), 45.0)) == {"fr_inv": 50.0}


def test_set_end_of_life_brings_an_armed_timer_forward_but_never_puts_one_off() -> None:
    tx, _ = ClientTransaction.new(MESSAGE, reliable=True, now=0.0, timers=TimerConfig.from_kamailio())
    assert _timers(tx.set_end_of_life(5.0, 1.0)) == {"F": 5.0}
    assert tx.set_end_of_life(60.0, 2.0) == []
    assert _timers(tx.set_end_of_life(0.5, 3.0)) == {"F": 3.0}  # already over: fires now


def _old_server(table: TransactionTable) -> ServerTransaction:
    tx, _ = ServerTransaction.new(INVITE_2543, reliable=False, now=0.0)
    table.add(tx)
    return tx


def test_ruri_matching_off_matches_an_old_style_request_with_another_request_uri() -> None:
    table = TransactionTable()
    tx = _old_server(table)
    other = request(INVITE_2543.replace(b"INVITE sip:bob@192.0.2.4 ", b"INVITE sip:bob@192.0.2.9 "))
    assert table.match_request(other) is None
    assert table.match_request(other, Matching(ruri=False)) is tx


def test_via1_matching_off_matches_an_old_style_request_with_another_top_via() -> None:
    table = TransactionTable()
    tx = _old_server(table)
    other = request(INVITE_2543.replace(b"proxy.atlanta.com\r\n", b"proxy2.atlanta.com\r\n"))
    assert table.match_request(other) is None
    assert table.match_request(other, Matching(via1=False)) is tx


def _call_id(data: bytes, call_id: bytes) -> Request:
    return request(data.replace(b"Call-ID: a84b4c76e66710", b"Call-ID: " + call_id))


def test_a_3261_request_with_another_call_id_is_another_transaction_with_callid_matching() -> None:
    table = TransactionTable()
    tx, _ = ServerTransaction.new(INVITE, reliable=False, now=0.0)
    table.add(tx)
    other = _call_id(INVITE, b"zzz")
    assert table.match_request(other) is tx
    assert table.match_request(other, Matching(callid=True)) is None
    tx2, _ = ServerTransaction.new(other, reliable=False, now=0.0)
    table.add(tx2)  # kept beside the first
    assert table.match_request(other, Matching(callid=True)) is tx2
    assert table.match_request(request(INVITE), Matching(callid=True)) is tx


def test_a_3261_request_is_looked_for_in_its_bucket_only() -> None:
    table = TransactionTable()
    tx, _ = ServerTransaction.new(INVITE, reliable=False, now=0.0)
    table.add(tx)
    by_call_id = Matching(bucket=lambda req: len(req.call_id or ""))
    assert table.match_request(_call_id(INVITE, b"a84b4c76e66711"), by_call_id) is tx  # same bucket
    assert table.match_request(_call_id(INVITE, b"short"), by_call_id) is None


def test_callid_matching_of_a_response() -> None:
    table = TransactionTable()
    tx, _ = ClientTransaction.new(INVITE, reliable=False, now=0.0)
    table.add(tx)
    mangled = reply(_call_id(INVITE, b"zzz"), 486)
    assert table.match_response(mangled) is tx
    assert table.match_response(mangled, Matching(callid=True)) is None
