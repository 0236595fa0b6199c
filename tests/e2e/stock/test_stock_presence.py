"""Presence through the stock config's route[PRESENCE] (WITH_PRESENCE: presence and presence_xml with
force_active): a PUBLISH of an open PIDF document, a watcher's SUBSCRIBE (200 and the first NOTIFY
with that document), a new PUBLISH (a NOTIFY to the watcher), the end of the subscription (a
terminated NOTIFY), and the rows of presentity, active_watchers and watchers.

The bodies run on configs/presence.cfg (the stock config's presence part) until kampy has the modules
the stock config's base defines load."""
from __future__ import annotations

from tests.e2e.proxy import Msg
from tests.e2e.stock.presence_steps import pidf, publish, subscribe
from tests.e2e.stock.scenario import on
from tests.e2e.stock.world import DOMAIN, Stock

PRESENCE_CFG = "presence.cfg"


def _seen(msg: Msg) -> list[str]:
    """What of a NOTIFY both servers must send alike: its first line, its event headers, its body."""
    return [msg.first, msg.header("event") or "", msg.header("subscription-state") or "",
            msg.header("content-type") or "", msg.body.decode()]


@on("kamailio", "kampy", config=PRESENCE_CFG)
def test_a_watcher_is_notified_of_published_presence_until_it_unsubscribes(stock: Stock) -> None:
    stock.add_user("alice", "alice-pw")
    stock.add_user("bob", "bob-pw")
    stock.start("WITH_PRESENCE")
    alice, bob = stock.ua("alice"), stock.ua("bob")
    open_doc = pidf(alice.aor, "open", "alice-phone")
    published = publish(alice, open_doc)
    assert published[-1].status == 200
    etag = published[-1].header("sip-etag")
    assert etag and published[-1].header("expires") == "3600"

    sub = subscribe(bob, alice.aor, expires=600)
    assert sub.replies[-1].status == 200
    first = sub.notified()
    print(first.raw.decode())
    assert first.header("subscription-state") == "active;expires=600"
    assert "<basic>open</basic>" in first.body.decode()

    closed_doc = pidf(alice.aor, "closed", "alice-phone", note="Away")
    again = publish(alice, closed_doc, etag=etag)
    assert again[-1].status == 200
    second = sub.notified()
    print(second.raw.decode())
    assert "<basic>closed</basic>" in second.body.decode()

    ended = sub.refresh(0)
    assert ended[-1].status == 200
    last = sub.notified()
    print(last.raw.decode())
    assert last.header("subscription-state") == "terminated;reason=timeout"
    for r in [*published, *sub.replies, *again]:
        print(r.raw.decode())
    stock.observe("publish replies", [r.first for r in published + again])
    stock.observe("subscribe replies", [r.first for r in sub.replies])
    stock.observe("notifies", [_seen(n) for n in (first, second, last)])
    stock.stop()
    print(stock.rows())
    assert DOMAIN
