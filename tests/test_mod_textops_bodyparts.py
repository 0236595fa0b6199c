"""textops: multipart body parts, filter_body, is_audio_on_hold, is_privacy, remove_hf_match,
regex_substring (the exact bytes are checked against Kamailio 5.6 in
tests/e2e/test_textops_kamailio.py)."""
from __future__ import annotations

import pytest

from kampy.modules.textops import EXPORTS
from kampy.api import check_boundaries
from tests.modkit import ctx_for, module

SDP = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=sendrecv\n"
MIXED = ("--XyZ\nContent-Type: application/sdp\n\n" + SDP + "\n--XyZ\nContent-Type: application/isup\n\n"
         "isup-data\n--XyZ--\n")


def request(headers: str = "", body: str = "", ctype: str = "application/sdp") -> bytes:
    lines = ["INVITE sip:bob@example.test SIP/2.0", "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1",
             "From: <sip:a@example.test>;tag=1", "To: <sip:bob@example.test>", "Call-ID: bp-1",
             "CSeq: 1 INVITE", *[h for h in headers.split("\n") if h]]
    data = body.replace("\n", "\r\n").encode()
    if body:
        lines.append(f"Content-Type: {ctype}")
    lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def setup(raw: bytes):  # type: ignore[no-untyped-def]
    ctx = ctx_for(raw)
    return module(EXPORTS, ctx.core), ctx


class Var:
    """An output pseudo-variable stand-in: what the function stores."""

    def __init__(self) -> None:
        self.value: str | None = None

    def set(self, ctx: object, value: str) -> None:
        self.value = value


def test_set_body_multipart_wraps_the_text_in_the_boundary_and_retypes_the_message() -> None:
    t, ctx = setup(request(body=SDP))
    assert t.set_body_multipart(ctx, "hello", "text/plain", "b1") == 1
    out = ctx.msg.to_bytes()
    assert out.endswith(b"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b1\r\n")
    assert b'Content-Type: multipart/mixed;boundary="b1"\r\nMime-Version: 1.0\r\n' in out
    assert b"application/sdp" not in out.split(b"\r\n\r\n")[0]


def test_set_body_multipart_without_arguments_converts_the_present_body() -> None:
    t, ctx = setup(request(body=SDP))
    assert t.set_body_multipart(ctx) == 1
    assert ctx.msg.current_body.startswith(b"--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\nv=0")


def test_set_body_multipart_with_one_argument_takes_it_as_the_boundary() -> None:
    t, ctx = setup(request(body=SDP))
    assert t.set_body_multipart(ctx, "mine") == 1
    assert ctx.msg.current_body.startswith(b"--mine\r\n")


def test_set_body_multipart_without_a_body_to_set_fails() -> None:
    t, ctx = setup(request())
    assert t.set_body_multipart(ctx) == -1


def test_append_body_part_needs_a_multipart_message() -> None:
    t, ctx = setup(request(body=SDP))
    assert t.append_body_part(ctx, "x", "text/x") == -1


def test_append_body_part_adds_the_part_and_closes_the_body() -> None:
    t, ctx = setup(request(body=MIXED, ctype='multipart/mixed;boundary="XyZ"'))
    assert t.append_body_part(ctx, "<x/>", "application/pidf+xml", "render") == 1
    assert ctx.msg.current_body.endswith(
        b"isup-data\r\n--XyZ\r\nContent-Type: application/pidf+xml\r\nContent-Disposition: render\r\n\r\n"
        b"<x/>\r\n--XyZ--\r\n")


def test_append_body_part_hex_decodes_pairs_and_ignores_blanks() -> None:
    t, ctx = setup(request(body=MIXED, ctype='multipart/mixed;boundary="XyZ"'))
    assert t.append_body_part_hex(ctx, "6b 61 6d61", "application/x") == 1
    assert b"\r\n\r\nkama\r\n--XyZ--\r\n" in ctx.msg.current_body


@pytest.mark.parametrize("text", ["6b 6", "zz", "   "])
def test_append_body_part_hex_refuses_bad_hex(text: str) -> None:
    t, ctx = setup(request(body=MIXED, ctype='multipart/mixed;boundary="XyZ"'))
    assert t.append_body_part_hex(ctx, text, "application/x") == -1


def test_remove_body_part_drops_the_part_and_its_closing_boundary() -> None:
    t, ctx = setup(request(body=MIXED, ctype='multipart/mixed;boundary="XyZ"'))
    assert t.remove_body_part(ctx, "application/isup") == 1
    assert ctx.msg.current_body.endswith(b"a=sendrecv\r\n\r\n--XyZ--\r\n")
    assert b"isup" not in ctx.msg.current_body


def test_remove_body_part_of_a_missing_type_fails() -> None:
    t, ctx = setup(request(body=MIXED, ctype='multipart/mixed;boundary="XyZ"'))
    assert t.remove_body_part(ctx, "text/none") == -1


def test_get_body_part_stores_the_content_and_raw_the_whole_part() -> None:
    t, ctx = setup(request(body=MIXED, ctype='multipart/mixed;boundary="XyZ"'))
    content, raw = Var(), Var()
    assert t.get_body_part(ctx, "application/isup", content) == 1
    assert t.get_body_part_raw(ctx, "application/isup", raw) == 1
    assert content.value == "\r\nisup-data\r\n"
    assert raw.value == "Content-Type: application/isup\r\n\r\nisup-data\r\n--XyZ--\r\n"


def test_get_body_part_of_a_single_part_body_gives_the_whole_body() -> None:
    t, ctx = setup(request(body=SDP))
    var = Var()
    assert t.get_body_part(ctx, "text/plain", var) == 1
    assert var.value == SDP.replace("\n", "\r\n")


def test_filter_body_keeps_only_the_content_of_the_first_part_of_the_type() -> None:
    t, ctx = setup(request(body=MIXED, ctype='multipart/mixed;boundary="XyZ"'))
    assert t.filter_body(ctx, "application/sdp") == 1
    assert ctx.msg.current_body == SDP.replace("\n", "\r\n").encode()


def test_filter_body_of_a_single_part_body_fails() -> None:
    t, ctx = setup(request(body=SDP))
    assert t.filter_body(ctx, "application/sdp") == -1


def test_check_boundaries_closes_the_last_and_normalizes_the_inner_ones() -> None:
    body = b"--b\r\nA\r\n--b--\r\nB\r\n--b\r\ntrailer"
    assert check_boundaries(body, "b") == b"--b\r\nA\r\n--b\r\nB\r\n--b--\r\n"


@pytest.mark.parametrize(("sdp", "code"), [
    (SDP, -1),
    (SDP.replace("a=sendrecv", "a=sendonly"), 2),
    (SDP.replace("a=sendrecv", "a=inactive"), 2),
    (SDP.replace("c=IN IP4 10.0.0.1", "c=IN IP4 0.0.0.0"), 1),
    (SDP.replace("m=audio", "m=video").replace("a=sendrecv", "a=sendonly"), -1),
    (SDP.replace("s=-\n", "s=-\na=inactive\n"), 2),
    (SDP.replace("c=IN IP4 10.0.0.1", "c=IN IP4 0.0.0.0").replace("4000", "9")
     .replace("a=sendrecv", "a=ice-options:trickle"), -1),
], ids=["active", "sendonly", "inactive", "zero-address", "video-only", "session-level", "ice-trickle"])
def test_is_audio_on_hold(sdp: str, code: int) -> None:
    t, ctx = setup(request(body=sdp))
    assert t.is_audio_on_hold(ctx) == code


def test_is_privacy_checks_one_value_of_the_privacy_header() -> None:
    t, ctx = setup(request("Privacy: id;header"))
    assert t.is_privacy(ctx, t.fix_privacy("id")) == 1
    assert t.is_privacy(ctx, t.fix_privacy("header")) == 1
    assert t.is_privacy(ctx, t.fix_privacy("session")) == -1


def test_is_privacy_refuses_an_unknown_value_at_load() -> None:
    t, _ = setup(request())
    with pytest.raises(ValueError):
        t.fix_privacy("idx")


def test_is_privacy_with_none_and_another_value_is_false() -> None:
    t, ctx = setup(request("Privacy: none;id"))
    assert t.is_privacy(ctx, t.fix_privacy("id")) == -1


@pytest.mark.parametrize(("op", "expr", "left"), [
    ("eq", "data1", ["Data2", "other"]),
    ("ne", "data1", ["data1"]),
    ("in", "ata", ["other"]),
    ("re", "^data", ["other"]),
])
def test_remove_hf_match_removes_the_matching_headers(op: str, expr: str, left: list[str]) -> None:
    t, ctx = setup(request("X-Info: data1\nX-Info: other\nX-Info: Data2"))
    assert t.remove_hf_match(ctx, "X-Info", op, expr) == 1
    out = ctx.msg.to_bytes().decode()
    assert sorted(line[8:] for line in out.split("\r\n") if line.startswith("X-Info: ")) == sorted(left)


def test_remove_hf_match_without_a_match_is_minus_2() -> None:
    t, ctx = setup(request("X-Info: other"))
    assert t.remove_hf_match(ctx, "X-Info", "eq", "none") == -2


def test_remove_hf_match_with_an_unknown_operator_is_minus_1() -> None:
    t, ctx = setup(request("X-Info: other"))
    assert t.remove_hf_match(ctx, "X-Info", "xx", "other") == -1


def test_regex_substring_stores_the_chosen_group() -> None:
    t, ctx = setup(request())
    var = Var()
    assert t.regex_substring(ctx, "call abc-123 now", "([a-z]+)-([0-9]+)", 2, 3, var) == 1
    assert var.value == "123"


def test_regex_substring_without_a_match_is_minus_2() -> None:
    t, ctx = setup(request())
    assert t.regex_substring(ctx, "nothing", "[0-9]+", 0, 1, Var()) == -2


def test_regex_substring_index_beyond_the_count_is_minus_1() -> None:
    t, ctx = setup(request())
    assert t.regex_substring(ctx, "abc-1", "([a-z]+)", 1, 1, Var()) == -1
