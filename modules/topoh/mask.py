"""topoh's encoding (th_mask.c): base64 with an alphabet shuffled by the mask key, `*` as padding.

The shuffle is Kamailio's exactly (MD5 of the key twice, read as four little-endian words, and the
CRC-CCITT of the key), so Kamailio and kampy with the same `mask_key` read what the other wrote.
"""
from __future__ import annotations

import hashlib
import struct

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-"
PAD = "*"


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CCITT = _crc_table()


def crcitt_string(data: bytes) -> int:
    """Kamailio's crcitt_string: bit-reflected CRC-CCITT, start and final complement 0xFFFF."""
    crc = 0xFFFF
    for byte in data:
        crc = _CCITT[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return ~crc & 0xFFFF


def _signed(byte: int) -> int:
    return byte - 256 if byte > 127 else byte  # a C char


def shuffled_alphabet(key: bytes) -> str:
    """th_shuffle(): the alphabet after the key's Fisher-Yates-like swaps."""
    if not key:
        raise ValueError("mask_key must not be empty")
    words = struct.unpack("<4I", hashlib.md5(key + key).digest())
    crc = crcitt_string(key)
    table = list(ALPHABET)
    for last in range(64, 1, -1):
        pick = (crc + last + len(key))
        r = ((words[pick % 4] + _signed(key[pick % len(key)])) & 0xFFFFFFFF) % last
        table[r], table[last - 1] = table[last - 1], table[r]
    return "".join(table)


class Mask:
    """Encodes and decodes as th_mask_encode()/th_mask_decode() with one key."""

    def __init__(self, key: bytes) -> None:
        self.alphabet = shuffled_alphabet(key)
        self.index = {c: i for i, c in enumerate(self.alphabet)}

    def encode(self, data: bytes, prefix: str = "") -> str:
        out = [prefix]
        a = self.alphabet
        for i in range(0, len(data), 3):
            chunk = data[i:i + 3]
            block = int.from_bytes(chunk.ljust(3, b"\0"), "big")
            out.append(a[block >> 18 & 63] + a[block >> 12 & 63])
            out.append(a[block >> 6 & 63] if len(chunk) > 1 else PAD)
            out.append(a[block & 63] if len(chunk) > 2 else PAD)
        return "".join(out)

    def decode(self, text: str, prefix: str = "") -> bytes | None:
        """The decoded bytes, or None when the text is not this encoding (Kamailio's NULL)."""
        pad = len(text) - len(text.rstrip(PAD))
        size = ((len(text) - len(prefix)) * 6 >> 3) - pad
        if size <= 0:
            return None
        body = text[len(prefix):len(text) - pad]
        out = bytearray()
        for i in range(0, len(body), 4):
            block = 0
            for j, c in enumerate(body[i:i + 4]):
                value = self.index.get(c)
                if value is None:
                    return None
                block += value << (18 - 6 * j)
            out += block.to_bytes(3, "big")
        return bytes(out[:size])
