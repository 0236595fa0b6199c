"""The measuring loop of the in-process CPU benches (bench/relay_cpu.py, bench/msilo_store_cpu.py):
one `Server` fed bytes, no sockets, CPU time rather than throughput."""
from __future__ import annotations

import cProfile
import pstats
import time
from collections.abc import Callable

from kampy.net.worker import tune_gc
from kampy.runtime.server import Server
from kampy.testing.clock import FakeClock

WARM_UP = 200  # rounds before measuring (caches, lazily built state)
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
