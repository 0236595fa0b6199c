"""Digest credentials of an Authorization or Proxy-Authorization header, parsed as Kamailio's core
parses them (src/core/parser/digest): the modules that authenticate (auth, auth_db, ...) share it.

Kamailio's parser is lenient in its own ways, kept here because they decide which requests
authenticate: a quoted value ends at the next `"` (no escapes), a token at a blank or a comma, text
between a value and the next comma is skipped, a parameter given twice keeps its last value, and
the username `sip:alice@example.com` is split into user `alice` and domain `example.com`.
"""
from __future__ import annotations

from dataclasses import dataclass

# qop and algorithm as Kamailio classifies them (qop_type_t, alg_t)
QOP_UNSPEC, QOP_AUTH, QOP_AUTHINT, QOP_OTHER = 0, 1, 2, 3
ALG_UNSPEC, ALG_MD5, ALG_MD5SESS, ALG_OTHER = 0, 1, 2, 3

_LWS = " \t\r\n"
_TOKEN_END = frozenset(" \t\r\n,")
_FIELDS = {"username": "username", "realm": "realm", "nonce": "nonce", "uri": "uri",
           "response": "response", "cnonce": "cnonce", "opaque": "opaque", "qop": "qop", "nc": "nc",
           "algorithm": "algorithm"}


class DigestSyntaxError(ValueError):
    """Credentials of the Digest scheme that cannot be parsed (Kamailio answers them as an error)."""


@dataclass
class DigestCredentials:
    """One header's digest credentials (Kamailio's dig_cred_t with the auth_body_t around it).

    A parameter the header does not have is None (Kamailio's NULL `s`), one given empty is "".
    `header` and `index` say which header line they came from; `stale` is set by the
    authentication when the nonce turned out stale (Kamailio's auth_body_t.stale)."""

    header: str = "authorization"
    index: int = 0
    username: str | None = None
    realm: str | None = None
    nonce: str | None = None
    uri: str | None = None
    response: str | None = None
    cnonce: str | None = None
    opaque: str | None = None
    qop: str | None = None
    nc: str | None = None
    algorithm: str | None = None
    stale: bool = False

    @property
    def user(self) -> str | None:
        """The user part of the username (`alice` of `alice@example.com` or `sip:alice@...`)."""
        return _split_username(self.username)[0] if self.username is not None else None

    @property
    def domain(self) -> str:
        """The domain part of the username, "" when it has none."""
        return _split_username(self.username)[1] if self.username is not None else ""

    @property
    def qop_type(self) -> int:
        """QOP_UNSPEC (no qop), QOP_AUTH, QOP_AUTHINT or QOP_OTHER (parse_qop)."""
        return qop_type(self.qop)

    @property
    def algorithm_type(self) -> int:
        """ALG_UNSPEC, ALG_MD5, ALG_MD5SESS or ALG_OTHER (parse_algorithm)."""
        if self.algorithm is None:
            return ALG_UNSPEC
        alg = self.algorithm.strip(_LWS).lower()
        return {"md5": ALG_MD5, "md5-sess": ALG_MD5SESS}.get(alg, ALG_OTHER)

    def missing(self) -> list[str]:
        """The parameters Kamailio's check_dig_cred requires that are absent (none: usable)."""
        wanted = ["username", "realm", "nonce", "uri", "response"]
        if self.qop_type in (QOP_AUTH, QOP_AUTHINT):
            wanted += ["cnonce", "nc"]
        return [name for name in wanted if getattr(self, name) is None]


def qop_type(value: str | None) -> int:
    if value is None:
        return QOP_UNSPEC
    text = value.strip(_LWS).lower()
    if not text:
        return QOP_UNSPEC
    return {"auth": QOP_AUTH, "auth-int": QOP_AUTHINT}.get(text, QOP_OTHER)


def _split_username(whole: str) -> tuple[str, str]:
    """parse_username: user and domain of `user@domain`, a `sip:` (anything up to ':') dropped."""
    user, domain = whole, ""
    if len(whole) <= 2:
        return user, domain
    at = whole.find("@")
    if at >= 0:
        user, domain = whole[:at], whole[at + 1:]
    colon = user.find(":")
    if colon >= 0:
        user = user[colon + 1:]
    return user, domain


def parse_credentials(value: str, header: str = "authorization", index: int = 0) -> DigestCredentials | None:
    """The credentials of one header value; None when its scheme is not Digest (Kamailio skips
    those); DigestSyntaxError when Digest parameters cannot be parsed."""
    text = value.lstrip(_LWS)
    if len(text) < 7 or text[:6].lower() != "digest" or text[6] not in " \r\n\t,":
        return None
    cred = DigestCredentials(header=header, index=index)
    _parse_params(text[7:].lstrip(_LWS), cred)
    return cred


def _parse_params(s: str, cred: DigestCredentials) -> None:
    while True:
        eq = s.find("=")
        if eq < 0:
            raise DigestSyntaxError("a parameter without '='")
        name = s[:eq].rstrip(_LWS).lower()
        s = s[eq + 1:].lstrip(_LWS)
        if not s:
            raise DigestSyntaxError(f"no value for '{name}'")
        if s[0] == '"':
            end = s.find('"', 1)
            if end < 0:
                raise DigestSyntaxError(f"unterminated quoted value of '{name}'")
            found, s = s[1:end], s[end + 1:]
        else:
            i = 0
            while i < len(s) and s[i] not in _TOKEN_END:
                i += 1
            if i == 0:
                raise DigestSyntaxError(f"empty value of '{name}'")
            found, s = s[:i], s[i:]
        field = _FIELDS.get(name)
        if field is not None:
            setattr(cred, field, found)
        comma = s.find(",")
        if comma < 0:
            return
        s = s[comma + 1:].lstrip(_LWS)
