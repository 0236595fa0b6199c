"""Kamailio's core hash functions, which show up in what modules print (usrloc's HashID, GRUUs)."""
from __future__ import annotations


def core_hash(text: str) -> int:
    """Kamailio's core_hash (src/core/hashes.h) of one string, as an unsigned 32-bit value."""
    data = text.encode("utf-8", "surrogateescape")
    h = 0
    i = 0
    while i + 4 <= len(data):
        v = (data[i] << 24) + (data[i + 1] << 16) + (data[i + 2] << 8) + data[i + 3]
        h = (h + v + (v >> 11)) & 0xFFFFFFFF
        i += 4
    v = 0
    for b in data[i:]:
        v = (v << 8) + b
    h = (h + v + (v >> 11)) & 0xFFFFFFFF
    return (h + (h >> 11) + (h >> 13) + (h >> 23)) & 0xFFFFFFFF


def reverse_hex(n: int) -> str:
    """Kamailio's int2reverse_hex: hex digits, least significant first (branch ids)."""
    if n == 0:
        return "0"
    out = []
    while n:
        out.append("0123456789abcdef"[n & 15])
        n >>= 4
    return "".join(out)
