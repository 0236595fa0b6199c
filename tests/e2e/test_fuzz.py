"""10,000 mutated datagrams do not stop kampy from answering nor make it grow.

Runs in a private network namespace (`unshare -n`) so that a reply to a forged Via can never leave
the machine."""
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
                             "--count", "10000", "--dir", str(directory)],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_valid_options_is_answered_after_10000_mutated_datagrams(fuzz_result):
    assert fuzz_result["final_answered"]
    assert fuzz_result["sync_misses"] == 0


def test_kampy_stays_up_and_stops_cleanly_after_mutated_datagrams(fuzz_result):
    assert fuzz_result["alive"]
    assert fuzz_result["exit_code"] == 0


def test_mutated_datagrams_log_no_internal_error(fuzz_result):
    assert fuzz_result["errors"] == []


def test_memory_does_not_grow_with_mutated_datagrams(fuzz_result):
    growth = fuzz_result["rss_after_kib"] - fuzz_result["rss_before_kib"]
    assert growth < RSS_GROWTH_LIMIT_KIB, fuzz_result
