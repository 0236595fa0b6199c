"""nathelper in-process: NAT detection (every nat_uac_test bit), the Contact and R-URI rewrites, the
received address for registrar, the SDP changes and $rr_count/$rr_top_count, as Kamailio 5.6's
nathelper.c does them (tests/e2e/test_nathelper_e2e.py compares them with Kamailio on the wire)."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from kampy.testing import Harness

CFG = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "nathelper.so"
modparam("nathelper", "received_avp", "$avp(RECEIVED)")

request_route {
    if ($hdr(X-Test) == "uac") {
        nat_uac_test("$hdr(X-Flags)"); $var(r) = $rc;
        append_to_reply("X-Result: $var(r)\\r\\n");
        sl_send_reply("200", "OK");
        exit;
    }
    if ($hdr(X-Test) == "rfc1918") {
        is_rfc1918("$hdr(X-Addr)"); $var(r) = $rc;
        append_to_reply("X-Result: $var(r)\\r\\n");
        sl_send_reply("200", "OK");
        exit;
    }
    if ($hdr(X-Test) == "register") {
        fix_nated_register();
        append_to_reply("X-Result: $avp(RECEIVED)\\r\\n");
        sl_send_reply("200", "OK");
        exit;
    }
    if ($hdr(X-Test) == "rr") {
        append_to_reply("X-Result: $rr_count $rr_top_count\\r\\n");
        sl_send_reply("200", "OK");
        exit;
    }
    if ($hdr(X-Test) == "alias2pv") {
        set_alias_to_pv("$var(uri)"); $var(r) = $rc;
        append_to_reply("X-Result: $var(r) $var(uri)\\r\\n");
        sl_send_reply("200", "OK");
        exit;
    }
    if ($hdr(X-Test) == "ruri") {
        handle_ruri_alias("$hdr(X-Mode)"); $var(r) = $rc;
        append_to_reply("X-Result: $var(r) $du $ru\\r\\n");
        sl_send_reply("200", "OK");
        exit;
    }
    if ($hdr(X-Test) == "fix_nated_contact") { fix_nated_contact(); $var(r) = $rc; }
    if ($hdr(X-Test) == "twice") { fix_nated_contact(); fix_nated_contact(); $var(r) = $rc; }
    if ($hdr(X-Test) == "set_contact_alias") { set_contact_alias(); $var(r) = $rc; }
    if ($hdr(X-Test) == "set_contact_alias_trim") { set_contact_alias("1"); $var(r) = $rc; }
    if ($hdr(X-Test) == "add_contact_alias") { add_contact_alias(); $var(r) = $rc; }
    if ($hdr(X-Test) == "add_contact_alias3") {
        add_contact_alias("$hdr(X-Ip)", "5080", "tcp"); $var(r) = $rc;
    }
    if ($hdr(X-Test) == "add_rcv_param") { add_rcv_param("$hdr(X-Flags)"); $var(r) = $rc; }
    if ($hdr(X-Test) == "sdp") { fix_nated_sdp("$hdr(X-Flags)"); $var(r) = $rc; }
    if ($hdr(X-Test) == "sdp_ip") { fix_nated_sdp("$hdr(X-Flags)", "198.51.100.9"); $var(r) = $rc; }
    append_hf("X-Result: $var(r)\\r\\n");
    forward("192.0.2.99", "5099");
}
"""

SDP = ("v=0\r\no=alice 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"
       "m=audio 4000 RTP/AVP 0 8\r\na=rtcp:4001 IN IP4 10.0.0.5\r\na=sendrecv\r\n")


@pytest.fixture
def sip(kampy_cfg: Callable[..., Harness]) -> Harness:
    return kampy_cfg(CFG)


def request(test: str, *, contact: str | None = "<sip:alice@10.0.0.5:5070>", via: str = "10.0.0.5:5070",
            headers: str = "", body: str = "", ruri: str = "sip:bob@example.test",
            method: str = "INVITE") -> str:
    lines = [f"{method} {ruri} SIP/2.0", f"Via: SIP/2.0/UDP {via};branch=z9hG4bK-{test}",
             "From: <sip:alice@example.test>;tag=a", "To: <sip:bob@example.test>", f"Call-ID: {test}",
             f"CSeq: 1 {method}", "Max-Forwards: 70", f"X-Test: {test}"]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    lines += [h for h in headers.split("\n") if h]
    if body:
        lines.append("Content-Type: application/sdp")
    return "\n".join(lines) + "\n\n" + body


def result(sip: Harness, test: str, src: str = "203.0.113.7:40000", **kw: str) -> str:
    reply = sip.send(request(test, **kw), src=src).reply
    assert reply is not None
    return reply.header("X-Result") or ""


def forwarded(sip: Harness, test: str, src: str = "203.0.113.7:40000", **kw: str) -> bytes:
    sent = sip.send(request(test, **kw), src=src).forwarded
    assert len(sent) == 1
    return sent[0].data


def header(data: bytes, name: str) -> str:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        key, _, value = line.partition(b":")
        if key.strip().lower() == name.lower().encode():
            return value.strip().decode()
    return ""


def body(data: bytes) -> str:
    return data.split(b"\r\n\r\n", 1)[1].decode()


# ------------------------------------------------------------------ nat_uac_test, one bit at a time

@pytest.mark.parametrize(("flags", "kw", "src", "expected"), [
    ("1", {}, "203.0.113.7:5070", "1"),                                        # private Contact
    ("1", {"contact": "<sip:alice@198.51.100.5:5070>"}, "203.0.113.7:5070", "-1"),
    ("2", {"via": "198.51.100.5:5070"}, "203.0.113.7:5070", "1"),              # Via is not the source
    ("2", {"via": "203.0.113.7:5070"}, "203.0.113.7:5070", "-1"),
    ("4", {"via": "192.168.1.2"}, "192.168.1.2:5060", "1"),                    # private Via
    ("4", {"via": "198.51.100.5"}, "198.51.100.5:5060", "-1"),
    ("8", {"body": SDP}, "203.0.113.7:5070", "1"),                             # private SDP address
    ("8", {"body": SDP.replace("10.0.0.5", "198.51.100.5")}, "203.0.113.7:5070", "-1"),
    ("16", {"via": "203.0.113.7:5070"}, "203.0.113.7:40000", "1"),             # Via port is not the source
    ("16", {"via": "203.0.113.7"}, "203.0.113.7:5060", "-1"),                  # no port: 5060
    ("32", {}, "172.16.4.4:5070", "1"),                                        # private source
    ("32", {}, "100.64.0.1:5070", "1"),                                        # RFC 6598
    ("32", {}, "192.0.0.200:5070", "1"),                                       # nat_addr_mode 1: 192.0.0.0/24
    ("32", {}, "203.0.113.7:5070", "-1"),
    ("64", {}, "203.0.113.7:5070", "-1"),                                      # not WebSocket
    ("128", {"contact": "<sip:alice@198.51.100.5:5070>"}, "198.51.100.5:5071", "1"),  # Contact port
    ("128", {"contact": "<sip:alice@198.51.100.5>"}, "198.51.100.5:5060", "-1"),
    ("256", {"body": SDP}, "10.0.0.5:5070", "-1"),                              # c= is the source
    ("256", {"body": SDP}, "10.0.0.6:5070", "1"),
    ("512", {}, "203.0.113.7:5070", "-1"),                                      # no $du: goes to the R-URI
    ("512", {"ruri": "sip:bob@example.test;transport=ws"}, "203.0.113.7:5070", "1"),
    ("19", {"contact": "<sip:alice@198.51.100.5:5070>", "via": "198.51.100.5:5070"}, "198.51.100.5:5070",
     "-1"),
])
def test_nat_uac_test_flag(sip: Harness, flags: str, kw: dict[str, str], src: str, expected: str) -> None:
    assert result(sip, "uac", src=src, headers=f"X-Flags: {flags}", **kw) == expected


def test_nat_uac_test_without_contact_is_false_for_the_contact_tests(sip: Harness) -> None:
    assert result(sip, "uac", contact=None, headers="X-Flags: 129") == "-1"


# ------------------------------------------------------------------ is_rfc1918

@pytest.mark.parametrize(("address", "expected"), [
    ("10.1.2.3", "1"), ("172.31.255.255", "1"), ("172.32.0.1", "-1"), ("192.168.0.1", "1"),
    ("100.127.255.255", "1"), ("100.128.0.1", "-1"), ("192.0.0.7", "1"), ("192.0.0.8", "1"),
    ("8.8.8.8", "-1"), ("example.test", "-1"),
])
def test_is_rfc1918(sip: Harness, address: str, expected: str) -> None:
    assert result(sip, "rfc1918", headers=f"X-Addr: {address}") == expected


# ------------------------------------------------------------------ the Contact

def test_fix_nated_contact_puts_the_source_address_in_the_contact(sip: Harness) -> None:
    data = forwarded(sip, "fix_nated_contact",
                     contact='"Alice" <sip:alice@10.0.0.5:5070;transport=udp>;expires=60')
    assert header(data, "Contact") == '"Alice" <sip:alice@203.0.113.7:40000;transport=udp>;expires=60'
    assert header(data, "X-Result") == "1"


def test_fix_nated_contact_drops_maddr(sip: Harness) -> None:
    data = forwarded(sip, "fix_nated_contact", contact="<sip:alice@10.0.0.5;transport=udp;maddr=10.9.9.9;lr>")
    assert header(data, "Contact") == "<sip:alice@203.0.113.7:40000;transport=udp;lr>"


def test_fix_nated_contact_twice_is_refused(sip: Harness) -> None:
    data = forwarded(sip, "twice")
    assert header(data, "X-Result") == "-1"
    assert header(data, "Contact") == "<sip:alice@203.0.113.7:40000>"


def test_set_contact_alias_adds_the_source_as_alias(sip: Harness) -> None:
    data = forwarded(sip, "set_contact_alias", contact="sip:alice@10.0.0.5:5070;expires=30")
    assert header(data, "Contact") == "<sip:alice@10.0.0.5:5070;alias=203.0.113.7~40000~1>;expires=30"


def test_alias_name_names_the_alias_parameter(kampy_cfg) -> None:
    sip = kampy_cfg(CFG.replace('modparam("nathelper", "received_avp"',
                                'modparam("nathelper", "alias_name", "nat")\n'
                                'modparam("nathelper", "received_avp"'))
    data = forwarded(sip, "set_contact_alias", contact="<sip:alice@10.0.0.5:5070>")
    assert header(data, "Contact") == "<sip:alice@10.0.0.5:5070;nat=203.0.113.7~40000~1>"
    got = result(sip, "ruri", ruri="sip:bob@10.0.0.5:5070;nat=203.0.113.7~40000~1", headers="X-Mode: 0")
    assert got == "1 sip:203.0.113.7:40000 sip:bob@10.0.0.5:5070"


def test_set_contact_alias_with_trim_replaces_an_older_alias(sip: Harness) -> None:
    data = forwarded(sip, "set_contact_alias_trim", contact="<sip:alice@10.0.0.5:5070;alias=1.2.3.4~5060~1>")
    assert header(data, "Contact") == "<sip:alice@10.0.0.5:5070;alias=203.0.113.7~40000~1>"


def test_add_contact_alias_puts_the_alias_after_host_and_port(sip: Harness) -> None:
    data = forwarded(sip, "add_contact_alias", contact="<sip:alice@10.0.0.5:5070;transport=udp>")
    assert header(data, "Contact") == "<sip:alice@10.0.0.5:5070;alias=203.0.113.7~40000~1;transport=udp>"


def test_add_contact_alias_adds_angle_brackets(sip: Harness) -> None:
    data = forwarded(sip, "add_contact_alias", contact="sip:alice@10.0.0.5:5070")
    assert header(data, "Contact") == "<sip:alice@10.0.0.5:5070;alias=203.0.113.7~40000~1>"


def test_add_contact_alias_is_not_needed_when_the_contact_is_the_source(sip: Harness) -> None:
    data = forwarded(sip, "add_contact_alias", contact="<sip:alice@203.0.113.7:40000;transport=udp>")
    assert header(data, "Contact") == "<sip:alice@203.0.113.7:40000;transport=udp>"
    assert header(data, "X-Result") == "2"


def test_add_contact_alias_with_an_address(sip: Harness) -> None:
    data = forwarded(sip, "add_contact_alias3", headers="X-Ip: 198.51.100.1")
    assert header(data, "Contact") == "<sip:alice@10.0.0.5:5070;alias=198.51.100.1~5080~2>"


def test_add_contact_alias_refuses_a_bad_address(sip: Harness) -> None:
    data = forwarded(sip, "add_contact_alias3", headers="X-Ip: not-an-ip")
    assert header(data, "X-Result") == "-1"


@pytest.mark.parametrize(("mode", "ruri", "expected"), [
    ("0", "sip:alice@10.0.0.5:5070;alias=203.0.113.7~40000~1;lr",
     "1 sip:203.0.113.7:40000 sip:alice@10.0.0.5:5070;lr"),
    ("0", "sip:alice@10.0.0.5;alias=203.0.113.7~40001~2",
     "1 sip:203.0.113.7:40001;transport=tcp sip:alice@10.0.0.5"),
    ("1", "sip:alice@10.0.0.5;alias=1.1.1.1~1~1;alias=2.2.2.2~2~3",
     "1 sip:2.2.2.2:2;transport=tls sip:alice@10.0.0.5;alias=1.1.1.1~1~1"),
    ("0", "sip:alice@10.0.0.5:5070;lr", "2 <null> sip:alice@10.0.0.5:5070;lr"),
    ("0", "sip:alice@10.0.0.5:5070;alias=1.1.1.1", "-1 <null> sip:alice@10.0.0.5:5070;alias=1.1.1.1"),
])
def test_handle_ruri_alias(sip: Harness, mode: str, ruri: str, expected: str) -> None:
    assert result(sip, "ruri", ruri=ruri, method="BYE", headers=f"X-Mode: {mode}") == expected


def test_set_alias_to_pv_makes_a_uri_of_the_alias(sip: Harness) -> None:
    got = result(sip, "alias2pv", contact="<sip:alice@10.0.0.5:5070;alias=203.0.113.7~40000~1>")
    assert got == "1 sip:203.0.113.7:40000;transport=udp"


# ------------------------------------------------------------------ received

def test_fix_nated_register_stores_the_source_uri(sip: Harness) -> None:
    assert result(sip, "register", method="REGISTER") == "sip:203.0.113.7:40000"
    reply = sip.send(request("register", method="REGISTER"), src="tcp:203.0.113.7:40001").reply
    assert reply is not None and reply.header("X-Result") == "sip:203.0.113.7:40001;transport=tcp"


def test_fix_nated_register_without_received_avp_is_refused_at_start(kampy_cfg) -> None:
    with pytest.raises(Exception, match=r":3:\d+: .*fix_nated_register\(\): you must set 'received_avp'"):
        kampy_cfg('loadmodule "sl.so"\nloadmodule "nathelper.so"\n'
                  'request_route { fix_nated_register(); sl_send_reply("200", "OK"); }')


def test_a_config_without_received_avp_loads_when_it_does_not_call_fix_nated_register(kampy_cfg) -> None:
    sip = kampy_cfg('loadmodule "sl.so"\nloadmodule "nathelper.so"\n'
                    'request_route { fix_nated_contact(); sl_send_reply("200", "OK"); }')
    sip.send_request("OPTIONS", "sip:bob@example.test").assert_reply(200)


def test_add_rcv_param_adds_received_to_each_contact(sip: Harness) -> None:
    data = forwarded(sip, "add_rcv_param", contact="<sip:a@10.0.0.5>;q=1, <sip:b@10.0.0.6>",
                     headers="X-Flags: 0")
    assert header(data, "Contact") == ('<sip:a@10.0.0.5>;q=1;received="sip:203.0.113.7:40000", '
                                       '<sip:b@10.0.0.6>;received="sip:203.0.113.7:40000"')


def test_add_rcv_param_into_the_uri(sip: Harness) -> None:
    data = forwarded(sip, "add_rcv_param", contact="<sip:a@10.0.0.5>", headers="X-Flags: 1")
    assert header(data, "Contact") == "<sip:a@10.0.0.5;received=sip:203.0.113.7:40000>"


# ------------------------------------------------------------------ SDP

def test_fix_nated_sdp_rewrites_c_and_rtcp_and_keeps_the_old_addresses(sip: Harness) -> None:
    data = forwarded(sip, "sdp", body=SDP, headers="X-Flags: 2")
    assert body(data) == ("v=0\r\no=alice 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 203.0.113.7\r\nt=0 0\r\n"
                          "m=audio 4000 RTP/AVP 0 8\r\na=rtcp:4001 IN IP4 203.0.113.7\r\na=sendrecv"
                          "\r\na=oldmediaip:10.0.0.5\r\na=oldmediaip:10.0.0.5\r\n")
    assert header(data, "X-Result") == "1"


def test_fix_nated_sdp_all_flags_with_an_address(sip: Harness) -> None:
    data = forwarded(sip, "sdp_ip", body=SDP, headers="X-Flags: 15")
    assert body(data) == ("v=0\r\no=alice 1 1 IN IP4 198.51.100.9\r\ns=-\r\nc=IN IP4 198.51.100.9\r\n"
                          "t=0 0\r\n"
                          "m=audio 4000 RTP/AVP 0 8\r\na=rtcp:4001 IN IP4 198.51.100.9\r\na=sendrecv"
                          "\r\na=direction:active\r\na=nortpproxy:yes\r\na=oldmediaip:10.0.0.5"
                          "\r\na=oldmediaip:10.0.0.5\r\na=oldmediaip:10.0.0.5\r\n")


def test_append_sdp_oldmediaip_0_adds_no_oldmediaip_lines(kampy_cfg) -> None:
    sip = kampy_cfg(CFG.replace('modparam("nathelper", "received_avp"',
                                'modparam("nathelper", "append_sdp_oldmediaip", 0)\n'
                                'modparam("nathelper", "received_avp"'))
    data = forwarded(sip, "sdp", body=SDP, headers="X-Flags: 2")
    assert "oldmediaip" not in body(data) and "c=IN IP4 203.0.113.7" in body(data)


def test_fix_nated_sdp_without_anything_to_replace_returns_2(sip: Harness) -> None:
    data = forwarded(sip, "sdp", body=SDP.replace("10.0.0.5", "0.0.0.0"), headers="X-Flags: 2")
    assert header(data, "X-Result") == "2"


def test_fix_nated_sdp_without_a_body_fails(sip: Harness) -> None:
    data = forwarded(sip, "sdp", headers="X-Flags: 2")
    assert header(data, "X-Result") == "-1"


# ------------------------------------------------------------------ $rr_count, $rr_top_count

def test_rr_count_and_top_count(sip: Harness) -> None:
    rr = "Record-Route: <sip:1.2.3.4;lr;r2=on>, <sip:1.2.3.5;lr>\nRecord-Route: <sip:1.2.3.6;lr>"
    assert result(sip, "rr", headers=rr) == "3 2"
    assert result(sip, "rr", headers="Record-Route: <sip:1.2.3.6;lr>") == "1 1"
    assert result(sip, "rr") == "0 0"


def test_a_received_avp_that_is_not_an_avp_is_refused_at_start(kampy_cfg) -> None:
    with pytest.raises(Exception, match=r"malformed or non AVP \$var\(r\) AVP definition"):
        kampy_cfg(CFG.replace('modparam("nathelper", "received_avp", "$avp(RECEIVED)")',
                              'modparam("nathelper", "received_avp", "$var(r)")'))
