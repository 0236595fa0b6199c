"""Client transactions (RFC 3261 17.1, RFC 6026) against a fake clock."""
from __future__ import annotations

import pytest

from kampy.sip.message import parse_message
from kampy.sip.transaction import (
    CancelTimer,
    ClientTransaction,
    Deliver,
    InviteClientTransaction,
    NonInviteClientTransaction,
    Send,
    StartTimer,
    State,
    Terminated,
    TimerConfig,
    Timeout,
    TransactionError,
    TransportFailed,
    build_ack,
    build_cancel,
)
from tests.test_transaction_support import INVITE, MESSAGE, Driver, reply, request

RFC = TimerConfig(fr_inv_timer=None)  # pure RFC 3261: no limit once a provisional arrived


def invite(reliable: bool = False, timers: TimerConfig = RFC, now: float = 0.0) -> Driver:
    tx, actions = ClientTransaction.new(INVITE, reliable=reliable, now=now, timers=timers)
    assert isinstance(tx, InviteClientTransaction)
    return Driver(tx, actions, now)


def message(reliable: bool = False, timers: TimerConfig = RFC) -> Driver:
    tx, actions = ClientTransaction.new(MESSAGE, reliable=reliable, now=0.0, timers=timers)
    assert isinstance(tx, NonInviteClientTransaction)
    return Driver(tx, actions)


def respond(d: Driver, now: float, code: int, source: bytes = INVITE) -> list:
    d.at(now)
    return d.apply(d.tx.on_response(reply(source, code), now))


# --- INVITE client: Calling ------------------------------------------------------------------------

def test_invite_client_sends_request_and_arms_timers_a_and_b():
    d = invite()
    assert [a for _, a in d.log] == [Send(INVITE), StartTimer("A", 0.5), StartTimer("B", 32.0)]
    assert d.tx.state is State.CALLING


def test_invite_client_accepts_a_parsed_request_with_lumps():
    req = request()
    req.add_header("X-Lump", "1")
    tx, actions = ClientTransaction.new(req, reliable=False, now=0.0)
    assert actions[0] == Send(req.to_bytes()) and b"X-Lump: 1" in tx.data


def test_invite_client_timer_a_doubles_without_cap_until_timer_b():
    d = invite().at(31.99)
    assert d.send_times() == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    times = d.send_times()[1:]
    assert [times[i + 1] - times[i] for i in range(len(times) - 1)] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert d.tx.state is State.CALLING


def test_invite_client_timer_a_retransmits_the_same_bytes():
    d = invite().at(4)
    assert set(d.sent()) == {INVITE}


def test_invite_client_timer_b_times_out_at_64_t1():
    d = invite().at(32.0)
    assert d.when(Timeout) == [32.0] and d.when(Terminated) == [32.0]
    assert d.tx.state is State.TERMINATED
    assert len(d.send_times()) == 7


def test_invite_client_timer_b_follows_t1():
    d = invite(timers=TimerConfig(t1=0.25, fr_inv_timer=None)).at(100)
    assert d.when(Timeout) == [16.0]
    assert d.send_times() == [0.0, 0.25, 0.75, 1.75, 3.75, 7.75, 15.75]


def test_invite_client_fr_timer_replaces_timer_b():
    d = invite(timers=TimerConfig(fr_timer=30.0)).at(100)
    assert d.when(Timeout) == [30.0]


def test_invite_client_reliable_sends_once_and_arms_only_b():
    d = invite(reliable=True)
    assert [a for _, a in d.log] == [Send(INVITE), StartTimer("B", 32.0)]
    d.at(32)
    assert d.send_times() == [0.0] and d.when(Timeout) == [32.0]


# --- INVITE client: Proceeding ---------------------------------------------------------------------

def test_invite_client_provisional_moves_to_proceeding_and_is_delivered():
    d = invite()
    actions = respond(d, 0.7, 180)
    assert d.tx.state is State.PROCEEDING
    assert [type(a) for a in actions] == [CancelTimer, CancelTimer, Deliver]
    assert actions[2].message.status == 180


def test_invite_client_proceeding_stops_retransmissions_and_timer_b():
    d = invite()
    respond(d, 0.7, 100)
    d.at(1000)
    assert d.send_times() == [0.0, 0.5]
    assert d.when(Timeout) == [] and d.tx.state is State.PROCEEDING


def test_invite_client_fr_inv_timer_armed_by_provisional():
    d = invite(timers=TimerConfig())
    actions = respond(d, 2.0, 180)
    assert StartTimer("fr_inv", 122.0) in actions


def test_invite_client_each_provisional_restarts_fr_inv():
    d = invite(timers=TimerConfig(fr_inv_timer=10.0))
    respond(d, 1.0, 180)
    actions = respond(d, 5.0, 183)
    assert StartTimer("fr_inv", 15.0) in actions
    d.at(14.9)
    assert d.when(Timeout) == []
    d.at(15.0)
    assert d.when(Timeout) == [15.0]


def test_invite_client_fr_inv_not_restarted_when_disabled():
    d = invite(timers=TimerConfig(fr_inv_timer=10.0, restart_fr_on_each_reply=False))
    respond(d, 1.0, 180)
    assert respond(d, 5.0, 183) == [Deliver(d.tx.last_response)]
    assert d.at(11.0).when(Timeout) == [11.0]


def test_invite_client_fr_inv_timeout_keeps_proceeding_for_the_487():
    d = invite(timers=TimerConfig(fr_inv_timer=10.0))
    respond(d, 1.0, 180)
    d.at(11.0)
    assert d.tx.state is State.PROCEEDING and d.timers == {"B": 43.0}
    actions = respond(d, 11.5, 487)
    assert d.tx.state is State.COMPLETED
    assert Send(d.tx.ack) in actions and d.tx.ack.startswith(b"ACK ")


def test_invite_client_guard_b_after_fr_inv_terminates_without_second_timeout():
    d = invite(timers=TimerConfig(fr_inv_timer=10.0))
    respond(d, 1.0, 180)
    d.at(100)
    assert d.when(Timeout) == [11.0] and d.when(Terminated) == [43.0]


def test_invite_client_provisional_after_fr_inv_timeout_does_not_rearm_it():
    d = invite(timers=TimerConfig(fr_inv_timer=10.0))
    respond(d, 1.0, 180)
    d.at(11.0)
    assert respond(d, 12.0, 183) == [Deliver(d.tx.last_response)]


# --- INVITE client: non-2xx final, ACK, Completed --------------------------------------------------

ACK_486 = (
    b"ACK sip:bob@192.0.2.4 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP proxy.atlanta.com;branch=z9hG4bK-px-1\r\n"
    b"Route: <sip:p1.example.com;lr>\r\n"
    b"Route: <sip:p2.example.com;lr>\r\n"
    b"Max-Forwards: 69\r\n"
    b"From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
    b"To: Bob <sip:bob@biloxi.com>;tag=tt1\r\n"
    b"Call-ID: a84b4c76e66710\r\n"
    b"CSeq: 314159 ACK\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def test_invite_client_ack_for_non_2xx_has_exact_headers():
    d = invite()
    actions = respond(d, 0.2, 486)
    assert Send(ACK_486) in actions


def test_build_ack_keeps_only_top_via_and_takes_the_response_to_tag():
    ack = build_ack(request(), reply(INVITE, 603, to_tag="x9"))
    assert [str(v) for v in ack.vias] == ["SIP/2.0/UDP proxy.atlanta.com;branch=z9hG4bK-px-1"]
    assert ack.to.tag == "x9" and ack.cseq == (314159, "ACK") and ack.body == b""


def test_build_cancel_has_exact_headers():
    cancel = build_cancel(request())
    assert cancel.to_bytes() == ACK_486.replace(b"ACK", b"CANCEL").replace(b";tag=tt1", b"")


def test_invite_client_non_2xx_is_acked_then_delivered_in_completed_with_timer_d():
    d = invite()
    actions = respond(d, 0.2, 404)
    assert [type(a) for a in actions] == [CancelTimer, CancelTimer, Send, StartTimer, Deliver]
    assert actions[-2] == StartTimer("D", 32.2)
    assert d.tx.state is State.COMPLETED


def test_invite_client_non_2xx_after_provisional_is_acked():
    d = invite()
    respond(d, 0.2, 180)
    actions = respond(d, 3.0, 486)
    assert Send(ACK_486) in actions and d.tx.state is State.COMPLETED


def test_invite_client_completed_resends_ack_for_final_retransmission():
    d = invite()
    respond(d, 0.2, 486)
    actions = respond(d, 1.0, 486)
    assert actions == [Send(ACK_486)]


def test_invite_client_completed_ignores_provisional_and_2xx():
    d = invite()
    respond(d, 0.2, 486)
    assert respond(d, 1.0, 180) == [] and respond(d, 1.1, 200) == []


def test_invite_client_timer_d_terminates():
    d = invite()
    respond(d, 0.2, 486)
    d.at(32.1)
    assert d.tx.state is State.COMPLETED
    d.at(32.2)
    assert d.when(Terminated) == [32.2] and d.tx.state is State.TERMINATED
    assert d.send_times() == [0.0, 0.2]  # request once, ACK once: A stopped by the response


def test_invite_client_wt_timer_replaces_timer_d():
    d = invite(timers=TimerConfig(wt_timer=5.0))
    assert StartTimer("D", 5.2) in respond(d, 0.2, 486)


def test_invite_client_reliable_timer_d_is_zero():
    d = invite(reliable=True)
    actions = respond(d, 0.2, 486)
    assert actions[-3:] == [Send(ACK_486), Deliver(d.tx.last_response), Terminated()]
    assert d.tx.state is State.TERMINATED


# --- INVITE client: 2xx, Accepted (RFC 6026) -------------------------------------------------------

def test_invite_client_2xx_delivered_and_accepted_with_timer_m():
    d = invite()
    actions = respond(d, 0.2, 200)
    assert [type(a) for a in actions] == [CancelTimer, CancelTimer, StartTimer, Deliver]
    assert actions[-2] == StartTimer("M", 32.2)
    assert d.tx.state is State.ACCEPTED
    assert not any(isinstance(a, Send) for a in actions)  # the TU ACKs a 2xx


def test_invite_client_accepted_passes_2xx_retransmissions_to_the_tu():
    d = invite()
    respond(d, 0.2, 200)
    actions = respond(d, 0.7, 200)
    assert [type(a) for a in actions] == [Deliver]


def test_invite_client_accepted_ignores_non_2xx():
    d = invite()
    respond(d, 0.2, 200)
    assert respond(d, 0.7, 486) == [] and respond(d, 0.8, 180) == []


def test_invite_client_timer_m_terminates():
    d = invite(reliable=True)
    respond(d, 0.2, 200)
    d.at(32.2)
    assert d.when(Terminated) == [32.2]


# --- INVITE client: misc ---------------------------------------------------------------------------

def test_invite_client_transport_error_terminates():
    d = invite()
    actions = d.apply(d.tx.on_transport_error(0.1))
    assert actions == [CancelTimer("A"), CancelTimer("B"), TransportFailed(), Terminated()]


def test_client_terminate_cancels_timers():
    d = invite()
    assert d.apply(d.tx.terminate())[-1] == Terminated()
    assert d.tx.terminate() == []


def test_client_stale_timer_is_ignored():
    d = invite()
    respond(d, 0.2, 180)
    assert d.tx.on_timer("A", 0.5) == []


def test_client_timer_fired_early_is_an_error():
    d = invite()
    with pytest.raises(TransactionError):
        d.tx.on_timer("A", 0.4)


def test_client_response_for_another_transaction_is_an_error():
    d = invite()
    with pytest.raises(TransactionError):
        d.tx.on_response(reply(MESSAGE, 200), 0.1)


def test_client_request_as_response_is_an_error():
    d = invite()
    with pytest.raises(TransactionError):
        d.tx.on_response(INVITE, 0.1)


def test_ack_has_no_client_transaction():
    ack = ACK_486
    with pytest.raises(TransactionError):
        ClientTransaction.new(ack, reliable=False, now=0.0)


def test_client_request_without_branch_is_an_error():
    with pytest.raises(TransactionError):
        ClientTransaction.new(MESSAGE.replace(b";branch=z9hG4bK-px-2", b""), reliable=False, now=0.0)


def test_client_response_accepted_as_bytes():
    d = invite()
    actions = d.tx.on_response(reply(INVITE, 180).to_bytes(), 0.1)
    assert isinstance(actions[-1], Deliver) and actions[-1].message.status == 180


# --- non-INVITE client -----------------------------------------------------------------------------

def test_non_invite_client_sends_request_and_arms_timers_e_and_f():
    d = message()
    assert [a for _, a in d.log] == [Send(MESSAGE), StartTimer("E", 0.5), StartTimer("F", 32.0)]
    assert d.tx.state is State.TRYING


def test_non_invite_client_timer_e_doubles_up_to_t2():
    d = message().at(31.99)
    assert d.send_times() == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]


def test_non_invite_client_retransmits_ten_times_before_timer_f():
    d = message().at(32.0)
    assert len(d.send_times()) - 1 == 10
    assert d.when(Timeout) == [32.0] and d.when(Terminated) == [32.0]
    assert d.tx.state is State.TERMINATED


def test_non_invite_client_timer_e_cap_follows_t2():
    d = message(timers=TimerConfig(t2=2.0)).at(8)
    assert d.send_times() == [0.0, 0.5, 1.5, 3.5, 5.5, 7.5]


def test_non_invite_client_fr_timer_replaces_timer_f():
    d = message(timers=TimerConfig.from_kamailio()).at(40)
    assert d.when(Timeout) == [30.0]


def test_non_invite_client_provisional_moves_to_proceeding_and_is_delivered():
    d = message()
    actions = respond(d, 0.6, 100, MESSAGE)
    assert d.tx.state is State.PROCEEDING
    assert [type(a) for a in actions] == [Deliver]


def test_non_invite_client_proceeding_retransmits_every_t2():
    d = message()
    respond(d, 0.6, 100, MESSAGE)
    d.at(31.99)
    # E already armed for 1.5 keeps its deadline; from then on every T2 (not 3.5, 7.5, ...)
    assert d.send_times() == [0.0, 0.5, 1.5, 5.5, 9.5, 13.5, 17.5, 21.5, 25.5, 29.5]
    assert d.at(32.0).when(Timeout) == [32.0]


def test_non_invite_client_proceeding_delivers_more_provisionals():
    d = message()
    respond(d, 0.6, 100, MESSAGE)
    assert [type(a) for a in respond(d, 0.7, 180, MESSAGE)] == [Deliver]


def test_non_invite_client_final_moves_to_completed_with_timer_k():
    d = message()
    actions = respond(d, 0.6, 200, MESSAGE)
    assert [type(a) for a in actions] == [CancelTimer, CancelTimer, StartTimer, Deliver]
    assert actions[-2] == StartTimer("K", 5.6)
    assert d.tx.state is State.COMPLETED


def test_non_invite_client_completed_absorbs_response_retransmissions():
    d = message()
    respond(d, 0.6, 404, MESSAGE)
    assert respond(d, 1.0, 404, MESSAGE) == [] and respond(d, 1.1, 100, MESSAGE) == []


def test_non_invite_client_timer_k_terminates():
    d = message()
    respond(d, 0.6, 200, MESSAGE)
    d.at(5.6)
    assert d.when(Terminated) == [5.6] and d.send_times() == [0.0, 0.5]


def test_non_invite_client_reliable_has_no_timer_e_and_zero_timer_k():
    d = message(reliable=True)
    assert [a for _, a in d.log] == [Send(MESSAGE), StartTimer("F", 32.0)]
    actions = respond(d, 3.0, 200, MESSAGE)
    assert [type(a) for a in actions] == [CancelTimer, Deliver, Terminated]


def test_non_invite_client_reliable_timer_f_times_out():
    d = message(reliable=True).at(32)
    assert d.send_times() == [0.0] and d.when(Timeout) == [32.0]


def test_non_invite_client_transport_error_terminates():
    d = message()
    respond(d, 0.6, 100, MESSAGE)
    actions = d.apply(d.tx.on_transport_error(0.7))
    assert actions[-2:] == [TransportFailed(), Terminated()]


def test_cancel_client_transaction_keyed_by_cancel_method():
    cancel = build_cancel(request())
    tx, _ = ClientTransaction.new(cancel, reliable=False, now=0.0)
    assert isinstance(tx, NonInviteClientTransaction)
    assert tx.key == ("z9hG4bK-px-1", "CANCEL")


def test_client_last_response_kept():
    d = message()
    respond(d, 0.6, 202, MESSAGE)
    assert d.tx.last_response.status == 202
    assert parse_message(d.tx.last_response.to_bytes()).status == 202
