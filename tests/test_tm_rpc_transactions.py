"""tm's RPC commands on transactions: tm.list, tm.hash_stats, tm.cancel, tm.reply, tm.reply_callid,
tm.clean, and t_clean() (in process, with a fake clock)."""
from __future__ import annotations

import pytest

from kampy.api import RpcFault
from kampy.runtime.context import Handoff, Outgoing
from tests.tmkit import ALICE, BOB, advance, lines, reply_to, request, server, two_workers

RELAY = "request_route { t_relay(); }"


def _rpc(srv, name: str, *params: object):  # noqa: ANN001, ANN202
    return srv.core.rpc.call(name, list(params))


def _sent(srv) -> list[Outgoing]:  # noqa: ANN001
    """What tm sent outside of a message's handling (an RPC's doing)."""
    out = [o for o in srv.core.outbox if isinstance(o, Outgoing)]
    srv.core.outbox.clear()
    return out


def _invite(srv):  # noqa: ANN001, ANN202
    return srv.handle(request("INVITE"), ALICE)[1]


def test_tm_list_shows_a_transaction_with_kamailios_fields() -> None:
    srv = server(RELAY)
    _invite(srv)
    [entry] = _rpc(srv, "tm.list")
    assert list(entry) == ["cell", "tindex", "tlabel", "method", "from", "to", "callid", "cseq",
                           "uas_request", "tflags", "outgoings", "ref_count", "lifetime"]
    assert entry["cell"].startswith("0x") and entry["method"] == "INVITE"
    assert entry["from"] == "From: <sip:alice@example.test>;tag=al1\r\n"
    assert entry["to"] == "To: <sip:bob@example.test>\r\n"
    assert entry["callid"] == "Call-ID: call-1@192.0.2.10\r\n" and entry["cseq"] == "CSeq: 1"
    assert (entry["uas_request"], entry["tflags"], entry["outgoings"]) == ("yes", 65, 1)
    assert entry["lifetime"] == 180  # max_inv_lifetime from the start


def test_tm_list_is_empty_without_transactions() -> None:
    assert _rpc(server(RELAY), "tm.list") == []


def test_tm_hash_stats_counts_current_and_accumulated_transactions() -> None:
    srv = server('request_route { t_newtran(); t_reply("404", "No"); }', 'modparam("tm", "wt_timer", 1000)\n')
    srv.handle(request(), ALICE)
    stats = _rpc(srv, "tm.hash_stats")
    assert (stats["hash_size"], stats["crt_transactions"], stats["acc_transactions"]) == (65536, 1, 1)
    assert (stats["crt_min"], stats["crt_max"], stats["crt_no_zero_cells"]) == (0, 1, 65535)
    advance(srv, 6)
    stats = _rpc(srv, "tm.hash_stats")
    assert (stats["crt_transactions"], stats["acc_transactions"]) == (0, 1)


def test_tm_cancel_sends_cancel_on_a_ringing_branch() -> None:
    srv = server(RELAY)
    invite = _invite(srv)
    srv.handle(reply_to(invite, 180, "Ringing"), BOB)
    assert _rpc(srv, "tm.cancel", "call-1@192.0.2.10", "1") == [1, "branches remaining (waiting for timeout)"]
    assert lines(_sent(srv)) == ["CANCEL sip:bob@198.51.100.20:5080 SIP/2.0"]


def test_tm_cancel_sends_nothing_on_a_branch_without_reply_yet_and_counts_it() -> None:
    srv = server(RELAY)
    _invite(srv)
    assert _rpc(srv, "tm.cancel", "call-1@192.0.2.10", "1") == [1, "branches remaining (waiting for timeout)"]
    assert _sent(srv) == []


def test_tm_cancel_of_an_unknown_transaction_is_a_fault() -> None:
    with pytest.raises(RpcFault) as fault:
        _rpc(server(RELAY), "tm.cancel", "nobody", "1")
    assert (fault.value.code, fault.value.message) == (400, "Transaction not found")


def test_tm_reply_answers_a_transaction_by_its_hash_and_label() -> None:
    srv = server('request_route { t_newtran(); }')
    srv.handle(request("INVITE"), ALICE)
    [entry] = _rpc(srv, "tm.list")
    _rpc(srv, "tm.reply", 486, "Busy Here", f"{entry['tindex']}:{entry['tlabel']}", "vm1",
         "X-Why: voicemail\r\n", "")
    [out] = _sent(srv)
    assert out.data.startswith(b"SIP/2.0 486 Busy Here\r\n") and b"X-Why: voicemail\r\n" in out.data
    assert b"To: <sip:bob@example.test>;tag=vm1\r\n" in out.data


@pytest.mark.parametrize(("trans_id", "code", "text"), [("12", 400, "Invalid transaction ID"),
                                                       ("1:99", 481, "No such transaction")])
def test_tm_reply_faults(trans_id: str, code: int, text: str) -> None:
    with pytest.raises(RpcFault) as fault:
        _rpc(server(RELAY), "tm.reply", 486, "Busy", trans_id, "t", "", "")
    assert (fault.value.code, fault.value.message) == (code, text)


def test_tm_reply_callid_answers_a_transaction_with_a_body() -> None:
    srv = server('request_route { t_newtran(); }')
    srv.handle(request("MESSAGE"), ALICE)
    _rpc(srv, "tm.reply_callid", 200, "OK", "call-1@192.0.2.10", "1", "t1", "Content-Type: text/plain\r\n",
         "hello")
    [out] = _sent(srv)
    assert out.data.startswith(b"SIP/2.0 200 OK\r\n") and out.data.endswith(b"\r\n\r\nhello")


def test_tm_reply_callid_of_an_unknown_transaction_is_a_fault() -> None:
    with pytest.raises(RpcFault) as fault:
        _rpc(server(RELAY), "tm.reply_callid", 200, "OK", "nobody", "1", "t", "", "")
    assert (fault.value.code, fault.value.message) == (404, "Transaction not found")


LINGER = ('request_route { if ($rm == "OPTIONS") { t_clean(); sl_send_reply("200", "Cleaned"); exit; } '
          't_set_retr(60000, 60000); t_newtran(); t_reply("486", "Busy"); }')
LIFETIME = 'modparam("tm", "max_inv_lifetime", 1000)\n'


def test_tm_clean_frees_a_transaction_90_s_after_its_lifetime() -> None:
    srv = server(LINGER, LIFETIME)
    srv.handle(request("INVITE"), ALICE)  # its 486 waits for the ACK (timer H: 64 * 60 s)
    advance(srv, 80)
    _rpc(srv, "tm.clean")
    assert len(_rpc(srv, "tm.list")) == 1
    advance(srv, 12)
    _rpc(srv, "tm.clean")
    assert _rpc(srv, "tm.list") == []


def test_t_clean_frees_expired_transactions_from_the_script() -> None:
    srv = server(LINGER, LIFETIME)
    srv.handle(request("INVITE"), ALICE)
    advance(srv, 92)
    options = request("OPTIONS", branch="z9hG4bK-o1", cseq=2)
    assert lines(srv.handle(options, ALICE)) == ["SIP/2.0 200 Cleaned"]
    assert _rpc(srv, "tm.list") == []


def _deliver_calls(one, two) -> None:  # noqa: ANN001
    """Carry the workers' calls between worker 1 (serving the RPC) and worker 2 until none is left."""
    pending = [o for o in one.core.take_outbox() if isinstance(o, Handoff)]
    while pending:
        call = pending.pop(0)
        target = two if call.rank == 2 else one
        pending += [o for o in target.handle_call(call.call, call.data) if isinstance(o, Handoff)]


def test_with_several_workers_tm_list_shows_the_transactions_of_every_worker() -> None:
    with two_workers(RELAY) as (one, two):
        two.handle(request("INVITE"), ALICE)
        one.handle(request("MESSAGE", branch="z9hG4bK-m2", extra="", cseq=2), ALICE)
        answer = _rpc(one, "tm.list")
        assert not answer.done  # worker 2 has not answered yet
        _deliver_calls(one, two)
        methods = sorted(value for entry in answer.value for name, value in entry.items() if name == "method")
        assert methods == ["INVITE", "MESSAGE"]


def test_with_several_workers_tm_cancel_reaches_the_worker_that_owns_the_transaction() -> None:
    with two_workers(RELAY) as (one, two):
        invite = two.handle(request("INVITE"), ALICE)[1]
        two.handle(reply_to(invite, 180, "Ringing"), BOB)
        answer = _rpc(one, "tm.cancel", "call-1@192.0.2.10", "1")
        pending = [o for o in one.core.take_outbox() if isinstance(o, Handoff)]
        sent = two.handle_call(pending[0].call, pending[0].data)
        cancels = lines([o for o in sent if isinstance(o, Outgoing)])
        assert cancels == ["CANCEL sip:bob@198.51.100.20:5080 SIP/2.0"]
        one.handle_call(*next((o.call, o.data) for o in sent if isinstance(o, Handoff)))
        assert answer.value == [1, "branches remaining (waiting for timeout)"]


def test_with_several_workers_a_transaction_nobody_has_is_a_fault() -> None:
    with two_workers(RELAY) as (one, two):
        answer = _rpc(one, "tm.reply_callid", 200, "OK", "nobody", "1", "t", "", "")
        _deliver_calls(one, two)
        assert (answer.fault.code, answer.fault.message) == (404, "Transaction not found")
