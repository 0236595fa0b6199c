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

import argparse
import logging
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kampy.config.pipeline import load_file  # noqa: E402
from kampy.runtime.context import Outgoing, Socket, Source  # noqa: E402
from kampy.runtime.server import Server  # noqa: E402
from kampy.runtime.shared import SharedStore  # noqa: E402
from kampy.testing.clock import FakeClock  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from in_process import cpu_per_round, ok_for  # noqa: E402

log = logging.getLogger("bench")
CFG = REPO / "tests/e2e/configs/proxy.cfg"
PROXY = Socket("udp", "127.0.0.1", 5060)
CALLER = Source("udp", "127.0.0.1", 5070, PROXY)
CALLEE = Source("udp", "127.0.0.1", 5080, PROXY)


def register() -> bytes:
    return (b"REGISTER sip:example.test SIP/2.0\r\n"
            b"Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-reg1\r\n"
            b"Max-Forwards: 70\r\nFrom: <sip:bob@example.test>;tag=r1\r\nTo: <sip:bob@example.test>\r\n"
            b"Call-ID: reg-1@127.0.0.1\r\nCSeq: 1 REGISTER\r\nContact: <sip:bob@127.0.0.1:5080>\r\n"
            b"Expires: 3600\r\nContent-Length: 0\r\n\r\n")


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


def run(messages: int, workers: int, profile: int) -> float:
    store = SharedStore.create()
    clock = FakeClock()
    compiled = load_file(CFG, defines={"LISTEN": "udp:127.0.0.1:5060"})
    srv = Server.from_config(compiled, sockets=[PROXY], aliases=[("example.test", None)], clock=clock,
                             shared=store.reopen(), rank=1, workers=workers)
    try:
        assert srv.handle(register(), CALLEE)[0].data.startswith(b"SIP/2.0 200")
        return cpu_per_round(srv, clock, one_round, messages, profile)
    finally:
        srv.shutdown()
        store.remove()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the least CPU is reported")
    parser.add_argument("--profile", type=int, default=0, help="print the N most expensive functions")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    logging.getLogger("kampy").setLevel(logging.WARNING)
    us = min(run(args.messages, args.workers, args.profile) for _ in range(max(1, args.repeat)))
    log.info("%.1f us CPU per relayed MESSAGE (request + 200), %d workers' claims", us, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
