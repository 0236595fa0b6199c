"""URIs and structured header values (kampy.sip.uri)."""
from datetime import UTC, datetime

import pytest

from kampy.sip.errors import SIPProtocolError
from kampy.sip.uri import (
    URI,
    Params,
    parse_allow,
    parse_contacts,
    parse_content_type,
    parse_cseq,
    parse_date,
    parse_expires,
    parse_max_forwards,
    parse_name_addr,
    parse_uri,
    parse_via,
    split_list,
)


def test_sip_uri_parts():
    u = parse_uri("sip:alice:secret@example.com:5070;transport=TCP;lr?subject=hi")
    assert (u.scheme, u.user, u.password, u.host, u.port) == ("sip", "alice", "secret", "example.com", 5070)
    assert u.params["transport"] == "TCP" and u.params["lr"] is None
    assert u.headers == "subject=hi"


def test_uri_transport_is_lower_case():
    assert parse_uri("sip:h;Transport=TCP").transport == "tcp"


def test_uri_params_case_insensitive_and_ordered():
    u = parse_uri("sip:h;B=1;a;C=x")
    assert u.params["b"] == "1" and "A" in u.params
    assert list(u.params) == ["B", "a", "C"]


def test_sips_scheme():
    u = parse_uri("sips:bob@secure.example.com")
    assert u.scheme == "sips" and u.is_sip


def test_ipv6_reference_host_and_port():
    u = parse_uri("sip:user@[2001:db8::1]:5061")
    assert u.host == "[2001:db8::1]" and u.port == 5061


@pytest.mark.parametrize("text", [
    "sip:alice@example.com",
    "sip:alice:pw@example.com:5060;transport=udp;lr?h=v&x=y",
    "sip:%61lice@[::1];maddr=10.0.0.1",
    "sips:host;%6C%72",
    "tel:+1-201-555-0123;phone-context=example.com",
    "urn:service:sos",
    "soap.beep://192.0.2.103:3002",
])
def test_uri_str_round_trips(text):
    assert str(parse_uri(text)) == text


def test_escapes_kept_as_written():
    assert parse_uri("sip:%75se%72@example.com").user == "%75se%72"


def test_user_part_may_contain_semicolons():
    u = parse_uri("sip:user;par=u%40example.net@example.com")
    assert u.user == "user;par=u%40example.net" and u.host == "example.com"


def test_tel_uri_number_and_params():
    u = parse_uri("tel:+358-555-1234567;postd=pp22")
    assert u.user == "+358-555-1234567" and u.params["postd"] == "pp22"


def test_unknown_scheme_kept_opaque():
    u = parse_uri("nobodyKnowsThisScheme:totallyopaquecontent")
    assert u.opaque == "totallyopaquecontent" and u.host is None and not u.is_sip


@pytest.mark.parametrize("bad", ["", "example.com", "sip:", "sip:a b@c", "sip:<x>", "sip:h:99999", "sip:h;;x",
                                 "sip:@host"])
def test_malformed_uri_raises(bad):
    with pytest.raises(SIPProtocolError):
        parse_uri(bad)


def test_uri_equality_by_text():
    assert URI("sip", "a", "h", 5060) == parse_uri("sip:a@h:5060")


def test_params_str_and_flag():
    assert str(Params([("lr", None), ("ttl", "5")])) == ";lr;ttl=5"


def test_params_get_any_case_flag_none_absent_default():
    params = Params([("Transport", "udp"), ("lr", None)])
    assert params.get("TRANSPORT") == "udp" and params.get("lr") is None
    assert params.get("ttl") is None and params.get("ttl", "1") == "1"


def test_params_body_is_a_quoted_value_without_its_quotes():
    params = Params([("+sip.instance", '"<urn:uuid:1>"'), ("expires", "60"), ("lr", None), ("x", '"')])
    assert params.body("+sip.instance") == "<urn:uuid:1>"
    assert params.body("expires") == "60" and params.body("lr") is None and params.body("x") == '"'
    assert params.get("+sip.instance") == '"<urn:uuid:1>"'  # get() gives the value as written


def test_name_addr_with_quoted_display_and_tag():
    na = parse_name_addr('"Bob \\"B\\"" <sip:bob@example.com>;tag=abc')
    assert na.display == 'Bob "B"' and na.uri.user == "bob" and na.tag == "abc"


def test_name_addr_token_display_without_space():
    assert parse_name_addr("caller<sip:caller@example.com>;tag=323").display == "caller"


def test_addr_spec_params_belong_to_header():
    na = parse_name_addr("sip:+19725552222@gw1.example.net;unknownparam")
    assert "unknownparam" in na.params and not na.uri.params


def test_name_addr_uri_params_stay_in_uri():
    na = parse_name_addr("<sip:+19725552222@gw1.example.net;unknownparam>")
    assert "unknownparam" in na.uri.params and not na.params


def test_plain_params_repeated_name_keeps_first_spelling_and_last_value():
    na = parse_name_addr("<sip:a@h>;Tag=1;x;tag=2")
    assert list(na.params) == ["Tag", "x"] and na.tag == "2" and na.params.get("x") is None


def test_name_addr_lws_around_params():
    na = parse_name_addr("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n")
    assert na.tag == "1918181833n"


def test_name_addr_str():
    assert str(parse_name_addr("Bob <sip:b@h>;tag=1")) == '"Bob" <sip:b@h>;tag=1'


@pytest.mark.parametrize("bad", [
    '"Mr. J. User <sip:j.user@example.com>',  # unterminated quote
    "Bell, Alexander <sip:a.g.bell@example.com>",  # non-token display name
    "< sip:t.watson@example.org >",  # spaces in addr-spec
    "sip:user@example.com?Route=%3Csip:sip.example.com%3E",  # URI headers outside <>
    "<sip:a@b",
    "<sip:a@b>;;",
])
def test_malformed_name_addr_raises(bad):
    with pytest.raises(SIPProtocolError):
        parse_name_addr(bad)


def test_via_fields():
    v = parse_via("SIP/2.0/UDP 127.0.0.1:35065;branch=z9hG4bK-1;rport;received=10.0.0.1;"
                  "maddr=224.0.0.1;ttl=16")
    assert (v.sent_protocol, v.transport, v.host, v.port) == ("SIP/2.0/UDP", "UDP", "127.0.0.1", 35065)
    assert (v.branch, v.received, v.maddr, v.ttl) == ("z9hG4bK-1", "10.0.0.1", "224.0.0.1", 16)


def test_via_rport_flag_vs_value():
    flag = parse_via("SIP/2.0/UDP h;rport")
    value = parse_via("SIP/2.0/UDP h;rport=5060")
    assert flag.has_rport and flag.rport is None
    assert value.has_rport and value.rport == 5060
    assert not parse_via("SIP/2.0/UDP h").has_rport


def test_via_str_round_trips():
    text = "SIP/2.0/TCP [::1]:5061;branch=z9hG4bKx;rport=1;received=::1"
    assert str(parse_via(text)) == text


def test_via_lower_case_sent_protocol_keeps_its_transport_as_written():
    via = parse_via("sip/2.0/udp h:5060;branch=z9hG4bK-1")
    assert via.sent_protocol == "SIP/2.0/udp" and via.port == 5060 and via.branch == "z9hG4bK-1"


def test_via_lws_inside_sent_protocol():
    v = parse_via("SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239")
    assert v.sent_protocol == "SIP/2.0/UDP" and v.branch == "z9hG4bK30239"


def test_via_rfc3261_branch_detection():
    assert parse_via("SIP/2.0/UDP h;branch=z9hG4bKabc").has_rfc3261_branch
    assert not parse_via("SIP/2.0/UDP h;branch=z9hG4bK").has_rfc3261_branch


@pytest.mark.parametrize("bad", ["SIP/2.0/UDP 192.0.2.15;;", "SIP/2.0 host", "", "SIP/2.0/UDP h:70000"])
def test_malformed_via_raises(bad):
    with pytest.raises(SIPProtocolError):
        parse_via(bad)


def test_cseq_with_leading_zeros_and_lws():
    assert parse_cseq("0009\t INVITE") == (9, "INVITE")


def test_cseq_over_2_31_raises():
    with pytest.raises(SIPProtocolError):
        parse_cseq("36893488147419103232 REGISTER")


def test_max_forwards_range():
    assert parse_max_forwards("0068") == 68
    with pytest.raises(SIPProtocolError):
        parse_max_forwards("300")


def test_expires_over_2_32_raises():
    assert parse_expires(" 3600 ") == 3600
    with pytest.raises(SIPProtocolError):
        parse_expires("1" + "0" * 40)


def test_contacts_list_with_params():
    cl = parse_contacts(['<sip:a@h>;expires=60;q=0.5', 'sip:b@h;methods="INVITE,MESSAGE"'])
    assert not cl.star and [c.expires for c in cl] == [60, None]
    assert cl[0].q == 0.5 and cl[1].methods == ["INVITE", "MESSAGE"]


def test_contact_star():
    assert parse_contacts(["*"]).star


def test_contact_star_with_others_raises():
    with pytest.raises(SIPProtocolError):
        parse_contacts(["*", "<sip:a@h>"])


def test_contact_expires_param_over_range_raises():
    with pytest.raises(SIPProtocolError):
        _ = parse_contacts(["<sip:a@h>;expires=99999999999"])[0].expires


def test_content_type_parts():
    ct = parse_content_type("Multipart/Mixed ; boundary=7a9c")
    assert (ct.type, ct.subtype, ct.mime) == ("multipart", "mixed", "multipart/mixed")
    assert ct.params["boundary"] == "7a9c"


def test_allow_methods():
    assert parse_allow(["INVITE", "message"]) == ["INVITE", "MESSAGE"]


def test_date_gmt():
    assert parse_date("Sat, 15 Oct 2005 04:44:56 GMT") == datetime(2005, 10, 15, 4, 44, 56, tzinfo=UTC)


def test_date_other_zone_raises():
    with pytest.raises(SIPProtocolError):
        parse_date("Fri, 01 Jan 2010 16:00:00 EST")


def test_split_list_not_inside_quotes_or_angles():
    assert split_list('"a,b" <sip:x;p=1,2>, <sip:y>') == ['"a,b" <sip:x;p=1,2>', "<sip:y>"]


def test_split_list_keeps_empty_elements():
    assert split_list("a,,b") == ["a", "", "b"]
