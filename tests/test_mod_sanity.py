"""sanity: Kamailio's checks, reply codes and texts (each case checked against kamailio 5.6.3)."""
from __future__ import annotations

import pytest

from kampy.modules.sanity import EXPORTS
from kampy.modules.sl import EXPORTS as SL
from tests.modkit import OPTIONS, core, ctx_for, module


def run(raw: bytes, *args: int, **params: object) -> tuple[int, list[bytes]]:
    c = core()
    module(SL, c)
    sanity = module(EXPORTS, c, **params)
    ctx = ctx_for(raw, c)
    rc = sanity.sanity_check(ctx, *args)
    return rc, [out.data for out in ctx.outbox]


def with_header(line: bytes) -> bytes:
    return OPTIONS.replace(b"Content-Length: 0", line + b"\r\nContent-Length: 0")


def first_line(data: bytes) -> bytes:
    return data.split(b"\r\n", 1)[0]


def test_valid_request_passes_default_checks() -> None:
    assert run(OPTIONS) == (1, [])


@pytest.mark.parametrize(("raw", "status"), [
    (OPTIONS.replace(b"1 OPTIONS", b"1 INVITE"), b"400 CSeq method does not match request method"),
    (OPTIONS.replace(b"CSeq: 1 OPTIONS", b"CSeq: 99999999999 OPTIONS"), b"400 CSeq number is illegal"),
    (OPTIONS.replace(b"CSeq: 1 OPTIONS", b"CSeq: 1x OPTIONS"), b"400 CSeq number is illegal"),
    (with_header(b"Expires: abc"), b"400 Expires value is illegal"),
    (with_header(b"Expires: -1"), b"400 Expires value is illegal"),
    (with_header(b"Expires: "), b"400 Bad Expires Header"),
    (OPTIONS.replace(b"OPTIONS sip:127.0.0.1:5060", b"OPTIONS http://x"), b"400 Bad Request URI"),
    (with_header(b'Authorization: Digest username="", realm="x", nonce="n", uri="sip:x", response="r"'),
     b"400 Auth Empty User"),
    (with_header(b'Authorization: Digest username="u", realm="x", nonce="", uri="sip:x", response="r"'),
     b"400 Auth Empty Nonce"),
])
def test_failed_check_replies_with_kamailio_text_and_stops_script(raw: bytes, status: bytes) -> None:
    rc, sent = run(raw)
    assert rc == 0
    assert first_line(sent[0]) == b"SIP/2.0 " + status


def test_cseq_of_ten_digits_passes_like_kamailio() -> None:
    assert run(OPTIONS.replace(b"CSeq: 1 OPTIONS", b"CSeq: 4294967296 OPTIONS")) == (1, [])


def test_unknown_proxy_require_gets_420_with_unsupported() -> None:
    rc, sent = run(with_header(b"Proxy-Require: foo, bar"))
    assert rc == 0 and first_line(sent[0]) == b"SIP/2.0 420 Bad Proxy Require Extension"
    assert b"\r\nUnsupported: foo\r\n" in sent[0]


def test_listed_proxy_require_passes() -> None:
    assert run(with_header(b"Proxy-Require: foo"), proxy_require="foo, bar") == (1, [])


def test_duplicate_from_fails_without_reply() -> None:
    assert run(with_header(b"From: <sip:x@y>;tag=2")) == (0, [])


def test_duplicate_tags_only_with_their_bit() -> None:
    raw = OPTIONS.replace(b";tag=a1", b";tag=a1;tag=a2")
    assert run(raw) == (1, [])
    rc, sent = run(raw, 4096)
    assert rc == 0 and first_line(sent[0]) == b"SIP/2.0 400 Many From Tag Params"


def test_autodrop_off_returns_false_instead_of_stop() -> None:
    rc, _ = run(OPTIONS.replace(b"1 OPTIONS", b"1 INVITE"), autodrop=0)
    assert rc == -1


def test_noreply_keeps_reply_for_sanity_reply() -> None:
    c = core()
    module(SL, c)
    sanity = module(EXPORTS, c, noreply=1)
    ctx = ctx_for(OPTIONS.replace(b"1 OPTIONS", b"1 INVITE"), c)
    assert sanity.sanity_check(ctx) == 0 and ctx.outbox == []
    assert sanity.sanity_reply(ctx) == 1
    assert first_line(ctx.outbox[0].data) == b"SIP/2.0 400 CSeq method does not match request method"


def test_check_flags_out_of_range_are_an_error() -> None:
    assert run(OPTIONS, 0)[0] == -1
    assert run(OPTIONS, 1, 16)[0] == -1


def test_parse_uris_checks_from_uri() -> None:
    raw = OPTIONS.replace(b"From: <sip:alice@example.test>;tag=a1", b"From: <sip:alice@>;tag=a1")
    rc, sent = run(raw, 1024, 2)
    assert rc == 0 and first_line(sent[0]) == b"SIP/2.0 400 Invalid From Header"
