"""A finished transaction is freed by reference counting, without waiting for the cyclic collector
(a worker between two collections would otherwise hold every transaction of the last second)."""
from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from kampy.runtime.server import Server
from tests.tmkit import ALICE, BOB, advance, reply_to, request, server

TRANSACTIONS = 200


@pytest.fixture
def no_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def relay_and_answer(srv: Server, n: int, code: int) -> None:
    out = srv.handle(request("MESSAGE", branch=f"z9hG4bK-m{n}", cseq=n), ALICE)
    srv.handle(reply_to(out[0], code, "Reason"), BOB)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", [200, 486])
def test_finished_transactions_leave_nothing_for_the_cyclic_collector(no_collector: None, code: int) -> None:
    srv = server("request_route { t_relay(); }")
    relay_and_answer(srv, 1, code)  # what the first transaction sets up once (caches, counters)
    advance(srv, 40)
    gc.collect()
    for n in range(2, TRANSACTIONS + 2):
        relay_and_answer(srv, n, code)
    advance(srv, 40)
    assert gc.collect() < TRANSACTIONS  # 77 objects per transaction were left in cycles
