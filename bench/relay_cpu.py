"""CPU per relayed MESSAGE inside one kampy worker, without sockets: a repeatable measure of the
Python cost of the stateful relay (parse, route script, lookup, tm, reply relay), unlike throughput
runs, which move with whatever else the machine is doing.

    python bench/relay_cpu.py [--messages 20000] [--workers 2] [--repeat 3] [--profile N]

Runs tests/e2e/configs/proxy.cfg in a `Server` (as one worker of --workers, so tm's cross-worker
claims are exercised when --workers > 1): a callee registers, then each round relays one MESSAGE
from the caller to the callee and its 200 back, with the clock moved on so transactions end.
Prints microseconds of CPU per MESSAGE (the least of --repeat runs); --profile N prints the N
most expensive functions (cProfile).
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kampy.runtime.context import Outgoing, Source  # noqa: E402
from kampy.runtime.server import Server  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from in_process import PROXY, ok_for, proxy_bench_args, proxy_cpu, register  # noqa: E402

log = logging.getLogger("bench")
CALLER = Source("udp", "127.0.0.1", 5070, PROXY)
CALLEE = Source("udp", "127.0.0.1", 5080, PROXY)


def message(n: int) -> bytes:
    body = f"Hello, this is message number {n}."
    return (f"MESSAGE sip:bob@example.test SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-{n}-1;rport\r\n"
            f"From: sipp <sip:alice@example.test>;tag={n}SIPpTag001\r\n"
            f"To: <sip:bob@example.test>\r\n"
            f"Call-ID: {n}-4242@127.0.0.1\r\nCSeq: 1 MESSAGE\r\n"
            f"Contact: <sip:alice@127.0.0.1:5070>\r\nMax-Forwards: 70\r\n"
            f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode()


def one_round(srv: Server, n: int) -> None:
    out = srv.handle(message(n), CALLER)
    fwd = next(o for o in out if isinstance(o, Outgoing) and o.data.startswith(b"MESSAGE"))
    back = srv.handle(ok_for(fwd.data, "cal1"), CALLEE)
    assert back and back[0].data.startswith(b"SIP/2.0 200"), back


def register_callee(srv: Server) -> None:
    assert srv.handle(register("bob", 1), CALLEE)[0].data.startswith(b"SIP/2.0 200")


def main() -> int:
    args = proxy_bench_args(__doc__, "messages")
    us = min(proxy_cpu(one_round, args.rounds, args.workers, args.profile, register_callee)
             for _ in range(max(1, args.repeat)))
    log.info("%.1f us CPU per relayed MESSAGE (request + 200), %d workers' claims", us, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
