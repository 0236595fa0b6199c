"""pv's second table in-process: $snd/$sndto/$sndfrom, $rcv, $nh, $rpl, $expires, $Au/$AU, $Rn,
$fsn, $mts, $ds, the Diversion parameters, $err.*, $ruid, $location_ua, $msgbuf, $ccp and the
dotted aliases ($from.user ...), as Kamailio 5.6's pv_core.c and pv_branch.c give them."""
from __future__ import annotations

import pytest

from kampy.api import Branch, Credentials, Outgoing, Socket
from tests.pv_helpers import REPLY, get, make_ctx, put

SENT = Outgoing("tcp", "192.0.2.5", 5099, b"OPTIONS sip:x SIP/2.0\r\n\r\n", Socket("tcp", "127.0.0.1", 5062))


def test_snd_fields_are_null_outside_of_a_send() -> None:
    ctx = make_ctx()
    assert [get(ctx, f"$snd({f})") for f in ("ip", "port", "buf", "len")] == [None] * 4


def test_snd_and_sndto_give_where_the_message_goes() -> None:
    ctx = make_ctx()
    ctx.onsend = SENT
    assert [get(ctx, f"$sndto({f})") for f in ("ip", "port", "af", "proto", "sproto")] == [
        "192.0.2.5", 5099, 2, 2, "tcp"]
    assert get(ctx, "$snd(ip)") == "192.0.2.5"


def test_sndfrom_gives_the_sending_socket() -> None:
    ctx = make_ctx()
    ctx.onsend = SENT
    assert (get(ctx, "$sndfrom(ip)"), get(ctx, "$sndfrom(port)")) == ("127.0.0.1", 5062)


def test_snd_buf_and_len_are_the_bytes_being_sent() -> None:
    ctx = make_ctx()
    ctx.onsend = SENT
    assert (get(ctx, "$snd(buf)"), get(ctx, "$snd(len)")) == ("OPTIONS sip:x SIP/2.0\r\n\r\n", 25)


def test_snd_of_an_ipv6_socket_has_af_10() -> None:
    ctx = make_ctx()
    ctx.onsend = Outgoing("udp", "::1", 5060, b"x", Socket("udp", "::1", 5060))
    assert get(ctx, "$snd(af)") == 10


def test_an_unknown_snd_field_is_refused() -> None:
    with pytest.raises(Exception, match="snd name"):
        get(make_ctx(), "$snd(host)")


def test_rcv_is_null_outside_of_core_msg_received() -> None:
    assert get(make_ctx(), "$rcv(srcip)") is None


def test_dotted_aliases_read_the_short_names() -> None:
    ctx = make_ctx()
    names = ("$from.user", "$from.domain", "$to.user", "$to.domain", "$ruri.user", "$ruri.domain")
    assert [get(ctx, n) for n in names] == ["bob", "b.com", "alice", "example.com", "alice", "example.com"]


def test_ruri_user_is_writable_as_rU() -> None:
    ctx = make_ctx()
    put(ctx, "$ruri.user", "carol")
    assert ctx.ruri == "sip:carol@example.com:5080;transport=tcp"


def test_Au_and_AU_fall_back_to_the_from_uri() -> None:
    ctx = make_ctx()
    assert (get(ctx, "$Au"), get(ctx, "$AU")) == ("bob@b.com", "bob")


def test_Au_and_AU_prefer_the_authorized_credentials() -> None:
    ctx = make_ctx()
    ctx.authorized_credentials.append(Credentials("Authorization", "carol", "r.example"))
    assert (get(ctx, "$Au"), get(ctx, "$AU")) == ("carol@r.example", "carol")


def test_Rn_is_the_name_of_the_receiving_socket() -> None:
    ctx = make_ctx()
    assert get(ctx, "$Rn") is None
    object.__setattr__(ctx.src.local, "name", "lan")
    assert get(ctx, "$Rn") == "lan"


def test_fsn_sets_the_socket_of_that_name() -> None:
    named = Socket("udp", "127.0.0.1", 5090, name="wan")
    ctx = make_ctx()
    ctx.core.sockets.append(named)
    put(ctx, "$fsn", "wan")
    assert ctx.force_socket == named and get(ctx, "$fsn") == "wan"


def test_mts_is_rq_for_requests_and_rp_for_replies() -> None:
    assert (get(make_ctx(), "$mts"), get(make_ctx(REPLY), "$mts")) == ("rq", "rp")


def test_ds_is_null_without_a_new_ruri_or_branches() -> None:
    assert get(make_ctx(), "$ds") is None


def test_ds_prints_the_new_ruri_and_the_branches_as_a_contact_header() -> None:
    ctx = make_ctx()
    ctx.new_ruri = "sip:a@x"
    ctx.branches.append(Branch("sip:b@y", q=500))
    assert get(ctx, "$ds") == "Contact: <sip:a@x>, <sip:b@y>;q=0.5"


def test_diversion_parameters() -> None:
    ctx = make_ctx(make_raw("Diversion: <sip:x@d>;reason=user-busy;counter=3;privacy=off"))
    assert (get(ctx, "$dir"), get(ctx, "$dic"), get(ctx, "$dip")) == ("user-busy", "3", "off")


def test_diversion_parameters_are_null_without_the_header() -> None:
    assert get(make_ctx(), "$dir") is None


def test_err_attributes_are_null_as_in_kamailio_5_6() -> None:
    ctx = make_ctx()
    assert {get(ctx, f"$err.{a}") for a in ("class", "level", "info", "rcode", "rreason")} == {None}


def test_ruid_and_location_ua_come_from_lookup() -> None:
    ctx = make_ctx()
    ctx.ruid, ctx.location_ua = "uloc-1", "phone/2"
    assert (get(ctx, "$ruid"), get(ctx, "$location_ua")) == ("uloc-1", "phone/2")


def test_nh_of_a_request_is_the_destination_uri_first() -> None:
    ctx = make_ctx()
    ctx.dst_uri = "sip:192.0.2.9:5070;transport=tls"
    assert [get(ctx, f"$nh({f})") for f in "uUdpPi"] == [
        "sip:192.0.2.9:5070;transport=tls", None, "192.0.2.9", 5070, "tls", 4]


def test_nh_of_a_request_without_du_is_the_ruri() -> None:
    ctx = make_ctx()
    assert [get(ctx, f"$nh({f})") for f in "Udp"] == ["alice", "example.com", 5080]


def test_nh_and_rpl_of_a_reply_follow_its_second_via() -> None:
    via2 = b"Via: SIP/2.0/TCP 10.0.0.2:5077;received=192.0.2.1;rport=6000\r\n"
    ctx = make_ctx(REPLY.replace(b"CSeq", via2 + b"CSeq"))
    assert get(ctx, "$nh(u)") == "sip:192.0.2.1:6000;transport=tcp"
    assert [get(ctx, f"$rpl({f})") for f in ("dhost", "dport", "dproto", "dprotoid", "cntvia")] == [
        "192.0.2.1", 6000, "tcp", 2, 2]


def test_rpl_is_null_for_requests() -> None:
    assert get(make_ctx(), "$rpl(cntvia)") is None


def test_expires_min_and_max_of_the_contacts_with_the_header_for_the_others() -> None:
    ctx = make_ctx(make_raw("Contact: <sip:a@x>;expires=30, <sip:b@y>\r\nExpires: 90"))
    assert (get(ctx, "$expires(min)"), get(ctx, "$expires(max)")) == (30, 90)


def test_expires_is_null_without_any() -> None:
    assert get(make_ctx(), "$expires(max)") is None


def test_msgbuf_is_one_character_of_the_message_and_its_ending_zero() -> None:
    assert get(make_ctx(), "$msgbuf(1)") == "N\0"


def test_msgbuf_out_of_range_is_null() -> None:
    assert get(make_ctx(), "$msgbuf(100000)") is None


def make_raw(extra: str) -> bytes:
    return (b"INVITE sip:alice@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n"
            b"From: <sip:bob@b.com>;tag=1\r\nTo: <sip:alice@example.com>\r\nCall-ID: c\r\n"
            b"CSeq: 1 INVITE\r\n" + extra.encode() + b"\r\nContent-Length: 0\r\n\r\n")


def test_ccp_reads_a_cfg_variable() -> None:
    assert str(get(make_ctx(), "$ccp(core.memlog)")) == "4"


def test_ccp_of_an_unknown_variable_is_null() -> None:
    assert get(make_ctx(), "$ccp(core.nosuch)") is None


def test_ccp_assignment_changes_the_cfg_variable() -> None:
    ctx = make_ctx()
    put(ctx, "$ccp(core.memlog)", 2)
    ctx.core.cfg.update()
    assert str(get(ctx, "$ccp(core.memlog)")) == "2"


def test_ccp_assignment_of_null_is_ignored() -> None:
    ctx = make_ctx()
    put(ctx, "$ccp(core.memlog)", None)
    assert str(get(ctx, "$ccp(core.memlog)")) == "4"
