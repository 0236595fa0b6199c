"""acc's CDRs from the dialog module: a record per dialog when its BYE is answered (or it fails,
with cdr_on_failed), logged and written to the acc_cdrs table, with start, end and duration kept
as dialog variables, cdr_extra values, cdr_skip and cdr_start_on_confirmed."""
from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from kampy.api import Database
from kampy.testing import Harness
from tests.test_mod_dialog import BOB, MANAGE, proxy

CDR = '''
loadmodule "acc.so"
modparam("acc", "cdr_enable", 1)
modparam("acc", "cdr_extra", "caller=$fU;callee=$tU")
%s
'''


def load(params: str = "", invite: str = MANAGE, **modparams: Any) -> Harness:
    return Harness.load(proxy(CDR % params, invite), db=None, modparams=modparams)


def cdr_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.name == "kampy.acc"]
    return [line for line in lines if line.startswith("start_time=")]


def test_an_answered_call_gets_a_cdr_when_its_bye_is_answered(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="kampy.acc")
    with load() as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        call = sip.invite(BOB)
        call.ack()
        sip.advance(65)
        assert cdr_lines(caplog) == []
        call.bye()
    (line,) = cdr_lines(caplog)
    m = re.fullmatch(r"start_time=(\d+\.\d{3}); end_time=(\d+\.\d{3}); duration=(\d+\.\d{3}); "
                     r"caller=alice; callee=bob", line)
    assert m is not None, line
    assert float(m.group(2)) - float(m.group(1)) == pytest.approx(65, abs=0.01)
    assert m.group(3) == "65.000"


def test_a_failed_call_gets_a_cdr_unless_cdr_on_failed_is_0(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="kampy.acc")
    with load() as sip:
        sip.ua(BOB, "192.0.2.20:5062", answer=486)
        sip.invite(BOB)
    assert len(cdr_lines(caplog)) == 1
    caplog.clear()
    with load('modparam("acc", "cdr_on_failed", 0)') as sip:
        sip.ua(BOB, "192.0.2.20:5062", answer=486)
        sip.invite(BOB)
    assert cdr_lines(caplog) == []


def test_cdr_skip_set_in_the_dialog_means_no_cdr(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="kampy.acc")
    invite = MANAGE + 'if ($rU == "skip") { $dlg_var(nocdr) = "yes"; }'
    with load('modparam("acc", "cdr_skip", "nocdr")', invite) as sip:
        for user in ("skip", "bob"):
            sip.ua(f"sip:{user}@example.test", "192.0.2.20:5062")
            call = sip.invite(f"sip:{user}@example.test")
            call.ack()
            call.bye()
    assert [line.rsplit("callee=", 1)[1] for line in cdr_lines(caplog)] == ["bob"]


def test_cdr_start_on_confirmed_starts_at_the_ack(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="kampy.acc")
    with load('modparam("acc", "cdr_start_on_confirmed", 1)') as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        call = sip.invite(BOB)
        sip.advance(3)
        call.ack()
        sip.advance(10)
        call.bye()
    (line,) = cdr_lines(caplog)
    assert "duration=10.000" in line


def test_the_cdr_is_a_row_of_acc_cdrs(db: Database, db_url: str) -> None:
    with load('modparam("acc", "cdrs_table", "acc_cdrs")\nmodparam("acc", "cdr_extra", "")',
              acc={"db_url": db_url}) as sip:
        sip.ua(BOB, "192.0.2.20:5062")
        call = sip.invite(BOB)
        call.ack()
        sip.advance(42)
        call.bye()
    rows = db.query("acc_cdrs", ["start_time", "end_time", "duration"])
    assert len(rows) == 1
    start, end, duration = rows[0]
    assert float(duration) == pytest.approx(42.0)
    assert str(end) > str(start)
