"""Where the stock config sends a request: not for foreign domains (403), outbound for local users
(P-Hint), without a challenge from an address of the `address` table (WITH_IPAUTH), through
`dbaliases` (WITH_ALIASDB) and `speed_dial` (WITH_SPEEDDIAL), and per domain (WITH_MULTIDOMAIN)."""
from __future__ import annotations

from tests.e2e.stock.scenario import on
from tests.e2e.stock.steps import registered, ringing
from tests.e2e.stock.world import DOMAIN, Stock

GATEWAY = "127.0.0.9"


@on("kamailio", "kampy")
def test_a_request_from_a_foreign_domain_to_a_foreign_domain_is_not_relayed(stock: Stock) -> None:
    stock.start()
    stranger = stock.ua("eve", "foreign.example")
    call = stranger.invite("sip:carol@elsewhere.example", authenticate=False)
    reply = call.final()
    assert (reply.status, reply.reason) == (403, "Not relaying")
    stock.observe("reply", reply.first)


@on("kamailio", "kampy")
def test_a_local_users_call_to_a_foreign_host_is_challenged_then_relayed_outbound(stock: Stock) -> None:
    (alice,) = registered(stock, "alice")
    carol = stock.ua("carol", "127.0.0.50", host="127.0.0.50")
    call = alice.invite(carol.contact)
    assert [r.status for r in call.replies] == [407]
    invite = carol.wait_request("INVITE")
    assert invite.header("p-hint") == "outbound"
    assert invite.ruri == carol.contact
    carol.reply(invite, 603, "Decline")
    assert call.final().status == 603
    stock.observe("callee saw", [invite.first, invite.header("p-hint"), invite.all("record-route")])


@on("kamailio", "kampy")
def test_ip_authentication_lets_an_address_of_the_address_table_call_unchallenged(stock: Stock) -> None:
    stock.insert("address", grp=1, ip_addr=GATEWAY, mask=32, port=0, tag="gateway")
    (bob,) = registered(stock, "bob", defines=("WITH_IPAUTH",))
    # an INVITE claiming a local user (From sip:gw@DOMAIN, no account) from elsewhere is challenged
    stranger = stock.ua("gw", host="127.0.0.30").invite(f"sip:bob@{DOMAIN}", authenticate=False).final()
    assert stranger.status == 407
    # the same from the gateway's address reaches bob as it is
    gateway = stock.ua("gw", host=GATEWAY)
    call = gateway.invite(f"sip:bob@{DOMAIN}", authenticate=False)
    invite = bob.wait_request("INVITE")
    assert invite.all("via")[-1].startswith(f"SIP/2.0/UDP {GATEWAY}:5070")
    bob.reply(invite, 180, "Ringing")
    call.wait(180)
    stock.observe("replies", [stranger.first, call.replies[-1].first])


@on("kamailio", "kampy")
def test_an_alias_from_dbaliases_reaches_its_user(stock: Stock) -> None:
    stock.insert("dbaliases", alias_username="support", alias_domain=DOMAIN, username="bob", domain=DOMAIN)
    alice, bob = registered(stock, "alice", "bob", defines=("WITH_ALIASDB",))
    call, invite = ringing(alice, bob, f"sip:support@{DOMAIN}")
    assert invite.ruri == bob.contact
    assert invite.header("to") == f"<sip:support@{DOMAIN}>"
    stock.observe("callee saw", [invite.first, invite.header("to")])


@on("kamailio", "kampy")
def test_a_speed_dial_number_reaches_its_target(stock: Stock) -> None:
    stock.insert("speed_dial", username="alice", domain=DOMAIN, sd_username="11", sd_domain=DOMAIN,
                 new_uri=f"sip:bob@{DOMAIN}", fname="Bob", lname="B", description="bob")
    alice, bob = registered(stock, "alice", "bob", defines=("WITH_SPEEDDIAL",))
    call, invite = ringing(alice, bob, f"sip:11@{DOMAIN}")
    assert invite.ruri == bob.contact
    stock.observe("callee saw", [invite.first, invite.header("to")])


@on("kamailio", "kampy")
def test_users_of_several_domains_are_told_apart(stock: Stock) -> None:
    for domain in ("example.org", "example.net"):
        stock.insert("domain", domain=domain, last_modified="2000-01-01 00:00:01")
    stock.add_user("alice", "org-pw", "example.org")
    stock.add_user("alice", "net-pw", "example.net")
    stock.add_user("bob", "bob-pw", "example.org")
    stock.start("WITH_MULTIDOMAIN")
    wrong = stock.ua("alice", "example.org", password="net-pw")
    assert [r.status for r in wrong.register()] == [401, 401]
    alice_org, alice_net, bob = (stock.ua("alice", "example.org"), stock.ua("alice", "example.net"),
                                 stock.ua("bob", "example.org"))
    for ua in (alice_org, alice_net, bob):
        assert [r.status for r in ua.register()] == [401, 200]
    call, invite = ringing(bob, alice_net, "sip:alice@example.net")
    assert invite.ruri == alice_net.contact
    alice_org.no_request(0.5)
    stock.stop()
    assert sorted((r["username"], r["domain"], r["contact"]) for r in stock.rows()["location"]) == [
        ("alice", "example.net", alice_net.contact), ("alice", "example.org", alice_org.contact),
        ("bob", "example.org", bob.contact)]
    stock.observe("callee saw", invite.first)
