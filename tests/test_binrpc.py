"""kampy.binrpc: Kamailio's binrpc encoding (the examples of modules/ctl/binrpc.h), framing, reading,
and the replies a method's Python values make."""
from __future__ import annotations

import pytest

from kampy import binrpc
from kampy.binrpc import Member, ReplyWriter, RpcStruct


@pytest.mark.parametrize(("value", "encoded"), [
    (0x1234, b"\x20\x12\x34"),
    (0x07, b"\x10\x07"),
    (0, b"\x00"),
    (-1, b"\x40\xff\xff\xff\xff"),
])
def test_an_integer_takes_the_fewest_bytes_that_hold_it(value, encoded):
    assert binrpc.encode_int(value) == encoded


@pytest.mark.parametrize(("value", "encoded"), [
    ("abcdef", b"\x71abcdef\x00"),
    ("abcdefhij", b"\x91\x0aabcdefhij\x00"),
    ("", b"\x11\x00"),
])
def test_a_string_ends_with_a_nul_counted_in_its_length(value, encoded):
    assert binrpc.encode_str(value) == encoded


def test_a_struct_is_start_tag_named_members_end_tag():
    body = ReplyWriter().body({"intval": 3, "s": "abc"})
    assert body == b"\x03" + b"\x75intval\x00\x10\x03" + b"\x25s\x00\x41abc\x00" + b"\x83"


def test_a_double_is_fixed_point_in_thousandths():
    assert binrpc.encode_double(2.5) == b"\x22\x09\xc4"
    reader = binrpc.Reader(b"\x22\x09\xc4")
    assert reader.read().value == 2.5


def test_a_header_holds_type_length_and_cookie_in_the_fewest_bytes():
    assert binrpc.build_header(binrpc.REPLY, 3, 0x1234) == b"\xa1\x11\x03\x12\x34"
    header = binrpc.parse_header(b"\xa1\x11\x03\x12\x34")
    assert (header.kind, header.body_len, header.cookie, header.size) == (binrpc.REPLY, 3, 0x1234, 5)


def test_a_packet_is_framed_by_its_header_length():
    packet = binrpc.build_packet(binrpc.REQUEST, 7, binrpc.encode_request("core.version", []))
    assert binrpc.frame(packet[:3]) == 0
    assert binrpc.frame(packet[:-1]) == 0
    assert binrpc.frame(packet + b"\xa1") == len(packet)


def test_bytes_that_are_no_binrpc_packet_frame_as_bad():
    assert binrpc.frame(b"GET / HTTP/1.1\r\n") == -1


def test_a_request_reads_back_method_and_parameters():
    body = binrpc.encode_request("ul.lookup", ["location", 1000, 2.5])
    assert binrpc.read_request(body) == ("ul.lookup", ["location", 1000, 2.5])


def test_a_request_parameter_must_not_be_a_bare_value_inside_a_struct():
    body = binrpc.encode_str("m") + binrpc.STRUCT_START + binrpc.encode_int(1) + binrpc.STRUCT_END
    with pytest.raises(binrpc.BinRpcError) as err:
        binrpc.read_request(body)
    assert err.value.code == binrpc.E_RECORD


def test_a_list_result_is_one_value_per_item():
    body = ReplyWriter().body(["a", 1])
    assert binrpc.read_values(body) == ["a", 1]


def test_a_list_in_a_struct_is_a_struct_of_unnamed_values():
    body = ReplyWriter().body({"l": [1, 2]})
    assert body == b"\x03\x25l\x00\x03\x10\x01\x10\x02\x83\x83"


def test_a_member_in_a_list_is_a_named_member_of_its_struct():
    body = ReplyWriter().body({"Domains": [Member("Domain", {"Size": 1024})]})
    assert binrpc.format_records(body) == ["{", "\tDomains: {", "\t\tDomain: {", "\t\t\tSize: 1024",
                                           "\t\t}", "\t}", "}"]


def test_a_struct_may_repeat_a_member_name():
    body = ReplyWriter().body({"items": RpcStruct([("shv", 1), ("shv", 2)])})
    assert binrpc.format_records(body) == ["{", "\titems: {", "\t\tshv: 1", "\t\tshv: 2", "\t}", "}"]


def test_an_unsigned_32_bit_value_wraps_as_in_c_and_wider_ones_are_doubles():
    body = ReplyWriter().body([0xFFFFFFFF, 1 << 40])
    assert binrpc.format_records(body) == ["-1", str(1 << 40)]


def test_none_is_kamailios_null_string():
    assert binrpc.read_values(ReplyWriter().body([None])) == ["<null string>"]


def test_kamcmd_prints_a_fractional_double_with_six_decimals():
    assert binrpc.format_records(ReplyWriter().body([0.5])) == ["0.500000"]


def test_top_level_values_beyond_max_body_overflow():
    writer = ReplyWriter(max_body=64, max_struct=1024)
    with pytest.raises(binrpc.Overflow) as over:
        writer.body(["x" * 40, "y" * 40])
    assert over.value.kind == "s"


def test_struct_members_count_against_max_struct_not_max_body():
    writer = ReplyWriter(max_body=16, max_struct=64)
    assert writer.body({"a": "x" * 30})
    with pytest.raises(binrpc.Overflow):
        writer.body({"a": "x" * 30, "b": "y" * 30})


def test_a_fault_reads_back_code_and_message():
    packet = binrpc.fault_packet(9, 500, "command x not found")
    header = binrpc.parse_header(packet)
    assert header.kind == binrpc.FAULT and header.cookie == 9
    assert binrpc.read_fault(packet[header.size:]) == (500, "command x not found")


def test_read_values_gives_dicts_for_members_and_lists_for_arrays():
    body = ReplyWriter().body({"a": [1, 2], "b": {"c": "d"}})
    assert binrpc.read_values(body) == [{"a": [1, 2], "b": {"c": "d"}}]


def test_a_truncated_record_needs_more():
    with pytest.raises(binrpc.NeedMore):
        binrpc.Reader(b"\x71abc").read()
