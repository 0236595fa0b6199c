"""Server transactions (RFC 3261 17.2, RFC 6026) against a fake clock."""
from __future__ import annotations

import pytest

from kampy.api import reply_via_line
from kampy.sip.message import build_response, parse_message
from kampy.sip.transaction import (
    CancelTimer,
    Deliver,
    InviteServerTransaction,
    NonInviteServerTransaction,
    Send,
    ServerTransaction,
    StartTimer,
    State,
    Terminated,
    TimerConfig,
    Timeout,
    TransactionError,
    TransportFailed,
    build_ack,
)
from tests.test_transaction_support import INVITE, MESSAGE, Driver, reply, request

DEFAULT = TimerConfig()


def invite(reliable: bool = False, auto_trying: bool = False, timers: TimerConfig = DEFAULT,
           data: bytes = INVITE) -> Driver:
    tx, actions = ServerTransaction.new(data, reliable=reliable, now=0.0, timers=timers,
                                        auto_trying=auto_trying)
    assert isinstance(tx, InviteServerTransaction)
    return Driver(tx, actions)


def message(reliable: bool = False, timers: TimerConfig = DEFAULT) -> Driver:
    tx, actions = ServerTransaction.new(MESSAGE, reliable=reliable, now=0.0, timers=timers)
    assert isinstance(tx, NonInviteServerTransaction)
    return Driver(tx, actions)


def answer(d: Driver, now: float, code: int, source: bytes = INVITE) -> list:
    d.at(now)
    return d.apply(d.tx.send_response(reply(source, code), now))


def receive(d: Driver, now: float, data: bytes) -> list:
    d.at(now)
    return d.apply(d.tx.on_request(data, now))


ACK = build_ack(request(), reply(INVITE, 486)).to_bytes()


# --- INVITE server: Proceeding and 100 Trying ------------------------------------------------------

def test_invite_server_starts_in_proceeding_without_actions():
    d = invite()
    assert d.log == [] and d.tx.state is State.PROCEEDING


def test_invite_server_auto_trying_arms_timer_for_200_ms():
    d = invite(auto_trying=True)
    assert [a for _, a in d.log] == [StartTimer("trying", 0.2)]


def test_invite_server_auto_trying_sends_100_when_tu_is_silent():
    d = invite(auto_trying=True).at(0.2)
    expected = build_response(request(), 100, "Trying").to_bytes()
    assert d.sent() == [expected] and d.send_times() == [0.2]
    assert d.tx.state is State.PROCEEDING and d.tx.status == 100


def test_invite_server_auto_trying_100_carries_received_and_rport():
    req = request(INVITE.replace(b";branch=", b";rport;branch=", 1))
    tx, actions = ServerTransaction.new(req, reliable=False, now=0.0, auto_trying=True,
                                        trying_via=reply_via_line(req, "203.0.113.5", 6000))
    d = Driver(tx, actions).at(0.2)
    via = parse_message(d.sent()[0]).via
    assert via.received == "203.0.113.5" and via.rport == 6000


def test_invite_server_auto_trying_echoes_timestamp():
    data = INVITE.replace(b"Content-Length: 0", b"Timestamp: 54.3\r\nContent-Length: 0")
    d = invite(auto_trying=True, data=data).at(0.2)
    assert b"\r\nTimestamp: 54.3\r\n" in d.sent()[0]


def test_invite_server_tu_provisional_cancels_auto_trying():
    d = invite(auto_trying=True)
    actions = answer(d, 0.1, 180)
    assert actions[0] == Send(reply(INVITE, 180).to_bytes()) and actions[1:] == [CancelTimer("trying")]
    d.at(5)
    assert d.send_times() == [0.1]


def test_invite_server_tu_final_cancels_auto_trying():
    d = invite(auto_trying=True)
    assert CancelTimer("trying") in answer(d, 0.1, 486)


def test_invite_server_no_100_without_auto_trying():
    assert invite(auto_trying=False).at(10).sent() == []


def test_invite_server_retransmission_before_any_response_is_absorbed():
    assert receive(invite(), 0.1, INVITE) == []


def test_invite_server_retransmission_resends_last_provisional():
    d = invite()
    answer(d, 0.1, 100)
    answer(d, 0.2, 180)
    assert receive(d, 0.3, INVITE) == [Send(reply(INVITE, 180).to_bytes())]


def test_invite_server_provisional_keeps_proceeding_without_timers():
    d = invite()
    assert answer(d, 0.1, 183) == [Send(reply(INVITE, 183).to_bytes())]
    assert d.tx.state is State.PROCEEDING and d.timers == {}


# --- INVITE server: non-2xx final, Completed, timers G and H ---------------------------------------

def test_invite_server_non_2xx_moves_to_completed_with_timers_g_and_h():
    d = invite()
    actions = answer(d, 1.0, 486)
    assert actions == [Send(reply(INVITE, 486).to_bytes()), StartTimer("G", 1.5), StartTimer("H", 33.0)]
    assert d.tx.state is State.COMPLETED


def test_invite_server_timer_g_doubles_up_to_t2():
    d = invite()
    answer(d, 0.0, 486)
    d.at(31.99)
    assert d.send_times() == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert set(d.sent()) == {reply(INVITE, 486).to_bytes()}


def test_invite_server_timer_h_gives_up_waiting_for_ack():
    d = invite()
    answer(d, 0.0, 486)
    d.at(32.0)
    assert d.when(Timeout) == [32.0] and d.when(Terminated) == [32.0]
    assert len(d.send_times()) == 11 and d.tx.state is State.TERMINATED


def test_invite_server_completed_resends_final_for_retransmitted_invite():
    d = invite()
    answer(d, 0.0, 486)
    assert receive(d, 0.2, INVITE) == [Send(reply(INVITE, 486).to_bytes())]


def test_invite_server_completed_refuses_another_response():
    d = invite()
    answer(d, 0.0, 486)
    with pytest.raises(TransactionError):
        d.tx.send_response(reply(INVITE, 500), 0.1)
    assert d.tx.state is State.COMPLETED


def test_invite_server_reliable_has_no_timer_g():
    d = invite(reliable=True)
    assert answer(d, 0.0, 486)[1:] == [StartTimer("H", 32.0)]
    d.at(32.0)
    assert d.send_times() == [0.0] and d.when(Timeout) == [32.0]


# --- INVITE server: ACK, Confirmed, timer I --------------------------------------------------------

def test_invite_server_ack_moves_to_confirmed_and_arms_timer_i():
    d = invite()
    answer(d, 0.0, 486)
    actions = receive(d, 0.3, ACK)
    assert actions == [CancelTimer("G"), CancelTimer("H"), StartTimer("I", 5.3)]
    assert d.tx.state is State.CONFIRMED


def test_invite_server_confirmed_stops_retransmitting():
    d = invite()
    answer(d, 0.0, 486)
    receive(d, 0.6, ACK)
    d.at(5.59)
    assert d.send_times() == [0.0, 0.5]


def test_invite_server_confirmed_absorbs_ack_and_invite():
    d = invite()
    answer(d, 0.0, 486)
    receive(d, 0.3, ACK)
    assert receive(d, 0.4, ACK) == [] and receive(d, 0.5, INVITE) == []


def test_invite_server_timer_i_terminates():
    d = invite()
    answer(d, 0.0, 486)
    receive(d, 0.3, ACK)
    d.at(5.3)
    assert d.when(Terminated) == [5.3] and d.tx.state is State.TERMINATED


def test_invite_server_wt_timer_replaces_timer_i():
    d = invite(timers=TimerConfig(wt_timer=2.0))
    answer(d, 0.0, 486)
    assert receive(d, 0.3, ACK)[-1] == StartTimer("I", 2.3)


def test_invite_server_reliable_timer_i_is_zero():
    d = invite(reliable=True)
    answer(d, 0.0, 486)
    assert receive(d, 0.3, ACK) == [CancelTimer("H"), Terminated()]


def test_invite_server_ack_in_proceeding_is_ignored():
    d = invite()
    answer(d, 0.0, 180)
    assert receive(d, 0.1, ACK) == [] and d.tx.state is State.PROCEEDING


# --- INVITE server: 2xx, Accepted, timer L (RFC 6026) ----------------------------------------------

def test_invite_server_2xx_moves_to_accepted_with_timer_l():
    d = invite()
    actions = answer(d, 1.0, 200)
    assert actions == [Send(reply(INVITE, 200).to_bytes()), StartTimer("L", 33.0)]
    assert d.tx.state is State.ACCEPTED


def test_invite_server_accepted_absorbs_invite_retransmission():
    d = invite()
    answer(d, 1.0, 200)
    assert receive(d, 1.5, INVITE) == []


def test_invite_server_accepted_sends_tu_2xx_retransmissions():
    d = invite()
    answer(d, 1.0, 200)
    assert answer(d, 1.5, 200) == [Send(reply(INVITE, 200).to_bytes())]


def test_invite_server_accepted_does_not_retransmit_2xx_itself():
    d = invite()
    answer(d, 0.0, 200)
    d.at(32.0)
    assert d.send_times() == [0.0] and d.when(Terminated) == [32.0]


def test_invite_server_accepted_refuses_non_2xx():
    d = invite()
    answer(d, 0.0, 200)
    with pytest.raises(TransactionError):
        d.tx.send_response(reply(INVITE, 486), 0.1)


def test_invite_server_accepted_passes_ack_to_tu():
    d = invite()
    answer(d, 0.0, 200)
    ack = build_ack(request(), reply(INVITE, 200))
    assert receive(d, 0.1, ack.to_bytes())[0].message.method == "ACK"
    assert isinstance(receive(d, 0.2, ack)[0], Deliver)


def test_invite_server_timer_l_applies_to_reliable_too():
    d = invite(reliable=True)
    answer(d, 0.0, 200)
    assert d.timers == {"L": 32.0}


# --- INVITE server: misc ---------------------------------------------------------------------------

def test_invite_server_transport_error_terminates():
    d = invite()
    answer(d, 0.0, 486)
    actions = d.apply(d.tx.on_transport_error(0.1))
    assert actions == [CancelTimer("G"), CancelTimer("H"), TransportFailed(), Terminated()]


def test_server_terminated_refuses_responses_and_ignores_requests():
    d = invite(reliable=True)
    answer(d, 0.0, 486)
    receive(d, 0.1, ACK)
    with pytest.raises(TransactionError):
        d.tx.send_response(reply(INVITE, 486), 0.2)
    assert d.tx.on_request(INVITE, 0.2) == []


def test_server_keeps_last_response_status_and_to_tag():
    d = invite()
    answer(d, 0.0, 486)
    assert d.tx.status == 486 and d.tx.to_tag == "tt1"
    assert d.tx.last_response == reply(INVITE, 486).to_bytes()


def test_server_other_method_is_an_error():
    d = invite()
    with pytest.raises(TransactionError):
        d.tx.on_request(MESSAGE, 0.1)


def test_ack_creates_no_server_transaction():
    with pytest.raises(TransactionError):
        ServerTransaction.new(ACK, reliable=False, now=0.0)


def test_server_send_request_as_response_is_an_error():
    with pytest.raises(TransactionError):
        invite().tx.send_response(INVITE, 0.0)


# --- non-INVITE server -----------------------------------------------------------------------------

def test_non_invite_server_starts_in_trying_without_actions():
    d = message()
    assert d.log == [] and d.tx.state is State.TRYING


def test_non_invite_server_never_sends_100_by_itself():
    tx, actions = ServerTransaction.new(MESSAGE, reliable=False, now=0.0, auto_trying=True)
    assert actions == []


def test_non_invite_server_trying_absorbs_retransmission():
    assert receive(message(), 0.5, MESSAGE) == []


def test_non_invite_server_provisional_moves_to_proceeding():
    d = message()
    assert answer(d, 0.1, 100, MESSAGE) == [Send(reply(MESSAGE, 100).to_bytes())]
    assert d.tx.state is State.PROCEEDING


def test_non_invite_server_proceeding_resends_provisional():
    d = message()
    answer(d, 0.1, 100, MESSAGE)
    assert receive(d, 0.5, MESSAGE) == [Send(reply(MESSAGE, 100).to_bytes())]


def test_non_invite_server_final_moves_to_completed_with_timer_j():
    d = message()
    actions = answer(d, 0.1, 200, MESSAGE)
    assert actions == [Send(reply(MESSAGE, 200).to_bytes()), StartTimer("J", 32.1)]
    assert d.tx.state is State.COMPLETED


def test_non_invite_server_final_from_proceeding():
    d = message()
    answer(d, 0.1, 100, MESSAGE)
    answer(d, 0.2, 404, MESSAGE)
    assert d.tx.state is State.COMPLETED


def test_non_invite_server_completed_resends_final():
    d = message()
    answer(d, 0.1, 100, MESSAGE)
    answer(d, 0.2, 404, MESSAGE)
    assert receive(d, 1.0, MESSAGE) == [Send(reply(MESSAGE, 404).to_bytes())]
    assert receive(d, 5.0, MESSAGE) == [Send(reply(MESSAGE, 404).to_bytes())]


def test_non_invite_server_completed_sends_nothing_by_itself():
    d = message()
    answer(d, 0.0, 200, MESSAGE)
    d.at(31.99)
    assert d.send_times() == [0.0] and d.tx.state is State.COMPLETED


def test_non_invite_server_timer_j_terminates():
    d = message()
    answer(d, 0.0, 200, MESSAGE)
    d.at(32.0)
    assert d.when(Terminated) == [32.0] and d.tx.state is State.TERMINATED


def test_non_invite_server_wt_timer_replaces_timer_j():
    d = message(timers=TimerConfig.from_kamailio())
    assert answer(d, 0.0, 200, MESSAGE)[-1] == StartTimer("J", 5.0)


def test_non_invite_server_reliable_timer_j_is_zero():
    d = message(reliable=True)
    assert answer(d, 0.0, 200, MESSAGE) == [Send(reply(MESSAGE, 200).to_bytes()), Terminated()]


def test_non_invite_server_completed_refuses_another_response():
    d = message()
    answer(d, 0.0, 200, MESSAGE)
    with pytest.raises(TransactionError):
        d.tx.send_response(reply(MESSAGE, 200), 0.1)


def test_non_invite_server_terminated_ignores_retransmission():
    d = message(reliable=True)
    answer(d, 0.0, 200, MESSAGE)
    assert receive(d, 0.1, MESSAGE) == []


def test_non_invite_server_transport_error_terminates():
    d = message()
    answer(d, 0.0, 200, MESSAGE)
    assert d.apply(d.tx.on_transport_error(0.1)) == [CancelTimer("J"), TransportFailed(), Terminated()]
