"""Calls between registered users through the stock config: INVITE challenged with 407 and relayed,
INVITE/180/200/ACK/BYE, a busy callee and a cancelled call (missed calls), MESSAGE, OPTIONS, and the
accounting rows they leave (WITH_ACCDB writes acc and missed_calls with the config's db_extra)."""
from __future__ import annotations

from tests.e2e.stock.scenario import on
from tests.e2e.stock.steps import answered, hang_up, registered, ringing
from tests.e2e.stock.world import DOMAIN, Stock


@on("kamailio", "kampy")
def test_invite_is_challenged_with_407_then_relayed_to_the_registered_callee(stock: Stock) -> None:
    alice, bob = registered(stock, "alice", "bob")
    call = alice.invite(f"sip:bob@{DOMAIN}")
    assert [r.status for r in call.replies] == [407]
    assert 'realm="127.0.0.1"' in (call.replies[0].header("proxy-authenticate") or "")
    invite = bob.wait_request("INVITE")
    assert invite.ruri == bob.contact
    assert invite.header("proxy-authorization") is None  # consume_credentials()
    assert invite.all("record-route") == ["<sip:127.0.0.1;lr>"]
    bob.reply(invite, 486, "Busy Here")
    assert call.final().status == 486
    stock.observe("caller saw", [r.first for r in call.replies])
    stock.observe("callee saw", [invite.first, invite.header("record-route")])


@on("kamailio", "kampy")
def test_a_call_between_registered_users_is_set_up_and_torn_down(stock: Stock) -> None:
    alice, bob = registered(stock, "alice", "bob")
    call, invite = ringing(alice, bob)
    bob.reply(invite, 200, "OK", sdp=True)
    assert call.final().status == 200
    call.ack()
    assert bob.wait_request("ACK").ruri == bob.contact
    bye = call.send_bye()
    seen = bob.wait_request("BYE")
    assert seen.ruri == bob.contact
    bob.reply(seen, 200, "OK")
    assert alice.final(bye).status == 200
    stock.observe("caller saw", [r.first for r in call.replies])


@on("kamailio", "kampy")
def test_a_call_and_a_missed_call_leave_kamailios_accounting_rows(stock: Stock) -> None:
    alice, bob = registered(stock, "alice", "bob")
    call = answered(alice, bob)
    hang_up(call, bob)
    missed, invite = ringing(alice, bob)
    bob.reply(invite, 486, "Busy Here")
    assert missed.final().status == 486
    stock.stop()
    found = stock.rows()
    # db_extra: the caller's From user and domain, the source address, the R-URI's user before and
    # after lookup(), and its domain after lookup() (the callee's contact)
    extra = {"src_user": "alice", "src_domain": DOMAIN, "src_ip": alice.transport.local[0],
             "dst_ouser": "bob", "dst_user": "bob", "dst_domain": bob.transport.local[0]}
    # two workers wrote the INVITE's and the BYE's rows, in either order
    acc = sorted(found["acc"], key=lambda r: r["method"] != "INVITE")
    assert [(r["method"], r["sip_code"], r["sip_reason"], r["callid"]) for r in acc] == [
        ("INVITE", "200", "OK", call.invite.call_id), ("BYE", "200", "OK", call.invite.call_id)]
    assert {k: acc[0][k] for k in extra} == extra
    assert (acc[0]["from_tag"], acc[0]["to_tag"]) == (call.invite.from_tag, "bob-callee")
    assert [(r["method"], r["sip_code"], r["sip_reason"], r["callid"]) for r in found["missed_calls"]] == [
        ("INVITE", "486", "Busy Here", missed.invite.call_id)]


@on("kamailio", "kampy")
def test_a_cancelled_call_is_a_missed_call(stock: Stock) -> None:
    alice, bob = registered(stock, "alice", "bob")
    call, invite = ringing(alice, bob)
    assert call.cancel().status == 200
    cancel = bob.wait_request("CANCEL")
    bob.reply(cancel, 200, "OK")
    bob.reply(invite, 487, "Request Terminated")
    assert call.final().status == 487
    stock.stop()
    missed = stock.rows()["missed_calls"]
    assert [(r["method"], r["sip_code"], r["callid"]) for r in missed] == [
        ("INVITE", "487", call.invite.call_id)]
    stock.observe("caller saw", [r.first for r in call.replies])


@on("kamailio", "kampy")
def test_a_call_to_a_local_user_who_is_not_registered_gets_404(stock: Stock) -> None:
    (alice,) = registered(stock, "alice")
    stock.add_user("carol", "carol-pw")
    call = alice.invite(f"sip:carol@{DOMAIN}")
    reply = call.final()
    assert (reply.status, reply.reason) == (404, "Not Found")
    stock.observe("caller saw", [r.first for r in call.replies])


@on("kamailio", "kampy")
def test_message_between_registered_users_is_challenged_then_delivered(stock: Stock) -> None:
    alice, bob = registered(stock, "alice", "bob")
    replies, again = alice.send_authenticated("MESSAGE", f"sip:bob@{DOMAIN}", body=b"hello bob",
                                              content_type="text/plain")
    assert again is not None
    message = bob.wait_request("MESSAGE")
    assert message.body == b"hello bob"
    bob.reply(message, 200, "OK")
    replies.append(alice.final(again))
    assert [r.status for r in replies] == [407, 200]
    stock.observe("sender saw", [r.first for r in replies])


@on("kamailio", "kampy")
def test_options_to_the_server_itself_is_answered_keepalive(stock: Stock) -> None:
    stock.start()
    reply = stock.ua("alice").options(f"sip:{DOMAIN}")
    assert (reply.status, reply.reason) == (200, "Keepalive")
    stock.observe("reply", reply.first)
