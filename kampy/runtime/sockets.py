"""Listening sockets and `myself` aliases from the core parameters `listen=`, `port=`, `alias=`."""
from __future__ import annotations

from typing import Any

from kampy.config.ast import ListenValue
from kampy.config.compile import CompiledConfig
from kampy.runtime.context import Socket

PROTOS = ("udp", "tcp", "tls", "sctp", "ws", "wss")
SUPPORTED = ("udp", "tcp")


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def split_address(text: str) -> tuple[str | None, str, int | None]:
    """`[proto:]host[:port]` (IPv6 in brackets) -> (proto, host, port)."""
    text = text.strip()
    proto = None
    head, colon, rest = text.partition(":")
    if colon and head.lower() in PROTOS:
        proto, text = head.lower(), rest
    if text.startswith("["):
        end = text.find("]")
        host, tail = text[1:end], text[end + 1:]
        port = int(tail[1:]) if tail.startswith(":") and tail[1:] else None
        return proto, host, port
    if text.count(":") > 1:  # a bare IPv6 address
        return proto, text, None
    host, colon, port_text = text.partition(":")
    return proto, host, int(port_text) if colon and port_text else None


def _advertise(value: str | None) -> tuple[str | None, int | None]:
    if not value:
        return None, None
    _, host, port = split_address(value)
    return host, port


def sockets_from_config(compiled: CompiledConfig, listen_override: list[str] | None = None,
                        ) -> tuple[list[Socket], list[tuple[str, int | None]]]:
    """The sockets to listen on and the aliases; `listen_override` (`-l`) replaces `listen=`.

    Without a protocol a listen address gives a UDP and a TCP socket, like Kamailio; without a port
    it takes `port=` (default 5060). Without any listen address kampy listens on 127.0.0.1."""
    params = compiled.core_params
    default_port = int(params.get("port") or 5060)
    entries = listen_override if listen_override is not None else _values(params.get("listen"))
    entries += [] if listen_override is not None else _values(params.get("socket"))
    sockets: list[Socket] = []
    for entry in entries or ["127.0.0.1"]:
        if isinstance(entry, ListenValue):
            proto, host, port = entry.proto, entry.host.strip("[]"), entry.port
            adv_host, adv_port = _advertise(entry.advertise)
        else:
            proto, host, port = split_address(str(entry))
            adv_host = adv_port = None
        for p in ([proto.lower()] if proto else list(SUPPORTED)):
            sock = Socket(p, host, port or default_port, adv_host, adv_port)
            if sock not in sockets:
                sockets.append(sock)
    aliases: list[tuple[str, int | None]] = []
    for alias in _values(params.get("alias")):
        if isinstance(alias, ListenValue):
            aliases.append((alias.host.strip("[]"), alias.port))
        else:
            _, host, port = split_address(str(alias))
            aliases.append((host, port))
    return sockets, aliases
