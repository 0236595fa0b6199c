"""The "Listening on" and "Aliases:" block Kamailio prints at start (print_all_socket_lists(),
print_aliases()), for kampy's sockets.

A socket shows its name, and its address in brackets unless the name is that address and auto
aliases are on (Kamailio sets SI_IS_IP only then). Aliases are kept as Kamailio's add_alias() keeps
them, newest first: the `--alias` values, the config's `alias=` ones, then, with auto aliases, the
names each socket's address resolves to (per protocol, UDP sockets first); one already covered by
an alias for any port or protocol is not added again.
"""
from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kampy.config.ast import ListenValue
from kampy.runtime.context import Socket
from kampy.runtime.sockets import resolved_names, split_address

INDENT = " " * 13


@dataclass(frozen=True)
class Alias:
    proto: str   # "" for any
    name: str
    port: int    # 0 for any

    def covers(self, name: str, port: int, proto: str) -> bool:
        return (self.name.lower() == name.lower() and self.port in (0, port)
                and self.proto in ("", proto))


def _alias(value: Any) -> Alias:
    if isinstance(value, ListenValue):
        return Alias((value.proto or "").lower(), value.host.strip("[]"), value.port or 0)
    proto, host, port = split_address(str(value))
    return Alias(proto or "", host, port or 0)


def aliases(command_line: Iterable[str], config: Iterable[Any], sockets: list[Socket],
            auto: bool) -> list[Alias]:
    found: list[Alias] = []

    def add(alias: Alias) -> None:
        if alias.port and alias.proto:
            if any(a.covers(alias.name, alias.port, alias.proto) for a in found):
                return
        elif alias in found:
            return
        found.insert(0, alias)

    for value in [*command_line, *config]:
        add(_alias(value))
    if auto:
        for s in _udp_first(sockets):
            for name in resolved_names(s.host):
                add(Alias(s.proto, name, s.port))
    return found


def _udp_first(sockets: list[Socket]) -> list[Socket]:
    return [s for p in ("udp", "tcp", "tls") for s in sockets if s.proto == p]


def _address(host: str) -> str:
    try:
        return socket.getaddrinfo(host, None)[0][4][0]
    except OSError:
        return host


def block(sockets: list[Socket], found: list[Alias], auto: bool) -> str:
    lines = ["Listening on "]
    for s in _udp_first(sockets):
        name = f"[{s.host}]" if ":" in s.host else s.host
        address = _address(s.host)
        shown = name if auto and address == s.host else f"{name} [{address}]"
        line = f"{INDENT}{s.proto}: {shown}:{s.port}"
        if s.advertise_host:
            line += f" advertise {s.advertise_host}:{s.advertise_port or s.port}"
        lines.append(line)
    lines.append("Aliases: ")
    for a in found:
        lines.append(f"{INDENT}{a.proto or '*'}: {a.name}:{a.port or '*'}")
    return "\n".join(lines) + "\n\n"
