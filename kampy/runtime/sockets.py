"""Listening sockets and `myself` aliases from the core parameters `listen=`, `port=`, `alias=`."""
from __future__ import annotations

import functools
import ipaddress
import logging
import socket
from collections.abc import Iterable
from typing import Any

from kampy.config.ast import ListenValue, Pos
from kampy.config.compile import CompiledConfig
from kampy.errors import ConfigError
from kampy.runtime import interfaces
from kampy.runtime.context import Socket
from kampy.runtime.values import as_bool

log = logging.getLogger("kampy.sockets")

PROTOS = ("udp", "tcp", "tls", "sctp", "ws", "wss")
SUPPORTED = ("udp", "tcp")


def param_values(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _port(text: str, whole: str) -> int | None:
    """A port as Kamailio reads `-l` and `listen=`: a number, used modulo 65536 (its 16 bits)."""
    if not text:
        return None
    if not text.isdigit():
        raise ConfigError.at(Pos("<command line>", 1, 1), f"{whole}: bad port '{text}': a number expected")
    port = int(text)
    if port > 0xFFFF:
        log.warning("%s: port %d is above 65535: Kamailio uses it modulo 65536, %d, and so does kampy",
                    whole, port, port & 0xFFFF)
    return port & 0xFFFF


def split_address(text: str) -> tuple[str | None, str, int | None]:
    """`[proto:]host[:port]` (IPv6 in brackets) -> (proto, host, port)."""
    whole = text = text.strip()
    proto = None
    head, colon, rest = text.partition(":")
    if colon and head.lower() in PROTOS:
        proto, text = head.lower(), rest
    if text.startswith("["):
        end = text.find("]")
        host, tail = text[1:end], text[end + 1:]
        return proto, host, _port(tail[1:], whole) if tail.startswith(":") else None
    if text.count(":") > 1:  # a bare IPv6 address
        return proto, text, None
    host, colon, port_text = text.partition(":")
    return proto, host, _port(port_text, whole) if colon else None


# get_sock_info_list(): WebSocket runs on the TCP and TLS sockets; next_proto(): without a protocol
# the sockets are searched UDP first, then TCP, TLS, SCTP
_SOCKET_LIST = {"ws": "tcp", "wss": "tls"}
_PROTO_ORDER = ("udp", "tcp", "tls", "sctp")


def _same_host(host: str, name: str | None) -> bool:
    """si_hname_cmp(): the same name ignoring case, or the same IP address."""
    if not name:
        return False
    name = name.strip("[]")
    if host.lower() == name.lower():
        return True
    try:
        return ipaddress.ip_address(host) == ipaddress.ip_address(name)
    except ValueError:
        return False


def grep_socket(sockets: Iterable[Socket], host: str, port: int | None = None, proto: str | None = None,
                *, advertised_port: bool = True) -> Socket | None:
    """The local socket `proto:host:port` names, as Kamailio's grep_sock_info() finds it.

    `host` (IPv6 with or without brackets) is the socket's address or its advertised address; port
    0/None matches any port, else the socket's port or its advertised one; proto None matches any
    protocol. `advertised_port=False` is find_si(), force_send_socket()'s lookup: the port must be
    the socket's own."""
    if len(host) > 2 and host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    sockets = list(sockets)
    for p in [_SOCKET_LIST.get(proto, proto)] if proto else _PROTO_ORDER:
        for sock in sockets:
            if sock.proto != p:
                continue
            if port and port != sock.port and not (advertised_port and port == sock.advertise_port):
                continue
            if _same_host(host, sock.host) or _same_host(host, sock.advertise_host):
                return sock
    return None


def _advertise(value: str | None) -> tuple[str | None, int | None]:
    if not value:
        return None, None
    _, host, port = split_address(value)
    return host, port


def _entry(entry: Any, ipv6: bool) -> list[tuple[str | None, str, int | None, str | None, int | None]]:
    """One listen value -> (proto, host, port, advertised host, advertised port) per address: `-l`'s
    `[proto:]addr_lst[:port][/advaddr]`, where addr_lst is an address, a host, an interface name
    (all its addresses) or `(addr, addr, ...)`."""
    if isinstance(entry, ListenValue):
        adv_host, adv_port = _advertise(entry.advertise)
        hosts = _expand(entry.host.strip("[]"), ipv6)
        return [(entry.proto, h, entry.port, adv_host, adv_port) for h in hosts]
    text = str(entry).strip()
    adv_host = adv_port = None
    if "/" in text:
        text, _, advertise = text.rpartition("/")
        adv_host, adv_port = _advertise(advertise)
    proto = None
    head, colon, rest = text.partition(":")
    if colon and head.lower() in PROTOS:
        proto, text = head.lower(), rest
    if text.startswith("("):
        names, _, tail = text[1:].partition(")")
        port = int(tail[1:]) if tail.startswith(":") and tail[1:].isdigit() else None
        hosts = [h for n in names.split(",") if n.strip() for h in _expand(n.strip(), ipv6)]
        return [(proto, h, port, adv_host, adv_port) for h in hosts]
    _, host, port = split_address(text)
    return [(proto, h, port, adv_host, adv_port) for h in _expand(host, ipv6)]


def _expand(host: str, ipv6: bool) -> list[str]:
    """An interface name stands for its addresses (IPv6 ones with `auto_bind_ipv6`, as Kamailio's
    add_interfaces()); anything else for itself."""

    if host and not _is_ip(host) and interfaces.is_interface(host):
        return interfaces.addresses(host, ipv6=ipv6) or [host]
    return [host]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _default_protos(params: dict[str, Any]) -> list[str]:
    """The protocols of a listen address without one: UDP, TCP, and TLS when it is enabled."""
    from kampy.runtime.params import tls_enabled

    tls = tls_enabled(params) and not as_bool(params.get("disable_tcp"), False)
    return [*SUPPORTED, "tls"] if tls else list(SUPPORTED)


def _listen_port(proto: str, port: int | None, explicit: bool, default: int, tls_port: int) -> int:
    """add_listen_iface(): no port is `port=` (TLS: `tls_port_no`); a port given to an address
    without a protocol is, for its TLS socket, that port + 1."""
    if proto != "tls":
        return port or default
    if not port:
        return tls_port
    return port if explicit else port + 1


def sockets_from_config(compiled: CompiledConfig, listen_override: list[Any] | None = None, *,
                        every_interface: bool = False, auto_aliases: bool = False,
                        ) -> tuple[list[Socket], list[tuple[str, int | None]]]:
    """The sockets to listen on and the aliases; `listen_override` replaces `listen=`.

    Without a protocol a listen address gives a UDP and a TCP socket, like Kamailio; without a port
    it takes `port=` (default 5060). Without any listen address kampy listens on 127.0.0.1, or on
    every interface with `every_interface` (Kamailio's way). `auto_aliases` adds the names each
    listen address resolves to (fix_hostname(): a reverse lookup of an IP address, the official
    name and aliases of a host name) as aliases, as Kamailio's `auto_aliases=yes`."""

    params = compiled.core_params
    default_port = int(params.get("port") or 5060)
    ipv6 = as_bool(params.get("auto_bind_ipv6"), False)
    entries = listen_override if listen_override is not None else param_values(params.get("listen"))
    entries += [] if listen_override is not None else param_values(params.get("socket"))
    if not entries:

        entries = interfaces.addresses(ipv6=ipv6) if every_interface else ["127.0.0.1"]
    protos = _default_protos(params)
    tls_port = int(params.get("tls_port_no") or 5061)
    sockets: list[Socket] = []
    for entry in entries:
        name = entry.name if isinstance(entry, ListenValue) else None
        for proto, host, port, adv_host, adv_port in _entry(entry, ipv6):
            for p in ([proto.lower()] if proto else protos):
                sock = Socket(p, host, _listen_port(p, port, bool(proto), default_port, tls_port),
                              adv_host, adv_port, name)
                if sock not in sockets:
                    sockets.append(sock)
    aliases: list[tuple[str, int | None]] = []
    for alias in param_values(params.get("alias")):
        if isinstance(alias, ListenValue):
            aliases.append((alias.host.strip("[]"), alias.port))
        else:
            _, host, port = split_address(str(alias))
            aliases.append((host, port))
    if auto_aliases:
        for sock in sockets:
            for name in resolved_names(sock.host):
                if (name, sock.port) not in aliases:
                    aliases.append((name, sock.port))
    return sockets, aliases


@functools.lru_cache(maxsize=64)
def resolved_names(host: str) -> tuple[str, ...]:
    """The names Kamailio's auto aliases add for a listen address: for an IP address the names its
    reverse lookup gives; for a host name, the name itself when it is not the official one, and the
    official name's aliases."""
    try:
        if _is_ip(host):
            name, names, _ = socket.gethostbyaddr(host)
            return tuple(n for n in (name, *names) if n.lower() != host.lower())
        official, names, _ = socket.gethostbyname_ex(host)
    except OSError:
        return ()
    return ((host,) if official.lower() != host.lower() else ()) + tuple(names)
