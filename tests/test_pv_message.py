"""Message pseudo-variables read from a parsed INVITE or reply."""
from __future__ import annotations

import time

from kampy.runtime.expressions import plus
from tests.pv_helpers import REPLY, get, make_ctx


def test_ru_is_request_uri() -> None:
    assert get(make_ctx(), "$ru") == "sip:alice@example.com:5080;transport=tcp"


def test_rU_rd_rp_are_ruri_parts() -> None:
    ctx = make_ctx()
    assert (get(ctx, "$rU"), get(ctx, "$rd"), get(ctx, "$rp")) == ("alice", "example.com", "5080")


def test_rP_is_transport_and_rz_scheme() -> None:
    ctx = make_ctx()
    assert (get(ctx, "$rP"), get(ctx, "$rz")) == ("tcp", "sip")


def test_rp_defaults_to_5060_when_absent() -> None:
    ctx = make_ctx()
    ctx.new_ruri = "sip:carol@example.org"
    assert get(ctx, "$rp") == "5060"


def test_rP_is_upper_case_udp_when_the_uri_has_no_transport() -> None:
    ctx = make_ctx()
    ctx.new_ruri = "sip:carol@example.org"
    assert get(ctx, "$rP") == "UDP"


def test_rp_of_a_transport_tls_uri_without_port_is_5061() -> None:
    ctx = make_ctx()
    ctx.new_ruri = "sip:carol@example.org;transport=TLS"
    assert get(ctx, "$rp") == "5061"


def test_rUl_is_user_length() -> None:
    assert get(make_ctx(), "$rUl") == 5


def test_rm_is_method() -> None:
    assert get(make_ctx(), "$rm") == "INVITE"


def test_rmid_is_kamailio_method_bit() -> None:
    assert get(make_ctx(), "$rmid") == 1


def test_from_attributes() -> None:
    ctx = make_ctx()
    assert [get(ctx, p) for p in ("$fu", "$fU", "$fd", "$fn", "$ft")] == [
        "sip:bob@b.com", "bob", "b.com", '"Bob"', "123"]


def test_to_attributes() -> None:
    ctx = make_ctx()
    assert [get(ctx, p) for p in ("$tu", "$tU", "$td", "$tn", "$tt")] == [
        "sip:alice@example.com", "alice", "example.com", None, None]


def test_original_uri_ignores_new_ruri() -> None:
    ctx = make_ctx()
    ctx.new_ruri = "sip:x@y"
    assert (get(ctx, "$ou"), get(ctx, "$oU"), get(ctx, "$od")) == (
        "sip:alice@example.com:5080;transport=tcp", "alice", "example.com")


def test_call_id_and_cseq() -> None:
    ctx = make_ctx()
    assert (get(ctx, "$ci"), get(ctx, "$cs")) == ("abc@host", "7")


def test_source_and_local_socket() -> None:
    ctx = make_ctx()
    assert [get(ctx, p) for p in ("$si", "$sp", "$Ri", "$Rp", "$pr", "$proto")] == [
        "127.0.0.1", 5070, "127.0.0.1", 5060, "udp", "udp"]


def test_su_is_source_uri() -> None:
    assert get(make_ctx(), "$su") == "sip:127.0.0.1:5070;transport=udp"


def test_user_agent_contact_content_type() -> None:
    ctx = make_ctx()
    assert (get(ctx, "$ua"), get(ctx, "$ct"), get(ctx, "$cT")) == (
        "phone/1.0", "<sip:bob@10.0.0.1:5060>", "text/plain")


def test_body_and_lengths() -> None:
    ctx = make_ctx()
    assert get(ctx, "$rb") == "hello"
    assert get(ctx, "$ml") == len(ctx.msg.raw)
    assert get(ctx, "$mb") == ctx.msg.raw.decode()
    assert get(ctx, "$bs") == 5


def test_rb_of_a_message_without_body_is_empty_string() -> None:
    assert get(make_ctx(REPLY), "$rb") == ""


def test_reply_status_and_reason() -> None:
    ctx = make_ctx(REPLY)
    assert (get(ctx, "$rs"), get(ctx, "$rr"), get(ctx, "$rm")) == (486, "Busy Here", "INVITE")


def test_reply_status_is_a_number_as_kamailios_so_plus_adds() -> None:
    # pv_get_status gives an int-typed value (pv_get_intstrval): `$rs + " " + $rr` is 486 in Kamailio
    ctx = make_ctx(REPLY)
    assert plus(plus(get(ctx, "$rs"), " "), get(ctx, "$rr")) == 486


def test_reply_has_no_ruri() -> None:
    ctx = make_ctx(REPLY)
    assert (get(ctx, "$ru"), get(ctx, "$rU")) == (None, None)


def test_request_has_no_status() -> None:
    assert get(make_ctx(), "$rs") is None


def test_null_is_none() -> None:
    assert get(make_ctx(), "$null") is None


def test_via_attributes() -> None:
    ctx = make_ctx()
    assert get(ctx, "$via0(branch)") == "z9hG4bK1"
    assert get(ctx, "$via1(host)") == "10.0.0.2"
    assert get(ctx, "$viaZ(host)") == "10.0.0.3"
    assert get(ctx, "$via1(port)") == 5060


def test_time_from_core_clock() -> None:
    ctx = make_ctx()
    assert get(ctx, "$Ts") == 1_700_000_000
    assert get(ctx, "$utime(year)") == 2023
    assert get(ctx, "$utimef(%Y-%m-%d)") == "2023-11-14"


def test_TS_is_the_core_clocks_time_now() -> None:
    ctx = make_ctx()
    assert get(ctx, "$TS") == 1_700_000_000
    ctx.core.clock.now += 5
    assert get(ctx, "$TS") == 1_700_000_005


def test_TF_is_the_core_clocks_time_now_formatted() -> None:
    ctx = make_ctx()
    assert get(ctx, "$TF") == time.ctime(1_700_000_000.25)


def test_Ts_and_Tf_keep_the_time_the_message_was_first_asked_about() -> None:
    ctx = make_ctx()
    assert get(ctx, "$Ts") == 1_700_000_000
    ctx.core.clock.now += 5
    assert get(ctx, "$Ts") == 1_700_000_000
    assert get(ctx, "$Tf") == time.ctime(1_700_000_000.25)


def test_TV_microseconds() -> None:
    assert get(make_ctx(), "$TV(u)") == 250000


def test_version() -> None:
    assert get(make_ctx(), "$version(num)").startswith("5.6")


def test_underscore_s_evaluates_format() -> None:
    assert get(make_ctx(), "$_s($rU@$rd)") == "alice@example.com"


def test_msg_type() -> None:
    assert (get(make_ctx(), "$mt"), get(make_ctx(REPLY), "$mt")) == (1, 2)
