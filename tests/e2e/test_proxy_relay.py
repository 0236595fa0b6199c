"""proxy.cfg relays a MESSAGE and an INVITE/200/ACK/BYE call between two registered user agents,
against Kamailio 5.6 and kampy (1 and 4 workers)."""
from __future__ import annotations


def test_message_reaches_the_registered_callee_with_its_body(pair):
    pair.caller.message(pair.callee, b"hello bob")
    got = pair.callee.wait_request("MESSAGE")
    assert got.ruri == pair.callee.contact
    assert got.body == b"hello bob"


def test_the_callees_200_to_a_message_is_relayed_to_the_caller(pair):
    d = pair.caller.message(pair.callee)
    pair.callee.respond(pair.callee.wait_request("MESSAGE"), 200, "OK")
    reply = pair.caller.final_reply(d)
    assert (reply.status, reply.call_id) == (200, d.call_id)
    assert len(reply.all("via")) == 1  # the proxy's own Via is gone


def test_invite_200_ack_bye_call_is_relayed_both_ways(pair):
    caller, callee = pair.caller, pair.callee
    d = caller.invite(callee)
    invite = callee.wait_request("INVITE")
    callee.respond(invite, 180, "Ringing")
    assert caller.reply_status(d, 180).status == 180
    callee.respond(invite, 200, "OK", contact=True, body=invite.body)
    ok = caller.final_reply(d)
    assert ok.status == 200
    caller.ack(d, ok)
    assert callee.wait_request("ACK").call_id == d.call_id
    bye = caller.bye(d)
    got = callee.wait_request("BYE")
    callee.respond(got, 200, "OK")
    assert caller.final_reply(bye).status == 200
