"""outbound in-process: the flow tokens (layout, HMAC, IPv6, what decoding refuses), the key shared
by every worker, and use_outbound()'s rules as Kamailio 5.6's outbound_mod.c applies them.
tests/e2e/test_outbound_e2e.py runs rr and path with it on the wire beside Kamailio."""
from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from kampy.api import FlowToken, MessageContext, Socket, Source, parse_message, setflag
from kampy.modules.outbound import EXPORTS
from tests.modkit import core, module, sip

REGISTER = sip("""
REGISTER sip:example.test SIP/2.0
Via: SIP/2.0/UDP 192.0.2.7:5099;branch=z9hG4bK-r1
Max-Forwards: 70
From: <sip:alice@example.test>;tag=r1
To: <sip:alice@example.test>
Call-ID: reg-1
CSeq: 1 REGISTER
Contact: <sip:alice@192.0.2.7:5099>;reg-id=1;+sip.instance="<urn:uuid:1>"
Content-Length: 0
""")

INVITE = sip("""
INVITE sip:bob@example.test SIP/2.0
Via: SIP/2.0/UDP 192.0.2.7:5099;branch=z9hG4bK-i1
Max-Forwards: 70
From: <sip:alice@example.test>;tag=i1
To: <sip:bob@example.test>
Call-ID: inv-1
CSeq: 1 INVITE
Contact: <sip:alice@192.0.2.7:5099;ob>
Content-Length: 0
""")

SECOND_VIA = "Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bK-0\r\n"


def build(**params: object):  # type: ignore[no-untyped-def]
    c = core()
    return module(EXPORTS, c, **params), c


def ctx_of(raw: bytes, c, ip: str = "192.0.2.7", port: int = 5099,  # type: ignore[no-untyped-def]
           local: Socket | None = None) -> MessageContext:
    return MessageContext(msg=parse_message(raw), src=Source("udp", ip, port, local or c.sockets[0]), core=c)


def edit(raw: bytes, old: str, new: str) -> bytes:
    return raw.replace(old.encode(), new.encode())


# ---------------------------------------------------------------- flow tokens

def test_flow_token_is_hmac_sha1_80_then_proto_local_and_peer_address() -> None:
    ob, c = build(flow_token_secret="s3cret")
    token = ob.encode_flow_token(ctx_of(REGISTER, c))
    raw = base64.b64decode(token)
    data = bytes([1]) + bytes([127, 0, 0, 1]) + (5060).to_bytes(2, "big") + bytes([192, 0, 2, 7]) + \
        (5099).to_bytes(2, "big")
    assert raw[10:] == data
    assert raw[:10] == hmac.new(hashlib.sha1(b"s3cret").digest(), data, hashlib.sha1).digest()[-10:]


def test_flow_token_decodes_to_the_connection() -> None:
    ob, c = build(flow_token_secret="s3cret")
    token = ob.encode_flow_token(ctx_of(REGISTER, c))
    assert ob.decode_flow_token(ctx_of(INVITE, c), token) == (
        0, FlowToken("udp", "127.0.0.1", 5060, "192.0.2.7", 5099))


def test_ipv6_flow_token_is_47_bytes_with_the_ipv6_bit() -> None:
    ob, c = build()
    local = Socket("tcp", "::1", 5060)
    ctx = MessageContext(msg=parse_message(REGISTER), src=Source("tcp", "2001:db8::7", 40000, local), core=c)
    raw = base64.b64decode(ob.encode_flow_token(ctx))
    assert len(raw) == 47
    assert raw[10] == 0x80 | 2
    assert ob.decode_flow_token(ctx_of(INVITE, c), base64.b64encode(raw).decode()) == (
        0, FlowToken("tcp", "::1", 5060, "2001:db8::7", 40000))


def test_a_token_of_another_key_fails_validation() -> None:
    ob, c = build(flow_token_secret="one")
    other, _ = build(flow_token_secret="two")
    token = other.encode_flow_token(ctx_of(REGISTER, c))
    assert ob.decode_flow_token(ctx_of(INVITE, c), token) == (-1, None)


@pytest.mark.parametrize("token", ["", "not-base64!", base64.b64encode(bytes(20)).decode()])
def test_no_flow_token_is_minus_2(token: str) -> None:
    ob, c = build()
    assert ob.decode_flow_token(ctx_of(INVITE, c), token) == (-2, None)


def test_the_random_key_is_shared_by_every_worker() -> None:
    ob, c = build()
    again = module(EXPORTS, c)  # a second worker: same shared store, no secret
    token = ob.encode_flow_token(ctx_of(REGISTER, c))
    assert again.decode_flow_token(ctx_of(INVITE, c), token)[0] == 0


def test_without_secret_the_key_is_random_per_server() -> None:
    first, c1 = build()
    second, c2 = build()
    token = first.encode_flow_token(ctx_of(REGISTER, c1))
    assert second.decode_flow_token(ctx_of(INVITE, c2), token) == (-1, None)


@pytest.mark.parametrize("param", ["force_outbound_flag", "force_no_outbound_flag"])
def test_a_flag_out_of_range_is_refused(param: str) -> None:
    with pytest.raises(Exception, match="outbound_flag value"):
        build(**{param: 32})


# ---------------------------------------------------------------- use_outbound

def test_register_with_reg_id_on_the_first_hop_uses_outbound() -> None:
    ob, c = build()
    assert ob.use_outbound(ctx_of(REGISTER, c)) == 1


def test_register_after_another_proxy_does_not() -> None:
    ob, c = build()
    raw = edit(REGISTER, "Max-Forwards", SECOND_VIA + "Max-Forwards")
    assert ob.use_outbound(ctx_of(raw, c)) == 0


def test_register_without_reg_id_does_not() -> None:
    ob, c = build()
    assert ob.use_outbound(ctx_of(edit(REGISTER, ";reg-id=1", ""), c)) == 0


def test_request_with_ob_in_its_contact_uses_outbound() -> None:
    ob, c = build()
    assert ob.use_outbound(ctx_of(INVITE, c)) == 1


def test_supported_without_outbound_turns_it_off() -> None:
    ob, c = build()
    timer = edit(INVITE, "Content-Length", "Supported: timer\r\nContent-Length")
    outbound = edit(INVITE, "Content-Length", "Supported: outbound\r\nContent-Length")
    assert ob.use_outbound(ctx_of(timer, c)) == 0
    assert ob.use_outbound(ctx_of(outbound, c)) == 1


def test_request_with_ob_contact_after_another_proxy_does_not() -> None:
    ob, c = build()
    assert ob.use_outbound(ctx_of(edit(INVITE, "Max-Forwards", SECOND_VIA + "Max-Forwards"), c)) == 0


def with_route(route: str) -> bytes:
    return edit(edit(INVITE, ";ob>", ">"), "Content-Length", f"Route: {route}\r\nContent-Length")


def test_our_ob_route_with_the_token_of_another_peer_is_incoming() -> None:
    ob, c = build()
    token = ob.encode_flow_token(ctx_of(REGISTER, c))
    raw = with_route(f"<sip:{token}@127.0.0.1;lr;ob>")
    assert ob.use_outbound(ctx_of(raw, c, ip="198.51.100.7", port=5060)) == 2


def test_our_ob_route_from_the_flows_own_peer_is_outgoing() -> None:
    ob, c = build()
    token = ob.encode_flow_token(ctx_of(REGISTER, c))
    assert ob.use_outbound(ctx_of(with_route(f"<sip:{token}@127.0.0.1;lr;ob>"), c)) == 1


def test_a_route_of_another_proxy_means_no_outbound() -> None:
    ob, c = build()
    assert ob.use_outbound(ctx_of(with_route("<sip:198.51.100.99;lr;ob>"), c)) == 0


def test_our_route_without_ob_falls_back_to_the_contact() -> None:
    ob, c = build()
    raw = edit(with_route("<sip:127.0.0.1;lr>"), "192.0.2.7:5099>", "192.0.2.7:5099;ob>")
    assert ob.use_outbound(ctx_of(raw, c)) == 1
    assert ob.use_outbound(ctx_of(with_route("<sip:127.0.0.1;lr>"), c)) == 0


def test_force_outbound_flag_comes_first() -> None:
    ob, c = build(force_outbound_flag=3, force_no_outbound_flag=4)
    ctx = ctx_of(edit(REGISTER, ";reg-id=1", ""), c)
    setflag(ctx, 3)
    setflag(ctx, 4)
    assert ob.use_outbound(ctx) == 1


def test_force_no_outbound_flag_turns_it_off() -> None:
    ob, c = build(force_no_outbound_flag=4)
    ctx = ctx_of(REGISTER, c)
    setflag(ctx, 4)
    assert ob.use_outbound(ctx) == 0


# ---------------------------------------------------------------- with rr, in a config

RR_CFG = """
listen=udp:127.0.0.1:5060
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "outbound.so"
loadmodule "rr.so"
modparam("outbound", "flow_token_secret", "s3cret")
request_route {
	if ($hdr(Route) != $null) {
		$var(lr) = loose_route();
		$avp(lr) = $var(lr);
		t_relay();
		exit;
	}
	record_route();
	$du = "sip:198.51.100.7:5080";
	t_relay();
}
"""


def secret_token(local: tuple[str, int], peer: tuple[str, int]) -> str:
    data = bytes([1]) + bytes(map(int, local[0].split("."))) + local[1].to_bytes(2, "big") + \
        bytes(map(int, peer[0].split("."))) + peer[1].to_bytes(2, "big")
    return base64.b64encode(hmac.new(hashlib.sha1(b"s3cret").digest(), data, hashlib.sha1).digest()[-10:]
                            + data).decode()


def test_record_route_carries_the_flow_token_of_an_ob_contact(kampy_cfg) -> None:
    sip = kampy_cfg(RR_CFG)
    result = sip.send_request("INVITE", "sip:bob@example.test", src="192.0.2.7:5099",
                              contact="<sip:alice@192.0.2.7:5099;ob>")
    (sent,) = [s for s in result.forwarded if s.is_request]
    token = secret_token(("127.0.0.1", 5060), ("192.0.2.7", 5099))
    assert sent.msg.headers_named("record-route")[0].startswith(f"<sip:{token}@127.0.0.1;lr;ftag=")


def test_loose_route_sends_an_incoming_request_to_the_flow_and_returns_2(kampy_cfg) -> None:
    sip = kampy_cfg(RR_CFG)
    token = secret_token(("127.0.0.1", 5060), ("192.0.2.7", 5099))
    result = sip.send_request("INVITE", "sip:alice@10.0.0.1:5060", src="198.51.100.7:5080",
                              headers={"Route": f"<sip:{token}@127.0.0.1;lr;ob>"})
    assert result.avp("lr") == 2
    assert result.du == "sip:192.0.2.7:5099;transport=udp"


def test_loose_route_from_the_flows_own_peer_does_not_route_by_it(kampy_cfg) -> None:
    sip = kampy_cfg(RR_CFG)
    token = secret_token(("127.0.0.1", 5060), ("192.0.2.7", 5099))
    result = sip.send_request("INVITE", "sip:bob@198.51.100.9", src="192.0.2.7:5099",
                              headers={"Route": f"<sip:{token}@127.0.0.1;lr;ob>,<sip:198.51.100.8;lr>"})
    assert result.avp("lr") == 1
    assert result.du == "sip:198.51.100.8;lr"


def test_loose_route_refuses_a_tampered_token_with_minus_2(kampy_cfg) -> None:
    sip = kampy_cfg(RR_CFG)
    forged = base64.b64encode(bytes(10) + base64.b64decode(secret_token(("127.0.0.1", 5060),
                                                                        ("192.0.2.7", 5099)))[10:]).decode()
    result = sip.send_request("INVITE", "sip:alice@10.0.0.1:5060", src="198.51.100.7:5080",
                              headers={"Route": f"<sip:{forged}@127.0.0.1;lr;ob>"})
    assert result.avp("lr") == -2


def test_add_username_with_outbound_is_refused(kampy_cfg) -> None:
    with pytest.raises(Exception, match='cannot use "add_username" with outbound'):
        kampy_cfg(RR_CFG.replace('request_route', 'modparam("rr", "add_username", 1)\nrequest_route'))
