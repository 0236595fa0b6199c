"""msilo, kampy beside Kamailio 5.6 in one run, on MariaDB and on SQLite: MESSAGE -> m_store -> 202
throughput, and the time to deliver 1,000 stored messages after one REGISTER.

    python bench/msilo.py [--children 2] [--seconds 3] [--rates 100,200,...] [--max-calls 10000]
                          [--backends mysql,sqlite] [--targets kamailio,kampy] [--dump 1000]

Both servers run samples/msilo.cfg unchanged (its `-A` defines: free ports, the database URL, and
WITH_MYSQL for MariaDB), with the same number of workers, each on a fresh database made with
kampy's `create_tables` (a private MariaDB is started for the run; SQLite files live in a temporary
directory). Kamailio uses db_mysql and db_sqlite (kamailio-mysql-modules, kamailio-sqlite-modules)
and gets --shm MB of shared memory (256: with its default 64 MB, tm's transactions and msilo's
notices exhaust it near 500 MESSAGEs/s: "build_cell(): could not allocate shared memory").

Store: sipp sends MESSAGEs to users who are not registered (a new one per call) at rising rates,
rate x seconds calls per step (at most --max-calls, each sipp run bounded by a -timeout); each must
be answered 202 (stored). The offline notices go to a sipp sink that answers them. A rate is held
when no call failed, all succeeded and sipp achieved at least 90% of the asked rate; each server
climbs until a rate is not held (a run that was only slow is tried once more).

Dump: --dump rows are written straight into the silo table for one user; a Python user agent that
answers 200 to every MESSAGE registers, and the time from sending the REGISTER to receiving the
last distinct MESSAGE is measured.

Prints a table and the ratio kampy/Kamailio of the highest store rates held (target: >= 50%).
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kampy.db import connect, create_tables  # noqa: E402
from kampy.testing import mariadb  # noqa: E402
from tests.e2e import msilo_sample  # noqa: E402
from tests.e2e.kampy_process import SCENARIOS, free_port, start_server, stop_process  # noqa: E402
from tests.e2e.msilo_ua import UA  # noqa: E402
from tests.e2e.sipp_proxy import Run, sipp_counts  # noqa: E402

from steps import Step, best, best_achieved, climb  # noqa: E402  (bench/, the script's folder)

log = logging.getLogger("bench")
DEFAULT_RATES = [100, 200, 300, 500, 750, 1000, 1250, 1500, 1750, 2000, 2500, 3000, 5000]
TARGET_RATIO = 0.5
SIPP_TIMEOUT = 30.0  # seconds one sipp run may take at most
DUMP_TIMEOUT = 120.0


# --------------------------------------------------------------------------- store throughput

class Sink:
    """A sipp that answers the offline notices with 200 (message_uas.xml), for one server run."""

    def __init__(self, sipp: str, workdir: Path) -> None:
        self.port = free_port()
        self.proc = start_server(
            [sipp, "-sf", str(SCENARIOS / "message_uas.xml"), "-t", "u1", "-i", "127.0.0.1",
             "-p", str(self.port), "-nostdin", "-buff_size", str(4 << 20), "-bind_local"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
        time.sleep(0.3)

    def stop(self) -> None:
        stop_process(self.proc, timeout=5)


def store_step(sipp: str, addr: tuple[str, int], sink: Sink, rate: int, calls: int, workdir: Path) -> Step:
    stat = workdir / f"store-{addr[1]}-{rate}-{free_port()}.csv"
    cmd = [sipp, "-sf", str(SCENARIOS / "msilo_store_uac.xml"), "-t", "u1", "-i", "127.0.0.1",
           "-p", str(free_port()), "-key", "sink", str(sink.port), "-m", str(calls), "-r", str(rate),
           "-l", str(max(100, rate * 10)), "-timeout", f"{int(SIPP_TIMEOUT)}s", "-nostdin", "-trace_stat",
           "-stf", str(stat), "-fd", "1", "-buff_size", str(4 << 20), f"{addr[0]}:{addr[1]}"]
    started = time.monotonic()
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=SIPP_TIMEOUT + 30, cwd=workdir)
    seconds = time.monotonic() - started
    return Step(rate, calls, Run(*sipp_counts(stat), seconds, result.returncode))


def climb_store(label: str, sipp: str, addr: tuple[str, int], rates: list[int], seconds: float,
                max_calls: int, workdir: Path) -> list[Step]:
    sink = Sink(sipp, workdir)
    try:
        def run(rate: int) -> Step:
            return store_step(sipp, addr, sink, rate, max(1, min(max_calls, int(rate * seconds))), workdir)

        return climb(f"{label} store", rates, run, log)
    finally:
        sink.stop()


# --------------------------------------------------------------------------- dump of 1,000 messages

def fill_silo(db_url: str, user: str, count: int) -> None:
    now = int(time.time())
    with connect(db_url) as db:
        db.execute("BEGIN")
        for i in range(count):
            db.insert("silo", {"src_addr": "sip:sender@example.test", "dst_addr": f"sip:{user}@example.test",
                               "username": user, "domain": "example.test", "inc_time": now,
                               "exp_time": now + 3600, "snd_time": 0, "ctype": "text/plain",
                               "body": f"stored message {i:05d}".encode(), "extra_hdrs": ""})
        db.execute("COMMIT")


def dump_time(addr: tuple[str, int], db_url: str, count: int) -> float | None:
    """Seconds from the REGISTER to the `count`-th distinct MESSAGE; None if not all arrived in time."""
    user = f"dumpee{uuid.uuid4().hex[:8]}"
    fill_silo(db_url, user, count)
    receiver = UA(user)
    try:
        started = time.monotonic()
        status = receiver.register(_Address(addr))
        deadline = started + DUMP_TIMEOUT
        while len(receiver.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        if len(receiver.received) < count or receiver.last_new_at is None:
            log.info("dump: only %d of %d MESSAGEs in %.0f s (REGISTER answered %d)", len(receiver.received),
                     count, DUMP_TIMEOUT, status)
            return None
        return receiver.last_new_at - started
    finally:
        time.sleep(1)  # let the last 200s reach the server before the receiver goes
        receiver.close()


@dataclass(frozen=True)
class _Address:
    addr: tuple[str, int]


# --------------------------------------------------------------------------- databases

class Databases:
    """A fresh database per server run: a database in a private MariaDB, or an SQLite file."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.mariadb: mariadb.MariaDB | None = None

    def fresh(self, backend: str, name: str) -> str:
        if backend == "sqlite":
            url = f"sqlite://{self.workdir}/{name}.sqlite"
            with connect(url, create_missing=True):
                pass
            return url
        if self.mariadb is None:
            self.mariadb = mariadb.start(self.workdir / "mariadb")
        root = self.mariadb.connect(database=None, user="root", password="")
        with root.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
            cur.execute(f"GRANT ALL ON {name}.* TO '{mariadb.USER}'@'%'")
        root.close()
        url = self.mariadb.url.rsplit("/", 1)[0] + "/" + name
        with connect(url) as db:
            create_tables(db)
        return url

    def close(self) -> None:
        if self.mariadb is not None:
            self.mariadb.stop()


# --------------------------------------------------------------------------- main

@dataclass
class Result:
    steps: list[Step]
    dump: float | None


def run_one(target: str, backend: str, args: argparse.Namespace, sipp: str, dbs: Databases,
            workdir: Path, rates: list[int]) -> Result:
    label = f"{target}/{backend}"
    db_url = dbs.fresh(backend, f"bench_{target}_{uuid.uuid4().hex[:6]}")
    server = msilo_sample.start(target, workdir, db_url, children=args.children, shm_mb=args.shm)
    try:
        steps = climb_store(label, sipp, server.addr, rates, args.seconds, args.max_calls, workdir)
        dump = dump_time(server.addr, db_url, args.dump) if args.dump else None
        log.info("%-18s dump of %d: %s", label, args.dump, "-" if dump is None else f"{dump:.2f} s")
        return Result(steps, dump)
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=2, help="workers of both servers")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of traffic per rate")
    parser.add_argument("--rates", default=",".join(map(str, DEFAULT_RATES)),
                        help="'' to skip the store bench")
    parser.add_argument("--max-calls", type=int, default=10000, help="calls per rate at most")
    parser.add_argument("--backends", default="mysql,sqlite")
    parser.add_argument("--targets", default="kamailio,kampy")
    parser.add_argument("--dump", type=int, default=1000, help="messages to dump (0: skip)")
    parser.add_argument("--shm", type=int, default=256,
                        help="Kamailio's shared memory, MB (with its default 64, tm runs out of it "
                             "near 500 MESSAGEs/s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)

    sipp = shutil.which("sipp")
    if sipp is None or msilo_sample.kamailio_binary() is None:
        log.error("sipp and kamailio must be installed (Debian packages sip-tester, kamailio, "
                  "kamailio-mysql-modules, kamailio-sqlite-modules)")
        return 2
    rates = [int(r) for r in args.rates.split(",") if r]
    backends, targets = args.backends.split(","), args.targets.split(",")
    results: dict[tuple[str, str], Result] = {}
    log.info("children=%d, %g s per rate, CPUs: %s", args.children, args.seconds, os.cpu_count())
    with tempfile.TemporaryDirectory(prefix="kampy-bench-msilo-") as tmp:
        workdir = Path(tmp)
        dbs = Databases(workdir)
        try:
            for backend in backends:
                for target in targets:
                    results[(target, backend)] = run_one(target, backend, args, sipp, dbs, workdir, rates)
        finally:
            dbs.close()

    print()
    print(f"{'backend':<8} {'server':<9} {'store: highest held':>20} {'achieved/s':>11} "
          f"{'dump ' + str(args.dump) + ': s':>12} {'msg/s':>8}")
    verdict = 0
    for backend in backends:
        for target in targets:
            r = results[(target, backend)]
            dump = "-" if r.dump is None else f"{r.dump:.2f}"
            per_s = "-" if not r.dump else f"{args.dump / r.dump:.0f}"
            print(f"{backend:<8} {target:<9} {best(r.steps):>18}/s {best_achieved(r.steps):>11.0f} "
                  f"{dump:>12} {per_s:>8}")
        kam, kp = results.get(("kamailio", backend)), results.get(("kampy", backend))
        if kam and kp and best(kam.steps):
            ratio = best(kp.steps) / best(kam.steps)
            print(f"{backend:<8} store kampy/Kamailio = {ratio:.0%} (target >= {TARGET_RATIO:.0%})")
            if ratio < TARGET_RATIO:
                verdict = 1
    return verdict


if __name__ == "__main__":
    sys.exit(main())
