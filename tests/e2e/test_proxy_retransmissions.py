"""proxy.cfg absorbs retransmitted requests (tm's server transactions), against Kamailio 5.6 and
kampy (1 and 4 workers)."""
from __future__ import annotations

import time


def test_a_message_retransmitted_before_the_reply_reaches_the_callee_once(pair):
    d = pair.caller.message(pair.callee)
    got = pair.callee.wait_request("MESSAGE")
    pair.caller.send(d.data)  # the caller's timer E fired: the same request again
    # answered before the proxy's own retransmission (T1 = 500 ms) would be due
    time.sleep(0.2)
    pair.callee.respond(got, 200, "OK")
    assert pair.caller.final_reply(d).status == 200
    again = pair.callee.no_more(lambda m: m.is_request and m.call_id == d.call_id, within=0.5)
    assert again == []


def test_a_message_retransmitted_after_the_reply_gets_the_reply_again(pair):
    d = pair.caller.message(pair.callee)
    pair.callee.respond(pair.callee.wait_request("MESSAGE"), 200, "OK")
    assert pair.caller.final_reply(d).status == 200
    pair.caller.send(d.data)
    assert pair.caller.final_reply(d).status == 200
    again = pair.callee.no_more(lambda m: m.is_request and m.call_id == d.call_id, within=0.5)
    assert again == []
