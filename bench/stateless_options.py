"""Stateless OPTIONS -> 200 with sipp at rising rates, against kampy and Kamailio, in one run.

    python bench/stateless_options.py [--children 2] [--seconds 3] [--rates 1000,2000,...]

Both servers run tests/e2e/configs/options.cfg unchanged (sl_send_reply("200","OK") for OPTIONS),
with the same `children`, on 127.0.0.1, different ports. For each rate sipp sends rate x seconds
OPTIONS over one UDP socket; a rate is *held* when every call got its 200 (sipp exit 0, no failed
call) and sipp achieved at least 90% of the asked rate. Each server climbs until a rate is not held
(a run that was only slow is tried once more: bench/steps.py's climb, as the other benches).
Prints a table and the ratio kampy/Kamailio of the highest rates held (target: >= 25%).
"""
from __future__ import annotations

import argparse
import functools
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.kampy_process import CONFIGS, SCENARIOS, free_port, start_kampy, start_server, stop_process  # noqa: E402
from tests.e2e.sip import UDPClient, status_of  # noqa: E402
from tests.e2e.sipp_proxy import Run, sipp_counts  # noqa: E402

from steps import Step, best, climb  # noqa: E402  (bench/, the script's folder)

log = logging.getLogger("bench")
CFG = CONFIGS / "options.cfg"
SCENARIO = SCENARIOS / "options_200.xml"
DEFAULT_RATES = [1000, 2000, 5000, 7500, 10000, 15000, 20000, 30000, 40000]
TARGET_RATIO = 0.25


@contextmanager
def kampy_server(children: int, workdir: Path) -> Iterator[tuple[str, int]]:
    kampy = start_kampy(CFG, workdir, protos=("udp",), args=("-A", f"CHILDREN={children}"))
    try:
        yield kampy.addr
    finally:
        kampy.stop()


@contextmanager
def kamailio_server(children: int, workdir: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    cmd = ["kamailio", "-f", str(CFG), "-A", f"CHILDREN={children}", "-l", f"udp:127.0.0.1:{port}",
           "-DD", "-E", "-w", str(workdir), "-Y", str(workdir), "-m", "64", "-M", "8"]
    with open(workdir / "kamailio.log", "wb") as out:
        proc = start_server(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_answering(("127.0.0.1", port), proc)
        yield ("127.0.0.1", port)
    finally:
        stop_process(proc)


def _wait_answering(addr: tuple[str, int], proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    client = UDPClient(timeout=0.5)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"kamailio exited with {proc.returncode}")
        try:
            if status_of(client.request(addr)) == 200:
                return
        except TimeoutError:
            pass
    raise RuntimeError("kamailio does not answer OPTIONS")


def run_step(addr: tuple[str, int], rate: int, seconds: float, workdir: Path) -> Step:
    calls = int(rate * seconds)
    stat = workdir / f"stat-{addr[1]}-{rate}.csv"
    cmd = ["sipp", "-sf", str(SCENARIO), "-t", "u1", "-i", "127.0.0.1", "-p", str(free_port()),
           "-r", str(rate), "-m", str(calls), "-timeout", f"{int(seconds) + 15}s", "-nostdin",
           "-trace_stat", "-stf", str(stat), "-fd", "1", "-max_recv_loops", "10000",
           f"{addr[0]}:{addr[1]}"]
    started = time.monotonic()
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, timeout=seconds + 60)
    elapsed = time.monotonic() - started
    return Step(rate, calls, Run(*sipp_counts(stat), elapsed, result.returncode))


def print_table(results: dict[str, list[Step]]) -> None:
    rates = sorted({s.rate for steps in results.values() for s in steps})
    print(f"{'rate/s':>8} | " + " | ".join(f"{name:>24}" for name in results))
    for rate in rates:
        cells = []
        for steps in results.values():
            step = next((s for s in steps if s.rate == rate), None)
            word = "" if step is None else ("held" if step.held else "FAIL")
            cells.append(f"{'-':>24}" if step is None else
                         f"{word:>4} {step.achieved:8.0f}/s {step.failed:5d} fail")
        print(f"{rate:>8} | " + " | ".join(cells))
    held = {name: best(steps) for name, steps in results.items()}
    print("highest rate held with no failed call: " + ", ".join(f"{n} {r}/s" for n, r in held.items()))
    if held.get("kamailio"):
        ratio = held["kampy"] / held["kamailio"]
        print(f"kampy/kamailio = {ratio:.0%} (target >= {TARGET_RATIO:.0%})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rates", default=",".join(map(str, DEFAULT_RATES)))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for tool in ("sipp", "kamailio"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    rates = [int(r) for r in args.rates.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="kampy-bench-"))
    results: dict[str, list[Step]] = {}
    print(f"children={args.children}, {args.seconds:g} s per rate, CPUs: {os.cpu_count()}")
    with kampy_server(args.children, workdir) as addr:
        run = functools.partial(run_step, addr, seconds=args.seconds, workdir=workdir)
        results["kampy"] = climb("kampy", rates, run, log)
    with kamailio_server(args.children, workdir) as addr:
        run = functools.partial(run_step, addr, seconds=args.seconds, workdir=workdir)
        results["kamailio"] = climb("kamailio", rates, run, log)
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
