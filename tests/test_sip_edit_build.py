"""Editing with lumps, to_bytes(), and building requests and responses."""
import pytest

from kampy.sip.message import AddHeader, RemoveHeader, Request, Response, build_response, parse_message

INVITE = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
    b"Via: SIP/2.0/UDP b.example.com;branch=z9hG4bK2;received=10.0.0.2\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: Alice <sip:alice@example.com>;tag=a1\r\n"
    b"To: <sip:bob@example.com>\r\n"
    b"Call-ID: c1@example.com\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Record-Route: <sip:p1.example.com;lr>\r\n"
    b"X-Keep:   odd   spacing\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: 5\r\n"
    b"\r\n"
    b"hello"
)


def inv():
    return parse_message(INVITE)


def test_unchanged_message_is_original_bytes_object():
    m = inv()
    assert m.to_bytes() is INVITE and bytes(m) is INVITE


def test_append_header_after_last():
    m = inv()
    m.add_header("X-New", "1")
    out = m.to_bytes()
    assert out == INVITE.replace(b"Content-Length: 5\r\n", b"Content-Length: 5\r\nX-New: 1\r\n")


def test_insert_header_before_first():
    m = inv()
    m.add_header("X-First", "1", first=True)
    assert parse_message(m.to_bytes()).header_names[0] == "x-first"


def test_remove_all_headers_by_name():
    m = inv()
    assert m.remove_header("via") == 2
    out = parse_message(m.to_bytes())
    assert out.vias == [] and b"X-Keep:   odd   spacing\r\n" in out.raw


def test_remove_header_by_index():
    m = inv()
    m.remove_header("Via", 0)
    assert [v.host for v in parse_message(m.to_bytes()).vias] == ["b.example.com"]


def test_remove_header_by_negative_index():
    m = inv()
    m.remove_header("Via", -1)
    assert [v.host for v in parse_message(m.to_bytes()).vias] == ["a.example.com"]


def test_rewrite_request_uri():
    m = inv()
    m.set_ruri("sip:bob@10.0.0.9:5070;transport=tcp")
    out = parse_message(m.to_bytes())
    assert out.uri == "sip:bob@10.0.0.9:5070;transport=tcp" and out.method == "INVITE"
    assert out.raw.split(b"\r\n", 1)[1] == INVITE.split(b"\r\n", 1)[1]


def test_rewrite_request_uri_rejects_spaces():
    with pytest.raises(ValueError):
        inv().set_ruri("sip:a b")


def test_replace_body_fixes_content_length():
    m = inv()
    m.set_body(b"\x00\xffbinary!")
    out = parse_message(m.to_bytes())
    assert out.body == b"\x00\xffbinary!" and out.content_length == 9


def test_replace_body_with_content_type():
    m = inv()
    m.set_body(b"{}", "application/json")
    out = parse_message(m.to_bytes())
    assert out.content_type.mime == "application/json" and len(out.headers_named("content-type")) == 1


def test_content_length_added_when_missing():
    m = parse_message(INVITE.replace(b"Content-Length: 5\r\n", b""))
    m.add_header("X", "y")
    assert parse_message(m.to_bytes()).content_length == 5


def test_wrong_content_length_fixed_when_rebuilt():
    m = parse_message(INVITE + b"trailing")
    m.add_header("X", "y")
    assert parse_message(m.to_bytes()).body == b"hello"


def test_unchanged_lines_kept_byte_for_byte_after_edit():
    m = inv()
    m.add_header("X-A", "b")
    out = m.to_bytes()
    for line in INVITE.split(b"\r\n")[:12]:
        assert line in out


def test_changes_listed_in_order():
    m = inv()
    m.add_header("X", "1")
    m.remove_header("X-Keep")
    assert m.changes == [AddHeader("X", "1"), RemoveHeader("X-Keep")]


def test_accessors_show_received_message_after_edit():
    m = inv()
    m.remove_header("Call-ID")
    assert m.call_id == "c1@example.com"


def test_add_header_rejects_line_break():
    with pytest.raises(ValueError):
        inv().add_header("X", "a\r\nVia: evil")


def test_build_response_copies_rfc3261_headers():
    r = build_response(inv(), 200, "OK", to_tag="t9")
    assert isinstance(r, Response) and (r.status, r.reason) == (200, "OK")
    assert [v.branch for v in r.vias] == ["z9hG4bK1", "z9hG4bK2"] and r.vias[1].received == "10.0.0.2"
    assert r.from_.tag == "a1" and r.to.tag == "t9"
    assert r.call_id == "c1@example.com" and r.cseq == (7, "INVITE")
    assert r.content_length == 0 and r.body == b""
    assert r.header("Record-Route") is None


def test_build_response_keeps_existing_to_tag():
    req = parse_message(INVITE.replace(b"To: <sip:bob@example.com>", b"To: <sip:bob@example.com>;tag=old"))
    assert build_response(req, 486, "Busy Here", to_tag="new").to.tag == "old"


def test_build_response_without_tag():
    assert build_response(inv(), 100, "Trying").to.tag is None


def test_build_response_extra_headers_and_body():
    r = build_response(inv(), 200, "OK", "t", extra_headers=[("Contact", "<sip:x@y>")], body=b"abc")
    assert r.contacts[0].uri.user == "x" and r.body == b"abc" and r.content_length == 3


def test_build_response_bytes():
    out = build_response(inv(), 202, "Accepted", "t").to_bytes()
    assert out.startswith(b"SIP/2.0 202 Accepted\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n")
    assert out.endswith(b"Content-Length: 0\r\n\r\n")


def test_request_constructor_from_parts():
    req = Request("MESSAGE", "sip:bob@example.com", [("Via", "SIP/2.0/UDP h;branch=z9hG4bKx"),
                                                      ("Call-ID", "abc"), ("CSeq", "1 MESSAGE")], b"hi")
    assert req.method == "MESSAGE" and req.ruri.user == "bob" and req.body == b"hi"
    assert req.to_bytes().endswith(b"Content-Length: 2\r\n\r\nhi")


def test_request_constructor_accepts_mapping():
    req = Request("OPTIONS", "sip:a@b", {"Call-ID": "x"})
    assert req.call_id == "x" and req.content_length == 0


def test_response_constructor_from_parts():
    r = Response(404, "Not Found", [("Call-ID", "x")])
    assert r.status == 404
    assert r.to_bytes() == b"SIP/2.0 404 Not Found\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n"


def test_response_constructor_rejects_bad_status():
    with pytest.raises(ValueError):
        Response(1000, "x")
