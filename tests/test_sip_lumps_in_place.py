"""The lump API's in-place edits: replace/insert at a received line, cancel, composing edits."""
from __future__ import annotations

import pytest

from kampy.sip.message import parse_message

MSG = (b"OPTIONS sip:b@example.com SIP/2.0\r\n"
       b"v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n"
       b"From: <sip:a@example.com>;tag=1\r\n"
       b"To: <sip:b@example.com>\r\n"
       b"Route: <sip:r1>\r\n"
       b"Route: <sip:r2>\r\n"
       b"Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")


def lines(msg) -> list[bytes]:  # type: ignore[no-untyped-def]
    return msg.to_bytes().split(b"\r\n\r\n")[0].split(b"\r\n")[1:]


def test_replace_header_keeps_position_and_written_name() -> None:
    msg = parse_message(MSG)
    msg.replace_header("via", 0, "SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2")
    assert lines(msg)[0] == b"v: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2"


def test_replace_header_by_index_touches_only_that_line() -> None:
    msg = parse_message(MSG)
    msg.replace_header("Route", -1, "<sip:r9>")
    assert lines(msg)[3:5] == [b"Route: <sip:r1>", b"Route: <sip:r9>"]


def test_replace_missing_line_is_index_error() -> None:
    with pytest.raises(IndexError):
        parse_message(MSG).replace_header("Route", 2, "<sip:x>")


def test_insert_header_before_and_after_a_line() -> None:
    msg = parse_message(MSG)
    msg.insert_header("route", 0, "X-Before", "1")
    msg.insert_header("route", 1, "X-After", "2", after=True)
    assert lines(msg)[3:7] == [b"X-Before: 1", b"Route: <sip:r1>", b"Route: <sip:r2>", b"X-After: 2"]


def test_cancel_takes_back_one_change() -> None:
    msg = parse_message(MSG)
    added = msg.add_header("X-A", "1")
    kept = msg.add_header("X-A", "1")
    assert msg.cancel(added) is True and msg.cancel(added) is False
    assert msg.changes == [kept] and msg.changes[0] is kept


def test_second_replace_of_a_line_composes_from_pending_text() -> None:
    msg = parse_message(MSG)
    msg.replace_header("from", 0, "<sip:x@example.com>;tag=1")
    pending = msg.pending_header_line("from", 0)
    assert pending == b"From: <sip:x@example.com>;tag=1"
    msg.replace_lines("from", 0, pending.replace(b"example.com", b"example.org"))
    assert lines(msg)[1] == b"From: <sip:x@example.org>;tag=1"


def test_pending_line_of_removed_header_is_none() -> None:
    msg = parse_message(MSG)
    msg.remove_header("route", 0)
    assert msg.pending_header_line("route", 0) is None
    assert msg.pending_header_line("route", 1) == b"Route: <sip:r2>"


def test_replace_lines_refuses_a_non_header_line() -> None:
    with pytest.raises(ValueError):
        parse_message(MSG).replace_lines("to", 0, b"To: <sip:x>\r\nnot a header")


@pytest.mark.parametrize("line", [b"no colon", b"Bad Name: x", b": x", b"To: <sip:x>\rY: z",
                                  b"To: <sip:x>\nY: z"])
def test_replace_lines_refuses_a_single_line_that_is_no_header(line: bytes) -> None:
    with pytest.raises(ValueError):
        parse_message(MSG).replace_lines("to", 0, line)


def with_line_by_change(data: bytes, name: str, index: int, new: bytes) -> bytes:
    msg = parse_message(data)
    msg.replace_lines(name, index, new)
    return msg.to_bytes()


@pytest.mark.parametrize("new", [b"Route: <sip:r7>", b"Route: <sip:r7>\r\nRoute: <sip:r8>", b""])
def test_bytes_with_line_equals_the_same_replacement_as_a_change(new: bytes) -> None:
    assert parse_message(MSG).bytes_with_line("route", 1, new) == with_line_by_change(MSG, "route", 1, new)


def test_bytes_with_line_records_no_change() -> None:
    msg = parse_message(MSG)
    msg.bytes_with_line("via", 0, b"")
    assert msg.to_bytes() == MSG


def test_bytes_with_line_applies_the_changes_already_pending() -> None:
    msg = parse_message(MSG)
    msg.remove_header("To")
    out = msg.bytes_with_line("via", 0, b"")
    assert b"\r\nTo:" not in out and b"branch=z9hG4bK1" not in out
    assert msg.to_bytes() == with_line_by_change(MSG, "to", 0, b"")


def test_bytes_with_line_on_a_message_with_bare_line_feeds() -> None:
    bare = MSG.replace(b"\r\n", b"\n")
    assert parse_message(bare).bytes_with_line("route", 0, b"") == with_line_by_change(bare, "route", 0, b"")


def test_bytes_with_line_replaces_a_folded_line_whole() -> None:
    folded = MSG.replace(b"Route: <sip:r1>\r\n", b"Route: <sip:r1>,\r\n <sip:r1b>\r\n")
    out = parse_message(folded).bytes_with_line("route", 0, b"Route: <sip:x>")
    assert out == with_line_by_change(folded, "route", 0, b"Route: <sip:x>")
    assert b"r1b" not in out
