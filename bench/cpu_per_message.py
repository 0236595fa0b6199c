"""CPU time per stored offline message: samples/msilo.cfg (MESSAGE -> m_store -> 202 -> notice),
measured as the utime+stime of the server's processes (master and workers, all threads) rather than
as throughput, so that the figure holds on a busy machine.

    python bench/cpu_per_message.py [--backend mysql|sqlite] [--targets kampy,kamailio] [--calls 3000]
                                    [--rate 300] [--warmup 300] [--repeat 1] [--children 2]
                                    [--profile out.txt]

For each target: a fresh database (a private MariaDB, or an SQLite file), the server started as
bench/msilo.py starts it, a sipp sink answering the notices, `--warmup` MESSAGEs, then `--repeat`
runs of `--calls` MESSAGEs at `--rate`/s with sipp; each run prints the CPU ms per MESSAGE of the
server's processes (and of MariaDB's). `--profile FILE` runs py-spy (raw, --subprocesses, --gil: only
threads holding the GIL, so waits on sockets are left out) on kampy during the first measured run.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import msilo as bench  # noqa: E402

from tests.e2e import msilo_sample  # noqa: E402
from tests.e2e.kampy_process import process_stats  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    parents: dict[int, list[int]] = {}
    for pid, fields in process_stats():
        parents.setdefault(int(fields[1]), []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, ()))
    return out


def cpu_times(pids: list[int]) -> tuple[float, float]:
    """(utime, stime) seconds of `pids`, all threads."""
    user = system = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user, system = user + int(fields[11]), system + int(fields[12])
    return user / TICK, system / TICK


def cpu_seconds(pids: list[int]) -> float:
    return sum(cpu_times(pids))


def measure(target: str, args: argparse.Namespace, sipp: str, dbs: bench.Databases,
            workdir: Path) -> list[float]:
    db_url = dbs.fresh(args.backend, f"cpu_{target}_{uuid.uuid4().hex[:6]}")
    server = msilo_sample.start(target, workdir, db_url, children=args.children, shm_mb=256)
    sink = bench.Sink(sipp, workdir)
    results = []
    try:
        if args.warmup:
            bench.store_step(sipp, server.addr, sink, args.rate, args.warmup, workdir)
        pids = tree(server.pid)
        mysqld = [dbs.mariadb.process.pid] if dbs.mariadb is not None else []
        for i in range(args.repeat):
            time.sleep(0.5)
            spy = None
            if args.profile and i == 0 and target == "kampy":
                spy = subprocess.Popen(["py-spy", "record", "--subprocesses", "-f", "raw", "-r", "250",
                                        "--gil", "-o", args.profile, "--pid", str(server.pid)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1.0)
            (u0, s0), db_before = cpu_times(pids), cpu_seconds(mysqld)
            step = bench.store_step(sipp, server.addr, sink, args.rate, args.calls, workdir)
            time.sleep(0.3)  # the last notices' 200s
            (u1, s1), db_spent = cpu_times(pids), cpu_seconds(mysqld) - db_before
            spent = (u1 - u0) + (s1 - s0)
            if spy is not None:
                spy.send_signal(2)
                spy.wait(30)
            per = 1000 * spent / max(1, step.ok)
            results.append(per)
            print(f"{target:<9} {args.backend}: {step.ok}/{args.calls} ok, {step.failed} failed, "
                  f"{step.achieved:6.0f}/s: {per:.3f} ms CPU/MESSAGE (server; "
                  f"{1000 * (s1 - s0) / max(1, step.ok):.3f} system), "
                  f"{1000 * db_spent / max(1, step.ok):.3f} ms (mariadb)", flush=True)
    finally:
        sink.stop()
        server.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="mysql", choices=("mysql", "sqlite"))
    parser.add_argument("--targets", default="kampy")
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rate", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--children", type=int, default=2)
    parser.add_argument("--profile", help="py-spy raw output file (kampy, first run)")
    args = parser.parse_args()
    sipp = shutil.which("sipp")
    if sipp is None:
        print("sipp is not installed", file=sys.stderr)
        return 2
    summary = {}
    with tempfile.TemporaryDirectory(prefix="kampy-bench-cpu-") as tmp:
        workdir = Path(tmp)
        dbs = bench.Databases(workdir)
        try:
            for target in args.targets.split(","):
                summary[target] = measure(target, args, sipp, dbs, workdir)
        finally:
            dbs.close()
    for target, values in summary.items():
        print(f"{target:<9} {args.backend}: median {sorted(values)[len(values) // 2]:.3f} ms CPU/MESSAGE "
              f"over {len(values)} run(s) of {args.calls} at {args.rate}/s")
    if "kampy" in summary and "kamailio" in summary:
        kp, km = (sorted(v)[len(v) // 2] for v in (summary["kampy"], summary["kamailio"]))
        print(f"CPU ratio kampy/Kamailio: {kp / km:.2f} (throughput ratio ~ {km / kp:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
