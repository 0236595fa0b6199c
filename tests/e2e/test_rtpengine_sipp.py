"""sipp calls (INVITE with SDP, 200 with SDP, ACK, BYE) through Kamailio 5.6 and kampy on
configs/rtpengine.cfg with the real rtpengine daemon: every call succeeds and the daemon gets, for
each, one offer, one answer and one delete. bench/rtpengine_calls.py climbs the rate of the same."""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.sipp_rtpengine import call_run, callee, proxy, relay

SIPP = shutil.which("sipp")
CALLS = 30


@pytest.mark.skipif(SIPP is None, reason="sipp is not installed (Debian package sip-tester)")
@pytest.mark.parametrize("kind", ["kamailio", "kampy"])
def test_calls_through_rtpengine(kind: str, tmp_path: Path) -> None:
    assert SIPP is not None
    with relay(tmp_path, ports=400, log_level=6) as daemon, proxy(kind, tmp_path, daemon, 2) as server, \
            callee(SIPP, tmp_path) as uas:
        run = call_run(SIPP, server.addr, uas, tmp_path, calls=CALLS, rate=20, timeout=30)
        assert (run.exit_code, run.succeeded, run.failed) == (0, CALLS, 0), run.output
        per_call = Counter(daemon.commands())
    by_command = Counter(command for command, _ in per_call.elements())
    assert by_command == {"offer": CALLS, "answer": CALLS, "delete": CALLS}, per_call
    assert len({callid for _, callid in per_call}) == CALLS
