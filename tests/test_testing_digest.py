"""kampy.testing.digest, the phones' digest client, against the published examples (RFC 2617
section 3.5, RFC 7616 section 3.9.1, RFC 2069 section 2.4 as corrected by its erratum); Kamailio 5.6
accepting it on the wire is tests/e2e/test_digest_kamailio.py."""
from __future__ import annotations

import pytest

from kampy.testing.digest import Challenge, ChallengeError, Credentials, digest_response, parse_params, pick

RFC7616 = {"username": "Mufasa", "realm": "http-auth@example.org", "password": "Circle of Life",
           "method": "GET", "uri": "/dir/index.html", "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
           "qop": "auth", "nc": 1, "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"}


def test_rfc_2617_example() -> None:
    assert digest_response(algorithm="MD5", username="Mufasa", realm="testrealm@host.com",
                           password="Circle Of Life", method="GET", uri="/dir/index.html",
                           nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", qop="auth", nc=1,
                           cnonce="0a4f113b") == "6629fae49393a05397450978507c4ef1"


@pytest.mark.parametrize("algorithm, expected", [
    ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
])
def test_rfc_7616_examples(algorithm: str, expected: str) -> None:
    assert digest_response(algorithm=algorithm, **RFC7616) == expected


def test_without_qop_the_rfc_2069_form() -> None:
    assert digest_response(algorithm="MD5", username="Mufasa", realm="testrealm@host.com",
                           password="CircleOfLife", method="GET", uri="/dir/index.html",
                           nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093") == "1949323746fe6a43ef61f9606e7febea"


def test_a_challenge_is_read_with_its_quoting() -> None:
    challenge = Challenge.parse('Digest realm="a \\"b\\"", nonce="n,1", qop="auth,auth-int", '
                                'algorithm=sha-256, opaque="o", stale=TRUE')

    assert challenge == Challenge('a "b"', "n,1", "SHA-256", ("auth", "auth-int"), "o", True)
    assert parse_params('a=1, b="x, y"') == {"a": "1", "b": "x, y"}


def test_a_basic_challenge_is_no_digest_challenge() -> None:
    with pytest.raises(ChallengeError, match="not a Digest challenge"):
        Challenge.parse('Basic realm="x"')


def test_the_topmost_supported_challenge_is_taken() -> None:
    offered = ['Basic realm="x"', 'Digest realm="x", nonce="1", algorithm=SHA-1',
               'Digest realm="x", nonce="2", algorithm=SHA-512-256', 'Digest realm="x", nonce="3"']

    assert pick(offered).nonce == "2"
    assert pick(offered[:2]) is None


def test_credentials_prefer_qop_auth_and_count_each_use_of_a_nonce() -> None:
    challenge = Challenge("example.test", "abc", "MD5", ("auth-int", "auth"), "op")
    bob = Credentials("bob", "secret")

    first = parse_params(bob.answer(challenge, "REGISTER", "sip:example.test").removeprefix("Digest "))
    second = parse_params(bob.answer(challenge, "REGISTER", "sip:example.test").removeprefix("Digest "))

    assert (first["qop"], first["nc"], first["opaque"]) == ("auth", "00000001", "op")
    assert second["nc"] == "00000002"
    assert first["response"] == digest_response(algorithm="MD5", username="bob", realm="example.test",
                                                password="secret", method="REGISTER", uri="sip:example.test",
                                                nonce="abc", qop="auth", nc=1, cnonce=first["cnonce"])
