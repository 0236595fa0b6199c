"""tm's callback API beyond the events of proxied transactions: what register_tmcb refuses, the
order callbacks run in, a callback that fails, the callbacks of local transactions, t_gett and the
transaction other modules see, and an end-to-end ACK that reaches another worker."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.api import (
    TMCB_DLG,
    TMCB_E2EACK_IN,
    TMCB_LOCAL_COMPLETED,
    TMCB_LOCAL_F,
    TMCB_LOCAL_RESPONSE_IN,
    TMCB_ON_FAILURE_RO,
    TMCB_REQUEST_IN,
    TMCB_REQUEST_SENT,
    TMCB_RESPONSE_IN,
    TMCB_RESPONSE_OUT,
    TYPE_REQUEST,
    TmBranch,
    TmTransaction,
)
from kampy.interfaces import protocol_problems
from kampy.runtime.context import Handoff
from kampy.runtime.server import Server
from tests.tmkit import ALICE, BOB, advance, lines, reply_to, request, server, two_workers

PROBE_DIR = Path(__file__).parent / "support" / "modules"
RELAY = "request_route { t_relay(); }"
PROBE = f'loadpath "{PROBE_DIR}"\nloadmodule "tmprobe"\n'


def probed(routes: str = RELAY, params: str = "", **kw) -> tuple[Server, object]:  # type: ignore[no-untyped-def]
    srv = server(routes, PROBE + params, **kw)
    return srv, srv.core.modules["tmprobe"]


def never(t, kind, params) -> None:  # type: ignore[no-untyped-def]
    raise AssertionError("never called")


# ------------------------------------------------------------------ register_tmcb


@pytest.mark.parametrize("types", [TMCB_REQUEST_IN | TMCB_RESPONSE_IN, TMCB_DLG, TMCB_ON_FAILURE_RO, 0,
                                   1 << 26])
def test_register_tmcb_refuses_a_mask_tm_cannot_serve(types: int, caplog: pytest.LogCaptureFixture) -> None:
    tm = server(RELAY).core.offered("tm")
    assert tm.register_tmcb(None, None, types, never) == -5
    assert "register_tmcb" in caplog.text


def test_register_tmcb_needs_a_message_or_a_transaction() -> None:
    tm = server(RELAY).core.offered("tm")
    assert tm.register_tmcb(None, None, TMCB_RESPONSE_OUT, never) == -5
    assert tm.register_tmcb(None, object(), TMCB_RESPONSE_OUT, never) == -5


def test_register_tmcb_refuses_what_is_not_callable() -> None:
    tm = server(RELAY).core.offered("tm")
    assert tm.register_tmcb(None, None, TMCB_REQUEST_IN, "not a function") == -5


def test_callbacks_of_a_transaction_run_newest_first() -> None:
    srv, probe = probed()
    calls: list[str] = []
    tm = srv.core.offered("tm")
    tm.register_tmcb(None, None, TMCB_REQUEST_IN, lambda t, k, p: [
        tm.register_tmcb(None, t, TMCB_RESPONSE_IN, lambda *a, name=name: calls.append(name))
        for name in ("first", "second")])
    fwd = srv.handle(request(), ALICE)[0]
    srv.handle(reply_to(fwd, 200, "OK"), BOB)
    assert calls == ["second", "first"]


def test_a_failing_callback_is_logged_and_the_transaction_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    srv, probe = probed()
    tm = srv.core.offered("tm")
    tm.register_tmcb(None, None, TMCB_REQUEST_IN,
                     lambda t, k, p: tm.register_tmcb(None, t, TMCB_RESPONSE_IN, never))
    fwd = srv.handle(request(), ALICE)[0]
    assert lines(srv.handle(reply_to(fwd, 200, "OK"), BOB)) == ["SIP/2.0 200 OK"]
    assert "a TMCB_RESPONSE_IN callback failed" in caplog.text


# ------------------------------------------------------------------ local transactions


def _message(srv: Server, **kw) -> int:  # type: ignore[no-untyped-def]
    return srv.core.offered("tm").t_request("MESSAGE", "sip:bob@198.51.100.20:5080", "sip:bob@example.test",
                                            "sip:alice@example.test", body=b"hi", **kw)


LOCAL = 'modparam("tmprobe", "request_in", 0)\nmodparam("tmprobe", "local_request_in", 1)\n'


def test_local_request_in_runs_for_a_request_tm_sends_itself_before_it_goes_out() -> None:
    srv, probe = probed(params=LOCAL + f'modparam("tmprobe", "types", {TMCB_REQUEST_SENT})\n')
    _message(srv)
    assert [(e.type, e.method, e.req, e.code, e.flags) for e in probe.events] == [
        ("TMCB_LOCAL_REQUEST_IN", "MESSAGE", None, 0, 0),
        ("TMCB_REQUEST_SENT", "MESSAGE", None, TYPE_REQUEST, TMCB_LOCAL_F)]


def test_local_response_in_and_local_completed_see_the_replies_of_a_local_request() -> None:
    types = TMCB_LOCAL_RESPONSE_IN | TMCB_LOCAL_COMPLETED
    srv, probe = probed(params=LOCAL + f'modparam("tmprobe", "types", {types})\n')
    _message(srv)
    sent = srv.core.take_outbox()[0]
    srv.handle(reply_to(sent, 100, "Trying"), BOB)
    srv.handle(reply_to(sent, 202, "Accepted"), BOB)
    assert [(e.type, e.rpl, e.code, e.status) for e in probe.events[1:]] == [
        ("TMCB_LOCAL_RESPONSE_IN", 100, 100, 0), ("TMCB_LOCAL_RESPONSE_IN", 202, 202, 0),
        ("TMCB_LOCAL_COMPLETED", 202, 202, 202)]


def test_local_completed_sees_a_timeout_as_a_408_without_a_reply() -> None:
    srv, probe = probed(params=LOCAL + f'modparam("tmprobe", "types", {TMCB_LOCAL_COMPLETED})\n')
    _message(srv)
    advance(srv, 31)
    assert [(e.type, e.rpl, e.code) for e in probe.events[1:]] == [("TMCB_LOCAL_COMPLETED", None, 408)]


# ------------------------------------------------------------------ t_gett and the transaction seen


GETT = '''
request_route { t_on_failure("F"); t_relay(); tmprobe_t(); }
failure_route[F] { tmprobe_t(); }
'''


def test_t_gett_gives_none_before_the_transaction_exists() -> None:
    srv, probe = probed("request_route { if (!tmprobe_t()) { sl_send_reply(\"404\", \"none\"); } }")
    assert lines(srv.handle(request(), ALICE)) == ["SIP/2.0 404 none"]


def test_t_gett_gives_the_transaction_of_the_request_with_its_branches() -> None:
    srv, probe = probed(GETT)
    srv.handle(request(), ALICE)
    (t,) = probe.transactions
    assert (t.method, t.status, t.is_local, t.request.method) == ("MESSAGE", 0, False, "MESSAGE")
    assert t.relayed_branch == -1 and t.final_reply is None
    (branch,) = t.branches
    assert (branch.index, branch.uri, branch.status, branch.reply) == (0, "sip:bob@198.51.100.20:5080", 0,
                                                                       None)
    assert branch.destination == ("udp", "198.51.100.20", 5080) and branch.socket.port == 5060
    assert branch.request.via.branch.endswith(".0")


def test_the_transaction_seen_follows_the_replies() -> None:
    srv, probe = probed(GETT)
    fwd = srv.handle(request(), ALICE)[0]
    srv.handle(reply_to(fwd, 200, "OK"), BOB)
    (t,) = probe.transactions
    assert (t.status, t.relayed_branch, t.final_reply.status, t.branches[0].status) == (200, 0, 200, 200)


def test_t_gett_in_failure_route_gives_the_picked_branch() -> None:
    srv, probe = probed(GETT)
    fwd = srv.handle(request(), ALICE)[0]
    srv.handle(reply_to(fwd, 486, "Busy Here"), BOB)
    first, in_failure = probe.transactions
    assert in_failure is first  # one view per transaction
    assert (in_failure.picked_branch, in_failure.branches[0].reply.status) == (0, 486)


def test_the_transaction_and_its_branches_implement_their_protocols_and_nothing_more() -> None:
    srv, probe = probed(GETT)
    srv.handle(request(), ALICE)
    (t,) = probe.transactions
    assert protocol_problems(t, TmTransaction) == [] and protocol_problems(t.branches[0], TmBranch) == []
    assert not hasattr(t, "uas") and not hasattr(t.branches[0], "leg")


def test_find_by_callid_gives_the_transaction_tmx_replies_to() -> None:
    srv = server(RELAY)
    srv.handle(request("INVITE"), ALICE)
    tm = srv.core.offered("tm")
    t = tm.find_by_callid("call-1@192.0.2.10", "1")
    assert t.method == "INVITE" and tm.reply_cell(t, 486, "Busy Here") == 1
    assert tm.reply_cell(object(), 486, "Busy Here") == -1


# ------------------------------------------------------------------ two workers


@pytest.fixture
def workers() -> Iterator[tuple[Server, Server]]:
    with two_workers(RELAY, PROBE + f'modparam("tmprobe", "types", {TMCB_E2EACK_IN})\n') as pair:
        yield pair


def test_an_end_to_end_ack_another_worker_receives_goes_to_the_worker_awaiting_it(workers) -> None:  # type: ignore[no-untyped-def]
    one, two = workers
    invite = one.handle(request("INVITE"), ALICE)[1]
    one.handle(reply_to(invite, 200, "OK", to_tag="bt1"), BOB)
    out = two.handle(request("ACK", branch="z9hG4bK-ack1", to_tag="bt1"), ALICE)
    assert len(out) == 1 and isinstance(out[0], Handoff) and out[0].rank == 1
    one.handle(out[0].data, out[0].src, handed_off=True)
    assert [e.type for e in one.core.modules["tmprobe"].named("TMCB_E2EACK_IN")] == ["TMCB_E2EACK_IN"]
