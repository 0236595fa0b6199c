"""presence's DMQ replication in-process (enable_dmq, Kamailio 5.6's presence_dmq.c): what a
PUBLISH sends to the `presence` peer of the other nodes, in Kamailio's JSON, and what a publication
another node sends does here: stored with its ruid and entity tag, the local watchers notified, not
sent on again. tests/e2e/test_presence_dmq.py runs it on the wire with a Kamailio 5.6 node."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.presence_helpers import CFG, DOMAIN, notifies, pidf, subscribe, watcher
from tests.support import dmqkit
from tests.support.dmqkit import PEER, config, sent_to, without_dmq

ALICE = f"sip:alice@{DOMAIN}"
ROUTE = CFG.split("request_route {\n", 1)[1].rsplit("}", 1)[0]
PARAMS = """modparam("presence", "db_url", "mysql://kamailio:kamailiorw@localhost/kamailio")
modparam("presence_xml", "db_url", "mysql://kamailio:kamailiorw@localhost/kamailio")
modparam("presence_xml", "force_active", 1)
modparam("presence", "enable_dmq", 1)
"""
# what a Kamailio 5.6.3 node sent for a publication, its refresh and its withdrawal
KAMAILIO_NEW, KAMAILIO_REFRESH, KAMAILIO_WITHDRAWAL = (
    Path(__file__).parent / "data" / "presence_dmq" / "kamailio_bodies.txt").read_text().splitlines()
KAMAILIO_AOR = "sip:alice@example.test"


def presence_config(params: str = "") -> str:
    return config(["textops", "xlog", "siputils", "dmq", "presence", "presence_xml"], ROUTE, PARAMS + params)


@pytest.fixture
def sip(kampy_cfg: Any) -> Any:
    harness = kampy_cfg(presence_config(), db="sqlite")
    join(harness)
    return harness


def join(sip: Any) -> Any:
    """The other node joins the bus; its stand-in answers what is sent to it 200."""
    sip.ua(f"sip:presence@{PEER}", f"{PEER}:5060", answer=200)
    return dmqkit.join(sip)


def publish(sip: Any, body: str | None, *, expires: int = 3600, etag: str | None = None,
            aor: str = ALICE) -> Any:
    """`aor` PUBLISHes `body`: what happened (the reply, the KDMQ requests)."""
    headers = {"Event": "presence", "Expires": str(expires), **({"SIP-If-Match": etag} if etag else {})}
    return sip.send_request("PUBLISH", aor, from_=aor, to=aor, body=body or "", headers=headers,
                            content_type="application/pidf+xml" if body else None)


def as_kamailio_sent(kamailio_body: str, etag: str, recv: int, ruid: str, cur_etag: str = "") -> str:
    """A body Kamailio sent (KAMAILIO_*) with this node's entity tags, received time and ruid."""
    sent = json.loads(kamailio_body)
    text = kamailio_body.replace(f'"etag":"{sent["presentity"]["etag"]}"', f'"etag":"{etag}"')
    text = text.replace(f'"recv":{sent["presentity"]["recv"]}', f'"recv":{recv}')
    text = text.replace(f'"cur_etag":"{sent["cur_etag"]}"', f'"cur_etag":"{cur_etag}"')
    return text.replace(f'"ruid":"{sent["ruid"]}"', f'"ruid":"{ruid}"')


def sent_texts(result: Any) -> list[str]:
    """The bodies sent to the other node's `presence` peer (not their retransmissions)."""
    found: dict[tuple[str | None, str | None], str] = {}
    for msg in sent_to(result, "presence"):
        found.setdefault((msg.call_id, msg.header("CSeq")), msg.body.decode())
    return list(found.values())


def replicas(result: Any) -> list[dict[str, Any]]:
    return [json.loads(body) for body in sent_texts(result)]


def kdmq(sip: Any, body: dict[str, Any] | str) -> int:
    """The other node sends `body` to the `presence` peer: the status of the reply."""
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    result = dmqkit.kdmq(sip, "presence", text)
    return result.responses[0].status if result.responses else sip.advance(0.05).responses[0].status


def replica(etag: str = "a.1.2.3.0", *, t_new: int = 1, expires: int = 3600, cur_etag: str = "",
            ruid: str = "pres-remote-1", body: str | None = None) -> dict[str, Any]:
    """A publication of alice's as a Kamailio 5.6 node sends it."""
    return {"action": 1, "presentity": {"domain": DOMAIN, "user": "alice", "etag": etag, "expires": expires,
                                        "recv": 1700000000, "event": "presence"},
            "t_new": t_new, "cur_etag": cur_etag, "ruid": ruid,
            "body": pidf(ALICE, note="remote") if body is None else body}


def rows(sip: Any) -> list[tuple[Any, ...]]:
    return [(r["etag"], r["ruid"], r["received_time"], bytes(r["body"]))
            for r in sip.tables["presentity"].rows()]


# ------------------------------------------------------------ what a PUBLISH sends


def test_a_publish_sends_what_kamailio_sends(sip: Any) -> None:
    result = publish(sip, json.loads(KAMAILIO_NEW)["body"], expires=600, aor=KAMAILIO_AOR)
    etag = result.replies[-1].msg.header("sip-etag")
    [row] = sip.tables["presentity"].rows()
    assert sent_texts(result) == [as_kamailio_sent(KAMAILIO_NEW, etag, row["received_time"], row["ruid"])]


def test_a_refresh_sends_the_old_and_the_new_entity_tag_and_the_same_ruid_as_kamailio(sip: Any) -> None:
    first = publish(sip, json.loads(KAMAILIO_NEW)["body"], expires=600, aor=KAMAILIO_AOR)
    etag = first.replies[-1].msg.header("sip-etag")
    result = publish(sip, json.loads(KAMAILIO_REFRESH)["body"], expires=600, etag=etag, aor=KAMAILIO_AOR)
    new = result.replies[-1].msg.header("sip-etag")
    [row] = sip.tables["presentity"].rows()
    assert sent_texts(result) == [as_kamailio_sent(KAMAILIO_REFRESH, etag, row["received_time"], row["ruid"],
                                                   cur_etag=new)]


def test_a_withdrawal_sends_expires_0_and_no_body_as_kamailio(sip: Any) -> None:
    etag = publish(sip, pidf(ALICE), expires=600, aor=KAMAILIO_AOR).replies[-1].msg.header("sip-etag")
    [row] = sip.tables["presentity"].rows()
    result = publish(sip, None, expires=0, etag=etag, aor=KAMAILIO_AOR)
    expected = as_kamailio_sent(KAMAILIO_WITHDRAWAL, etag, row["received_time"], row["ruid"])
    assert sent_texts(result) == [expected]


def test_an_unknown_entity_tag_sends_nothing(sip: Any) -> None:
    result = publish(sip, None, etag="a.1.2.3.4")
    assert (result.replies[-1].msg.status, replicas(result)) == (412, [])


def test_joining_the_bus_asks_for_a_sync(kampy_cfg: Any) -> None:
    sip = kampy_cfg(presence_config(), db="sqlite")
    assert replicas(join(sip)) == [{"action": 2}]


def test_a_sync_request_is_answered_ok_and_sends_nothing_as_kamailio_5_6(sip: Any) -> None:
    publish(sip, pidf(ALICE))
    result = dmqkit.handled(sip, "presence", '{"action":2}')
    assert [r.status for r in result.responses] == [200] and replicas(result) == []


# ------------------------------------------------------------ what other nodes send


def test_a_replica_is_stored_with_its_ruid_entity_tag_and_time(sip: Any) -> None:
    assert kdmq(sip, replica()) == 200
    assert rows(sip) == [("a.1.2.3.0", "pres-remote-1", 1700000000, pidf(ALICE, note="remote").encode())]


def test_kamailios_publication_and_refresh_are_stored_by_ruid(sip: Any) -> None:
    new, refresh = json.loads(KAMAILIO_NEW), json.loads(KAMAILIO_REFRESH)
    assert kdmq(sip, KAMAILIO_NEW) == 200
    assert kdmq(sip, KAMAILIO_REFRESH) == 200
    [row] = sip.tables["presentity"].rows()
    assert (row["username"], row["domain"], row["etag"], row["ruid"]) == ("alice", "example.test",
                                                                         refresh["cur_etag"], new["ruid"])
    assert row["received_time"] == refresh["presentity"]["recv"]
    assert bytes(row["body"]).decode() == refresh["body"]


def test_a_replica_notifies_the_local_watchers(sip: Any) -> None:
    ua = watcher(sip, "bob", 5007)
    assert subscribe(ua, ALICE).status == 200
    assert kdmq(sip, replica()) == 200
    assert b"<note>remote</note>" in notifies(ua)[-1].msg.body


def test_subs_db_mode_3_replica_reaches_the_watchers_in_the_next_notifier_round(kampy_cfg: Any) -> None:
    sip = kampy_cfg(presence_config('modparam("presence", "subs_db_mode", 3)\n'
                                    'modparam("presence", "send_fast_notify", 0)\n'), db="sqlite")
    ua = watcher(sip, "bob", 5007)
    assert subscribe(ua, ALICE).status == 200
    sip.advance(6)  # the subscription's first NOTIFY, in a notifier round
    before = len(notifies(ua))
    assert kdmq(sip, replica()) == 200 and len(notifies(ua)) == before
    sip.advance(6)
    assert b"<note>remote</note>" in notifies(ua)[-1].msg.body


def test_a_replica_is_not_sent_on(sip: Any) -> None:
    result = dmqkit.handled(sip, "presence", json.dumps(replica()))
    assert [r.status for r in result.responses] == [200] and replicas(result) == []


def test_a_replicated_refresh_finds_the_row_by_ruid_and_takes_the_new_entity_tag(sip: Any) -> None:
    kdmq(sip, replica())
    assert kdmq(sip, replica("a.1.2.3.0", t_new=0, expires=600, cur_etag="a.1.2.4.1", body="")) == 200
    [row] = sip.tables["presentity"].rows()
    now = int(sip.clock.time())
    assert (row["etag"], row["ruid"], row["expires"]) == ("a.1.2.4.1", "pres-remote-1", now + 600)
    assert bytes(row["body"]) == pidf(ALICE, note="remote").encode()


def test_a_replicated_withdrawal_removes_the_publication_and_tells_the_watchers(sip: Any) -> None:
    ua = watcher(sip, "bob", 5007)
    kdmq(sip, replica())
    subscribe(ua, ALICE)
    assert kdmq(sip, replica(t_new=0, expires=0, body="")) == 200
    assert rows(sip) == [] and b"<basic>closed</basic>" in notifies(ua)[-1].msg.body


def test_a_replicated_refresh_of_an_unknown_ruid_changes_nothing(sip: Any) -> None:
    kdmq(sip, replica())
    assert kdmq(sip, replica(t_new=0, cur_etag="a.9", ruid="pres-other", body="")) == 200
    assert [r[0] for r in rows(sip)] == ["a.1.2.3.0"]


@pytest.mark.parametrize("body", ["not json", '{"action":1,"what":1}',
                                  '{"action":1,"presentity":{"user":"alice","event":"nope"}}',
                                  '{"action":1,"presentity":{"user":"alice"}}'])
def test_a_body_kamailio_cannot_read_gets_400(sip: Any, body: str) -> None:
    assert kdmq(sip, body) == 400 and rows(sip) == []


def test_publications_in_memory_only_are_replicated_and_stored_too(kampy_cfg: Any) -> None:
    sip = kampy_cfg(presence_config('modparam("presence", "publ_cache", 2)\n'), db="sqlite")
    join(sip)
    [sent] = replicas(publish(sip, pidf(ALICE)))
    assert kdmq(sip, replica(ruid="pres-remote-2")) == 200
    listed = {(p["etag"], p["ruid"]) for p in sip.rpc("presence.presentity_list", ["full"])}
    assert listed == {(sent["presentity"]["etag"], sent["ruid"]), ("a.1.2.3.0", "pres-remote-2")}


def test_enable_dmq_without_the_dmq_module_is_a_config_error(kampy_cfg: Any) -> None:
    with pytest.raises(Exception, match="cannot load dmq api"):
        kampy_cfg(without_dmq(presence_config()), db="sqlite")
