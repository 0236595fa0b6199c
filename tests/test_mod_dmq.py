"""dmq in-process: the KDMQ requests a node sends and answers, its node list and the DMQ workers.
The wire format is Kamailio 5.6.3's (dmq_funcs.c, notification_peer.c); what it looks like from
Kamailio is in tests/e2e/test_dmq_cluster.py's captures."""
from __future__ import annotations

from typing import Any

import pytest

from tests.support.dmqkit import PEER, SELF, config, join, kdmq


def node(kampy_cfg: Any, params: str = "", handle: str = "dmq_handle_message();", body: str = "") -> Any:
    return kampy_cfg(dmq_config(params, handle, body))


def dmq_config(params: str = "", handle: str = "", body: str = "") -> str:
    return config(["dmq"], f'    {body}\n    sl_send_reply("200", "OK");', params, handle)


def kdmq_text(sip: Any, peer: str, body: str, **options: Any) -> Any:
    """A KDMQ request to `peer` in the text/plain of dmq's own peers."""
    return kdmq(sip, peer, body, content_type="text/plain", **options)


def nodes(sip: Any) -> list[dict[str, Any]]:
    return list(sip.rpc("dmq.list_nodes"))


def test_a_kdmq_request_for_no_peer_is_answered_404_user_not_found(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    reply = kdmq_text(sip, "nobody", "x").replies[0]
    assert (reply.status, reply.msg.reason) == (404, "User Not Found")


def test_dmq_handle_message_leaves_the_request_to_a_dmq_worker(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    sent = kdmq_text(sip, "notification_peer", f"sip:{PEER}:5060;status=active\r\n")
    assert sent.replies == []
    later = sip.advance(0.05)
    assert [s.status for s in later.responses] == [200]


def test_dmq_process_message_answers_in_the_route(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, handle="dmq_process_message();")
    sent = kdmq_text(sip, "notification_peer", f"sip:{PEER}:5060;status=active\r\n")
    assert [r.status for r in sent.replies] == [200]


def test_dmq_handle_message_stops_the_script_and_with_1_returns_true(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, handle='dmq_handle_message("1"); $avp(r) = "went on";', body="")
    assert kdmq_text(sip, "notification_peer", "").avp("r") == "went on"
    sip = node(kampy_cfg, handle='dmq_handle_message(); $avp(r) = "went on";')
    assert kdmq_text(sip, "notification_peer", "").avp("r") is None


def test_the_notification_is_answered_with_this_node_and_the_active_ones(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    kdmq_text(sip, "notification_peer", f"sip:{PEER}:5060;status=active\r\n")
    reply = sip.advance(0.05).responses[0].msg
    assert (reply.status, reply.reason, reply.header("Content-Type")) == (200, "OK", "text/plain")
    assert reply.body == f"sip:{PEER}:5060;status=active\r\nsip:{SELF}:5060;status=active\r\n".encode()


def test_list_nodes_shows_each_node_newest_first(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    join(sip)
    assert nodes(sip) == [
        {"host": PEER, "port": "5060", "proto": "*", "resolved_ip": PEER, "status": "active",
         "last_notification": 0, "local": 0},
        {"host": SELF, "port": "5060", "proto": "*", "resolved_ip": SELF, "status": "active",
         "last_notification": 0, "local": 1}]


def test_a_new_node_is_announced_to_every_active_node_one_hop_less(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    join(sip, "127.0.0.3")
    kdmq_text(sip, "notification_peer", f"sip:{PEER}:5060;status=active\r\n", max_forwards=2)
    out = sip.advance(0.05).forwarded  # the new node too, as Kamailio (no exception in the broadcast)
    assert sorted((s.msg.uri, s.msg.header("Max-Forwards")) for s in out) == [
        ("sip:notification_peer@127.0.0.2:5060", "1"), ("sip:notification_peer@127.0.0.3:5060", "1")]


def test_at_start_the_notification_address_is_asked_for_the_node_list(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, params=f'modparam("dmq", "notification_address", "sip:{PEER}:5060")')
    request = sip.advance(0).forwarded[0].msg
    assert request.start_line == f"KDMQ sip:notification_peer@{PEER}:5060 SIP/2.0"
    assert str(request.from_.uri) == f"sip:notification_peer@{SELF}:5060"
    assert str(request.to.uri) == f"sip:notification_peer@{PEER}:5060"
    assert (request.header("Max-Forwards"), request.header("Content-Type")) == ("2", "text/plain")
    assert request.body == f"sip:{SELF}:5060;status=active\r\n".encode()


def test_the_answer_of_the_notification_address_makes_its_nodes_known(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, params=f'modparam("dmq", "notification_address", "sip:{PEER}:5060")')
    request = sip.advance(0).forwarded[0]
    assert nodes(sip)[0]["status"] == "pending"
    body = f"sip:127.0.0.3:5060;status=active\r\nsip:{PEER}:5060;status=active\r\n".encode()
    sip.send_response(request, 200, body=body, headers={"Content-Type": "text/plain"})
    assert {(n["host"], n["status"]) for n in nodes(sip)} == {
        (SELF, "active"), (PEER, "active"), ("127.0.0.3", "active")}


def test_a_node_that_does_not_answer_is_disabled_then_removed(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, params='modparam("dmq", "ping_interval", 5)')
    join(sip)
    sip.advance(5 + 32)  # the ping, then tm's fr_timer: 408
    assert nodes(sip)[0]["status"] == "disabled"
    sip.advance(5 + 32)
    assert [n["host"] for n in nodes(sip)] == [SELF]


def test_the_notification_address_is_kept_pending_when_it_does_not_answer(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, params=f'modparam("dmq", "notification_address", "sip:{PEER}:5060")')
    sip.advance(35)
    assert [(n["host"], n["status"]) for n in nodes(sip)] == [(PEER, "pending"), (SELF, "active")]


def test_dmq_bcast_message_sends_to_every_active_node(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, handle="dmq_handle_message();",
               body='if ($rm == "MESSAGE") { dmq_bcast_message("mychannel", "$rb", "text/x-test"); }')
    join(sip)
    join(sip, "127.0.0.3")
    out = sip.send_request("MESSAGE", f"sip:x@{SELF}", body="hello").forwarded
    assert sorted(s.msg.uri for s in out) == ["sip:mychannel@127.0.0.2:5060", "sip:mychannel@127.0.0.3:5060"]
    assert {(s.msg.body, s.msg.header("Content-Type"), s.msg.header("Max-Forwards")) for s in out} == {
        (b"hello", "text/x-test", "1")}


def test_a_peer_the_config_sends_to_answers_202_accepted_dmq(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, handle="dmq_handle_message();",
               body=f'dmq_send_message("mychannel", "sip:{PEER}:5060", "hi", "text/plain");')
    join(sip)
    sip.send_request("OPTIONS", f"sip:x@{SELF}")
    kdmq_text(sip, "mychannel", "hi")
    reply = sip.advance(0.05).responses[0]
    assert (reply.status, reply.msg.reason) == (202, "Accepted DMQ")


def test_dmq_send_message_to_a_node_not_in_the_list_is_false(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, body='$avp(r) = dmq_send_message("p", "sip:192.0.2.9:5060", "hi", "text/plain");')
    assert sip.send_request("OPTIONS", f"sip:x@{SELF}").avp("r") == -1


@pytest.mark.parametrize(("src", "expected"), [(f"{PEER}:5999", 1), ("192.0.2.7:5060", -1)])
def test_dmq_is_from_node_knows_the_addresses_of_the_other_nodes(kampy_cfg: Any, src: str,
                                                                 expected: int) -> None:
    sip = node(kampy_cfg, body="$avp(r) = dmq_is_from_node();")
    join(sip)
    assert sip.send_request("OPTIONS", f"sip:x@{SELF}", src=src).avp("r") == expected


def test_dmq_remove_takes_a_node_off_the_list_but_not_this_one(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    join(sip)
    assert sip.rpc("dmq.remove", [f"sip:{PEER}:5060"]) == "Ok. DMQ node removed."
    assert sip.rpc("dmq.remove", [f"sip:{SELF}:5060"]) == "Ok. DMQ node removed."
    assert [n["host"] for n in nodes(sip)] == [SELF]


def test_a_server_address_that_is_not_a_local_socket_is_refused(kampy_cfg: Any) -> None:
    with pytest.raises(Exception, match="server_uri is not a socket the proxy is listening on"):
        kampy_cfg(dmq_config().replace("sip:127.0.0.1:5060",
                                                                    "sip:127.0.0.1:5099"))


def test_kdmq_requests_go_out_from_the_server_address_socket(kampy_cfg: Any) -> None:
    cfg = dmq_config(f'modparam("dmq", "notification_address", "sip:{PEER}:5060")')
    cfg = cfg.replace("listen=udp:127.0.0.1:5060", "listen=udp:127.0.0.1:5060\nlisten=udp:127.0.0.1:5070")
    sip = kampy_cfg(cfg.replace('"sip:127.0.0.1:5060")', '"sip:127.0.0.1:5070")', 1))
    request = sip.advance(0).forwarded[0]
    assert (str(request.local), request.msg.header("Via").split(";")[0]) == (
        "udp:127.0.0.1:5070", "SIP/2.0/UDP 127.0.0.1:5070")


def test_a_notification_with_lines_that_are_no_nodes_is_still_answered(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    kdmq_text(sip, "notification_peer", "sip:127.0.0.9:5060;status=bogus\r\n<<<>>>\r\n")
    assert [r.status for r in sip.advance(0.05).responses] == [200]
    assert [n["host"] for n in nodes(sip)] == [SELF]


def test_without_dmq_workers_dmq_handle_message_fails(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, params='modparam("dmq", "num_workers", 0)',
               handle='$avp(r) = dmq_handle_message("1"); exit;')
    assert kdmq_text(sip, "notification_peer", "").avp("r") == -1


def test_a_node_host_resolves_through_the_cores_resolver_and_dns_cache(kampy_cfg: Any) -> None:
    # Kamailio's resolvehost(): a corex dns_cache record is an answer getaddrinfo would not know
    params = (f'modparam("corex", "dns_cache", "name=peer.test.invalid;type=A;addr={PEER}")\n'
              'modparam("dmq", "notification_address", "sip:peer.test.invalid:5060")')
    sip = kampy_cfg(config(["corex", "dmq"], 'sl_send_reply("200", "OK");', params))
    sip.advance(0)
    assert (nodes(sip)[0]["host"], nodes(sip)[0]["resolved_ip"]) == ("peer.test.invalid", PEER)
