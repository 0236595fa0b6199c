"""CPU per REGISTER inside one kampy worker, without sockets: a repeatable measure of the Python
cost of the registrar path (parse, route script, save, the 200 with its Contact list), unlike
throughput runs, which move with whatever else the machine is doing.

    python bench/register_cpu.py [--registers 20000] [--workers 2] [--repeat 3] [--profile N]
                                 [--again] [--plain]

Runs tests/e2e/configs/proxy.cfg in a `Server` (as one worker of --workers, so tm's cross-worker
claims are looked up as on the wire): each round sends the REGISTER that bench/stateful.py's sipp
sends (tests/e2e/scenarios/register_200.xml: `;rport` in the Via, so the 200's Via gets
`received=`/`rport=`; Expires 60; from 127.0.0.1:5061) for a new user, and checks that a 200 comes
back. --again re-registers users already bound instead, with a new Call-ID each time as sipp's next
run does (save()'s update path). --plain sends the earlier bench's REGISTER (no rport, Expires 3600,
from 127.0.0.1:5080). Prints microseconds of CPU per REGISTER (the least of --repeat runs);
--profile N prints the N most expensive functions (cProfile). The figure includes usrloc's store.
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kampy.runtime.context import Source  # noqa: E402
from kampy.runtime.server import Server  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from in_process import PROXY, proxy_bench_args, proxy_cpu, register  # noqa: E402

log = logging.getLogger("bench")
SIPP = Source("udp", "127.0.0.1", 5061, PROXY)
PLAIN_UA = Source("udp", "127.0.0.1", 5080, PROXY)
# --again: users bound first, then re-registered in turn; the bench's clock moves 6 s every 100
# rounds, so with Expires 60 each user must come back within 1000 rounds to still be bound
AGAIN_USERS = 500
FIRST_PID, AGAIN_PID = 4242, 4343  # sipp's pid in the first run and in the next


def sipp_register(n: int, pid: int = FIRST_PID, round_: int | None = None) -> bytes:
    """register_200.xml's REGISTER of user u`n` as sipp (process `pid`) sends it from
    127.0.0.1:5061, its call number `round_` (default `n`) in the branch, tag and Call-ID."""
    call = n if round_ is None else round_
    return (f"REGISTER sip:example.test SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-{pid}-{call}-0;rport\r\n"
            f"From: <sip:u{n}@example.test>;tag={pid}SIPpTag{call}\r\n"
            f"To: <sip:u{n}@example.test>\r\n"
            f"Call-ID: {call}-{pid}@127.0.0.1\r\nCSeq: 1 REGISTER\r\n"
            f"Contact: <sip:u{n}@127.0.0.1:5061>\r\nExpires: 60\r\nMax-Forwards: 70\r\n"
            f"Content-Length: 0\r\n\r\n").encode()


def answered(srv: Server, data: bytes, source: Source) -> None:
    out = srv.handle(data, source)
    assert out and out[0].data.startswith(b"SIP/2.0 200"), out


def new_user(srv: Server, n: int) -> None:
    answered(srv, sipp_register(n), SIPP)


def bound_user(srv: Server, n: int) -> None:
    answered(srv, sipp_register(n % AGAIN_USERS, AGAIN_PID, n), SIPP)


def plain_new_user(srv: Server, n: int) -> None:
    answered(srv, register(f"user{n}", n), PLAIN_UA)


def bind_all(srv: Server) -> None:
    for n in range(AGAIN_USERS):
        new_user(srv, n)


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--again", action="store_true", help="re-register users already bound")
    parser.add_argument("--plain", action="store_true",
                        help="the earlier bench's REGISTER, no rport (ignored with --again)")


def main() -> int:
    args = proxy_bench_args(__doc__, "registers", options)
    one_round: Callable[[Server, int], None] = plain_new_user if args.plain else new_user
    setup = None
    if args.again:
        one_round, setup = bound_user, bind_all
    us = min(proxy_cpu(one_round, args.rounds, args.workers, args.profile, setup)
             for _ in range(max(1, args.repeat)))
    kind = "re-REGISTER of a bound user" if args.again else "REGISTER"
    log.info("%.1f us CPU per %s (with its 200), %d workers' claims", us, kind, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
