"""Stateful throughput with sipp, kampy beside Kamailio in one run: REGISTERs, and MESSAGEs relayed
statefully from a sipp caller through the proxy to a sipp callee (t_relay, one transaction each).

    python bench/stateful.py [--children 4] [--seconds 3] [--rates 200,500,...] [--max-calls 20000]
                             [--only register|message] [--targets kamailio,kampy]

Both servers run tests/e2e/configs/proxy.cfg unchanged (registrar + tm relay + failure_route) with
the same number of workers, on 127.0.0.1, different ports. For each rate sipp sends rate x seconds
calls (at most --max-calls, each run bounded by a sipp -timeout); a rate is *held* when every call
succeeded (sipp exit 0, no failed call) and sipp achieved at least 90% of the asked rate. Each server
climbs until a rate is not held (a run that was only slow is tried once more). Logs a table and
the ratio kampy/Kamailio of the highest rates held (target: >= 25%).
"""
from __future__ import annotations

import argparse
import functools
import logging
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.proxy import NotAvailable, start_proxy  # noqa: E402
from tests.e2e.sipp_proxy import message_run, register_run  # noqa: E402

from steps import Step, best, best_achieved, climb, climb_arguments, parse_climb  # noqa: E402  (bench/, the script's folder)

log = logging.getLogger("bench")
DEFAULT_RATES = [100, 200, 500, 1000, 2000, 2500, 3000, 4000, 5000, 6000, 7500, 10000, 15000, 20000]
TARGET_RATIO = 0.25
SIPP_TIMEOUT = 30.0  # seconds one sipp run may take at most


def run_step(kind: str, sipp: str, addr: tuple[str, int], workdir: Path, seconds: float, max_calls: int,
             rate: int) -> Step:
    """One rate of the climb: `rate` x `seconds` calls (at most `max_calls`)."""
    fn = register_run if kind == "register" else message_run
    calls = max(1, min(max_calls, int(rate * seconds)))
    return Step(rate, calls, fn(sipp, addr, workdir, calls=calls, rate=rate, timeout=SIPP_TIMEOUT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    climb_arguments(parser, DEFAULT_RATES)
    parser.add_argument("--only", choices=("register", "message"))
    args, sipp = parse_climb(parser, log)
    if sipp is None:
        return 2
    rates = [int(r) for r in args.rates.split(",")]
    kinds = [args.only] if args.only else ["register", "message"]
    targets = args.targets.split(",")
    results: dict[tuple[str, str], list[Step]] = {}
    with tempfile.TemporaryDirectory(prefix="kampy-bench-") as tmp:
        workdir = Path(tmp)
        for target in targets:
            server_name = f"{target}-{args.children}"
            try:
                proxy = start_proxy(server_name, workdir)
            except NotAvailable as exc:
                log.error("%s cannot run proxy.cfg: %s", target, exc)
                continue
            try:
                for kind in kinds:
                    run = functools.partial(run_step, kind, sipp, proxy.addr, workdir, args.seconds,
                                            args.max_calls)
                    results[(target, kind)] = climb(f"{target} {kind}", rates, run, log)
            finally:
                proxy.stop()
    log.info("")
    log.info("%-9s %-8s %14s %14s", "kind", "server", "highest held", "achieved/s")
    verdict = 0
    for kind in kinds:
        for target in targets:
            steps = results.get((target, kind), [])
            log.info("%-9s %-8s %14d %14.0f", kind, target, best(steps), best_achieved(steps))
        kam, kp = best(results.get(("kamailio", kind), [])), best(results.get(("kampy", kind), []))
        if kam and ("kampy", kind) in results:
            ratio = kp / kam
            log.info("%-9s kampy/Kamailio = %.0f%% (target >= %.0f%%)", kind, 100 * ratio, 100 * TARGET_RATIO)
            if kam == rates[-1]:
                log.info("%-9s Kamailio held the highest rate tried: it may hold more, so the ratio is "
                         "an upper bound (add higher --rates)", kind)
            if ratio < TARGET_RATIO:
                verdict = 1
    return verdict


if __name__ == "__main__":
    sys.exit(main())
