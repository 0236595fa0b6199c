"""kampy run on configs/options.cfg answers sipp's OPTIONS over UDP and TCP."""
from __future__ import annotations

import subprocess
from pathlib import Path

from tests.e2e.kampy_process import SCENARIOS, Kampy, free_port

CALLS = 200


def run_sipp(sipp: str, kampy: Kampy, scenario: str, tmp_path: Path, *, transport: str = "u1",
             calls: int = CALLS, rate: int = 200) -> subprocess.CompletedProcess[str]:
    """Run a scenario to completion; sipp exits 0 only if every call succeeded."""
    stat = tmp_path / f"{scenario}-{transport}.csv"
    cmd = [sipp, "-sf", str(SCENARIOS / scenario), "-t", transport, "-i", "127.0.0.1",
           "-p", str(free_port()), "-m", str(calls), "-r", str(rate), "-timeout", "30s", "-nostdin",
           "-trace_stat", "-stf", str(stat), "-fd", "1", f"{kampy.host}:{kampy.port}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)


def counts(tmp_path: Path, scenario: str, transport: str) -> dict[str, int]:
    """TotalCallCreated/SuccessfulCall/FailedCall (cumulative) from sipp's last statistics line."""
    lines = (tmp_path / f"{scenario}-{transport}.csv").read_text().splitlines()
    names, last = lines[0].split(";"), lines[-1].split(";")
    wanted = ("TotalCallCreated", "SuccessfulCall(C)", "FailedCall(C)")
    return {n: int(last[names.index(n)]) for n in wanted}


def test_sipp_options_over_udp_are_all_answered_200(sipp, options_kampy, tmp_path):
    result = run_sipp(sipp, options_kampy, "options_200.xml", tmp_path, transport="u1")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert counts(tmp_path, "options_200.xml", "u1") == {
        "TotalCallCreated": CALLS, "SuccessfulCall(C)": CALLS, "FailedCall(C)": 0}


def test_sipp_options_over_tcp_are_all_answered_200(sipp, options_kampy, tmp_path):
    result = run_sipp(sipp, options_kampy, "options_200.xml", tmp_path, transport="t1")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert counts(tmp_path, "options_200.xml", "t1")["SuccessfulCall(C)"] == CALLS


def test_sipp_max_forwards_0_over_udp_gets_483(sipp, options_kampy, tmp_path):
    result = run_sipp(sipp, options_kampy, "options_maxfwd0_483.xml", tmp_path, transport="u1", calls=50)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert counts(tmp_path, "options_maxfwd0_483.xml", "u1")["SuccessfulCall(C)"] == 50


def test_sipp_max_forwards_0_over_tcp_gets_483(sipp, options_kampy, tmp_path):
    result = run_sipp(sipp, options_kampy, "options_maxfwd0_483.xml", tmp_path, transport="t1", calls=50)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert counts(tmp_path, "options_maxfwd0_483.xml", "t1")["SuccessfulCall(C)"] == 50
