"""CPU per authenticated REGISTER inside one kampy worker, without sockets: the 401 and the 200 of
bench/register_auth.py's calls (auth_check(), auth_challenge(), save() on MariaDB), measured as CPU
time, which the rest of the machine's load moves less than a throughput run.

    python bench/register_auth_cpu.py [--pairs 3000] [--workers 4] [--repeat 3] [--profile N]

Runs Debian's stock kamailio.cfg without corex, cfg_rpc, acc and counters (bench/register_auth.py's
--without-modules: none of them is on the REGISTER path) with WITH_MYSQL, WITH_AUTH and
WITH_USRLOCDB, in a `Server` as one worker of --workers, on a private MariaDB holding the
subscribers (as `kamctl add` adds them). Each round is a REGISTER of a new user, answered 401, and
the REGISTER again with the digest answer, answered 200. Prints microseconds of CPU per round (the
least of --repeat runs), the database server's CPU not included; --profile N prints the N most
expensive functions.
"""
from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from kampy.config.compile import compile_config  # noqa: E402
from kampy.config.pipeline import parse_preprocessed  # noqa: E402
from kampy.config.preprocess import preprocess_file  # noqa: E402
from kampy.runtime.context import Socket, Source  # noqa: E402
from kampy.runtime.server import Server  # noqa: E402
from kampy.runtime.shared import SharedStore  # noqa: E402
from kampy.testing import mariadb  # noqa: E402
from kampy.testing.clock import FakeClock  # noqa: E402
from kampy.testing.digest import Challenge, Credentials  # noqa: E402

from in_process import WARM_UP, bench_args, cpu_per_round  # noqa: E402
from register_auth import STOCK_CFG, add_users, without_modules  # noqa: E402

log = logging.getLogger("bench")
SERVER = Socket("udp", "127.0.0.1", 5060)
UA = Source("udp", "127.0.0.1", 5070, SERVER)
MISSING = ["corex", "cfg_rpc", "acc", "counters"]


def register(n: int, cseq: int, authorization: str | None = None) -> bytes:
    user = f"user{n:05d}"
    lines = ["REGISTER sip:127.0.0.1 SIP/2.0",
             f"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-{n}-{cseq};rport",
             f"From: <sip:{user}@127.0.0.1>;tag={n}", f"To: <sip:{user}@127.0.0.1>",
             f"Call-ID: reg-{n}@127.0.0.1", f"CSeq: {cseq} REGISTER", f"Contact: <sip:{user}@127.0.0.1:5070>",
             "Expires: 3600", "Max-Forwards: 70", "User-Agent: sipp"]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    return ("\r\n".join([*lines, "Content-Length: 0"]) + "\r\n\r\n").encode()


def one_pair(srv: Server, n: int) -> None:
    challenged = srv.handle(register(n, 1), UA)[0].data.decode()  # type: ignore[union-attr]
    challenge = Challenge.parse(challenged.split("WWW-Authenticate: ", 1)[1].split("\r\n", 1)[0])
    credentials = Credentials(f"user{n:05d}", f"pw{n:05d}")
    answer = credentials.answer(challenge, "REGISTER", "sip:127.0.0.1", cnonce="c")
    accepted = srv.handle(register(n, 2, answer), UA)[0].data  # type: ignore[union-attr]
    if not accepted.startswith(b"SIP/2.0 200 "):
        raise RuntimeError(f"round {n}: {accepted[:200]!r}")


def measure(db_url: str, workdir: Path, pairs: int, workers: int, profile: int) -> float:
    cfg = workdir / "kamailio.cfg"
    cfg.write_text(without_modules(STOCK_CFG.read_text(), MISSING))
    defines = {"WITH_MYSQL": None, "WITH_AUTH": None, "WITH_USRLOCDB": None, "DBURL": f'"{db_url}"'}
    compiled = compile_config(parse_preprocessed(preprocess_file(cfg, defines), str(cfg)))
    store, clock = SharedStore.create(), FakeClock()
    srv = Server.from_config(compiled, sockets=[SERVER], clock=clock, shared=store.reopen(), rank=1,
                             workers=workers)
    try:
        srv.child_init(1)
        return cpu_per_round(srv, clock, one_pair, pairs, profile)
    finally:
        srv.shutdown()
        store.remove()


def main() -> int:
    def options(parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--workers", type=int, default=4)
    args = bench_args(__doc__ or "", "pairs", 3000, options)
    with tempfile.TemporaryDirectory(prefix="kampy-bench-") as tmp:
        workdir = Path(tmp)
        server = mariadb.start(workdir / "mariadb")
        try:
            results = []
            for _ in range(args.repeat):
                with mariadb.fresh_database(server) as url:
                    add_users(url, WARM_UP + args.rounds, "127.0.0.1")
                    results.append(measure(url, workdir, args.rounds, args.workers, args.profile))
        finally:
            server.stop()
    log.info("CPU per authenticated REGISTER (401 + 200): %.0f us (least of %s)", min(results),
             ", ".join(f"{r:.0f}" for r in results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
