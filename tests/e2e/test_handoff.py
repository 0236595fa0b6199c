"""Handoffs between workers: a message one worker receives reaches the worker it is handed to.

Driven by tests/e2e/modules/handoff_probe, whose `hand_to_the_next_worker()` hands every request to
the other worker (rank % workers + 1), which answers 200 "worker R got it handed over".
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.sip import TCPClient, UDPClient, status_of

MODULES = Path(__file__).resolve().parent / "modules"

PROBE_CFG = f"""#!KAMAILIO
children=2
loadpath "{MODULES}"
loadmodule "handoff_probe"
request_route {{
    hand_to_the_next_worker();
    reply_with_rank();
}}
"""

FORK_NO_CFG = PROBE_CFG.replace("children=2", "fork=no")


def reason_of(reply: bytes) -> str:
    return reply.split(b"\r\n", 1)[0].split(b" ", 2)[2].decode()


@pytest.fixture(scope="module")
def probe_kampy(tmp_path_factory):
    from tests.e2e.kampy_process import start_kampy

    kampy = start_kampy(PROBE_CFG, tmp_path_factory.mktemp("probe"))
    yield kampy
    kampy.stop()


def test_two_workers_start_with_children_2(probe_kampy):
    assert len(probe_kampy.worker_pids()) == 2


def test_a_udp_request_handed_to_the_other_worker_is_answered_by_it(probe_kampy):
    client = UDPClient()
    reasons = {reason_of(client.request(probe_kampy.addr)) for _ in range(20)}
    client.close()
    assert reasons <= {"worker 1 got it handed over", "worker 2 got it handed over"}


def test_a_tcp_request_handed_over_is_answered_on_its_connection(probe_kampy):
    # worker A reads the connection, worker B handles the request: B's reply goes back through A
    client = TCPClient(probe_kampy.addr)
    for _ in range(10):
        client.send(client.message())
        reply = client.read_reply()
        assert status_of(reply) == 200
        assert reason_of(reply).endswith("got it handed over")
    client.close()


def test_a_handoff_to_its_own_rank_is_handled_directly_with_fork_no(running_kampy, tmp_path):
    kampy = running_kampy(FORK_NO_CFG)
    client = UDPClient()
    assert reason_of(client.request(kampy.addr)) == "worker 1 got it handed over"
    client.close()


def _open_shared_stores(pid: int) -> set[str]:
    stores = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if "kampy-shared-" in target and target.endswith(".sqlite"):
            stores.add(target)
    return stores


def test_every_worker_opens_the_one_shared_store_and_it_is_deleted_at_shutdown(running_kampy):
    kampy = running_kampy(PROBE_CFG)
    stores = [_open_shared_stores(pid) for pid in kampy.worker_pids()]
    assert len(stores) == 2 and stores[0] == stores[1] and len(stores[0]) == 1
    assert kampy.stop() == 0
    assert not any(Path(p).exists() for p in stores[0])
