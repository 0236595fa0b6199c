"""UDP: one `asyncio.DatagramProtocol` per listening socket; a datagram is handled inline (no task)."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from kampy.runtime.context import Outgoing, Socket, Source

log = logging.getLogger("kampy.net.udp")

Handle = Callable[[bytes, Source], list[Outgoing]]


class UDPListener(asyncio.DatagramProtocol):
    """Receives datagrams on one local socket and passes each to the server."""

    __slots__ = ("socket", "transport", "_handle", "_deliver", "_after")

    def __init__(self, socket: Socket, handle: Handle, deliver: Callable[[list[Outgoing]], None],
                 after: Callable[[], None]) -> None:
        self.socket = socket
        self.transport: asyncio.DatagramTransport | None = None
        self._handle = handle
        self._deliver = deliver
        self._after = after

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:  # type: ignore[override]
        try:
            outs = self._handle(data, Source("udp", addr[0], addr[1], self.socket))
        except Exception:
            log.exception("error handling a datagram from %s:%s", addr[0], addr[1])
            return
        if outs:
            self._deliver(outs)
        self._after()

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable for an earlier reply and the like: nothing to do but note it.
        log.debug("udp %s: %s", self.socket, exc)

    def send(self, data: bytes, host: str, port: int) -> None:
        if self.transport is not None:
            self.transport.sendto(data, (host, port))
