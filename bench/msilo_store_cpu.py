"""CPU per stored MESSAGE inside one kampy worker, without sockets: the Python cost of the whole
store path of samples/msilo.cfg on a real database, repeatable where throughput runs are not.

    python bench/msilo_store_cpu.py [--backend mysql|sqlite] [--messages 5000] [--repeat 3] [--profile N]

One round is what a worker does on the wire for one offline MESSAGE: the MESSAGE in (parse, route,
t_newtran, m_store's INSERT, 202, the notice sent through tm's UAC to the outbound proxy, i.e. the
server itself), the notice received back and relayed to the sender's Contact, the sender's 200
relayed back, and that 200 ending msilo's client transaction. Prints microseconds of CPU per round
(the least of --repeat runs; noise only adds); --profile N prints the N most expensive functions
(cProfile, which inflates small functions).
"""
from __future__ import annotations

import logging
import sys
import tempfile
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kampy.config.pipeline import load_file  # noqa: E402
from kampy.db import connect  # noqa: E402
from kampy.runtime.context import Outgoing, Socket, Source  # noqa: E402
from kampy.runtime.server import Server  # noqa: E402
from kampy.runtime.shared import SharedStore  # noqa: E402
from kampy.testing.clock import FakeClock  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
import msilo as bench  # noqa: E402
from in_process import WARM_UP, bench_args, cpu_per_round, ok_for  # noqa: E402

log = logging.getLogger("bench")
CFG = REPO / "samples/msilo.cfg"
PORT = 5060
SERVER = Socket("udp", "127.0.0.1", PORT)
SENDER = Source("udp", "127.0.0.1", 5070, SERVER)
SINK = Source("udp", "127.0.0.1", 5071, SERVER)
ITSELF = Source("udp", "127.0.0.1", PORT, SERVER)


def message(n: int) -> bytes:
    body = f"offline message number {n}"
    return (f"MESSAGE sip:off{n}x1@example.test SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-{n}-1;rport\r\n"
            f"From: <sip:sender@example.test>;tag=1SIPpTag{n}\r\n"
            f"To: <sip:off{n}x1@example.test>\r\n"
            f"Call-ID: {n}-4242@127.0.0.1\r\nCSeq: 1 MESSAGE\r\n"
            f"Contact: <sip:sender@127.0.0.1:5071>\r\nMax-Forwards: 70\r\n"
            f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode()


def sent(out: list, start: bytes) -> bytes:
    return next(o.data for o in out if isinstance(o, Outgoing) and o.data.startswith(start))


def one_round(srv: Server, n: int) -> None:
    out = srv.handle(message(n), SENDER)
    assert sent(out, b"SIP/2.0 "), out
    notice = sent(out, b"MESSAGE ")                      # msilo's notice, to the outbound proxy
    relayed = sent(srv.handle(notice, ITSELF), b"MESSAGE ")  # the proxy relays it to the Contact
    back = sent(srv.handle(ok_for(relayed, "snk1"), SINK), b"SIP/2.0 200")  # the sender's 200, relayed back
    srv.handle(back, ITSELF)                             # ends msilo's client transaction


def run(db_url: str, messages: int, profile: int) -> float:
    store = SharedStore.create()
    clock = FakeClock()
    defines = {"LISTEN_UDP": f"udp:127.0.0.1:{PORT}", "DBURL": f'"{db_url}"',
               "MSILO_PROXY": f'"sip:127.0.0.1:{PORT}"'}
    if db_url.startswith("mysql:"):
        defines["WITH_MYSQL"] = ""
    compiled = load_file(CFG, defines=defines)
    srv = Server.from_config(compiled, sockets=[SERVER], aliases=[("example.test", None)], clock=clock,
                             shared=store.reopen(), rank=1, workers=2)
    try:
        return cpu_per_round(srv, clock, one_round, messages, profile)
    finally:
        srv.shutdown()
        store.remove()


def main() -> int:
    args = bench_args(__doc__, "messages", 5000, lambda parser: parser.add_argument(
        "--backend", default="mysql", choices=("mysql", "sqlite")))
    with tempfile.TemporaryDirectory(prefix="kampy-bench-store-cpu-") as tmp:
        dbs = bench.Databases(Path(tmp))
        try:
            results = []
            for _ in range(max(1, args.repeat)):
                url = dbs.fresh(args.backend, f"cpu_{uuid.uuid4().hex[:6]}")
                results.append(run(url, args.rounds, args.profile))
                with connect(url) as db:
                    stored = db.raw_query("SELECT COUNT(*) FROM silo")[0][0]
                assert stored == args.rounds + WARM_UP, stored
        finally:
            dbs.close()
    log.info("%.1f us CPU per stored MESSAGE (%s; runs: %s)", min(results), args.backend,
             ", ".join(f"{r:.0f}" for r in results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
