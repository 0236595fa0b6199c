"""Text and the bytes it came from. SIP is bytes; kampy holds what it parses as str, with the bytes
that are not UTF-8 kept as surrogates (`surrogateescape`), so that writing it back gives exactly
the bytes received."""
from __future__ import annotations


def as_bytes(text: str) -> bytes:
    """Text taken from a message back to its bytes (undecodable bytes came in as surrogates)."""
    return text.encode("utf-8", "surrogateescape")


def as_text(data: bytes) -> str:
    """Bytes of a message as kampy's text: UTF-8, with any other byte kept as a surrogate."""
    return data.decode("utf-8", "surrogateescape")
