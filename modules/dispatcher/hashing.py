"""Kamailio's dispatcher hashes (ds_get_hash and the keys it is given), bit for bit, so the same
message picks the same destination here and in Kamailio."""

from __future__ import annotations

from kampy.api import URI, SIPProtocolError, parse_uri

MASK = 0xFFFFFFFF
DS_HASH_USER_ONLY = 1


def _signed(byte: int) -> int:
    # Kamailio reads the bytes through a (signed) char *
    return byte - 256 if byte > 127 else byte


def _mix(data: bytes, h: int) -> int:
    p = 0
    n = len(data)
    while p + 4 <= n:
        v = (
            (_signed(data[p]) << 24)
            + (_signed(data[p + 1]) << 16)
            + (_signed(data[p + 2]) << 8)
            + _signed(data[p + 3])
        ) & MASK
        h = (h + (v ^ (v >> 3))) & MASK
        p += 4
    v = 0
    for byte in data[p:]:
        v = ((v << 8) + _signed(byte)) & MASK
    return (h + (v ^ (v >> 3))) & MASK


def ds_get_hash(x: str | None, y: str | None = None) -> int:
    """ds_get_hash(): the hash of one or two strings (None: absent)."""
    if x is None and y is None:
        return 0
    h = 0
    if x is not None:
        h = _mix(x.encode(), h)
    if y is not None:
        h = _mix(y.encode(), h)
    h = (h + (h >> 11) + ((h >> 13) + (h >> 23))) & MASK
    return h or 1


def uri_hash_keys(uri: str | URI, flags: int) -> tuple[str | None, str | None]:
    """get_uri_hash_keys(): (user, host[:port]) of a URI, the port only when it is written and not
    the scheme's default; the host alone with flag 1 (DS_HASH_USER_ONLY) gives no second key."""
    parsed = uri if isinstance(uri, URI) else parse_uri(uri.strip())
    if not parsed.host:
        raise SIPProtocolError(f"invalid uri, no host present: {uri}")
    user = parsed.user or None
    if flags & DS_HASH_USER_ONLY:
        return user, None
    host = parsed.host
    if parsed.port is not None:
        default = 5061 if parsed.scheme.lower() == "sips" else 5060
        if parsed.port != default:
            host = f"{host}:{parsed.port}"
    return user, host
