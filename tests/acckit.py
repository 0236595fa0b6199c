"""Helpers for the acc tests: a proxy config accounting with acc, run in-process (tests/tmkit.py),
and the acc lines it logs."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from kampy.runtime.server import Server
from tests.tmkit import ALICE, BOB, reply_to, request, server

FLAGS = '''
modparam("acc", "log_flag", 1)
modparam("acc", "log_missed_flag", 2)
modparam("acc", "failed_transaction_flag", 3)
'''
# INVITE and BYE are accounted, INVITE's misses and failures too
RELAY = '''
request_route {
    if ($rm == "INVITE" || $rm == "BYE" || $rm == "CANCEL") { setflag(1); setflag(3); }
    if ($rm == "INVITE") { setflag(2); }
    t_relay();
}
'''


@contextmanager
def acc_server(params: str = FLAGS, routes: str = RELAY, header: str = "") -> Iterator[Server]:
    srv = server(routes, header + 'loadmodule "acc"\n' + params)
    try:
        yield srv
    finally:
        srv.shutdown()


def acc_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.name == "kampy.acc"]
    return [line for line in lines if line.startswith("ACC: ")]


def call(srv: Server, code: int, reason: str, *, ruri: str = "sip:bob@198.51.100.20:5080", cseq: int = 1,
         branch: str = "z9hG4bK-a1", extra: str = "") -> list:
    """An INVITE relayed to BOB and BOB's final reply; what the server sent back."""
    invite = srv.handle(request("INVITE", ruri, branch=branch, cseq=cseq, extra=extra), ALICE)[1]
    return srv.handle(reply_to(invite, code, reason), BOB)


def record(text: str, **attrs: str) -> str:
    """The line acc logs for the INVITE of tmkit.request answered by BOB, with changes."""
    values = {"method": "INVITE", "from_tag": "al1", "to_tag": "bt1", "call_id": "call-1@192.0.2.10",
              "code": "200", "reason": "OK"}
    values.update(attrs)
    return text + "timestamp=1800000000" + "".join(f";{k}={v}" for k, v in values.items())


def capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="kampy.acc")
