"""Kamailio's core hash functions, which show up in what modules print (usrloc's HashID, GRUUs)."""
from __future__ import annotations

from kampy.sip.text import as_bytes


def _signed(byte: int) -> int:
    return byte - 256 if byte >= 128 else byte  # Kamailio reads the text as (signed) char


def _hash_update(data: bytes, h: int) -> int:
    """hash_update_str (src/core/hashes.h): 4 bytes at a time, then the 0-3 left over."""
    n, p = len(data), 0
    while p <= n - 4:
        v = ((_signed(data[p]) << 24) + (_signed(data[p + 1]) << 16) + (_signed(data[p + 2]) << 8)
             + _signed(data[p + 3])) & 0xFFFFFFFF
        h = (h + (v ^ (v >> 3))) & 0xFFFFFFFF
        p += 4
    v = 0
    for byte in data[p:]:
        v = (v << 8) + _signed(byte)
    v &= 0xFFFFFFFF
    return (h + (v ^ (v >> 3))) & 0xFFFFFFFF


def hash2_raw(key1: str, key2: str) -> int:
    """get_hash2_raw (src/core/hashes.h): the hash of Call-ID and CSeq number behind a message's
    hash_index (`& 0xFFFF`), which Kamailio prints first in the Via branches it makes."""
    return _hash_finish(_hash_update(as_bytes(key2),
                                     _hash_update(as_bytes(key1), 0)))


def _hash_finish(h: int) -> int:
    return ((h + (h >> 11)) + ((h >> 13) + (h >> 23))) & 0xFFFFFFFF


def core_hash(text: str) -> int:
    """Kamailio's core_hash (src/core/hashes.h) of one string, as an unsigned 32-bit value: the
    same steps as get_hash2_raw with no second string."""
    return _hash_finish(_hash_update(as_bytes(text), 0))


def reverse_hex(n: int) -> str:
    """Kamailio's int2reverse_hex: hex digits, least significant first (branch ids)."""
    if n == 0:
        return "0"
    out = []
    while n:
        out.append("0123456789abcdef"[n & 15])
        n >>= 4
    return "".join(out)
