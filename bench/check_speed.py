"""Time `kampy check --syntax-only` beside `kamailio -c` on the same config, in one run.

    python bench/check_speed.py [CFG] [--runs N]

Each tool runs as a fresh process (as a user runs it), N times; the median wall time is reported.
kampy's target on the stock kamailio.cfg: under 0.3 s with a warm grammar cache.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

STOCK = "/etc/kamailio/kamailio.cfg"
TARGET_SECONDS = 0.3


def timed(cmd: list[str], runs: int) -> tuple[float, int]:
    times = []
    code = 0
    for _ in range(runs):
        start = time.perf_counter()
        code = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              cwd="/tmp").returncode
        times.append(time.perf_counter() - start)
    return statistics.median(times), code


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("cfg", nargs="?", default=STOCK)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    kampy = [sys.executable, "-m", "kampy", "check", "--syntax-only", args.cfg]
    subprocess.run(kampy, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # warm the grammar cache
    k_time, k_code = timed(kampy, args.runs)
    print(f"kampy check --syntax-only  {k_time * 1000:7.1f} ms  (exit {k_code})")
    if shutil.which("kamailio"):
        m_time, m_code = timed(["kamailio", "-c", "-f", args.cfg], args.runs)
        print(f"kamailio -c                {m_time * 1000:7.1f} ms  (exit {m_code})")
        print(f"ratio kampy/kamailio       {k_time / m_time:7.2f}")
    else:
        print("kamailio not installed: apt-get install kamailio")
    verdict = "meets" if k_time < TARGET_SECONDS else "MISSES"
    print(f"kampy {verdict} the {TARGET_SECONDS:.1f} s target")
    return 0 if k_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
