"""sl: stateless replies laid out byte for byte as Kamailio 5.6 sends them (captured from kamailio 5.6.3)."""
from __future__ import annotations

import random

import pytest

from kampy.api import Branch, Socket, parse_message
from kampy.testing import FakeClock
from kampy.modules.sl import EXPORTS
from kampy.api import crc_suffix, local_to_tag
from kampy.modules.sl.sl import SL_TAG_SEPARATOR, SL_TAG_SIGNATURE
from tests.modkit import INVITE, OPTIONS, core, ctx_for, module, sip
from kampy.version import SERVER_HEADER

SERVER = SERVER_HEADER.encode()

KAMAILIO = "kamailio (5.6.3 (x86_64/linux))"
# the first socket of the Kamailio the expected replies were captured from
KAM_SOCKET = Socket("udp", "127.0.0.1", 35999)


def kam_core():  # type: ignore[no-untyped-def]
    c = core(KAMAILIO)
    c.sockets[:] = [KAM_SOCKET]
    return c


def test_404_to_options_matches_kamailio_bytes() -> None:
    c = kam_core()
    sl = module(EXPORTS, c)
    ctx = ctx_for(OPTIONS, c, port=41938)
    ctx.reply_lumps = ["X-Extra: yes\r\n"]
    assert sl.sl_send_reply(ctx, 404, "Reason Here") == 1
    assert ctx.outbox[0].data == (
        b"SIP/2.0 404 Reason Here\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport=41938;received=127.0.0.1\r\n"
        b"From: <sip:alice@example.test>;tag=a1\r\n"
        b"To: <sip:127.0.0.1:5060>;tag=64011a01bdacd08c1d229ef0893d8ab6.086b2a75\r\n"
        b"Call-ID: call-1@127.0.0.1\r\n"
        b"CSeq: 1 OPTIONS\r\n"
        b"X-Extra: yes\r\n"
        b"Server: kamailio (5.6.3 (x86_64/linux))\r\n"
        b"Content-Length: 0\r\n\r\n")


def test_reply_goes_to_source_port_when_rport_asked() -> None:
    c = kam_core()
    ctx = ctx_for(OPTIONS, c, port=41938)
    module(EXPORTS, c).sl_send_reply(ctx, 200, "OK")
    out = ctx.outbox[0]
    assert (out.proto, out.host, out.port, out.local) == ("udp", "127.0.0.1", 41938, ctx.src.local)


def test_180_copies_all_vias_and_record_route_and_adds_received() -> None:
    c = kam_core()
    ctx = ctx_for(INVITE, c, port=5070)
    ctx.reply_lumps = ["X-Extra: yes\r\n"]
    module(EXPORTS, c).sl_send_reply(ctx, 180, "Reason Here")
    assert ctx.outbox[0].data == (
        b"SIP/2.0 180 Reason Here\r\n"
        b"Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-2;received=127.0.0.1\r\n"
        b"Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK-0\r\n"
        b"From: \"Alice\" <sip:alice@example.test>;tag=a2\r\n"
        b"To: <sip:bob@example.test>;tag=64011a01bdacd08c1d229ef0893d8ab6.8f98ffb8\r\n"
        b"Call-ID: call-2@10.0.0.1\r\n"
        b"CSeq: 7 INVITE\r\n"
        b"Record-Route: <sip:10.0.0.5;lr>\r\n"
        b"X-Extra: yes\r\n"
        b"Server: kamailio (5.6.3 (x86_64/linux))\r\n"
        b"Content-Length: 0\r\n\r\n")
    assert (ctx.outbox[0].host, ctx.outbox[0].port) == ("127.0.0.1", 5070)


def test_error_reply_leaves_out_record_route() -> None:
    ctx = ctx_for(INVITE)
    module(EXPORTS, ctx.core).sl_send_reply(ctx, 486, "Busy Here")
    assert b"Record-Route" not in ctx.outbox[0].data


def test_100_has_no_to_tag() -> None:
    ctx = ctx_for(INVITE)
    module(EXPORTS, ctx.core).sl_send_reply(ctx, 100, "Trying")
    assert b"To: <sip:bob@example.test>\r\n" in ctx.outbox[0].data


def test_existing_to_tag_is_kept() -> None:
    raw = OPTIONS.replace(b"To: <sip:127.0.0.1:5060>", b"To: <sip:127.0.0.1:5060>;tag=xyz")
    ctx = ctx_for(raw)
    module(EXPORTS, ctx.core).sl_send_reply(ctx, 200, "OK")
    assert b"To: <sip:127.0.0.1:5060>;tag=xyz\r\n" in ctx.outbox[0].data


def test_to_tag_is_the_same_for_a_retransmission() -> None:
    c = core()

    def tag(raw: bytes) -> str:
        return local_to_tag(c, parse_message(raw), SL_TAG_SIGNATURE, SL_TAG_SEPARATOR)

    assert tag(OPTIONS) == tag(OPTIONS)
    assert tag(OPTIONS) != tag(OPTIONS.replace(b"branch=z9hG4bK-1", b"branch=z9hG4bK-9"))


def test_crc_suffix_matches_kamailio_wire_trace() -> None:
    # store_notification.txt: Via 127.0.0.1:35065 branch z9hG4bK-8718-1-0, Call-ID 1-8718@127.0.0.1
    first = crc_suffix([b"127.0.0.1", b"35065", b"z9hG4bK-8718-1-0"])
    second = crc_suffix([b"35065", b"127.0.0.1", b"1-8718@127.0.0.1"])
    assert first + second == "88fbdcf2"


def _crcitt_as_kamailio_loops(parts: list[bytes]) -> str:
    """crcitt_string_array of Kamailio's crc.c, byte by byte (polynomial 0x8408, start 0xFFFF)."""
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x8408 if c & 1 else c >> 1
        table.append(c)
    crc = 0xFFFF
    for part in parts:
        for byte in part:
            crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc = ~crc & 0xFFFF
    digits = "" if crc else "0"
    while crc and len(digits) < 4:
        digits += "0123456789abcdef"[crc & 0xF]
        crc >>= 4
    return digits.ljust(4, "0")


def test_crc_suffix_equals_kamailios_byte_loop_on_random_input() -> None:
    rnd = random.Random(4475)
    for _ in range(3000):
        parts = [rnd.randbytes(rnd.randrange(40)) for _ in range(rnd.randrange(4))]
        assert crc_suffix(parts) == _crcitt_as_kamailio_loops(parts), parts


def test_tm_style_tag_uses_its_signature_and_separator() -> None:
    tag = local_to_tag(core(), parse_message(OPTIONS), "SER-TM/tags", "-")
    assert tag[32] == "-" and len(tag) == 41


def test_no_reply_to_ack() -> None:
    raw = OPTIONS.replace(b"OPTIONS sip", b"ACK sip").replace(b"1 OPTIONS", b"1 ACK")
    ctx = ctx_for(raw)
    sl = module(EXPORTS, ctx.core)
    assert sl.sl_send_reply(ctx, 200, "OK") == -1
    assert ctx.outbox == [] and ctx.core.stats.get("sl:failures") == 1


def test_replied_code_is_recorded() -> None:
    ctx = ctx_for(OPTIONS)
    module(EXPORTS, ctx.core).sl_send_reply(ctx, 483, "Too Many Hops")
    assert ctx.replied == 483


def test_statistics_count_a_code_with_a_counter_there_and_other_codes_by_class() -> None:
    ctx = ctx_for(OPTIONS)
    sl = module(EXPORTS, ctx.core)
    for code in (404, 200, 486, 180):
        sl.sl_send_reply(ctx, code, "Reason")
    stats = dict(ctx.core.stats.items(["sl"]))
    assert (stats["sl:404_replies"], stats["sl:4xx_replies"], stats["sl:200_replies"]) == (1, 1, 1)
    assert (stats["sl:2xx_replies"], stats["sl:1xx_replies"], stats["sl:xxx_replies"]) == (0, 0, 1)
    assert stats["sl:sent_replies"] == 4 and stats["sl:sent_err_replies"] == 0


def test_sl_stats_rpc_has_kamailios_counters_by_code() -> None:
    ctx = ctx_for(OPTIONS)
    sl = module(EXPORTS, ctx.core)
    sl.sl_send_reply(ctx, 404, "Not Found")
    stats = sl.rpc_stats()
    assert list(stats) == ["200", "202", "2xx", "300", "301", "302", "3xx", "400", "401", "403", "404",
                           "407", "408", "483", "4xx", "500", "5xx", "6xx", "xxx"]
    assert stats["404"] == 1 and sum(stats.values()) == 1


def test_reply_error_without_error_is_kamailio_default_text() -> None:
    ctx = ctx_for(OPTIONS)
    assert module(EXPORTS, ctx.core).sl_reply_error(ctx) == 1
    assert ctx.outbox[0].data.startswith(b"SIP/2.0 500 I'm terribly sorry, server error occurred (1/SL)\r\n")


def test_redirect_lists_new_ruri_and_branches_in_contact() -> None:
    ctx = ctx_for(OPTIONS)
    ctx.new_ruri = "sip:new@example.test"
    ctx.branches.append(Branch("sip:b2@example.test"))
    module(EXPORTS, ctx.core).sl_send_reply(ctx, 302, "Moved")
    assert b"\r\nContact: <sip:new@example.test>, <sip:b2@example.test>\r\nServer:" in ctx.outbox[0].data


def test_reply_api_adds_headers_and_body() -> None:
    ctx = ctx_for(OPTIONS)
    sl = module(EXPORTS, ctx.core)
    sl.reply(ctx, 200, "OK", extra_headers=[("Content-Type", "text/plain")], body=b"hi")
    data = ctx.outbox[0].data
    assert data.endswith(b"Content-Type: text/plain\r\nServer: " + SERVER
                         + b"\r\nContent-Length: 2\r\n\r\nhi")


def test_send_reply_is_stateless_without_tm() -> None:
    ctx = ctx_for(OPTIONS)
    assert module(EXPORTS, ctx.core).send_reply(ctx, 200, "OK") == 1
    assert ctx.outbox[0].data.startswith(b"SIP/2.0 200 OK\r\n")


def test_compact_header_names_are_copied_as_received() -> None:
    raw = sip("""
OPTIONS sip:127.0.0.1 SIP/2.0
v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-c
f: <sip:a@example.test>;tag=1
t: <sip:b@example.test>
i: compact-1
CSeq: 2 OPTIONS
l: 0
""")
    ctx = ctx_for(raw)
    module(EXPORTS, ctx.core).sl_send_reply(ctx, 200, "OK")
    lines = ctx.outbox[0].data.split(b"\r\n")
    assert lines[1] == b"v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-c"
    assert lines[2] == b"f: <sip:a@example.test>;tag=1"
    assert lines[3].startswith(b"t: <sip:b@example.test>;tag=")
    assert lines[4] == b"i: compact-1"


def test_received_already_recorded_in_the_request_is_not_repeated() -> None:
    raw = OPTIONS.replace(b";rport\r\n", b";rport=41938;received=127.0.0.1\r\n")
    ctx = ctx_for(raw, port=41938)
    module(EXPORTS, ctx.core).sl_send_reply(ctx, 200, "OK")
    assert ctx.outbox[0].data.split(b"\r\n")[1] == (
        b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport=41938;received=127.0.0.1")


def test_ack_to_our_stateless_reply_is_filtered_and_counted() -> None:
    c = core()
    sl = module(EXPORTS, c)
    sl.sl_send_reply(ctx_for(INVITE, c), 486, "Busy Here")  # ACKs are looked at for 2 s after it
    tag = local_to_tag(c, parse_message(INVITE), SL_TAG_SIGNATURE, SL_TAG_SEPARATOR)
    ack = INVITE.replace(b"To: <sip:bob@example.test>", b"To: <sip:bob@example.test>;tag=" + tag.encode())
    ack = ack.replace(b"INVITE sip", b"ACK sip").replace(b"7 INVITE", b"7 ACK")
    assert sl.filter_ack(ctx_for(ack, c)) is True
    assert c.stats.get("sl:received_ACKs") == 1
    other = ack.replace(tag.encode(), b"someone-else")
    assert sl.filter_ack(ctx_for(other, c)) is False


def test_an_ack_more_than_2_seconds_after_the_last_local_reply_is_not_filtered() -> None:
    c = core()
    c.clock = clock = FakeClock()
    sl = module(EXPORTS, c)
    sl.sl_send_reply(ctx_for(INVITE, c), 486, "Busy Here")
    tag = local_to_tag(c, parse_message(INVITE), SL_TAG_SIGNATURE, SL_TAG_SEPARATOR)
    ack = INVITE.replace(b"To: <sip:bob@example.test>", b"To: <sip:bob@example.test>;tag=" + tag.encode())
    ack = ack.replace(b"INVITE sip", b"ACK sip").replace(b"7 INVITE", b"7 ACK")
    clock.advance(2.1)
    assert sl.filter_ack(ctx_for(ack, c)) is False
    sl.sl_send_reply(ctx_for(OPTIONS, c), 404, "Not Found")  # any local reply opens the window again
    assert sl.filter_ack(ctx_for(ack, c)) is True


def test_message_marked_noreply_gets_no_reply() -> None:
    ctx = ctx_for(OPTIONS)
    ctx.noreply = True
    assert module(EXPORTS, ctx.core).sl_send_reply(ctx, 200, "OK") == -2
    assert ctx.outbox == []


def test_reply_to_request_with_non_utf8_bytes_is_sent() -> None:
    raw = OPTIONS.replace(b"branch=z9hG4bK-1", b"branch=z9hG4bK-\xb4\x87").replace(
        b"Call-ID: call-1@127.0.0.1", b"Call-ID: call-\xff@127.0.0.1")
    ctx = ctx_for(raw)
    assert module(EXPORTS, ctx.core).sl_send_reply(ctx, 404, "Not Here") == 1
    assert b"z9hG4bK-\xb4\x87" in ctx.outbox[0].data


# Kamailio's "var" fixups (fixup_var_pve_str_12 for sl's reason, fixup_var_str_12 for tm's): a reason
# that starts with a pseudo-variable is that pseudo-variable alone; `@...` is a select


def test_a_reason_starting_with_a_pseudo_variable_is_that_variable_alone(kampy_cfg):
    sip = kampy_cfg('loadmodule "sl"\nloadmodule "pv"\n'
                    'request_route { sl_send_reply("404", "$rU is not here"); }')
    assert sip.send_request("OPTIONS", "sip:bob@127.0.0.1").replies[0].msg.reason == "bob"


def test_a_reason_with_pseudo_variables_after_text_is_formatted(kampy_cfg):
    sip = kampy_cfg('loadmodule "sl"\nloadmodule "pv"\n'
                    'request_route { sl_send_reply("404", "No $rU here"); }')
    assert sip.send_request("OPTIONS", "sip:bob@127.0.0.1").replies[0].msg.reason == "No bob here"


def test_a_reason_that_is_a_select_gives_its_value(kampy_cfg):
    sip = kampy_cfg('loadmodule "sl"\nrequest_route { sl_send_reply("404", "@ruri.user"); }')
    assert sip.send_request("OPTIONS", "sip:carol@127.0.0.1").replies[0].msg.reason == "carol"


def test_t_reply_takes_text_after_its_start_as_it_is(kampy_cfg):
    sip = kampy_cfg('loadmodule "sl"\nloadmodule "tm"\nloadmodule "pv"\n'
                    'request_route { t_newtran(); if ($rU == "a") { t_reply("404", "No $rU here"); exit; } '
                    't_reply("404", "$rU gone"); }')
    assert sip.send_request("OPTIONS", "sip:a@127.0.0.1").replies[0].msg.reason == "No $rU here"
    assert sip.send_request("OPTIONS", "sip:b@127.0.0.1").replies[0].msg.reason == "b"


def test_a_reason_that_is_a_dollar_and_no_pseudo_variable_names_an_avp(kampy_cfg):
    # Kamailio's FPARAM_AVP: "$x" is $avp(x), "$x y" the AVP "x y" (unset here: default_reason)
    sip = kampy_cfg('loadmodule "sl"\nloadmodule "pv"\n'
                    'request_route { $avp(x) = "avp x"; '
                    'if ($rU == "a") { sl_send_reply("404", "$x"); exit; } sl_send_reply("404", "$x y"); }')
    assert sip.send_request("OPTIONS", "sip:a@127.0.0.1").replies[0].msg.reason == "avp x"
    assert sip.send_request("OPTIONS", "sip:b@127.0.0.1").replies[0].msg.reason == "Internal Server Error"


def test_a_reason_that_is_an_unset_pseudo_variable_is_default_reason(kampy_cfg):
    sip = kampy_cfg('loadmodule "sl"\nloadmodule "pv"\nmodparam("sl", "default_reason", "Nothing")\n'
                    'request_route { sl_send_reply("404", "$hdr(X-None) here"); }')
    assert sip.send_request("OPTIONS", "sip:a@127.0.0.1").replies[0].msg.reason == "Nothing"


@pytest.mark.parametrize(("code", "status"), [("$var(i)", 403), ("$var(s)", 500), ("$s", 404), ("$rU", 500)])
def test_a_code_from_a_pseudo_variable_counts_only_as_an_integer(kampy_cfg, code, status):
    # fixup_var_int_12: a pseudo-variable's string is no code (default_code), an AVP's digits are
    sip = kampy_cfg('loadmodule "sl"\nloadmodule "pv"\n'
                    'request_route { $var(i) = 403; $var(s) = "404"; $avp(s) = "404"; '
                    f'sl_send_reply("{code}", "x"); }}')
    assert sip.send_request("OPTIONS", "sip:a@127.0.0.1").replies[0].msg.status == status
