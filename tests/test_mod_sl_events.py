"""sl: send_reply_mode(), sl_forward_reply(), $ltt and the event routes sl:local-response and
sl:filtered-ack, in-process (tests/e2e/test_sl_kamailio.py runs the same config on the wire beside
Kamailio 5.6)."""
from __future__ import annotations

from typing import Any

import pytest

from kampy.api import SND_F_CON_CLOSE, SND_F_FORCE_CON_REUSE

CFG = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
%s
request_route {
    %s
}
onreply_route {
    %s
}
event_route[sl:local-response] {
    $shv(lrs) = $rs;
    $shv(lr) = $rr + " " + $rm;
}
event_route[sl:filtered-ack] {
    $shv(ack) = $rm + " " + $ci;
}
"""


def server(kampy_cfg: Any, request: str, reply: str = "", extra: str = "") -> Any:
    return kampy_cfg(CFG % (extra, request, reply), db=None)


def to_tag(sent: Any) -> str:
    return sent.msg.to.tag


def test_ltt_s_is_the_to_tag_of_the_stateless_reply(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, 'sl_send_reply("404", "$ltt(s)");')
    reply = sip.send_request("INVITE", "sip:bob@example.test").reply
    assert reply.msg.reason == to_tag(reply)


def test_ltt_x_without_a_transaction_is_the_stateless_to_tag(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, 'sl_send_reply("404", "$ltt(x)");')
    reply = sip.send_request("INVITE", "sip:bob@example.test").reply
    assert reply.msg.reason == to_tag(reply)


def test_ltt_t_without_a_transaction_is_null(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, 'sl_send_reply("404", "t=$ltt(t)");')
    assert sip.send_request("INVITE", "sip:bob@example.test").reply.msg.reason == "t=<null>"


def test_ltt_t_with_a_transaction_is_the_to_tag_of_tms_reply(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, 't_newtran(); t_reply("404", "$ltt(t)");', extra='loadmodule "tm.so"')
    reply = sip.send_request("INVITE", "sip:bob@example.test").reply
    assert reply.msg.reason == to_tag(reply)
    assert "-" in reply.msg.reason  # tm's tags: <md5>-<crc>


def test_ltt_x_with_a_transaction_is_tms(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, 't_newtran(); $var(r) = $ltt(x) + " " + $ltt(s); t_reply("404", "$var(r)");',
                 extra='loadmodule "tm.so"')
    reply = sip.send_request("INVITE", "sip:bob@example.test").reply
    x, s = reply.msg.reason.split()
    assert x == to_tag(reply) and s != x and "." in s


def test_ltt_with_an_unknown_key_is_refused_at_load(kampy_cfg: Any) -> None:
    # (as sl_send_reply()'s reason, Kamailio 5.6 takes "$ltt(y)" for the AVP "ltt(y)": no error)
    with pytest.raises(Exception, match="unknown PV ltt key: y"):
        server(kampy_cfg, '$var(r) = $ltt(y);')


def test_local_response_route_runs_with_the_reply_as_the_message(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, 'if ($rU == "show") { sl_send_reply("200", "r: $shv(lrs) $shv(lr)"); exit; }\n'
                            'sl_send_reply("486", "Busy Here");')
    sip.send_request("INVITE", "sip:bob@example.test")
    # the route ran for the 486 (the reply's CSeq method is $rm)
    assert sip.send_request("OPTIONS", "sip:show@example.test").reply.msg.reason == "r: 486 Busy Here INVITE"


def test_filtered_ack_route_runs_for_an_ack_to_a_local_reply(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, 'if ($rU == "show") { sl_send_reply("200", "$shv(ack)"); exit; }\n'
                            'sl_send_reply("486", "Busy Here");')
    reply = sip.send_request("INVITE", "sip:bob@example.test", call_id="acked-1", branch="z9hG4bK-a1").reply
    ack = sip.send_request("ACK", "sip:bob@example.test", call_id="acked-1", to_tag=to_tag(reply),
                           branch="z9hG4bK-a1")
    assert ack.sent == []
    assert sip.stat("sl:received_ACKs") == 1
    assert sip.send_request("OPTIONS", "sip:show@example.test").reply.msg.reason == "ACK acked-1"


@pytest.mark.parametrize("tag_of", ["another request", "no request"])
def test_an_ack_with_another_to_tag_reaches_the_script(kampy_cfg: Any, tag_of: str) -> None:
    # sl's To-tag ends with a suffix of the request's top Via and Call-ID: an ACK whose branch differs
    # (another transaction's) carries a tag sl would not have given it, as Kamailio compares
    sip = server(kampy_cfg, 'if ($rU == "show") { sl_send_reply("200", "[$shv(ack)]"); exit; }\n'
                            'if (is_method("ACK")) { $shv(ack) = "script"; exit; }\n'
                            'sl_send_reply("486", "Busy Here");')
    reply = sip.send_request("INVITE", "sip:bob@example.test", call_id="c1", branch="z9hG4bK-1").reply
    tag = to_tag(reply) if tag_of == "another request" else "other"
    sip.send_request("ACK", "sip:bob@example.test", call_id="c1", to_tag=tag, branch="z9hG4bK-2")
    assert sip.stat("sl:received_ACKs") == 0
    assert sip.send_request("OPTIONS", "sip:show@example.test").reply.msg.reason == "[script]"


@pytest.mark.parametrize("mode, flags", [("0", 0), ("1", SND_F_FORCE_CON_REUSE), ("2", SND_F_CON_CLOSE),
                                         ("3", SND_F_FORCE_CON_REUSE)])
def test_send_reply_mode_sets_the_send_flags_of_the_reply(kampy_cfg: Any, mode: str, flags: int) -> None:
    sip = server(kampy_cfg, f'send_reply_mode("403", "Invalid user - $fU", "{mode}");')
    result = sip.send_request("REGISTER", "sip:example.test", transport="tcp")
    reply = result.reply
    assert (reply.msg.status, reply.msg.reason) == (403, "Invalid user - alice")
    assert reply.send_flags == flags


def test_set_reply_close_sets_the_close_flag_of_an_sl_reply(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, 'set_reply_close(); sl_send_reply("404", "Not found");')
    reply = sip.send_request("OPTIONS", "sip:x@example.test", transport="tcp").reply
    assert reply.send_flags == SND_F_CON_CLOSE


FWD = 'forward("192.0.2.20:5062"); exit;'


def test_sl_forward_reply_relays_the_reply_with_a_new_code_and_reason(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, FWD, 'if (status == "408") { sl_forward_reply("404", "Not found"); drop; }')
    sip.ua("sip:bob@example.test", "192.0.2.20:5062", answer=408)
    result = sip.send_request("INVITE", "sip:bob@192.0.2.20:5062")
    statuses = [(s.msg.status, s.msg.reason) for s in result.sent if s.is_response]
    assert statuses == [(404, "Not found")]


def test_sl_forward_reply_keeps_the_reason_when_only_the_code_changes(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, FWD, 'if (status == "408") { sl_forward_reply("404"); drop; }')
    sip.ua("sip:bob@example.test", "192.0.2.20:5062", answer=408)
    result = sip.send_request("INVITE", "sip:bob@192.0.2.20:5062")
    assert [(s.msg.status, s.msg.reason) for s in result.sent if s.is_response] == [(404, "Request Timeout")]


def test_sl_forward_reply_then_the_core_relays_the_received_reply(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, FWD, 'sl_forward_reply("404", "Not found");')
    sip.ua("sip:bob@example.test", "192.0.2.20:5062", answer=408)
    result = sip.send_request("INVITE", "sip:bob@192.0.2.20:5062")
    assert [s.msg.status for s in result.sent if s.is_response] == [404, 408]
    first = [s for s in result.sent if s.is_response][0].msg
    assert len(first.vias) == 1  # our own Via is gone, as in a relayed reply


def test_sl_forward_reply_refuses_another_class(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, FWD, '$var(r) = sl_forward_reply("504", "Timeout"); '
                                 'if ($var(r) == -1) drop;')
    sip.ua("sip:bob@example.test", "192.0.2.20:5062", answer=408)
    result = sip.send_request("INVITE", "sip:bob@192.0.2.20:5062")
    assert [s for s in result.sent if s.is_response] == []


def test_sl_forward_reply_without_arguments_relays_as_received(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, FWD, 'sl_forward_reply(); drop;')
    sip.ua("sip:bob@example.test", "192.0.2.20:5062", answer=486)
    result = sip.send_request("INVITE", "sip:bob@192.0.2.20:5062")
    assert [(s.msg.status, s.msg.reason) for s in result.sent if s.is_response] == [(486, "Busy Here")]


def test_an_ack_after_the_2_second_window_reaches_the_script(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, 'if ($rU == "show") { sl_send_reply("200", "[$shv(ack)]"); exit; }\n'
                            'if (is_method("ACK")) { $shv(ack) = "script"; exit; }\n'
                            'sl_send_reply("486", "Busy Here");')
    reply = sip.send_request("INVITE", "sip:bob@example.test", call_id="c1", branch="z9hG4bK-1").reply
    sip.advance(2.5)
    sip.send_request("ACK", "sip:bob@example.test", call_id="c1", to_tag=to_tag(reply), branch="z9hG4bK-1")
    assert sip.stat("sl:received_ACKs") == 0
    assert sip.send_request("OPTIONS", "sip:show@example.test").reply.msg.reason == "[script]"
