"""How a test user agent sends and receives SIP: UDP datagrams, or a TCP/TLS connection framed by
Content-Length (RFC 3261 18.3). Sockets come from a factory (a namespace's `socket`), bound to a
fixed local address so that every run sends the same bytes."""
from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable

from tests.e2e.proxy import Msg

SocketFactory = Callable[[int, int], socket.socket]


class Transport:
    proto = "UDP"

    def __init__(self, local: tuple[str, int], server: tuple[str, int]) -> None:
        self.local = local
        self.server = server

    def send(self, data: bytes, dest: tuple[str, int] | None = None) -> None:
        raise NotImplementedError

    def recv(self, timeout: float) -> Msg | None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class UDP(Transport):
    def __init__(self, make: SocketFactory, local: tuple[str, int], server: tuple[str, int]) -> None:
        super().__init__(local, server)
        self.sock = make(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(local)

    def send(self, data: bytes, dest: tuple[str, int] | None = None) -> None:
        self.sock.sendto(data, dest or self.server)

    def recv(self, timeout: float) -> Msg | None:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, src = self.sock.recvfrom(70000)
        except (TimeoutError, BlockingIOError):
            return None
        return Msg.parse(data, src[:2])

    def close(self) -> None:
        self.sock.close()


class Stream(Transport):
    """One connection to the server, TCP or (with `tls`, a client context) TLS; requests from the
    server come over it too (Kamailio reuses the connection a user agent registered from)."""

    def __init__(self, make: SocketFactory, local: tuple[str, int], server: tuple[str, int],
                 tls: ssl.SSLContext | None = None, server_name: str | None = None) -> None:
        super().__init__(local, server)
        self.proto = "TLS" if tls else "TCP"
        sock = make(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(local)
        sock.settimeout(10)
        sock.connect(server)
        self.sock: socket.socket = tls.wrap_socket(sock, server_hostname=server_name) if tls else sock
        self.buffer = b""

    def send(self, data: bytes, dest: tuple[str, int] | None = None) -> None:
        self.sock.sendall(data)

    def recv(self, timeout: float) -> Msg | None:
        deadline = time.monotonic() + timeout
        while True:
            msg = self._frame()
            if msg is not None:
                return msg
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (TimeoutError, ssl.SSLWantReadError):
                return None
            if not chunk:
                raise ConnectionError(f"{self.proto} connection {self.local} -> {self.server} "
                                      "closed by the server")
            self.buffer += chunk

    def _frame(self) -> Msg | None:
        self.buffer = self.buffer.lstrip(b"\r\n")  # keepalives (RFC 5626 CRLF)
        head, sep, rest = self.buffer.partition(b"\r\n\r\n")
        if not sep:
            return None
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() in (b"content-length", b"l"):
                length = int(value.strip() or 0)
        if len(rest) < length:
            return None
        data = head + sep + rest[:length]
        self.buffer = rest[length:]
        return Msg.parse(data, self.server)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
