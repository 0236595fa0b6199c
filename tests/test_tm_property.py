"""Every transaction ends: tm driven in-process by random requests, retransmissions, CANCELs, ACKs,
replies of the next hops (also retransmitted, also for forgotten branches) and the passing of time,
with headers well formed or hostile. Once every timer has fired, tm's tables are empty. With a
module's callbacks on every event of every transaction, tm sends the same, each callback works, and
each transaction is destroyed once."""
from __future__ import annotations

import logging
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kampy.api as api
from kampy.runtime.context import Outgoing
from tests.tmkit import ALICE, BOB, CAROL, advance, reply_to, request, server

ROUTES = '''
request_route {
    if (method == "CANCEL" || method == "ACK") { t_relay(); exit; }
    if ($rU == "busy") { if (!t_newtran()) { exit; } t_reply("486", "Busy Here"); exit; }
    if ($rU == "idle") { t_newtran(); exit; }
    if ($rU == "fork") { append_branch("sip:carol@198.51.100.30:5090"); }
    t_on_failure("again");
    t_on_reply("seen");
    t_relay();
}
onreply_route[seen] { if (t_check_status("503")) { drop; } }
failure_route[again] {
    if (t_is_canceled()) { exit; }
    if (t_check_status("486|408")) { $ru = "sip:carol@198.51.100.30:5090"; t_relay(); exit; }
    if (t_check_status("500")) { t_reply("599", "From failure_route"); }
}
'''
PARAMS = 'modparam("tm", "fr_timer", 3000)\nmodparam("tm", "fr_inv_timer", 9000)\nloadmodule "textops"\n' \
    'loadmodule "corex"\n'

USERS = ("bob", "busy", "idle", "fork")
METHODS = ("INVITE", "MESSAGE", "OPTIONS", "BYE")
TO_HEADERS = ("<sip:bob@example.test>", "Watson, Thomas <sip:bob@example.test>",  # RFC 4475 baddn
              "<sip:bob@example.test>;tag=up1", "sip:bob@example.test;tag=", "<sip:@@>")
CODES = (100, 180, 183, 200, 202, 302, 404, 408, 486, 487, 500, 503, 603)

new_request = st.tuples(st.just("new"), st.sampled_from(METHODS), st.sampled_from(USERS),
                        st.integers(0, 5), st.sampled_from(TO_HEADERS))
retransmit = st.tuples(st.just("again"), st.integers(0, 50))
cancel = st.tuples(st.just("cancel"), st.integers(0, 50))
ack = st.tuples(st.just("ack"), st.integers(0, 50))
reply = st.tuples(st.just("reply"), st.integers(0, 50), st.sampled_from(CODES), st.booleans())
wait = st.tuples(st.just("wait"), st.sampled_from((0.1, 0.5, 1.0, 2.5, 4.0, 8.0)))
steps = st.lists(st.one_of(new_request, retransmit, cancel, ack, reply, wait), max_size=40)


# tests/support/modules/tmprobe registering every type tm runs on every new transaction
EVERY_TYPE = sum(getattr(api, name) for name in (
    "TMCB_RESPONSE_IN", "TMCB_E2EACK_IN", "TMCB_REQUEST_PENDING", "TMCB_REQUEST_FWDED", "TMCB_RESPONSE_FWDED",
    "TMCB_ON_FAILURE", "TMCB_REQUEST_OUT", "TMCB_RESPONSE_OUT", "TMCB_LOCAL_COMPLETED", "TMCB_ACK_NEG_IN",
    "TMCB_REQ_RETR_IN", "TMCB_LOCAL_RESPONSE_IN", "TMCB_DESTROY", "TMCB_E2ECANCEL_IN", "TMCB_E2EACK_RETR_IN",
    "TMCB_RESPONSE_READY", "TMCB_REQUEST_SENT", "TMCB_RESPONSE_SENT", "TMCB_ON_BRANCH_FAILURE"))
PROBE = (f'loadpath "{Path(__file__).parent / "support" / "modules"}"\nloadmodule "tmprobe"\n'
         f'modparam("tmprobe", "types", {EVERY_TYPE})\n')


class Run:
    """Plays steps against one server, remembering what was sent upstream and downstream."""

    def __init__(self, probe: bool = False) -> None:
        self.srv = server(ROUTES, PARAMS + (PROBE if probe else ""))
        self.sent: list[bytes] = []        # requests the caller sent
        self.relayed: list[Outgoing] = []  # requests tm sent to the next hops
        self.wire: list[Outgoing] = []     # everything tm sent

    def play(self, step: tuple) -> None:
        kind = step[0]
        if kind == "new":
            self._send(self._request(*step[1:]))
        elif kind == "again" and self.sent:
            self._send(self.sent[step[1] % len(self.sent)])
        elif kind in ("cancel", "ack") and self.sent:
            self._send(_derived(self.sent[step[1] % len(self.sent)], kind.upper()))
        elif kind == "reply" and self.relayed:
            out = self.relayed[step[1] % len(self.relayed)]
            self._collect(self.srv.handle(reply_to(out, step[2], "Reason", to_tag=f"d{step[3]:d}"),
                                          BOB if out.port == BOB.port else CAROL))
        elif kind == "wait":
            self._collect(advance(self.srv, step[1]))

    def _request(self, method: str, user: str, number: int, to: str) -> bytes:
        data = request(method, f"sip:{user}@198.51.100.20:5080", branch=f"z9hG4bK-{method}{user}{number}",
                       cseq=number + 1)
        return data.replace(b"To: <sip:bob@example.test>", b"To: " + to.encode()).replace(
            b"call-1@", f"call-{user}{number}@".encode())

    def _send(self, data: bytes) -> None:
        if data not in self.sent:
            self.sent.append(data)
        self._collect(self.srv.handle(data, ALICE))

    def _collect(self, out: list[Outgoing]) -> None:
        self.wire += out
        self.relayed += [o for o in out if not o.data.startswith(b"SIP/2.0 ")
                         and not o.data.startswith((b"ACK ", b"CANCEL "))]


def _derived(data: bytes, method: str) -> bytes:
    """A CANCEL or ACK for a request the caller sent: same Via branch and Call-ID, CSeq method changed."""
    head, _, _ = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    old = lines[0].split(b" ", 1)[0]
    lines[0] = method.encode() + lines[0][len(old):]
    lines = [line.replace(b" " + old, b" " + method.encode()) if line.startswith(b"CSeq:") else line
             for line in lines if not line.startswith(b"Content-Length")]
    return b"\r\n".join([*lines, b"Content-Length: 0", b"", b""])


def _live(run: Run) -> dict[str, int]:
    tm = run.srv.core.modules["tm"]
    return {"current": tm.rpc_stats()["current"], "table": len(tm.table),
            "err_internal": run.srv.core.stats.value("core:err_internal")}


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_every_transaction_ends_once_all_timers_fired(script: list[tuple]) -> None:
    run = Run()
    for step in script:
        run.play(step)
    advance(run.srv, 300, step=1.0)
    assert _live(run) == {"current": 0, "table": 0, "err_internal": 0}


class _Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_callbacks_on_every_event_change_nothing_and_each_transaction_ends_once(script: list[tuple]) -> None:
    plain, probed = Run(), Run(probe=True)
    failures = _Failures()
    logging.getLogger("kampy.tm").addHandler(failures)
    try:
        for run in (plain, probed):
            for step in script:
                run.play(step)
            run.wire += advance(run.srv, 300, step=1.0)
    finally:
        logging.getLogger("kampy.tm").removeHandler(failures)
    assert [o.data for o in probed.wire] == [o.data for o in plain.wire]
    assert _live(probed) == {"current": 0, "table": 0, "err_internal": 0}
    assert [m for m in failures.messages if "callback failed" in m] == []
    events = probed.srv.core.modules["tmprobe"].events
    assert len([e for e in events if e.type == "TMCB_DESTROY"]) == len(
        [e for e in events if e.type == "TMCB_REQUEST_IN"])
