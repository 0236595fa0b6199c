"""Digest authentication as a SIP phone does it (RFC 2617 with the algorithms of RFC 7616, which
RFC 8760 brings to SIP): read a 401's `WWW-Authenticate` or a 407's `Proxy-Authenticate`, answer
with `Authorization` or `Proxy-Authorization`.

    challenge = pick(reply.headers("WWW-Authenticate"))
    value = authorization(challenge, username="bob", password="secret", method="REGISTER",
                          uri="sip:example.test", cnonce="0a4f113b", nc=1)

Algorithms: MD5, SHA-256, SHA-512-256 and their `-sess` forms; qop `auth` (preferred) and
`auth-int`, or none (RFC 2069's form) when the challenge offers no qop.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda data: hashlib.md5(data).hexdigest(),
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
    "SHA-512-256": lambda data: hashlib.new("sha512_256", data).hexdigest(),
}
# RFC 8760 section 2.4: a UAC takes the topmost challenge it supports; these are the ones it can.
SUPPORTED = frozenset(HASHES) | frozenset(f"{name}-SESS" for name in HASHES)

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)\s*(?:,|$)')


class ChallengeError(ValueError):
    """A WWW-Authenticate/Proxy-Authenticate value that is not a usable Digest challenge."""


@dataclass(frozen=True)
class Challenge:
    """One Digest challenge: its `realm`, `nonce`, `algorithm` (upper case), the `qop` values offered,
    `opaque` and `stale`."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False

    @classmethod
    def parse(cls, value: str) -> Challenge:
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() != "digest":
            raise ChallengeError(f"not a Digest challenge: {value!r}")
        params = parse_params(rest)
        if "realm" not in params or "nonce" not in params:
            raise ChallengeError(f"a Digest challenge needs realm and nonce: {value!r}")
        qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
        return cls(params["realm"], params["nonce"], params.get("algorithm", "MD5").upper(), qop,
                   params.get("opaque"), params.get("stale", "").lower() == "true")


def parse_params(text: str) -> dict[str, str]:
    """`realm="a", nonce="b", qop=auth` -> {"realm": "a", ...} (names lower case, quotes removed)."""
    params: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        m = _PARAM.match(text, pos)
        if m is None or m.end() == pos:
            raise ChallengeError(f"bad Digest parameters at {text[pos:pos + 30]!r}")
        value = m.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[m.group(1).lower()] = value
        pos = m.end()
    return params


def pick(values: Iterable[str]) -> Challenge | None:
    """The topmost Digest challenge whose algorithm this module supports (RFC 8760 section 2.4)."""
    for value in values:
        try:
            challenge = Challenge.parse(value)
        except ChallengeError:
            continue
        if challenge.algorithm in SUPPORTED:
            return challenge
    return None


def digest_response(*, algorithm: str, username: str, realm: str, password: str, method: str, uri: str,
                    nonce: str, qop: str | None = None, nc: int = 1, cnonce: str = "",
                    body: bytes = b"") -> str:
    """The `response` value: KD(H(A1), nonce:nc:cnonce:qop:H(A2)), or KD(H(A1), nonce:H(A2))
    without qop (RFC 2617 section 3.2.2)."""
    name = algorithm.upper()
    sess = name.endswith("-SESS")
    h = HASHES[name.removesuffix("-SESS")]
    ha1 = h(f"{username}:{realm}:{password}".encode())
    if sess:
        ha1 = h(f"{ha1}:{nonce}:{cnonce}".encode())
    a2 = f"{method}:{uri}"
    if qop == "auth-int":
        a2 += ":" + h(body)
    ha2 = h(a2.encode())
    if qop:
        return h(f"{ha1}:{nonce}:{nc:08x}:{cnonce}:{qop}:{ha2}".encode())
    return h(f"{ha1}:{nonce}:{ha2}".encode())


def authorization(challenge: Challenge, *, username: str, password: str, method: str, uri: str,
                  nc: int = 1, cnonce: str | None = None, body: bytes = b"") -> str:
    """The value of the Authorization (or Proxy-Authorization) header answering `challenge`."""
    qop = "auth" if "auth" in challenge.qop else "auth-int" if "auth-int" in challenge.qop else None
    cnonce = cnonce if cnonce is not None else secrets.token_hex(8)
    response = digest_response(algorithm=challenge.algorithm, username=username, realm=challenge.realm,
                               password=password, method=method, uri=uri, nonce=challenge.nonce,
                               qop=qop, nc=nc, cnonce=cnonce, body=body)
    parts = [f'username="{_quote(username)}"', f'realm="{_quote(challenge.realm)}"',
             f'nonce="{_quote(challenge.nonce)}"', f'uri="{_quote(uri)}"', f'response="{response}"',
             f"algorithm={challenge.algorithm}"]
    if challenge.opaque is not None:
        parts.append(f'opaque="{_quote(challenge.opaque)}"')
    if qop:
        parts += [f"qop={qop}", f"nc={nc:08x}", f'cnonce="{_quote(cnonce)}"']
    return "Digest " + ", ".join(parts)


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


class Credentials:
    """A user's name and password, with the nonce counts used so far (`nc` goes up by one each time
    a nonce is used again, RFC 2617 section 3.2.2)."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self.counts: dict[str, int] = {}  # nonce -> the last count used with it

    def answer(self, challenge: Challenge, method: str, uri: str, body: bytes = b"", *,
               cnonce: str | None = None) -> str:
        """The Authorization value for a request `method uri` (with `body` for qop=auth-int),
        with the next count for the challenge's nonce and a random cnonce unless given."""
        nc = self.counts[challenge.nonce] = self.counts.get(challenge.nonce, 0) + 1
        return authorization(challenge, username=self.username, password=self.password, method=method,
                             uri=uri, nc=nc, cnonce=cnonce, body=body)
