"""A peer a config talks to over UDP beside SIP (a media relay's control socket: rtpengine's ng,
RTPProxy's commands), played in a test by a few lines: `UdpPeer(answer)` listens on a free port of
127.0.0.1 in a thread of its own and answers each datagram with `answer(data)` (None: no answer)."""
from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from types import TracebackType


class UdpPeer:
    """`url` (`udp:127.0.0.1:<port>`) goes into the module's parameter; `received` lists every
    datagram in order. Use it as a context manager, or call `close()`."""

    def __init__(self, answer: Callable[[bytes], bytes | None]) -> None:
        self.answer = answer
        self.received: list[bytes] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.url = f"udp:127.0.0.1:{self.sock.getsockname()[1]}"
        self._running = True
        self._thread = threading.Thread(target=self._serve, name="udp-peer", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while self._running:
            try:
                data, peer = self.sock.recvfrom(65536)
            except OSError:
                continue
            self.received.append(data)
            reply = self.answer(data)
            if reply is not None:
                self.sock.sendto(reply, peer)

    def close(self) -> None:
        self._running = False
        self._thread.join()
        self.sock.close()

    def __enter__(self) -> UdpPeer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
