"""H(A1) and the request/response digests of RFC 2617 and RFC 8760, as Kamailio's auth module
computes them (rfc2617.c, rfc2617_sha256.c)."""
from __future__ import annotations

import hashlib

# algorithm parameter -> hashlib name and hex length of its digests
ALGORITHMS = {"MD5": ("md5", 32), "SHA-256": ("sha256", 64)}


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


class Digest:
    """The hash of the `algorithm` parameter ("" or "MD5", or "SHA-256")."""

    def __init__(self, algorithm: str) -> None:
        name, self.hex_len = ALGORITHMS[algorithm or "MD5"]
        self.name = algorithm or "MD5"
        self._new = getattr(hashlib, name)

    def hexdigest(self, data: bytes) -> str:
        return self._new(data).hexdigest()

    def ha1(self, username: str, realm: str, password: str) -> str:
        """H(username:realm:password)."""
        return self.hexdigest(_b(f"{username}:{realm}:{password}"))

    def response(self, ha1: str, nonce: str, nc: str | None, cnonce: str | None, qop: str | None,
                 auth_int: bool, method: str | None, uri: str, hentity: str | None) -> str:
        """H(HA1:nonce[:nc:cnonce:qop]:H(A2)), A2 = method:uri[:H(entity)]; no method (rspauth):
        A2 = :uri. Only the first hex_len characters of `ha1` count, as in Kamailio."""
        a2 = f"{method or ''}:{uri}"
        if auth_int:
            a2 += f":{(hentity or '')[:self.hex_len]}"
        ha2 = self.hexdigest(_b(a2))
        middle = f"{nc or ''}:{cnonce or ''}:{qop}:" if qop else ""
        return self.hexdigest(_b(f"{ha1[:self.hex_len]}:{nonce}:{middle}{ha2}"))
