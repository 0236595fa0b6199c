"""HTTP digest authentication for SIP user agents (RFC 2617, RFC 7616 and RFC 8760 for SHA-256):
read a WWW-/Proxy-Authenticate challenge, write the Authorization/Proxy-Authorization answer, with
`qop=auth` and nonce counts when the challenge offers them."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

HASHES = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}
_PARAM = re.compile(r'\s*([\w-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]+)\s*,?')


def h(algorithm: str, text: str) -> str:
    return hashlib.new(HASHES[algorithm], text.encode()).hexdigest()


@dataclass(frozen=True)
class Challenge:
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
            raise ValueError(f"not a digest challenge: {value!r}")
        params = {k.lower(): v[1:-1] if v.startswith('"') else v for k, v in _PARAM.findall(rest)}
        qop = tuple(q.strip() for q in params.get("qop", "").split(",") if q.strip())
        return cls(params["realm"], params["nonce"], params.get("algorithm", "MD5").upper(), qop,
                   params.get("opaque"), params.get("stale", "").lower() == "true")


@dataclass
class Credentials:
    """A user's name and password, and the nonce counts used so far (per nonce)."""

    user: str
    password: str
    counts: dict[str, int] = field(default_factory=dict)

    def answer(self, challenge: Challenge, method: str, uri: str, cnonce: str) -> str:
        """The header value answering `challenge` for a request `method uri`."""
        algorithm = challenge.algorithm
        ha1 = h(algorithm, f"{self.user}:{challenge.realm}:{self.password}")
        ha2 = h(algorithm, f"{method}:{uri}")
        parts = [f'username="{self.user}"', f'realm="{challenge.realm}"', f'nonce="{challenge.nonce}"',
                 f'uri="{uri}"']
        if "auth" in challenge.qop:
            nc = self.counts.get(challenge.nonce, 0) + 1
            self.counts[challenge.nonce] = nc
            response = h(algorithm, f"{ha1}:{challenge.nonce}:{nc:08x}:{cnonce}:auth:{ha2}")
            parts += [f'response="{response}"', f"algorithm={algorithm}", f'cnonce="{cnonce}"', "qop=auth",
                      f"nc={nc:08x}"]
        else:
            response = h(algorithm, f"{ha1}:{challenge.nonce}:{ha2}")
            parts += [f'response="{response}"', f"algorithm={algorithm}"]
        if challenge.opaque is not None:
            parts.append(f'opaque="{challenge.opaque}"')
        return "Digest " + ", ".join(parts)
