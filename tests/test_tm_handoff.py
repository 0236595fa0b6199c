"""tm with two workers sharing one store: messages of a transaction reach the worker that owns it."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from kampy.runtime.context import Handoff
from kampy.runtime.server import Server
from tests.tmkit import ALICE, BOB, lines, reply_to, request, two_workers

RELAY = "request_route { t_relay(); }"


@pytest.fixture
def workers() -> Iterator[tuple[Server, Server]]:
    with two_workers(RELAY) as pair:
        yield pair


def test_reply_received_by_another_worker_is_handed_to_the_owner(workers) -> None:  # type: ignore[no-untyped-def]
    one, two = workers
    fwd = one.handle(request(), ALICE)[0]
    out = two.handle(reply_to(fwd, 200, "OK"), BOB)
    assert len(out) == 1 and isinstance(out[0], Handoff) and out[0].rank == 1
    relayed = one.handle(out[0].data, out[0].src, handed_off=True)
    assert lines(relayed) == ["SIP/2.0 200 OK"]


def test_retransmission_received_by_another_worker_is_handed_to_the_owner(workers) -> None:  # type: ignore[no-untyped-def]
    one, two = workers
    one.handle(request(), ALICE)
    out = two.handle(request(), ALICE)
    assert len(out) == 1 and isinstance(out[0], Handoff) and out[0].rank == 1
    assert one.handle(out[0].data, out[0].src, handed_off=True) == []  # absorbed by the owner


def test_cancel_goes_to_the_worker_owning_the_invite(workers) -> None:  # type: ignore[no-untyped-def]
    one, two = workers
    invite = one.handle(request("INVITE"), ALICE)[1]
    one.handle(reply_to(invite, 180, "Ringing"), BOB)
    out = two.handle(request("CANCEL"), ALICE)
    assert isinstance(out[0], Handoff) and out[0].rank == 1
    assert lines(one.handle(out[0].data, out[0].src, handed_off=True)) == [
        "SIP/2.0 200 canceling", "CANCEL sip:bob@198.51.100.20:5080 SIP/2.0"]


def test_handed_off_message_is_never_handed_off_again(workers) -> None:  # type: ignore[no-untyped-def]
    one, two = workers
    one.handle(request(), ALICE)
    out = two.handle(request(), ALICE, handed_off=True)
    assert not any(isinstance(o, Handoff) for o in out)


def test_claim_goes_when_the_transaction_ends(workers) -> None:  # type: ignore[no-untyped-def]
    one, two = workers
    fwd = one.handle(request(), ALICE)[0]
    retransmission = two.handle(request(), ALICE)
    assert isinstance(retransmission[0], Handoff) and retransmission[0].rank == 1
    one.handle(reply_to(fwd, 200, "OK"), BOB)
    one.core.clock.mono += 10
    one.run_timers()
    out = two.handle(request(), ALICE)  # now a new transaction, in worker 2
    assert lines(out) == ["MESSAGE sip:bob@198.51.100.20:5080 SIP/2.0"]
