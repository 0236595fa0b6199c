"""$au $ar $ad $aU $aa $adu $adn $adc $adr $ado: the digest credentials of a request, as Kamailio's
pv_get_authattr reads them (Proxy-Authorization first, else Authorization)."""
from __future__ import annotations

import pytest

from tests.pv_helpers import INVITE, get, make_ctx

CREDENTIALS = (b'Digest username="alice@example.com", realm="example.com", nonce="n1", '
               b'uri="sip:bob@example.com", response="r1", algorithm=MD5, cnonce="c1", opaque="o1", '
               b"qop=auth, nc=00000001")


def with_header(line: bytes, method: bytes = b"INVITE") -> bytes:
    raw = INVITE.replace(b"User-Agent:", line + b"\r\nUser-Agent:")
    return raw.replace(b"INVITE", method) if method != b"INVITE" else raw


@pytest.mark.parametrize(("pv", "expected"), [
    ("$au", "alice"), ("$ad", "example.com"), ("$aU", "alice@example.com"), ("$ar", "example.com"),
    ("$aa", "MD5"), ("$adu", "sip:bob@example.com"), ("$adn", "n1"), ("$adc", "c1"), ("$adr", "r1"),
    ("$ado", "o1"),
])
def test_each_attribute_of_the_authorization_credentials(pv: str, expected: str) -> None:
    assert get(make_ctx(with_header(b"Authorization: " + CREDENTIALS)), pv) == expected


def test_proxy_authorization_is_read_before_authorization() -> None:
    raw = with_header(b'Authorization: Digest username="carol", realm="a", nonce="n", uri="sip:a", '
                      b'response="r"\r\nProxy-Authorization: ' + CREDENTIALS)
    assert get(make_ctx(raw), "$au") == "alice"


def test_a_parameter_the_credentials_lack_is_empty_and_a_missing_uri_null() -> None:
    ctx = make_ctx(with_header(b'Authorization: Digest username="bob", realm="r", nonce="n", response="x"'))
    assert (get(ctx, "$au"), get(ctx, "$ad"), get(ctx, "$adc"), get(ctx, "$adu")) == ("bob", "", "", None)


def test_no_credentials_is_null() -> None:
    assert get(make_ctx(), "$au") is None


def test_ack_and_cancel_have_no_credentials() -> None:
    for method in (b"ACK", b"CANCEL"):
        assert get(make_ctx(with_header(b"Authorization: " + CREDENTIALS, method=method)), "$au") is None
