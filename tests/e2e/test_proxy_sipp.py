"""sipp through proxy.cfg: REGISTERs, and MESSAGEs relayed from a sipp caller to a sipp callee;
against Kamailio 5.6 and kampy (1 and 4 workers)."""
from __future__ import annotations

from tests.e2e.sipp_proxy import message_run, register_run

CALLS = 100


def test_sipp_registers_are_all_answered_200(sipp, proxy, tmp_path):
    run = register_run(sipp, proxy.addr, tmp_path, calls=CALLS, rate=100)
    assert (run.succeeded, run.failed, run.exit_code) == (CALLS, 0, 0), run.output


def test_sipp_messages_are_all_relayed_to_the_sipp_callee_and_answered_200(sipp, proxy, tmp_path):
    run = message_run(sipp, proxy.addr, tmp_path, calls=CALLS, rate=100)
    assert (run.succeeded, run.failed, run.exit_code) == (CALLS, 0, 0), run.output
