"""The long fuzz run: 1,000,000 mutated REGISTER/MESSAGE/INVITE/CANCEL/OPTIONS datagrams and RFC 4475
messages against the stateful proxy of tests/e2e/configs/fuzz.cfg, at a bounded rate, in a private
network namespace (`unshare -n`), with a liveness probe every --probe-every datagrams.

    python bench/fuzz.py [--count 1000000] [--rate 500] [--probe-every 250] [--children 2]
                         [--probe-timeout 0.5] [--maxbuffer 4194304] [--target kampy|kamailio]

--rate is a ceiling: the sender does not make up lost time with a burst. A probe not answered within
--probe-timeout counts as missed and costs the run no more than that. The harness's progress (every
50,000 datagrams) goes to stderr as it runs.

It runs tests/e2e/fuzz_in_netns.py (the harness the short test uses) and checks its figures against
the targets of issue 19: 0 tracebacks, every probe answered within 50 ms, RSS growth under 10 MB,
0 live transactions at the end. Prints the harness's JSON and one line per target; exits 1 when one
is missed. --target kamailio runs Kamailio 5.6 with the same config and traffic (for comparison; the
targets are kampy's). The info lines split the growth: anonymous memory and the shared store's
pages counted once (proportional set sizes), the shared memory in use (shmem:real_used_size) and
the AoRs the fuzzer's REGISTERs left registered.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RSS_LIMIT_KIB = 10 * 1024
PROBE_LIMIT_MS = 50


def targets(result: dict) -> dict[str, bool]:
    growth = result["rss_after_kib"] - result["rss_before_kib"]
    return {
        "0 tracebacks, 0 internal errors": result["tracebacks"] == 0 and not result["internal_errors"]
        and result["err_internal"] == 0,
        f"every probe answered within {PROBE_LIMIT_MS} ms": result["probes_missed"] == 0
        and result["probe_ms"]["max"] <= PROBE_LIMIT_MS,
        f"RSS growth under 10 MB ({growth} KiB)": growth < RSS_LIMIT_KIB,
        "0 live transactions at the end": result["transactions_left"] == 0
        and result["tm_stats"]["current"] == 0,
        "kampy up and stopped cleanly": result["alive"] and result["exit_code"] == 0,
    }


def growth(result: dict) -> list[str]:
    """The memory figures beside the RSS target, in KiB."""
    before, after = result["pss_before_kib"], result["pss_after_kib"]
    rss_before, rss_after = result["memory_before_kib"], result["memory_after_kib"]
    return [f"anonymous memory: RSS {rss_after['anon'] - rss_before['anon']:+d} KiB, "
            f"PSS {after['anon'] - before['anon']:+d} KiB",
            f"shared pages: RSS {rss_after['shmem'] - rss_before['shmem']:+d} KiB (counted in each process), "
            f"PSS {after['shmem'] - before['shmem']:+d} KiB (counted once)",
            f"shmem:real_used_size {result['shm_real_used_before'] // 1024} -> "
            f"{result['shm_real_used_after'] // 1024} KiB; {result['aors']} AoRs registered at the end"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--probe-every", type=int, default=250)
    parser.add_argument("--children", type=int, default=2)
    parser.add_argument("--probe-timeout", type=float, default=0.5)
    parser.add_argument("--maxbuffer", type=int, default=4 << 20)
    parser.add_argument("--target", choices=("kampy", "kamailio"), default="kampy")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="kampy-fuzz-"))
    cmd = ["unshare", "-n", sys.executable, "-m", "tests.e2e.fuzz_in_netns", "--count", str(args.count),
           "--rate", str(args.rate), "--probe-every", str(args.probe_every), "--children", str(args.children),
           "--probe-timeout", str(args.probe_timeout), "--maxbuffer", str(args.maxbuffer),
           "--dir", str(directory), "--target", args.target]
    timeout = args.count / args.rate * 3 + 600
    proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True, timeout=timeout)
    if proc.returncode != 0:
        return 1
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(result, indent=1))
    met = targets(result)
    for name, ok in met.items():
        print(f"{'met   ' if ok else 'MISSED'} {name}")
    print(f"info   {result['udp_receive_drops']} datagrams dropped by the server's full receive buffer")
    for line in growth(result):
        print(f"info   {line}")
    print(f"log: {directory}")
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
