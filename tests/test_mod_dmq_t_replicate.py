"""dmq_t_replicate: the request replicated statefully (tm's t_replicate) to every active node but this
one, from the bus socket, the replies kept by tm."""
from __future__ import annotations

from typing import Any

from tests.support.dmqkit import PEER, SELF, join
from tests.test_mod_dmq import node

THIRD = "127.0.0.3"


def test_dmq_t_replicate_sends_one_copy_to_each_active_node(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, body='if ($rm == "REGISTER") { dmq_t_replicate(); }')
    join(sip)
    join(sip, THIRD)
    out = sip.send_request("REGISTER", f"sip:{SELF}", src="192.0.2.7:5070").forwarded
    assert sorted((s.host, s.port) for s in out) == [(PEER, 5060), (THIRD, 5060)]
    assert {s.msg.method for s in out} == {"REGISTER"}
    assert {s.msg.uri for s in out} == {f"sip:{SELF}"}


def test_dmq_t_replicate_ends_the_script(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, body='if ($rm == "REGISTER") { dmq_t_replicate(); $avp(after) = 1; }')
    join(sip)
    result = sip.send_request("REGISTER", f"sip:{SELF}", src="192.0.2.7:5070")
    assert result.avp("after") is None
    assert result.replies == []


def test_dmq_t_replicate_keeps_the_replies_of_the_nodes(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, body='if ($rm == "REGISTER") { dmq_t_replicate(); }')
    join(sip)
    copy = sip.send_request("REGISTER", f"sip:{SELF}", src="192.0.2.7:5070").forwarded[0]
    answered = sip.send_response(copy, 200, "OK")
    assert answered.responses == [] and answered.forwarded == []


def test_dmq_t_replicate_skips_a_request_from_another_node(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, body='if ($rm == "REGISTER") { $avp(r) = dmq_t_replicate(); }')
    join(sip)
    result = sip.send_request("REGISTER", f"sip:{SELF}", src=f"{PEER}:5060")
    assert result.avp("r") == -1 and result.forwarded == []


def test_dmq_t_replicate_skip_loop_test_replicates_a_request_from_another_node(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, body='if ($rm == "REGISTER") { dmq_t_replicate(1); }')
    join(sip)
    join(sip, THIRD)
    out = sip.send_request("REGISTER", f"sip:{SELF}", src=f"{PEER}:5060").forwarded
    assert sorted(s.host for s in out) == [PEER, THIRD]
