"""Bencoding, the encoding of rtpengine's ng control protocol: byte strings (`4:spam`), integers
(`i3e`), lists (`l...e`) and dictionaries (`d...e`). Dictionaries keep the order their keys were
added in, as Kamailio's bencode.c writes them; decoding keeps the order they arrive in."""
from __future__ import annotations

from typing import Any


class BencodeError(ValueError):
    """Not a bencoded value."""


def encode(value: Any) -> bytes:
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


def _encode(value: Any, out: list[bytes]) -> None:
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        out.append(b"i%de" % value)
    elif isinstance(value, (bytes, bytearray)):
        out += [b"%d:" % len(value), bytes(value)]
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogateescape")
        out += [b"%d:" % len(data), data]
    elif isinstance(value, dict):
        out.append(b"d")
        for key, item in value.items():
            _encode(key, out)
            _encode(item, out)
        out.append(b"e")
    elif isinstance(value, (list, tuple)):
        out.append(b"l")
        for item in value:
            _encode(item, out)
        out.append(b"e")
    else:
        raise TypeError(f"cannot bencode {type(value).__name__}")


def decode(data: bytes) -> Any:
    """The value `data` holds (strings as bytes); BencodeError when it is not exactly one value."""
    value, end = _decode(data, 0)
    if end != len(data):
        raise BencodeError(f"trailing data after the value at {end}")
    return value


def _decode(data: bytes, pos: int) -> tuple[Any, int]:
    if pos >= len(data):
        raise BencodeError("truncated")
    kind = data[pos:pos + 1]
    if kind == b"i":
        end = data.find(b"e", pos)
        if end < 0:
            raise BencodeError("unterminated integer")
        try:
            return int(data[pos + 1:end]), end + 1
        except ValueError as exc:
            raise BencodeError("bad integer") from exc
    if kind == b"l":
        items, pos = [], pos + 1
        while data[pos:pos + 1] != b"e":
            item, pos = _decode(data, pos)
            items.append(item)
        return items, pos + 1
    if kind == b"d":
        found: dict[bytes, Any] = {}
        pos += 1
        while data[pos:pos + 1] != b"e":
            key, pos = _decode(data, pos)
            if not isinstance(key, bytes):
                raise BencodeError("dictionary key is not a string")
            found[key], pos = _decode(data, pos)
        return found, pos + 1
    if kind.isdigit():
        colon = data.find(b":", pos)
        if colon < 0:
            raise BencodeError("bad string length")
        try:
            length = int(data[pos:colon])
        except ValueError as exc:
            raise BencodeError("bad string length") from exc
        end = colon + 1 + length
        if end > len(data):
            raise BencodeError("truncated string")
        return data[colon + 1:end], end
    raise BencodeError(f"unexpected {kind!r} at {pos}")


def text(value: Any, default: str | None = None) -> str | None:
    """A decoded string as text."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return default


def get(d: Any, key: str) -> Any:
    """`d[key]` of a decoded dictionary (keys are bytes), None when absent or not a dictionary."""
    if not isinstance(d, dict):
        return None
    return d.get(key.encode())


def get_int(d: Any, key: str, default: int) -> int:
    value = get(d, key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def encode_pairs(pairs: list[tuple[str, Any]]) -> bytes:
    """A dictionary from (key, value) pairs, in their order, a key given twice written twice (as
    Kamailio's bencode_dictionary_add does)."""
    out = [b"d"]
    for key, value in pairs:
        _encode(key, out)
        _encode(value, out)
    out.append(b"e")
    return b"".join(out)
