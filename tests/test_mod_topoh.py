"""topoh in-process: what a record-routing proxy with topoh sends each way, and Kamailio's encoding
(tests/e2e/test_topoh_e2e.py runs a whole call through Kamailio 5.6 and kampy on the wire)."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from kampy.testing import Harness
from kampy.modules.topoh.mask import Mask

MODPARAMS = """
modparam("topoh", "mask_key", "kampy-topoh-test")
modparam("topoh", "mask_ip", "10.99.0.1")
modparam("topoh", "mask_callid", 1)
"""
CFG = """
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "topoh.so"
modparam("rr", "append_fromtag", 1)
MODPARAMS
request_route {
    if (is_method("OPTIONS")) { sl_send_reply("404", "Nobody"); exit; }
    if (has_totag()) {
        loose_route();
        t_relay();
        exit;
    }
    record_route();
    $du = "sip:192.0.2.20:5060";
    t_relay();
}
EVENTS
"""
KEY = b"kampy-topoh-test"
INVITE = """INVITE sip:bob@example.test SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-1;rport
Record-Route: <sip:192.0.2.5;lr>
From: <sip:alice@example.test>;tag=alice-tag
To: <sip:bob@example.test>
Call-ID: call-1@a
CSeq: 1 INVITE
Max-Forwards: 70
Contact: <sip:alice@192.0.2.10:5070>
"""


def config(extra: str = "", events: str = "") -> str:
    return CFG.replace("MODPARAMS", MODPARAMS + extra).replace("EVENTS", events)


@pytest.fixture
def sip(kampy_cfg: Callable[..., Harness]) -> Harness:
    return kampy_cfg(config())


def header(data: bytes, name: str) -> list[str]:
    lines = data.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")[1:]
    return [line.split(":", 1)[1].strip() for line in lines if line.split(":", 1)[0].lower() == name.lower()]


# ------------------------------------------------------------------ the encoding

def test_the_encoding_is_kamailios() -> None:
    # Kamailio 5.6.3 with mask_key "kampy-topoh-test" sent this Call-ID for "call-1@a"
    assert Mask(KEY).encode(b"call-1@a", "!!:") == "!!:Frhntj5siDI*"


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 40])
def test_what_is_encoded_decodes_back(size: int) -> None:
    data = bytes(range(200, 200 - size, -1))
    if size:
        assert Mask(KEY).decode(Mask(KEY).encode(data, "p-"), "p-") == data


def test_text_outside_the_alphabet_does_not_decode() -> None:
    assert Mask(KEY).decode("sr-a b~", "sr-") is None


# ------------------------------------------------------------------ a call's first request and its reply

def test_the_relayed_invite_hides_the_caller(sip: Harness) -> None:
    data = sip.send(INVITE).forwarded[0].data
    vias = header(data, "via")
    assert vias[1].startswith("SIP/2.0/UDP 10.99.0.1;branch=z9hG4bKsr-")
    hidden = Mask(KEY).decode(vias[1].split("branch=", 1)[1], "z9hG4bKsr-")
    # the caller's Via as kampy received it, with topoh's cookie (initial request, from downstream)
    assert hidden == b"SIP/2.0/UDP 192.0.2.10:5070;received=192.0.2.10;TH=div;branch=z9hG4bK-1;rport=5060"
    contact = Mask(KEY).encode(b"sip:alice@192.0.2.10:5070", "sip:10.99.0.1;line=sr-")
    assert header(data, "contact") == [f"<{contact}>"]
    rrs = header(data, "record-route")
    assert "ftag=alice-tag" in rrs[0] and rrs[1].startswith("<sip:10.99.0.1;line=sr-")
    assert header(data, "call-id") == ["!!:Frhntj5siDI*"]
    assert b"192.0.2.10" not in data and b"192.0.2.5" not in data and b"TH" not in data


def test_the_relayed_reply_hides_the_callee_and_restores_the_caller(sip: Harness) -> None:
    invite = sip.send(INVITE).forwarded[0]
    rr = ", ".join(header(invite.data, "record-route"))  # as the callee copies it
    headers = {"Contact": "<sip:bob@192.0.2.20>", "Record-Route": rr}
    reply = sip.send_response(invite, 200, headers=headers).sent
    to_caller = [s for s in reply if s.host == "192.0.2.10" and s.is_response]
    data = to_caller[-1].data
    (via,) = header(data, "via")
    assert via.startswith("SIP/2.0/UDP 192.0.2.10:5070;") and "branch=z9hG4bK-1" in via
    assert header(data, "call-id") == ["call-1@a"]
    assert header(data, "contact")[0].startswith("<sip:10.99.0.1;line=sr-")
    # the caller's side of the route, decoded again
    assert header(data, "record-route")[0].split(", ")[1] == "<sip:192.0.2.5;lr>"
    assert b"192.0.2.20" not in data and b"TH" not in data


def test_a_local_reply_carries_no_cookie(sip: Harness) -> None:
    options = INVITE.replace("INVITE sip:bob", "OPTIONS sip:bob").replace("1 INVITE", "1 OPTIONS")
    sent = sip.send(options).sent
    assert len(sent) == 1 and sent[0].data.startswith(b"SIP/2.0 404 Nobody")
    (via,) = header(sent[0].data, "via")
    assert via.startswith("SIP/2.0/UDP 192.0.2.10:5070;") and "TH" not in via


def test_a_request_within_the_dialog_reaches_the_hidden_contact(sip: Harness) -> None:
    masked = Mask(KEY).encode(b"sip:alice@192.0.2.10:5070", "sip:10.99.0.1;line=sr-")
    bye = (f"BYE {masked} SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.20;branch=z9hG4bK-b\n"
           "From: <sip:bob@example.test>;tag=bob-tag\nTo: <sip:alice@example.test>;tag=alice-tag\n"
           "Route: <sip:127.0.0.1;lr;ftag=alice-tag>\n"  # the From tag is not the ftag: upstream
           f"Call-ID: !!:Frhntj5siDI*\nCSeq: 2 BYE\nMax-Forwards: 70\n")
    sent = sip.send(bye).forwarded[0]
    assert sent.data.startswith(b"BYE sip:alice@192.0.2.10:5070 SIP/2.0")
    assert header(sent.data, "call-id") == ["call-1@a"]  # upstream: the caller's own Call-ID
    assert header(sent.data, "via")[1].startswith("SIP/2.0/UDP 10.99.0.1;branch=z9hG4bKsr-")


def test_register_is_left_alone(sip: Harness) -> None:
    register = INVITE.replace("INVITE sip:bob", "REGISTER sip:bob").replace("1 INVITE", "1 REGISTER")
    data = sip.send(register).forwarded[0].data
    assert b"192.0.2.10:5070" in data and b"10.99.0.1" not in data


def test_a_drop_in_msg_sending_sends_the_message_unmasked(kampy_cfg: Callable[..., Harness]) -> None:
    sip = kampy_cfg(config(events='event_route[topoh:msg-sending] { if (is_method("INVITE")) drop; }'))
    data = sip.send(INVITE).forwarded[0].data
    assert b"Contact: <sip:alice@192.0.2.10:5070>" in data and b"10.99.0.1" not in data


def test_event_mode_1_runs_only_msg_outgoing(kampy_cfg: Callable[..., Harness]) -> None:
    sip = kampy_cfg(config('modparam("topoh", "event_mode", 1)\n',
                           'event_route[topoh:msg-sending] { drop; }'))
    assert b"10.99.0.1" in sip.send(INVITE).forwarded[0].data


def test_uri_prefix_checks_leave_routes_without_the_prefix_alone(kampy_cfg: Callable[..., Harness]) -> None:
    sip = kampy_cfg(config('modparam("topoh", "uri_prefix_checks", 1)\n'))
    masked = Mask(KEY).encode(b"sip:alice@192.0.2.10:5070", "sip:10.99.0.1;line=sr-")
    other = masked.replace("sip:10.99.0.1", "sip:10.99.0.2")
    bye = (f"BYE {other} SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.20;branch=z9hG4bK-c\n"
           "From: <sip:bob@example.test>;tag=bob-tag\nTo: <sip:alice@example.test>;tag=alice-tag\n"
           "Call-ID: x\nCSeq: 2 BYE\nMax-Forwards: 70\n")
    sent = sip.send(bye).forwarded
    assert sent and sent[0].data.startswith(f"BYE {other} ".encode())


def test_replaces_of_an_invite_is_masked(sip: Harness) -> None:
    data = sip.send(INVITE.replace("Max-Forwards", "Replaces: call-1@a;to-tag=x;from-tag=y\nMax-Forwards"))
    assert header(data.forwarded[0].data, "replaces") == ["!!:Frhntj5siDI*;to-tag=x;from-tag=y"]


def test_sanity_checks_answer_a_bad_request_and_leave_it_masked(
        kampy_cfg: Callable[..., Harness]) -> None:
    sip = kampy_cfg(config('modparam("topoh", "sanity_checks", 1)\n').replace(
        'loadmodule "topoh.so"', 'loadmodule "sanity.so"\nloadmodule "topoh.so"'))
    masked = Mask(KEY).encode(b"sip:alice@192.0.2.10:5070", "sip:10.99.0.1;line=sr-")
    bye = (f"BYE {masked} SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.20;branch=z9hG4bK-s\n"
           "From: <sip:bob@example.test>;tag=bob-tag\nTo: <sip:alice@example.test>;tag=alice-tag\n"
           "Call-ID: y\nCSeq: 2 BYE\nMax-Forwards: 70\nPROXYREQ")
    good = sip.send(bye.replace("PROXYREQ", "")).forwarded
    assert good[0].data.startswith(b"BYE sip:alice@192.0.2.10:5070 ")
    bad = bye.replace("PROXYREQ", "Proxy-Require: foo\n").replace("-s\n", "-s2\n")
    bad = bad.replace("Call-ID: y", "Call-ID: z")  # another transaction
    result = sip.send(bad)
    assert [s.data.split(b"\r\n", 1)[0] for s in result.sent if s.is_response] == [
        b"SIP/2.0 420 Bad Proxy Require Extension"]
    # the config ran with the request all the same, and relayed it as it came (no cookie: untouched)
    relayed = [s.data.split(b"\r\n", 1)[0] for s in result.sent if s.is_request]
    assert relayed == [f"BYE {masked} SIP/2.0".encode()]


def test_sanity_checks_need_the_sanity_module(kampy_cfg: Callable[..., Harness]) -> None:
    with pytest.raises(Exception, match="cannot bind to sanity module"):
        kampy_cfg(config('modparam("topoh", "sanity_checks", 1)\n'))


def test_a_value_that_decodes_into_a_line_break_is_left_alone(sip: Harness) -> None:
    forged = Mask(KEY).encode(b"sip:a@192.0.2.30\r\nX-Injected: 1", "sip:10.99.0.1;line=sr-")
    bye = (f"BYE {forged} SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.20;branch=z9hG4bK-f\n"
           "From: <sip:bob@example.test>;tag=bob-tag\nTo: <sip:alice@example.test>;tag=alice-tag\n"
           "Call-ID: f\nCSeq: 2 BYE\nMax-Forwards: 70\n")
    sent = sip.send(bye).sent
    assert [s.data.split(b"\r\n", 1)[0] for s in sent if s.is_request] == [f"BYE {forged} SIP/2.0".encode()]
    assert all(b"X-Injected" not in s.data for s in sent)


def test_a_reply_with_an_empty_cookie_is_relayed(sip: Harness, caplog: pytest.LogCaptureFixture) -> None:
    via = Mask(KEY).encode(b"SIP/2.0/UDP 192.0.2.10:5070;TH=;branch=z9hG4bK-e", "z9hG4bKsr-")
    reply = ("SIP/2.0 200 OK\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-none\n"
             f"Via: SIP/2.0/UDP 10.99.0.1;branch={via}\nFrom: <sip:a@example.test>;tag=1\n"
             "To: <sip:b@example.test>;tag=2\nCall-ID: e\nCSeq: 1 INVITE\n")
    sip.send(reply)
    assert not [r for r in caplog.records if "internal error" in r.getMessage()]


def test_msg_sending_sees_where_the_message_goes_in_snd(kampy_cfg: Callable[..., Harness]) -> None:
    sip = kampy_cfg(config(events='event_route[topoh:msg-sending] {\n'
                                  '    if ($snd(ip) == "192.0.2.20" && $snd(port) == 5060\n'
                                  '        && $rm == "INVITE") drop;\n'
                                  '}'))
    assert b"10.99.0.1" not in sip.send(INVITE).forwarded[0].data


def test_msg_outgoing_sees_where_the_message_goes_in_snd(kampy_cfg: Callable[..., Harness]) -> None:
    sip = kampy_cfg(config(events='event_route[topoh:msg-outgoing] {\n'
                                  '    if ($sndto(ip) == "192.0.2.20" && $rm == "OPTIONS") drop;\n'
                                  '}'))
    assert b"Contact: <sip:alice@192.0.2.10:5070>" in sip.send(INVITE).forwarded[0].data
