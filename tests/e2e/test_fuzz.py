"""3,000 mutated datagrams and RFC 4475 messages at 500/s against a stateful proxy (configs/fuzz.cfg)
do not stop kampy from answering, make it grow, raise, or leave a transaction behind.

Runs in a private network namespace (`unshare -n`) so that a reply to a forged Via can never leave
the machine. bench/fuzz.py runs the same harness over 1,000,000 datagrams."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.kampy_process import REPO

RSS_GROWTH_LIMIT_KIB = 8 * 1024  # for the supervisor and its workers together


def _unshare_works() -> str | None:
    try:
        result = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True,
                                text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare cannot run here: {exc}"
    if result.returncode != 0:
        return f"unshare -n is not permitted here: {result.stderr.strip()}"
    return None


@pytest.fixture(scope="module")
def fuzz_result(tmp_path_factory) -> dict:
    reason = _unshare_works()
    if reason:
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp("fuzz")
    result = subprocess.run(["unshare", "-n", sys.executable, "-m", "tests.e2e.fuzz_in_netns",
                             "--count", "3000", "--rate", "500", "--probe-every", "30",
                             "--dir", str(directory)],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_liveness_probe_is_answered_during_the_fuzzing(fuzz_result):
    assert fuzz_result["probes"] >= 100 and fuzz_result["probes_missed"] == 0, fuzz_result
    assert fuzz_result["final_answered"]


def test_liveness_probes_are_answered_quickly_during_the_fuzzing(fuzz_result):
    # bench/fuzz.py holds the 50 ms figure for every probe over 1,000,000 datagrams; here, on a machine
    # shared with other test runs, the median and a bound no scheduler hiccup reaches
    assert fuzz_result["probe_ms"]["median"] < 10 and fuzz_result["probe_ms"]["max"] < 500, fuzz_result


def test_kampy_stays_up_and_stops_cleanly_after_mutated_datagrams(fuzz_result):
    assert fuzz_result["alive"]
    assert fuzz_result["exit_code"] == 0


def test_mutated_datagrams_cause_no_traceback_nor_internal_error(fuzz_result):
    assert fuzz_result["tracebacks"] == 0 and fuzz_result["internal_errors"] == [], fuzz_result
    assert fuzz_result["err_internal"] == 0


def test_no_transaction_is_left_once_the_timers_ran_out(fuzz_result):
    assert fuzz_result["transactions_left"] == 0, fuzz_result
    assert fuzz_result["tm_stats"]["current"] == 0 and fuzz_result["tm_stats"]["created"] > 0


def test_memory_does_not_grow_with_mutated_datagrams(fuzz_result):
    growth = fuzz_result["rss_after_kib"] - fuzz_result["rss_before_kib"]
    assert growth < RSS_GROWTH_LIMIT_KIB, fuzz_result
