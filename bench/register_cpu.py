"""CPU per REGISTER inside one kampy worker, without sockets: a repeatable measure of the Python
cost of the registrar path (parse, route script, save, the 200 with its Contact list), unlike
throughput runs, which move with whatever else the machine is doing.

    python bench/register_cpu.py [--registers 20000] [--workers 2] [--repeat 3] [--profile N]

Runs tests/e2e/configs/proxy.cfg in a `Server` (as one worker of --workers, so tm's cross-worker
claims are looked up as on the wire): each round sends one REGISTER of a distinct user (own
Call-ID, Contact, Expires 3600) and checks that a 200 comes back. Prints microseconds of CPU per
REGISTER (the least of --repeat runs); --profile N prints the N most expensive functions
(cProfile). The figure includes usrloc's store.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kampy.runtime.context import Source  # noqa: E402
from kampy.runtime.server import Server  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from in_process import PROXY, proxy_bench_args, proxy_cpu, register  # noqa: E402

log = logging.getLogger("bench")
USER_AGENT = Source("udp", "127.0.0.1", 5080, PROXY)


def one_round(srv: Server, n: int) -> None:
    out = srv.handle(register(f"user{n}", n), USER_AGENT)
    assert out and out[0].data.startswith(b"SIP/2.0 200"), out


def main() -> int:
    args = proxy_bench_args(__doc__, "registers")
    us = min(proxy_cpu(one_round, args.rounds, args.workers, args.profile)
             for _ in range(max(1, args.repeat)))
    log.info("%.1f us CPU per REGISTER (with its 200), %d workers' claims", us, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
