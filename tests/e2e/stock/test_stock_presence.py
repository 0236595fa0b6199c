"""Presence through the stock config's route[PRESENCE] (WITH_PRESENCE: presence and presence_xml with
force_active): a PUBLISH of an open PIDF document, a watcher's SUBSCRIBE (200 and the first NOTIFY
with that document), a new PUBLISH (a NOTIFY to the watcher), the end of the subscription (a
terminated NOTIFY), the expiry of subscriptions and publications by the timers, watcher info, and the
rows of presentity, active_watchers and watchers.

The bodies run on configs/presence.cfg (the stock config's presence part and the routes that lead
there) until kampy has the modules the stock config's base defines load (auth, auth_db, acc, corex,
cfg_rpc, counters); they answer the stock config's 407s already (`UA.authenticated`)."""
from __future__ import annotations

from tests.e2e.proxy import Msg
from tests.e2e.stock.presence_steps import pidf, publish, subscribe
from tests.e2e.stock.scenario import on
from tests.e2e.stock.world import Stock

PRESENCE_CFG = "presence.cfg"


def _seen(msg: Msg) -> list[str]:
    """What of a NOTIFY both servers must send alike: its first line, CSeq, event headers, body."""
    return [msg.first, msg.header("cseq") or "", msg.header("event") or "",
            msg.header("subscription-state") or "", msg.header("content-type") or "", msg.body.decode()]


def _users(stock: Stock, *names: str) -> None:
    for name in names:
        stock.add_user(name, f"{name}-pw")


@on("kamailio", "kampy", config=PRESENCE_CFG)
def test_a_watcher_is_notified_of_published_presence_until_it_unsubscribes(stock: Stock) -> None:
    _users(stock, "alice", "bob")
    stock.start("WITH_PRESENCE")
    alice, bob = stock.ua("alice"), stock.ua("bob")
    published = publish(alice, pidf(alice.aor, "open", "alice-phone"))
    assert published[-1].status == 200
    etag = published[-1].header("sip-etag")
    assert etag and published[-1].header("expires") == "3600"

    sub = subscribe(bob, alice.aor, expires=600)
    assert sub.replies[-1].status == 200 and sub.replies[-1].header("expires") == "600"
    first = sub.notified()
    assert first.header("subscription-state") == "active;expires=600"
    assert "<basic>open</basic>" in first.body.decode()

    again = publish(alice, pidf(alice.aor, "closed", "alice-phone", note="Away"), etag=etag)
    assert again[-1].status == 200
    second = sub.notified()
    assert "<basic>closed</basic>" in second.body.decode() and "<note>Away</note>" in second.body.decode()

    ended = sub.refresh(0)
    assert ended[-1].status == 200 and ended[-1].header("expires") == "0"
    last = sub.notified()
    assert last.header("subscription-state") == "terminated;reason=timeout"
    stock.observe("publish replies", [r.first for r in published + again])
    stock.observe("subscribe replies", [(r.first, r.header("contact")) for r in sub.replies])
    stock.observe("notifies", [_seen(n) for n in (first, second, last)])


@on("kamailio", "kampy", config=PRESENCE_CFG)
def test_subscriptions_and_publications_expire_with_the_timers(stock: Stock) -> None:
    _users(stock, "alice", "bob", "carol")
    stock.start("WITH_PRESENCE", "PRESENCE_TIMERS")
    alice, bob, carol = stock.ua("alice"), stock.ua("bob"), stock.ua("carol")
    assert publish(alice, pidf(alice.aor, "open", "alice-phone"), expires=4)[-1].status == 200
    short = subscribe(bob, alice.aor, expires=2)
    long = subscribe(carol, alice.aor, expires=600)
    notifies = [short.notified(), long.notified()]
    assert notifies[0].header("subscription-state") == "active;expires=2"
    # bob's subscription ends with the timer: terminated, no body
    expired = short.notified(timeout=8)
    assert expired.header("subscription-state") == "terminated;reason=timeout" and not expired.body
    # alice's publication ends with the timer: carol is told
    withdrawn = long.notified(timeout=8)
    assert withdrawn.header("subscription-state", ) and "alice-phone" not in withdrawn.body.decode()
    stock.observe("notifies", [_seen(n) for n in (*notifies, expired, withdrawn)])


@on("kamailio", "kampy", config=PRESENCE_CFG)
def test_a_watcher_info_subscriber_learns_of_each_watcher(stock: Stock) -> None:
    _users(stock, "alice", "bob", "carol")
    stock.start("WITH_PRESENCE")
    alice, bob, carol = stock.ua("alice"), stock.ua("bob"), stock.ua("carol")
    winfo = subscribe(alice, alice.aor, expires=600, event="presence.winfo")
    assert winfo.replies[-1].status == 200
    empty = winfo.notified()
    watcher = subscribe(bob, alice.aor, expires=600)
    partial = winfo.notified()
    watcher.notified()
    carol_sub = subscribe(carol, alice.aor, expires=600)
    carol_sub.notified()
    second = winfo.notified()
    refreshed = winfo.refresh(300)
    full = winfo.notified()
    assert "<watcher-list" in empty.body.decode() and "sip:bob@127.0.0.1" in partial.body.decode()
    assert "sip:bob@127.0.0.1" in full.body.decode() and "sip:carol@127.0.0.1" in full.body.decode()
    stock.observe("winfo replies", [r.first for r in winfo.replies + refreshed])
    stock.observe("winfo notifies", [_seen(n) for n in (empty, partial, second, full)])

