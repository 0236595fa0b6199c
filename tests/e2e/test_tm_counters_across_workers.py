"""tm's counters are summed over the worker processes, as Kamailio sums its per-process cells: every
transaction any worker creates counts once in tmx's statistics and in tm.stats, whichever worker
answers the RPC (configs/fuzz.cfg: a stateful 404 for an unknown user, two workers)."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.kampy_process import CONFIGS, REPO, running_kampy

REQUESTS = 40


def _rpc(socket_path: Path, method: str, *params: str) -> object:
    proc = subprocess.run([sys.executable, "-m", "kampy", "rpc", "--socket", str(socket_path), "--json",
                           method, *params], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["result"]


def _message(port: int, n: int) -> bytes:
    return (f"MESSAGE sip:nobody@example.test SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKcnt{n}x{port}\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=a1\r\nTo: <sip:nobody@example.test>\r\n"
            f"Call-ID: cnt-{n}-{port}\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n").encode()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> tuple[dict[str, list], list[int]]:
    """kampy with two workers after REQUESTS MESSAGEs from as many source ports: (RPC results, codes)."""
    directory = tmp_path_factory.mktemp("tmcounters")
    rpc_socket = directory / "rpc.sock"
    with running_kampy(CONFIGS / "fuzz.cfg", directory, protos=("udp",),
                       args=["-A", f'RPC_SOCKET="{rpc_socket}"', "-A", "CHILDREN=2"]) as kampy:
        codes = []
        for n in range(REQUESTS):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as ua:
                ua.bind(("127.0.0.1", 0))
                ua.settimeout(5)
                ua.sendto(_message(ua.getsockname()[1], n), kampy.addr)
                codes.append(int(ua.recv(65535).split(b" ", 2)[1]))
        results = {"tmx": [_rpc(rpc_socket, "stats.fetch", "tmx:UAS_transactions") for _ in range(6)],
                   "tm": [_rpc(rpc_socket, "tm.stats") for _ in range(6)]}
        kampy.stop()
    return results, codes


def test_every_request_got_its_stateful_404(served):
    _, codes = served
    assert codes == [404] * REQUESTS


def test_tmx_counts_every_workers_transactions_whichever_worker_answers(served):
    results, _ = served
    assert [int(r["tmx.UAS_transactions"]) for r in results["tmx"]] == [REQUESTS] * 6


def test_tm_stats_counts_every_workers_transactions_whichever_worker_answers(served):
    results, _ = served
    assert [r["created"] for r in results["tm"]] == [REQUESTS] * 6
