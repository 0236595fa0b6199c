"""uac's digest client side (Kamailio's uac auth.c, auth_hdr.c, auth_alg.c): the credentials, the
challenge parser, the response and the Authorization/Proxy-Authorization header it builds."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from kampy.api import core_hash

NC = "00000001"


@dataclass
class Credential:
    user: str
    realm: str
    passwd: str
    ha1: bool = False  # the password is HA1 (uac_auth_mode 1, $uac_req(flags) 1)


def parse_credential(text: str) -> Credential:
    """A `credential` parameter value, `user:realm:password` (add_credential); ValueError."""
    parts = [p.strip() for p in str(text).split(":", 2)]
    if len(parts) != 3 or not all(parts) or any(c.isspace() for p in parts for c in p):
        raise ValueError(f"parse error in <{text}>: expected username:realm:password")
    return Credential(*parts)


@dataclass
class Challenge:
    """A parsed WWW-Authenticate / Proxy-Authenticate value (authenticate_body)."""

    realm: str
    nonce: str
    opaque: str = ""
    qop: str = ""
    qop_auth: bool = False
    stale: bool = False


def _values(body: str) -> list[tuple[str, str]] | None:
    """`name=value` pairs of a Digest challenge, values unquoted; None on a syntax error."""
    out: list[tuple[str, str]] = []
    p, end = 0, len(body)
    while p < end:
        start = p
        while p < end and not body[p].isspace() and body[p] != "=":
            p += 1
        name = body[start:p].lower()
        while p < end and body[p].isspace():
            p += 1
        if p >= end or body[p] != "=":
            return None
        p += 1
        while p < end and body[p].isspace():
            p += 1
        if p >= end:
            return None
        if body[p] == '"':
            close = body.find('"', p + 1)
            if close < 0:
                return None
            value, p = body[p + 1:close], close + 1
        else:
            start = p
            while p < end and not body[p].isspace() and body[p] != ",":
                p += 1
            value = body[start:p]
        out.append((name, value))
        while p < end and body[p].isspace():
            p += 1
        if p < end and body[p] == ",":
            p += 1
            while p < end and body[p].isspace():
                p += 1
    return out


def parse_challenge(text: str) -> tuple[Challenge | None, str]:
    """parse_authenticate_body: (challenge, '') or (None, the error Kamailio logs)."""
    body = text.strip()
    if body[:6].lower() != "digest" or len(body) < 8 or not body[6].isspace():
        return None, f"parse error in <{text}>"
    pairs = _values(body[7:].strip())
    if pairs is None:
        return None, f"parse error in <{text}>"
    ch = Challenge("", "")
    realm = nonce = None
    for name, value in pairs:
        if name == "realm":
            realm = value
        elif name == "nonce":
            nonce = value
        elif name == "opaque":
            ch.opaque = value
        elif name == "qop":
            ch.qop = value
            ch.qop_auth = value.startswith("auth")
        elif name == "algorithm":
            if value.lower() != "md5":
                return None, f'unsupported algorithm "{value}"'
        elif name == "stale":
            if value.lower() == "true":
                ch.stale = True
            elif value.lower() != "false":
                return None, f'unsupported stale value "{value}"'
    if not nonce or not realm:
        return None, "realm or nonce missing"
    ch.realm, ch.nonce = realm, nonce
    return ch, ""


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8", "surrogateescape")).hexdigest()


def response(method: str, uri: str, crd: Credential, ch: Challenge) -> tuple[str, str]:
    """do_uac_auth: (response, cnonce); the cnonce is Kamailio's get_hash1_raw of the nonce, in
    decimal, used only with qop."""
    cnonce = str(core_hash(ch.nonce)) if ch.qop_auth else ""
    ha1 = crd.passwd[:32] if crd.ha1 else _md5(f"{crd.user}:{crd.realm}:{crd.passwd}")
    ha2 = _md5(f"{method}:{uri}")
    if ch.qop:
        qop = ch.qop.split(",", 1)[0]
        return _md5(f"{ha1}:{ch.nonce}:{NC}:{cnonce}:{qop}:{ha2}"), cnonce
    return _md5(f"{ha1}:{ch.nonce}:{ha2}"), cnonce


def authorization(code: int, uri: str, crd: Credential, ch: Challenge, resp: str, cnonce: str) -> str:
    """build_authorization_hdr: the whole header line, CRLF included."""
    name = "Authorization" if code == 401 else "Proxy-Authorization"
    out = f'{name}: Digest username="{crd.user}", realm="{crd.realm}", nonce="{ch.nonce}", uri="{uri}'
    if ch.opaque:
        out += f'", opaque="{ch.opaque}'
    if ch.qop_auth:
        out += f'", qop=auth, nc={NC}, cnonce="{cnonce}'
    return out + f'", response="{resp}", algorithm=MD5\r\n'


def challenge_header(code: int) -> str | None:
    """The header a 401/407 carries its challenge in."""
    return {401: "WWW-Authenticate", 407: "Proxy-Authenticate"}.get(code)
