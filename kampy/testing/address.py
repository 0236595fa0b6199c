"""Addresses as tests write them: `"192.0.2.10:5060"`, `("192.0.2.10", 5060)`, `"tcp:192.0.2.10:5070"`."""
from __future__ import annotations

from typing import Union

from kampy.runtime.sockets import split_address

AddressLike = Union[str, tuple[str, int]]


def parse_address(addr: AddressLike, transport: str | None = None) -> tuple[str, str, int]:
    """-> (transport, host, port); the transport in the text wins over `transport`, then "udp"."""
    if isinstance(addr, tuple):
        host, port = addr
        return (transport or "udp").lower(), host, int(port)
    proto, host, port = split_address(addr)
    return (proto or transport or "udp").lower(), host, port or 5060


def format_address(proto: str, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{proto}:{shown}:{port}"
