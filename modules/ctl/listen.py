"""ctl's listen addresses (`binrpc` and `fifo` parameters), parsed as Kamailio's parse_listen_id().

    [unixd|unixs|unix|udp|tcp|fifo:]address[:port]

`unixd:` is a unix datagram socket, `unix:`/`unixs:` a unix stream socket, `fifo:` a named pipe;
`udp:`/`tcp:` take `host:port`, `port` alone (any address) or `[ipv6]:port`, host `*` for any
address. Without a protocol: `name:port` is UDP (or the default when that is TCP or UDP), a name
with a `/` a unix stream socket (for `binrpc`) or the default (`fifo` for the fifo parameter),
anything else the default.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass

UNIXS, UNIXD, UDP, TCP, FIFO = "unix_stream", "unix_dgram", "udp", "tcp", "fifo"
BINRPC, FIFO_PROTO = "binrpc", "fifo"
DEFAULT_PORT = 2049
_PROTOS = {"tcp": TCP, "udp": UDP, "unixd": UNIXD, "unix": UNIXS, "unixs": UNIXS, "fifo": FIFO}


@dataclass(frozen=True)
class ListenId:
    transport: str        # UNIXS, UNIXD, UDP, TCP, FIFO (socket_proto_name())
    name: str             # a path, or a host ("*" for any)
    port: int = 0
    payload: str = BINRPC  # BINRPC or FIFO_PROTO (payload_proto_name())

    @property
    def kind(self) -> str:
        """The network layer's kind of `LocalService`."""
        return {UNIXS: "stream", UNIXD: "dgram", UDP: "udp", TCP: "tcp", FIFO: "fifo"}[self.transport]

    @property
    def bound_port(self) -> int:
        return self.port or DEFAULT_PORT if self.transport in (UDP, TCP) else 0


def parse_listen_id(text: str, default: str, payload: str = BINRPC) -> ListenId:
    """One listen address; raises ValueError with words for the user."""
    proto: str | None = None
    name = text
    port_str: str | None = None
    head, colon, rest = text.partition(":")
    if not text.startswith("[") and colon:
        proto = _PROTOS.get(head.lower())
        if proto is None:
            name, port_str = head, rest  # `host:port`
        else:
            name, port_str = _host_port(rest)
    elif text.startswith("["):
        name, port_str = _host_port(text)
    if proto is None:
        proto = _guess(name, port_str, default)
    port = 0
    if port_str:
        port = _port(port_str, proto)
    elif proto in (TCP, UDP) and name.isdigit():
        port, name = int(name), "*"  # `tcp:3012` is `tcp:*:3012`
    if not name:
        raise ValueError(f"bad listen address {text!r}: no address")
    return ListenId(proto, name, port, payload)


def _host_port(text: str) -> tuple[str, str | None]:
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or (text[end + 1:] and not text[end + 1:].startswith(":")):
            raise ValueError(f"bad IPv6 address in {text!r}")
        return text[:end + 1], text[end + 2:] or None
    name, colon, port = text.partition(":")
    return name, (port or None) if colon else None


def _guess(name: str, port_str: str | None, default: str) -> str:
    if port_str:
        return default if default in (TCP, UDP) else UDP
    if "/" in name:
        return UNIXS if default in (TCP, UDP) else default
    return default


def _port(text: str, proto: str) -> int:
    if text.isdigit() and 0 < int(text) < 65536:
        return int(text)
    try:
        return socket.getservbyname(text, "tcp" if proto == TCP else "udp")
    except OSError:
        raise ValueError(f"bad port {text!r}") from None
