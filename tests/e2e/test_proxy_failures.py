"""proxy.cfg's failure handling: failure_route on 405, 408 after fr_timer, CANCEL -> 487;
against Kamailio 5.6 and kampy (1 and 4 workers)."""
from __future__ import annotations

import time

from tests.e2e.proxy import FR_TIMER_MS


def test_a_405_from_the_callee_runs_failure_route_which_answers_202(pair):
    d = pair.caller.message(pair.callee)
    pair.callee.respond(pair.callee.wait_request("MESSAGE"), 405, "Method Not Allowed")
    reply = pair.caller.final_reply(d)
    assert (reply.status, reply.reason) == (202, "Accepted")


def test_a_callee_that_never_answers_gives_408_after_fr_timer(pair):
    start = time.monotonic()
    d = pair.caller.message(pair.callee)
    pair.callee.wait_request("MESSAGE")  # and never answered
    reply = pair.caller.final_reply(d, timeout=FR_TIMER_MS / 1000 + 5)
    elapsed = time.monotonic() - start
    assert reply.status == 408
    assert FR_TIMER_MS / 1000 - 0.2 <= elapsed <= FR_TIMER_MS / 1000 + 2


def test_cancel_of_a_ringing_invite_ends_with_487(pair):
    caller, callee = pair.caller, pair.callee
    d = caller.invite(callee)
    invite = callee.wait_request("INVITE")
    callee.respond(invite, 180, "Ringing")
    caller.reply_status(d, 180)
    c = caller.cancel(d)
    assert caller.final_reply(c).status == 200
    cancel = callee.wait_request("CANCEL")
    callee.respond(cancel, 200, "OK")
    callee.respond(invite, 487, "Request Terminated")
    final = caller.final_reply(d)
    caller.ack(d, final)
    assert final.status == 487
    assert callee.wait_request("ACK").cseq == (d.cseq, "ACK")  # the proxy acknowledged the 487
