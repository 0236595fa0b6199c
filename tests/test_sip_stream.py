"""Framing SIP messages on a TCP stream (kampy.sip.stream)."""
import pytest

from kampy.sip.errors import SIPProtocolError
from kampy.sip.stream import StreamParser

ONE = (b"MESSAGE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nCall-ID: a\r\n"
       b"CSeq: 1 MESSAGE\r\nContent-Length: 5\r\n\r\nhello")
TWO = ONE.replace(b"Call-ID: a", b"Call-ID: b").replace(b"hello", b"world")


def test_one_message_in_one_read():
    [m] = StreamParser().feed(ONE)
    assert m.call_id == "a" and m.body == b"hello" and m.to_bytes() == ONE


def test_several_messages_in_one_read():
    assert [m.call_id for m in StreamParser().feed(ONE + TWO + ONE)] == ["a", "b", "a"]


def test_one_message_across_many_reads():
    p = StreamParser()
    got = []
    for i in range(len(ONE)):
        got += p.feed(ONE[i:i + 1])
    assert [m.body for m in got] == [b"hello"] and p.buffered == 0


def test_message_split_inside_body():
    p = StreamParser()
    assert p.feed(ONE[:-2]) == []
    assert p.feed(ONE[-2:] + TWO[:10])[0].body == b"hello"
    assert p.feed(TWO[10:])[0].call_id == "b"


def test_crlf_keepalives_skipped_and_pings_counted():
    p = StreamParser()
    msgs = p.feed(b"\r\n\r\n" + ONE + b"\r\n\r\n\r\n" + TWO)
    assert len(msgs) == 2 and p.pings == 2


def test_lone_crlf_pong_ignored():
    p = StreamParser()
    assert p.feed(b"\r\n") == [] and p.buffered == 0


def test_missing_content_length_is_protocol_error():
    with pytest.raises(SIPProtocolError):
        StreamParser().feed(ONE.replace(b"Content-Length: 5\r\n", b""))


def test_compact_content_length_accepted():
    assert StreamParser().feed(ONE.replace(b"Content-Length: 5", b"l :5"))[0].body == b"hello"


def test_stream_broken_after_error():
    p = StreamParser()
    with pytest.raises(SIPProtocolError):
        p.feed(b"GARBAGE\r\n\r\n")
    with pytest.raises(SIPProtocolError):
        p.feed(ONE)


def test_oversized_header_block_rejected():
    p = StreamParser(max_message_size=1000)
    with pytest.raises(SIPProtocolError):
        p.feed(b"MESSAGE sip:a@b SIP/2.0\r\nX: " + b"a" * 2000)


def test_oversized_content_length_rejected_before_body_arrives():
    with pytest.raises(SIPProtocolError) as info:
        StreamParser().feed(ONE.replace(b"Content-Length: 5", b"Content-Length: 999999"))
    assert info.value.status == 513


def test_negative_content_length_rejected():
    with pytest.raises(SIPProtocolError):
        StreamParser().feed(ONE.replace(b"Content-Length: 5", b"Content-Length: -5"))


def test_bare_lf_message_on_stream():
    data = ONE.replace(b"\r\n", b"\n")
    assert StreamParser().feed(data)[0].body == b"hello"
