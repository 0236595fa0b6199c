"""htable items and pike counts are shared by every worker of a server: `kampy run` with four workers
reading one UDP socket, requests spread over them by the kernel."""
from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.kampy_process import Kampy, running_kampy

CFG = """
children=4
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "htable.so"
loadmodule "pike.so"
modparam("htable", "htable", "c=>size=4;initval=0")
modparam("htable", "htable", "ipban=>size=8;autoexpire=300")
modparam("pike", "sampling_time_unit", 60)
modparam("pike", "reqs_density_per_unit", 16)
request_route {
  if ($fU =~ "^flood") {
    if ($sht(ipban=>$si) != $null) { sl_send_reply("403", "banned"); exit; }
    if (!pike_check_req()) { $sht(ipban=>$si) = 1; sl_send_reply("403", "cut off"); exit; }
    sl_send_reply("200", "passed pid=$pp");
    exit;
  }
  $var(n) = $shtinc(c=>hits);
  sl_send_reply("200", "n=$var(n) pid=$pp");
}
"""


@pytest.fixture(scope="module")
def kampy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kampy]:
    with running_kampy(CFG, tmp_path_factory.mktemp("workers")) as server:
        yield server


def ask(kampy: Kampy, user: str, count: int, host: str = "127.0.0.1") -> list[str]:
    """The reason phrases of the replies to `count` OPTIONS sent at once from one socket on `host`."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        s.settimeout(10)  # every request is answered: the wait ends with the last reply
        lport = s.getsockname()[1]
        for n in range(count):
            s.sendto((f"OPTIONS sip:x@127.0.0.1:{kampy.port} SIP/2.0\r\n"
                      f"Via: SIP/2.0/UDP {host}:{lport};branch=z9hG4bK-{user}-{n};rport\r\n"
                      f"From: <sip:{user}@{host}>;tag=t{n}\r\nTo: <sip:x@127.0.0.1>\r\n"
                      f"Call-ID: {user}-{n}-{lport}@{host}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                      "Content-Length: 0\r\n\r\n").encode(), kampy.addr)
        reasons = []
        try:
            while len(reasons) < count:
                reasons.append(s.recv(4096).split(b"\r\n", 1)[0].decode().split(" ", 2)[2])
        except TimeoutError:
            pass
        return reasons


def test_an_htable_counter_counts_once_per_request_whichever_worker_answers(kampy: Kampy) -> None:
    with ThreadPoolExecutor(8) as pool:
        batches = list(pool.map(lambda i: ask(kampy, f"u{i}", 25), range(8)))
    replies = [r for batch in batches for r in batch]
    assert len(replies) == 200
    values = sorted(int(re.search(r"n=(\d+)", r).group(1)) for r in replies)  # type: ignore[union-attr]
    assert values == list(range(1, 201))  # every increment seen by the next, in whatever worker
    pids = {re.search(r"pid=(\d+)", r).group(1) for r in replies}  # type: ignore[union-attr]
    assert len(pids) > 1, "the kernel gave every request to one worker: the test shows nothing"


def flood(kampy: Kampy, host: str) -> list[str]:
    """60 requests from `host`, from four sockets at once; the replies of those that passed (the
    others are answered 403, so the wait for replies ends with the last one, however slow)."""
    with ThreadPoolExecutor(4) as pool:
        batches = list(pool.map(lambda i: ask(kampy, f"flood{i}", 15, host=host), range(4)))
    replies = [r for batch in batches for r in batch]
    assert len(replies) == 60, replies
    return [r for r in replies if r.startswith("passed")]


def test_a_flood_spread_over_the_workers_is_cut_off_after_21_requests(kampy: Kampy) -> None:
    workers_seen = 0
    for last in range(66, 72):  # a new address each round, until the flood went to several workers
        passed = flood(kampy, f"127.0.0.{last}")
        assert len(passed) == 21
        workers_seen = len({re.search(r"pid=(\d+)", r).group(1) for r in passed})  # type: ignore[union-attr]
        if workers_seen > 1:
            break
    assert workers_seen > 1, "every flood went to one worker: the test shows nothing"
