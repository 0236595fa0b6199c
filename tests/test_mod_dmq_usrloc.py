"""dmq_usrloc in-process: usrloc's changes go out as KDMQ requests to the `usrloc` peer in Kamailio's
JSON format, and what other nodes send changes usrloc (tests/e2e/test_dmq_cluster.py runs it with
real kampy and Kamailio nodes)."""
from __future__ import annotations

import json
from typing import Any

from tests.support.dmqkit import PEER, SELF, config, handled, json_bodies, join

# What Kamailio 5.6.3 sent for a REGISTER and for its unREGISTER (captured on the wire from
# samples/cluster/dmq.cfg)
KAMAILIO_UPDATE = (
    '{"action":1,"aor":"alice","ruid":"uloc-6b161064-778d-1","c":"sip:alice@127.0.0.1:9999;ob",'
    '"received":"","path":"","callid":"c23540666361860","user_agent":"phone/1.0",'
    '"instance":"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>","expires":1796608704,"cseq":1,"flags":0,'
    '"cflags":0,"q":-1,"last_modified":1796608104,"methods":4294967295,"reg_id":1,"server_id":0}')
KAMAILIO_RM = KAMAILIO_UPDATE.replace('"action":1', '"action":2')
ORDER = ["action", "aor", "ruid", "c", "received", "path", "callid", "user_agent", "instance", "expires",
         "cseq", "flags", "cflags", "q", "last_modified", "methods", "reg_id", "server_id"]

ROUTE = """    if ($rm == "REGISTER") {
        save("location");
        exit;
    }
    if (!lookup("location")) {
        sl_send_reply("404", "Not Found");
        exit;
    }
    sl_send_reply("200", "Found $ru");"""


def usrloc_config(params: str = "") -> str:
    enabled = 'modparam("dmq_usrloc", "enable", 1)\n'
    return config(["usrloc", "registrar", "dmq", "dmq_usrloc"], ROUTE, enabled + params)


def node(kampy_cfg: Any, params: str = "") -> Any:
    return kampy_cfg(usrloc_config(params))


def kdmq(sip: Any, body: str, peer: str = "usrloc") -> Any:
    return handled(sip, peer, body)


def register(sip: Any, user: str, expires: int = 600) -> Any:
    return sip.send_request("REGISTER", "sip:example.test", from_=f"sip:{user}@example.test",
                            to=f"sip:{user}@example.test", contact=f"<sip:{user}@192.0.2.5:5070>",
                            headers={"Expires": str(expires)})


def usrloc_bodies(result: Any) -> list[dict[str, Any]]:
    return json_bodies(result, "usrloc")


def lookup(sip: Any, user: str) -> str:
    reply = sip.send_request("OPTIONS", f"sip:{user}@example.test").replies[0]
    return f"{reply.status} {reply.msg.reason}"


def test_joining_asks_the_other_nodes_for_their_contacts(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    assert usrloc_bodies(join(sip)) == [{"action": 3}]


def test_no_sync_request_with_sync_0(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, 'modparam("dmq_usrloc", "sync", 0)')
    assert usrloc_bodies(join(sip)) == []


def test_a_registration_goes_to_the_other_nodes_in_kamailios_json(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    join(sip)
    out = register(sip, "alice")
    [doc] = usrloc_bodies(out)
    assert list(doc) == ORDER
    assert (doc["action"], doc["aor"], doc["c"], doc["q"], doc["methods"]) == (
        1, "alice", "sip:alice@192.0.2.5:5070", -1, 4294967295)
    request = out.forwarded[0].msg
    assert (request.header("Content-Type"), request.header("Max-Forwards")) == ("application/json", "1")


def test_an_unregistration_goes_out_as_action_2(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    join(sip)
    register(sip, "alice")
    assert [d["action"] for d in usrloc_bodies(register(sip, "alice", expires=0))] == [2]


def test_with_usrloc_delete_0_deletions_are_not_replicated(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, 'modparam("dmq_usrloc", "usrloc_delete", 0)')
    join(sip)
    register(sip, "alice")
    assert usrloc_bodies(register(sip, "alice", expires=0)) == []


def test_a_contact_from_kamailio_is_found_by_lookup(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    reply = kdmq(sip, KAMAILIO_UPDATE).responses[0]
    assert (reply.status, reply.msg.reason) == (200, "OK")
    assert lookup(sip, "alice") == "200 Found sip:alice@127.0.0.1:9999;ob"


def test_a_contact_received_keeps_kamailios_fields(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    kdmq(sip, KAMAILIO_UPDATE)
    [c] = sip.module("usrloc").contacts("alice")
    assert (c.ruid, c.callid, c.user_agent, c.instance, c.reg_id, c.expires, c.q, c.received, c.path) == (
        "uloc-6b161064-778d-1", "c23540666361860", "phone/1.0",
        "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>", 1, 1796608704, -1, None, None)


def test_action_2_from_kamailio_deletes_the_contact(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    kdmq(sip, KAMAILIO_UPDATE)
    kdmq(sip, KAMAILIO_RM)
    assert lookup(sip, "alice") == "404 Not Found"


def test_contacts_received_are_not_sent_back_to_the_bus(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    join(sip)
    assert usrloc_bodies(kdmq(sip, KAMAILIO_UPDATE)) == []


def test_a_batch_of_contacts_is_taken_whole(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    bob = json.loads(KAMAILIO_UPDATE) | {"aor": "bob", "ruid": "r-bob", "c": "sip:bob@192.0.2.9"}
    kdmq(sip, json.dumps({"multi": {"1": json.loads(KAMAILIO_UPDATE), "2": bob}}))
    assert (lookup(sip, "alice"), lookup(sip, "bob")) == (
        "200 Found sip:alice@127.0.0.1:9999;ob", "200 Found sip:bob@192.0.2.9")


def test_a_sync_request_is_answered_with_every_contact(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    register(sip, "alice")
    register(sip, "bob")
    join(sip)
    bodies = usrloc_bodies(kdmq(sip, '{"action":3}'))
    assert sorted((d["action"], d["aor"]) for d in bodies) == [(1, "alice"), (1, "bob")]


def test_a_sync_with_batch_msg_contacts_sends_them_together(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, 'modparam("dmq_usrloc", "batch_msg_contacts", 2)')
    for user in ("alice", "bob", "carol"):
        register(sip, user)
    join(sip)
    bodies = usrloc_bodies(kdmq(sip, '{"action":3}'))
    assert [sorted(d["multi"]) for d in bodies] == [["1", "2"], ["1"]]


def test_a_body_that_is_no_json_is_answered_400(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    reply = kdmq(sip, "not json").responses[0]
    assert (reply.status, reply.msg.reason) == (400, "Bad Request")


def test_an_unknown_action_is_answered_400(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    assert kdmq(sip, '{"action":9}').responses[0].status == 400


def test_with_replicate_socket_info_the_socket_goes_along(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, 'modparam("dmq_usrloc", "replicate_socket_info", 1)')
    join(sip)
    [doc] = usrloc_bodies(register(sip, "alice"))
    assert list(doc)[4:6] == ["received", "sock"] and doc["sock"] == "udp:127.0.0.1:5060"


def test_disabled_nothing_is_replicated(kampy_cfg: Any) -> None:
    sip = kampy_cfg(usrloc_config().replace('modparam("dmq_usrloc", "enable", 1)', ""))
    join(sip)
    assert usrloc_bodies(register(sip, "alice")) == []
    sent = sip.send_request("KDMQ", f"sip:usrloc@{SELF}:5060", body=KAMAILIO_UPDATE, src=f"{PEER}:5060")
    assert [r.status for r in sent.replies] == [404]


def test_a_refreshed_registration_goes_out_again(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    join(sip)
    first = usrloc_bodies(register(sip, "alice"))
    again = usrloc_bodies(register(sip, "alice", expires=900))
    assert [d["action"] for d in again] == [1]
    assert again[0]["ruid"] == first[0]["ruid"] and again[0]["expires"] > first[0]["expires"]


def test_a_contact_that_expires_is_not_replicated(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    join(sip)
    [sent] = usrloc_bodies(register(sip, "alice", expires=5))
    later = usrloc_bodies(sip.advance(120))  # tm retransmits what the silent peer does not answer
    assert lookup(sip, "alice") == "404 Not Found"
    assert [d for d in later if d.get("action") != 3 and d != sent] == []


def test_a_contact_without_an_aor_is_answered_400(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    reply = kdmq(sip, KAMAILIO_UPDATE.replace('"aor":"alice"', '"aor":5')).responses[0]
    assert reply.status == 400
    assert sip.module("usrloc").contacts("") == []


def test_a_body_that_is_not_utf8_is_answered_400(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    assert [r.status for r in handled(sip, "usrloc", b'{"aor":"\xff"}').responses] == [400]
