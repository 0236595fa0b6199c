"""What the throughput benches share: one step of a climb through rising rates, when a rate is
*held* (sipp exited 0, every call succeeded, none failed, and at least 90% of the asked rate was
achieved), and the climb itself."""
from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.sipp_proxy import Run


@dataclass(frozen=True)
class Step:
    rate: int      # calls per second asked of sipp
    calls: int     # calls asked
    run: Run       # what sipp did

    @property
    def ok(self) -> int:
        return self.run.succeeded

    @property
    def failed(self) -> int:
        return self.run.failed

    @property
    def achieved(self) -> float:
        return self.run.rate

    @property
    def held(self) -> bool:
        r = self.run
        return r.exit_code == 0 and r.failed == 0 and r.succeeded == self.calls and r.rate >= 0.9 * self.rate


def best(steps: list[Step]) -> int:
    """The highest rate held."""
    return max((s.rate for s in steps if s.held), default=0)


def best_achieved(steps: list[Step]) -> float:
    """The rate sipp achieved at the highest rate held."""
    return max((s.achieved for s in steps if s.held), default=0.0)


RETRY_PAUSE = 1.0   # seconds before a rate that was only slow is tried once more
STEP_PAUSE = 0.5    # seconds between two rates


def climb(label: str, rates: list[int], run: Callable[[int], Step], log: logging.Logger) -> list[Step]:
    """Run `run(rate)` for each rate in turn until one is not held; a rate that was only slow (no
    call failed) is tried once more. Logs a line per rate under `label`."""
    steps: list[Step] = []
    for rate in rates:
        step = run(rate)
        if not step.held and step.failed == 0:
            time.sleep(RETRY_PAUSE)
            step = run(rate)
        steps.append(step)
        log.info("%-18s rate %6d: %6d/%6d ok, %4d failed, %7.0f/s achieved, %s", label, rate, step.ok,
                 step.calls, step.failed, step.achieved, "held" if step.held else "NOT held")
        if not step.held:
            break
        time.sleep(STEP_PAUSE)
    return steps


def climb_arguments(parser: argparse.ArgumentParser, rates: Sequence[int]) -> None:
    """The options every climbing bench takes: workers, seconds per rate, rates, calls per rate, targets."""
    parser.add_argument("--children", type=int, default=4, help="workers of both servers (-n)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of traffic per rate")
    parser.add_argument("--rates", default=",".join(map(str, rates)))
    parser.add_argument("--max-calls", type=int, default=20000, help="calls per rate at most")
    parser.add_argument("--targets", default="kamailio,kampy")


def parse_climb(parser: argparse.ArgumentParser,
                log: logging.Logger) -> tuple[argparse.Namespace, str | None]:
    """The parsed options and sipp's path (None, logged, when sipp is missing); logs to stdout."""
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    sipp = shutil.which("sipp")
    if sipp is None:
        log.error("sipp is not installed (Debian package sip-tester)")
    return args, sipp


TARGET_RATIO = 0.25  # kampy's highest held rate over Kamailio's, the throughput benches' target


def report(results: dict[str, list[Step]], targets: list[str], rates: list[int], log: logging.Logger,
           target_ratio: float = TARGET_RATIO) -> int:
    """Logs each server's highest held rate and kampy/Kamailio; 1 when the ratio misses its target
    or Kamailio held nothing."""
    log.info("")
    log.info("%-8s %14s %14s", "server", "highest held", "achieved/s")
    for target in targets:
        steps = results.get(target, [])
        log.info("%-8s %14d %14.0f", target, best(steps), best_achieved(steps))
    kam, kp = best(results.get("kamailio", [])), best(results.get("kampy", []))
    if not kam or "kampy" not in results:
        return 0 if kam or "kamailio" not in targets else 1
    ratio = kp / kam
    log.info("kampy/Kamailio = %.0f%% (target >= %.0f%%)", 100 * ratio, 100 * target_ratio)
    if kam == rates[-1]:
        log.info("Kamailio held the highest rate tried: it may hold more, so the ratio is an upper bound "
                 "(add higher --rates)")
    return 0 if ratio >= target_ratio else 1


def call_step(sipp: str, server: tuple[str, int], uas: tuple[str, int], workdir: Path, seconds: float,
              max_calls: int, timeout: float, rate: int) -> Step:
    """One rate of INVITE/200/ACK/BYE calls from sipp through `server` to the sipp callee `uas`."""
    from tests.e2e.sipp_rtpengine import call_run
    calls = max(1, min(max_calls, int(rate * seconds)))
    return Step(rate, calls, call_run(sipp, server, uas, workdir, calls=calls, rate=rate, timeout=timeout))
