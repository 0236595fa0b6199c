"""UDP: one reader per listening socket; a datagram is handled inline (no task per message).

The socket is read directly (`loop.add_reader`), not through an asyncio transport: each wake-up
drains up to `_BATCH` datagrams (asyncio's transport reads one per loop iteration, paying a poll
for every message), and replies go out with `sock.sendto` (no transport buffer in between).
Sharing the socket with the other workers stays fair: a worker reads only while it is free, and a
batch is handled one datagram at a time, so a datagram another worker could take is not held back
by more than the batch in hand.

A datagram is read into one buffer the listener keeps and copied out at its own size: reading it with
`recvfrom(65535)` made C malloc a 64 KiB block for each and shrink it to the datagram's size, so a
datagram a transaction kept for seconds sat where the next 64 KiB had to fit, and the heap grew past
it (issue 19's fuzz run; 20,000 datagrams with every 10th kept for the next 300: the heap grew
2.5 MiB, with the buffer 0.2 MiB, tests/test_udp_heap.py).
"""
from __future__ import annotations

import asyncio
import logging
import socket as _socket
from collections.abc import Callable

from kampy.runtime.context import Outgoing, Socket, Source

log = logging.getLogger("kampy.net.udp")

Handle = Callable[[bytes, Source], list[Outgoing]]

_BATCH = 16          # datagrams read per wake-up at most (then the loop serves timers, channels, TCP)
_MAX_DATAGRAM = 65535


class UDPListener:
    """Receives datagrams on one local socket and passes each to the server."""

    __slots__ = ("socket", "sock", "_handle", "_deliver", "_after", "_loop", "_reading", "_buffer")

    def __init__(self, socket: Socket, handle: Handle, deliver: Callable[[list[Outgoing]], None],
                 after: Callable[[], None], sock: _socket.socket | None = None) -> None:
        self.socket = socket
        self.sock = sock
        self._handle = handle
        self._deliver = deliver
        self._after = after
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reading = False
        self._buffer = memoryview(bytearray(_MAX_DATAGRAM))

    def start(self, loop: asyncio.AbstractEventLoop, sock: _socket.socket | None = None) -> None:
        """Start reading `sock` (non-blocking) in `loop`."""
        if sock is not None:
            self.sock = sock
        assert self.sock is not None
        self.sock.setblocking(False)
        self._loop = loop
        loop.add_reader(self.sock.fileno(), self._read_ready)
        self._reading = True

    def close(self) -> None:
        """Stop reading and close this process's copy of the socket (as the transport did)."""
        if self._reading and self._loop is not None and self.sock is not None:
            try:
                self._loop.remove_reader(self.sock.fileno())
            except (ValueError, OSError):  # socket already closed
                pass
        self._reading = False
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _read_ready(self) -> None:
        sock = self.sock
        assert sock is not None
        handle, local, buffer = self._handle, self.socket, self._buffer
        handled = False
        for _ in range(_BATCH):
            try:
                size, addr = sock.recvfrom_into(buffer)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                # ICMP port unreachable for an earlier reply and the like: nothing to do but note it.
                log.debug("udp %s: %s", local, exc)
                continue
            handled = True
            data = bytes(buffer[:size])
            try:
                outs = handle(data, Source("udp", addr[0], addr[1], local))
            except Exception:
                log.exception("error handling a datagram from %s:%s", addr[0], addr[1])
                continue
            if outs:
                self._deliver(outs)
        if handled:
            self._after()

    def send(self, data: bytes, host: str, port: int) -> None:
        """Send one datagram; OSError (but a full send buffer, which drops it) goes to the caller."""
        sock = self.sock
        if sock is None:
            return
        try:
            sock.sendto(data, (host, port))
        except (BlockingIOError, InterruptedError):
            log.warning("udp send buffer full; dropped a message to %s:%d", host, port)
