"""Presence through the stock config's route[PRESENCE] (WITH_PRESENCE: presence and presence_xml with
force_active): a PUBLISH of an open PIDF document, a watcher's SUBSCRIBE (200 and the first NOTIFY
with that document), a new PUBLISH (a NOTIFY to the watcher), the end of the subscription (a
terminated NOTIFY), the expiry of subscriptions and publications by the timers, watcher info, and the
rows of presentity, active_watchers and watchers.

The bodies run on configs/presence.cfg (the stock config's presence part and the routes that lead
there); one runs on the stock config itself, with its base defines, on both servers (its PUBLISH and
SUBSCRIBE answer the stock config's 407s: `UA.authenticated`)."""
from __future__ import annotations

import re
import time

from kampy.db import connect
from tests.e2e.proxy import Msg
from tests.e2e.stock.presence_steps import pidf, publish, subscribe
from tests.e2e.stock.scenario import on
from tests.e2e.stock.world import DOMAIN, Stock

PRESENCE_CFG = "presence.cfg"
# Kamailio answers a PUBLISH before it looks for the watchers to notify: a SUBSCRIBE sent right after
# may come in time to get that NOTIFY too, before its own. The scenarios wait this long in between.
PUBLISH_SETTLE = 0.3


def _seen(msg: Msg) -> list[str]:
    """What of a NOTIFY both servers must send alike: its first line, CSeq, event headers, body."""
    return [msg.first, msg.header("cseq") or "", msg.header("event") or "",
            msg.header("subscription-state") or "", msg.header("content-type") or "", msg.body.decode()]


def _seen_later(msg: Msg, least: int = 597) -> list[str]:
    """_seen of a NOTIFY sent a while after its 600 s subscription began: the seconds its
    Subscription-State says are left depend on how long that took (at least `least` left)."""
    seen = _seen(msg)
    state = re.fullmatch(r"active;expires=(\d+)", seen[3])
    assert state is not None and least <= int(state.group(1)) <= 600, seen[3]
    seen[3] = "active;expires=(about 600)"
    return seen


def _users(stock: Stock, *names: str) -> None:
    for name in names:
        stock.add_user(name, f"{name}-pw")


def _publish_subscribe_publish_unsubscribe(stock: Stock, *defines: str) -> None:
    # In DB-only mode Kamailio answers a PUBLISH before its transaction commits, and its notifier
    # writes a dialog's CSeq after sending the NOTIFY: a request right after either may not see the
    # change (its documentation's CSeq reuse). The scenario lets the server settle there.
    settle = 0.5 if "PRESENCE_DBONLY" in defines else 0.0
    _users(stock, "alice", "bob")
    stock.start("WITH_PRESENCE", *defines)
    alice, bob = stock.ua("alice"), stock.ua("bob")
    published = publish(alice, pidf(alice.aor, "open", "alice-phone"))
    assert published[-1].status == 200
    etag = published[-1].header("sip-etag")
    assert etag and published[-1].header("expires") == "3600"
    time.sleep(settle or PUBLISH_SETTLE)

    sub = subscribe(bob, alice.aor, expires=600)
    assert sub.replies[-1].status == 200 and sub.replies[-1].header("expires") == "600"
    first = sub.notified()
    assert first.header("subscription-state") == "active;expires=600"
    assert "<basic>open</basic>" in first.body.decode()

    again = publish(alice, pidf(alice.aor, "closed", "alice-phone", note="Away"), etag=etag)
    assert again[-1].status == 200
    second = sub.notified(timeout=8)
    assert "<basic>closed</basic>" in second.body.decode() and "<note>Away</note>" in second.body.decode()
    time.sleep(settle)

    ended = sub.refresh(0)
    assert ended[-1].status == 200 and ended[-1].header("expires") == "0"
    last = sub.notified()
    assert last.header("subscription-state") == "terminated;reason=timeout"
    stock.observe("publish replies", [r.first for r in published + again])
    stock.observe("subscribe replies", [(r.first, r.header("contact")) for r in sub.replies])
    # in DB-only mode the notifier's round comes up to waitn_time (5 s) after the PUBLISH
    stock.observe("notifies", [_seen(first), _seen_later(second, 594 if settle else 597), _seen(last)])


@on("kamailio", "kampy", config=PRESENCE_CFG)
def test_a_watcher_is_notified_of_published_presence_until_it_unsubscribes(stock: Stock) -> None:
    _publish_subscribe_publish_unsubscribe(stock)


@on("kamailio", "kampy")
def test_on_the_stock_config_a_watcher_is_notified_of_published_presence_until_it_unsubscribes(
        stock: Stock) -> None:
    """The same body on the stock config itself (its base defines too: the PUBLISH and the SUBSCRIBE
    are challenged with 407 first)."""
    _publish_subscribe_publish_unsubscribe(stock)


@on("kamailio", "kampy", config=PRESENCE_CFG)
def test_with_subscriptions_in_the_database_only_the_notifier_sends_the_publications_notify(
        stock: Stock) -> None:
    _publish_subscribe_publish_unsubscribe(stock, "PRESENCE_DBONLY")


@on("kamailio", "kampy", config=PRESENCE_CFG)
def test_in_db_only_mode_a_refreshed_subscription_keeps_its_row(stock: Stock) -> None:
    """The subscription stays: the active_watchers row (CSeqs, version, state) is compared."""
    _users(stock, "alice", "bob")
    stock.start("WITH_PRESENCE", "PRESENCE_DBONLY")
    alice, bob = stock.ua("alice"), stock.ua("bob")
    published = publish(alice, pidf(alice.aor, "open", "alice-phone"))
    time.sleep(0.5)
    sub = subscribe(bob, alice.aor, expires=600)
    notifies = [sub.notified()]
    time.sleep(0.5)
    publish(alice, pidf(alice.aor, "closed", "alice-phone"), etag=published[-1].header("sip-etag"))
    notifies.append(sub.notified(timeout=8))
    time.sleep(0.5)
    assert sub.refresh(300)[-1].status == 200
    notifies.append(sub.notified(timeout=8))
    time.sleep(0.5)
    with connect(stock.db_url) as db:
        [row] = db.query("active_watchers", ["remote_cseq", "local_cseq", "version", "status"], {})
    stock.observe("active_watchers", list(row))
    stock.observe("notify cseqs", [n.header("cseq") for n in notifies])


DIALOG_INFO = ('<?xml version="1.0" encoding="UTF-8"?>\n'
               '<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="{version}" state="full" '
               'entity="{entity}">\n'
               '  <dialog id="line1" call-id="c1" local-tag="l1" remote-tag="r1" direction="initiator">\n'
               '    <state>{state}</state>\n  </dialog>\n</dialog-info>\n')


@on("kamailio", "kampy", config=PRESENCE_CFG)
def test_a_shared_line_subscriber_sees_the_dialogs_published_on_the_line(stock: Stock) -> None:
    """dialog;sla (Bridged Line Appearances): the line's AOR is the publisher's R-URI and, for the
    subscriber, the user of its Contact at its From domain."""
    _users(stock, "alice", "bob")
    stock.start("WITH_PRESENCE", "PRESENCE_BLA")
    alice, bob = stock.ua("alice"), stock.ua("bob")

    def publish_dialog(state: str, version: int, etag: str | None = None) -> Msg:
        headers = ["Event: dialog;sla", "Expires: 3600"] + ([f"SIP-If-Match: {etag}"] if etag else [])
        body = DIALOG_INFO.format(version=version, entity=bob.aor, state=state).encode()
        return alice.authenticated("PUBLISH", bob.aor, to=bob.aor, headers=headers, body=body,
                                   content_type="application/dialog-info+xml")[-1]

    line = subscribe(bob, bob.aor, expires=600, event="dialog;sla")
    assert line.replies[-1].status == 200
    empty = line.notified()
    confirmed = publish_dialog("confirmed", 1)
    assert confirmed.status == 200
    busy = line.notified()
    assert "<state>confirmed</state>" in busy.body.decode()
    terminated = publish_dialog("terminated", 2, confirmed.header("sip-etag"))
    assert terminated.status == 200
    # dialog;sla keeps its entity tag on a refresh
    stock.observe("etags kept", terminated.header("sip-etag") == confirmed.header("sip-etag"))
    idle = line.notified()
    stock.observe("notifies", [_seen(empty), _seen_later(busy), _seen_later(idle)])


@on("kamailio", "kampy", config=PRESENCE_CFG)
def test_an_xcap_diff_subscriber_is_notified_of_published_changes(stock: Stock) -> None:
    _users(stock, "alice", "bob")
    stock.start("WITH_PRESENCE")
    alice, bob = stock.ua("alice"), stock.ua("bob")
    sub = subscribe(bob, alice.aor, expires=600, event="xcap-diff")
    assert sub.replies[-1].status == 200
    first = sub.notified()
    diff = ('<?xml version="1.0" encoding="UTF-8"?>\n<xcap-diff xmlns="urn:ietf:params:xml:ns:xcap-diff" '
            'xcap-root="http://127.0.0.1/xcap-root">\n  <document new-etag="e2" previous-etag="e1" '
            'sel="resource-lists/users/sip:alice@127.0.0.1/index"/>\n</xcap-diff>\n')
    published = alice.authenticated("PUBLISH", alice.aor, to=alice.aor,
                                    headers=["Event: xcap-diff", "Expires: 600"], body=diff.encode(),
                                    content_type="application/xcap-diff+xml")
    assert published[-1].status == 200
    changed = sub.notified()
    stock.observe("replies", [r.first for r in sub.replies + published])
    stock.observe("notifies", [_seen(first), _seen_later(changed)])


@on("kamailio", "kampy", config=PRESENCE_CFG)
def test_the_sender_and_the_watcher_given_to_the_handlers_are_stored(stock: Stock) -> None:
    """handle_publish("$fu") and handle_subscribe("$fu"): the presentity row's sender, the
    watcher of the subscription (the rows are compared)."""
    _users(stock, "alice", "bob")
    stock.start("WITH_PRESENCE", "PRESENCE_SENDER", "PRESENCE_TIMERS")
    alice, bob = stock.ua("alice"), stock.ua("bob")
    assert publish(alice, pidf(alice.aor, "open", "alice-phone"))[-1].status == 200
    time.sleep(PUBLISH_SETTLE)
    sub = subscribe(bob, alice.aor, expires=600)
    first = sub.notified()
    time.sleep(1.5)  # the subscription written back (db_update_period 1)
    with connect(stock.db_url) as db:
        assert db.query("presentity", ["sender"], {}) == [(alice.aor,)]
        assert db.query("active_watchers", ["watcher_username"], {}) == [("bob",)]
    stock.observe("notify", _seen(first))


@on("kamailio", "kampy", config=PRESENCE_CFG)
def test_with_publications_in_memory_only_the_rpc_lists_them(stock: Stock) -> None:
    _publish_subscribe_publish_unsubscribe(stock, "PRESENCE_MEMORY")
    with connect(stock.db_url) as db:
        assert db.query("presentity", ["id"], {}) == []
    listed = stock.kamcmd("presence.presentity_list", "full")
    fields = dict(re.findall(r"^\s*(\w+): (.*)$", listed, re.M))
    assert fields["user"] == "alice" and fields["etag"].startswith("a.")
    varying = ("etag", "expires", "received_time", "ruid")  # times, pids
    stock.observe("presentity_list", {k: v for k, v in fields.items() if k not in varying})


@on("kamailio", "kampy", config=PRESENCE_CFG)
def test_the_notify_reply_route_ends_a_subscription_it_asks_to_delete(stock: Stock) -> None:
    _users(stock, "alice", "bob", "carol")
    stock.start("WITH_PRESENCE", "PRESENCE_NOTIFY_REPLY")
    alice, bob, carol = stock.ua("alice"), stock.ua("bob"), stock.ua("carol")
    kept, ended = subscribe(bob, alice.aor, expires=600), subscribe(carol, alice.aor, expires=600)
    first = [kept.notified(), ended.notified()]
    time.sleep(0.5)  # the server takes the 200s of the NOTIFYs
    # carol's 200 made the route delete her subscription: its refresh is unknown
    assert ended.refresh(600)[-1].status == 481
    assert kept.refresh(600)[-1].status == 200
    refreshed = kept.notified()
    stock.observe("replies", {name: [r.first for r in sub.replies] for name, sub in (("bob", kept),
                                                                                     ("carol", ended))})
    stock.observe("notifies", [_seen(n) for n in (*first, refreshed)])


ACTIVITIES = ('  <dm:person xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" '
              'xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" id="p1">'
              '<rpid:activities><rpid:meeting/></rpid:activities></dm:person>\n')


@on("kamailio", "kampy", config=PRESENCE_CFG)
def test_pres_check_basic_and_activities_read_the_published_document(stock: Stock) -> None:
    _users(stock, "alice", "bob", "carol")
    stock.start("WITH_PRESENCE", "PRESENCE_CHECKS")
    alice, bob = stock.ua("alice"), stock.ua("bob")

    def check(target: str, basic: str, activity: str) -> str:
        req = bob.send_request("MESSAGE", target, headers=[f"X-Basic: {basic}", f"X-Activity: {activity}"])
        return bob.final(req).first

    carol = f"sip:carol@{DOMAIN}"
    published = publish(alice, pidf(alice.aor, "open", "alice-phone", person=ACTIVITIES))
    assert published[-1].status == 200
    checks = {
        "open meeting": check(alice.aor, "open", "meeting"),
        "OPEN lunch": check(alice.aor, "OPEN", "lunch"),
        "closed meeting": check(alice.aor, "closed", "meeting"),
        "nothing published": check(carol, "open", "meeting"),
    }
    assert checks["open meeting"] == "SIP/2.0 200 basic 1 activity 1 subscribers -1 auth 0"
    assert publish(alice, pidf(alice.aor, "closed", "alice-phone"),
                   etag=published[-1].header("sip-etag"))[-1].status == 200
    checks["closed, no person"] = check(alice.aor, "closed", "meeting")
    stock.observe("checks", checks)


@on("kamailio", "kampy", config=PRESENCE_CFG)
def test_pres_auth_status_pres_has_subscribers_and_the_rpcs_refresh_and_cleanup(stock: Stock) -> None:
    _users(stock, "alice", "bob", "carol")
    _rules(stock, "bob")
    stock.start("WITH_PRESENCE", "PRESENCE_XCAP", "PRESENCE_CHECKS")
    alice, bob, carol = stock.ua("alice"), stock.ua("bob"), stock.ua("carol")

    def check(watcher: str) -> str:
        req = carol.send_request("MESSAGE", alice.aor, headers=["X-Basic: open", "X-Activity: meeting",
                                                                  f"X-Watcher: sip:{watcher}@{DOMAIN}"])
        return carol.final(req).first

    before = {name: check(name) for name in ("bob", "carol", "dave")}
    sub = subscribe(bob, alice.aor, expires=600)
    sub.notified()
    after = check("bob")
    assert after.endswith("subscribers 1 auth 1")
    stock.observe("checks", {"before": before, "after": after})
    # the watchers told again of the stored state (type 1), and the cleaning run on demand
    assert publish(alice, pidf(alice.aor, "open", "alice-phone"))[-1].status == 200
    published = sub.notified()
    stock.kamcmd("presence.refreshWatchers", alice.aor, "presence", "1")
    refreshed = sub.notified()
    assert refreshed.body == published.body
    stock.observe("refreshed", [_seen_later(n) for n in (published, refreshed)])
    stock.observe("cleanup", stock.kamcmd("presence.cleanup").strip())


@on("kamailio", "kampy", config=PRESENCE_CFG)
def test_subscriptions_and_publications_expire_with_the_timers(stock: Stock) -> None:
    _users(stock, "alice", "bob", "carol")
    stock.start("WITH_PRESENCE", "PRESENCE_TIMERS")
    alice, bob, carol = stock.ua("alice"), stock.ua("bob"), stock.ua("carol")
    assert publish(alice, pidf(alice.aor, "open", "alice-phone"), expires=4)[-1].status == 200
    time.sleep(PUBLISH_SETTLE)
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
    # the withdrawal comes with the first cleaning after the publication expired (clean_period 1)
    stock.observe("notifies", [*(_seen(n) for n in (*notifies, expired)), _seen_later(withdrawn, 592)])


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
    stock.observe("winfo notifies", [_seen(empty), _seen_later(partial), _seen_later(second), _seen(full)])



PRES_RULES = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<cr:ruleset xmlns="urn:ietf:params:xml:ns:pres-rules" xmlns:pr="urn:ietf:params:xml:ns:pres-rules"\n'
    '    xmlns:cr="urn:ietf:params:xml:ns:common-policy">\n'
    '  <cr:rule id="friends">\n'
    '    <cr:conditions><cr:identity>{friends}</cr:identity></cr:conditions>\n'
    '    <cr:actions><pr:sub-handling>allow</pr:sub-handling></cr:actions>\n'
    '    <cr:transformations><pr:provide-services><pr:all-services/></pr:provide-services>'
    '<pr:provide-persons>false</pr:provide-persons></cr:transformations>\n'
    '  </cr:rule>\n'
    '  <cr:rule id="strangers">\n'
    '    <cr:conditions><cr:identity><cr:one id="sip:carol@127.0.0.1"/></cr:identity></cr:conditions>\n'
    '    <cr:actions><pr:sub-handling>block</pr:sub-handling></cr:actions>\n'
    '  </cr:rule>\n'
    '</cr:ruleset>\n')
PERSON = ('  <dm:person xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" id="p1">'
          '<dm:note>in a meeting</dm:note></dm:person>\n')


def _rules(stock: Stock, *friends: str) -> None:
    identity = "".join(f'<cr:one id="sip:{f}@127.0.0.1"/>' for f in friends)
    with connect(stock.db_url) as db:
        db.delete("xcap", {"username": "alice"})
        db.insert("xcap", {"username": "alice", "domain": DOMAIN, "doc_type": 2, "etag": "e1", "source": 1,
                           "doc": PRES_RULES.format(friends=identity).encode(), "port": 0,
                           "doc_uri": "/xcap-root/pres-rules/users/sip:alice@127.0.0.1/index"})


@on("kamailio", "kampy", config=PRESENCE_CFG)
def test_watchers_are_authorized_by_the_xcap_pres_rules(stock: Stock) -> None:
    _users(stock, "alice", "bob", "carol", "dave")
    _rules(stock, "bob")
    stock.start("WITH_PRESENCE", "PRESENCE_XCAP")
    alice, bob, carol, dave = (stock.ua(n) for n in ("alice", "bob", "carol", "dave"))
    assert publish(alice, pidf(alice.aor, "open", "alice-phone", person=PERSON))[-1].status == 200
    time.sleep(PUBLISH_SETTLE)
    subs = {ua.user: subscribe(ua, alice.aor, expires=600) for ua in (bob, carol, dave)}
    first = {name: sub.notified() for name, sub in subs.items()}
    assert first["bob"].header("subscription-state") == "active;expires=600"
    assert "alice-phone" in first["bob"].body.decode() and "meeting" not in first["bob"].body.decode()
    assert first["carol"].header("subscription-state") == "terminated;reason=rejected"
    assert first["dave"].header("subscription-state") == "pending;expires=600" and not first["dave"].body
    # alice's rules now let dave in: presence.updateWatchers re-evaluates them
    _rules(stock, "bob", "dave")
    stock.kamcmd("presence.updateWatchers", alice.aor, "presence")
    update = subs["dave"].notified()
    assert re.fullmatch(r"active;expires=(59[7-9]|600)", update.header("subscription-state") or "")
    assert "alice-phone" in update.body.decode()
    # as Kamailio's, the NOTIFY of a re-authorized watcher carries the whole document (the copy of the
    # dialog it is built from has no rules document, so no transformation applies)
    assert "in a meeting" in update.body.decode()
    stock.observe("subscribe replies", {name: sub.replies[-1].first for name, sub in subs.items()})
    stock.observe("notifies", {name: _seen(n) for name, n in first.items()}
                  | {"dave again": _seen_later(update)})


SPHERE_RULES = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<cr:ruleset xmlns="urn:ietf:params:xml:ns:pres-rules" xmlns:pr="urn:ietf:params:xml:ns:pres-rules"\n'
    '    xmlns:cr="urn:ietf:params:xml:ns:common-policy">\n'
    '  <cr:rule id="at-work">\n'
    '    <cr:conditions><cr:identity><cr:one id="sip:bob@127.0.0.1"/></cr:identity>'
    '<pr:sphere>work</pr:sphere></cr:conditions>\n'
    '    <cr:actions><pr:sub-handling>allow</pr:sub-handling></cr:actions>\n'
    '  </cr:rule>\n'
    '  <cr:rule id="at-home">\n'
    '    <cr:conditions><cr:identity><cr:one id="sip:carol@127.0.0.1"/></cr:identity>'
    '<pr:sphere>Home</pr:sphere></cr:conditions>\n'
    '    <cr:actions><pr:sub-handling>allow</pr:sub-handling></cr:actions>\n'
    '  </cr:rule>\n'
    '</cr:ruleset>\n')
SPHERE_PERSON = ('  <dm:person xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" '
                 'xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" id="p1">'
                 '<rpid:sphere>home</rpid:sphere></dm:person>\n')


@on("kamailio", "kampy", config=PRESENCE_CFG)
def test_a_rule_for_a_sphere_applies_while_the_presentity_publishes_that_sphere(stock: Stock) -> None:
    _users(stock, "alice", "bob", "carol")
    with connect(stock.db_url) as db:
        db.insert("xcap", {"username": "alice", "domain": DOMAIN, "doc_type": 2, "etag": "e1", "source": 1,
                           "doc": SPHERE_RULES.encode(), "port": 0,
                           "doc_uri": "/xcap-root/pres-rules/users/sip:alice@127.0.0.1/index"})
    stock.start("WITH_PRESENCE", "PRESENCE_XCAP", "PRESENCE_SPHERE")
    alice, bob, carol = stock.ua("alice"), stock.ua("bob"), stock.ua("carol")
    assert publish(alice, pidf(alice.aor, "open", "alice-phone", person=SPHERE_PERSON))[-1].status == 200
    time.sleep(PUBLISH_SETTLE)
    at_work = subscribe(bob, alice.aor, expires=600).notified()
    at_home = subscribe(carol, alice.aor, expires=600).notified()
    # alice is at home: bob's rule (sphere work) does not apply, carol's (Home: case aside) does
    assert at_work.header("subscription-state") == "pending;expires=600" and not at_work.body
    assert at_home.header("subscription-state") == "active;expires=600"
    assert "alice-phone" in at_home.body.decode()
    stock.observe("notifies", [_seen(n) for n in (at_work, at_home)])


@on("kamailio", "kampy", config=PRESENCE_CFG)
def test_with_a_single_body_the_document_of_the_most_important_note_is_sent(stock: Stock) -> None:
    _users(stock, "alice", "bob", "carol")
    stock.start("WITH_PRESENCE", "PRESENCE_SINGLE_BODY")
    alice, bob, carol = stock.ua("alice"), stock.ua("bob"), stock.ua("carol")
    # three devices publish, a second apart (documents are read in the order they were received)
    for device, note in (("phone", "On the Phone"), ("laptop", "Available")):
        assert publish(alice, pidf(alice.aor, "open", device, note=note))[-1].status == 200
        time.sleep(1.1)
    sub = subscribe(bob, alice.aor, expires=600)
    ranked = sub.notified()
    assert 'id="phone"' in ranked.body.decode() and 'id="laptop"' not in ranked.body.decode()
    # a newest document with an empty note has no rank: it is the one sent
    assert publish(alice, pidf(alice.aor, "open", "tablet").replace(
        b"  </tuple>", b"    <note/>\n  </tuple>"))[-1].status == 200
    newest = sub.notified()
    assert 'id="tablet"' in newest.body.decode()
    later = subscribe(carol, alice.aor, expires=600).notified()
    stock.observe("notifies", [_seen(ranked), _seen_later(newest), _seen(later)])
