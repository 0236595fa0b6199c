"""Bind the listening sockets once, in the first process, before any worker starts.

Workers inherit the bound file descriptors across fork, as Kamailio's do: every UDP worker reads
the same socket, so the kernel hands each datagram to whichever worker is free (a slow module
function in one worker does not delay the datagrams the others can take), and every TCP worker
accepts on the same listening socket.
"""
from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, replace

from kampy.runtime.context import Socket
from kampy.runtime.params import NetParams

log = logging.getLogger("kampy.net")

# Linux's <linux/in.h> (Python's socket module lacks them)
IP_MTU_DISCOVER, IP_PMTUDISC_DONT, IP_PMTUDISC_DO, IP_FREEBIND = 10, 0, 2, 15


class BindError(Exception):
    """A listen address that cannot be bound (in use, not local, ...)."""


@dataclass
class Listener:
    """A local `Socket` (as routes see it) and the OS socket bound for it."""

    socket: Socket
    sock: socket.socket

    def close(self) -> None:
        self.sock.close()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def set_tos(sock: socket.socket, tos: int) -> None:
    """The core's `tos` on a socket (IP_TOS, IPv6's traffic class), as Kamailio sets it on its
    listening sockets and its TCP connections; a refusal is not fatal (Kamailio warns too)."""
    try:
        if sock.family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, tos)
        else:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
    except OSError as exc:
        log.warning("setsockopt tos: %s (%d)", exc.strerror or exc, tos)


def set_tcp_options(sock: socket.socket, params: NetParams, *, listening: bool) -> None:
    """What Kamailio sets on its TCP sockets (tcp_main.c: tcp_init() on a listening socket, whose
    accepted connections inherit them, init_sock_opt() on one it opens): TCP_DEFER_ACCEPT on a
    listening one, TCP_LINGER2, SO_KEEPALIVE with TCP_KEEPINTVL, TCP_KEEPIDLE and TCP_KEEPCNT. A zero
    leaves the system's setting; a refusal is a warning, as in Kamailio."""
    options = [(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, params.tcp_defer_accept if listening else 0),
               (socket.IPPROTO_TCP, socket.TCP_LINGER2, params.tcp_linger2),
               (socket.SOL_SOCKET, socket.SO_KEEPALIVE, int(params.tcp_keepalive)),
               (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, params.tcp_keepintvl),
               (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, params.tcp_keepidle),
               (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, params.tcp_keepcnt)]
    for level, option, value in options:
        if value:
            try:
                sock.setsockopt(level, option, value)
            except OSError as exc:
                log.warning("setsockopt %d on a tcp socket: %s (%d)", option, exc.strerror or exc, value)


def _bind_one(spec: Socket, backlog: int, rcvbuf: int, params: NetParams) -> Listener:
    host = spec.host.strip("[]")
    family = _family(host)
    kind = socket.SOCK_DGRAM if spec.proto == "udp" else socket.SOCK_STREAM
    sock = socket.socket(family, kind)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            set_tcp_options(sock, params, listening=True)
        else:
            _grow_receive_buffer(sock, rcvbuf)
            # Kamailio's udp_init(): the DF bit and path MTU discovery only with pmtu_discovery
            sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER,
                            IP_PMTUDISC_DO if params.pmtu_discovery else IP_PMTUDISC_DONT)
        set_tos(sock, params.tos)
        if params.ip_free_bind:  # bind to an address the host does not have (yet)
            sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
        sock.bind((host, spec.port))
        if kind == socket.SOCK_STREAM:
            sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise BindError(f"cannot listen on {spec}: {exc.strerror or exc}") from None
    if spec.port == 0:
        spec = replace(spec, port=sock.getsockname()[1])
    return Listener(spec, sock)


def _grow_receive_buffer(sock: socket.socket, size: int) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    except OSError as exc:  # capped by net.core.rmem_max; the default still works
        log.debug("SO_RCVBUF %d refused: %s", size, exc)


def bind_all(sockets: list[Socket], *, backlog: int = 1024, rcvbuf: int = 256 << 10,
             params: NetParams | None = None) -> list[Listener]:
    """Bind every socket or none: on the first failure the ones already bound are closed. `params`:
    the `tos` of every socket and the TCP options (set_tcp_options)."""
    params = params or NetParams()
    bound: list[Listener] = []
    try:
        for spec in sockets:
            bound.append(_bind_one(spec, backlog, rcvbuf, params))
    except BindError:
        for listener in bound:
            listener.close()
        raise
    return bound
