"""The measuring loop of the in-process CPU benches (bench/relay_cpu.py, bench/register_cpu.py,
bench/msilo_store_cpu.py): one `Server` fed bytes, no sockets, CPU time rather than throughput."""
from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kampy.config.pipeline import load_file
from kampy.net.worker import tune_gc
from kampy.runtime.context import Socket
from kampy.runtime.server import Server
from kampy.runtime.shared import SharedStore
from kampy.testing.clock import FakeClock

WARM_UP = 200  # rounds before measuring (caches, lazily built state)
PROXY_CFG = Path(__file__).resolve().parents[1] / "tests/e2e/configs/proxy.cfg"
PROXY = Socket("udp", "127.0.0.1", 5060)
_COPIED = (b"via:", b"from:", b"call-id:", b"cseq:")


def ok_for(request: bytes, to_tag: str) -> bytes:
    """A UA's 200 to `request`, built from its lines (no parser: only kampy's work is measured)."""
    lines = request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
    kept = [line for line in lines if line[:8].lower().startswith(_COPIED)]
    kept += [line + b";tag=" + to_tag.encode() for line in lines if line[:3].lower() == b"to:"]
    return b"SIP/2.0 200 OK\r\n" + b"\r\n".join(kept) + b"\r\nContent-Length: 0\r\n\r\n"


def cpu_per_round(srv: Server, clock: FakeClock, one_round: Callable[[Server, int], None], rounds: int,
                  profile: int = 0) -> float:
    """Microseconds of CPU per call of `one_round(srv, n)`, over `rounds` calls after `WARM_UP`,
    with the garbage collector set as a worker sets it; every 100 rounds the clock moves on so that
    transactions end (their wait timers) as they would on the wire. `profile` > 0 prints the
    `profile` most expensive functions (cProfile)."""
    for n in range(WARM_UP):
        one_round(srv, n)
    tune_gc()
    profiler = cProfile.Profile() if profile else None
    start = time.process_time()
    if profiler:
        profiler.enable()
    for n in range(WARM_UP, WARM_UP + rounds):
        one_round(srv, n)
        if n % 100 == 0:
            clock.advance(6)
            srv.run_timers()
    if profiler:
        profiler.disable()
    spent = time.process_time() - start
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(profile)
    return spent / rounds * 1e6


def proxy_cpu(one_round: Callable[[Server, int], None], rounds: int, workers: int, profile: int = 0,
              setup: Callable[[Server], None] | None = None) -> float:
    """`cpu_per_round` on tests/e2e/configs/proxy.cfg in a `Server` on `PROXY`, as one worker of
    `workers` (so tm's cross-worker claims are exercised when `workers` > 1); `setup(srv)` runs
    before the rounds."""
    store = SharedStore.create()
    clock = FakeClock()
    compiled = load_file(PROXY_CFG, defines={"LISTEN": "udp:127.0.0.1:5060"})
    srv = Server.from_config(compiled, sockets=[PROXY], aliases=[("example.test", None)], clock=clock,
                             shared=store.reopen(), rank=1, workers=workers)
    try:
        if setup is not None:
            setup(srv)
        return cpu_per_round(srv, clock, one_round, rounds, profile)
    finally:
        srv.shutdown()
        store.remove()


def bench_args(doc: str, rounds_flag: str, rounds: int,
               more: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """The command line of an in-process bench (`--<rounds_flag>` as `rounds`, --repeat, --profile,
    and what `more` adds), with logging set up for its report."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(f"--{rounds_flag}", dest="rounds", type=int, default=rounds)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the least CPU is reported")
    parser.add_argument("--profile", type=int, default=0, help="print the N most expensive functions")
    if more is not None:
        more(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    logging.getLogger("kampy").setLevel(logging.WARNING)
    return args


def proxy_bench_args(doc: str, rounds_flag: str,
                     more: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """`bench_args` of a proxy.cfg bench: 20000 rounds, --workers, and what `more` adds."""
    def options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--workers", type=int, default=2)
        if more is not None:
            more(parser)
    return bench_args(doc, rounds_flag, 20000, options)


def register(user: str, n: int) -> bytes:
    """A REGISTER of `user` from 127.0.0.1:5080 for an hour, its Via branch, tag and Call-ID numbered `n`."""
    return (f"REGISTER sip:example.test SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-reg{n}\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:{user}@example.test>;tag=r{n}\r\n"
            f"To: <sip:{user}@example.test>\r\n"
            f"Call-ID: reg-{n}@127.0.0.1\r\nCSeq: 1 REGISTER\r\nContact: <sip:{user}@127.0.0.1:5080>\r\n"
            f"Expires: 3600\r\nContent-Length: 0\r\n\r\n").encode()
