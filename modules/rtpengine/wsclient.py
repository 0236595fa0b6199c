"""A small WebSocket client (RFC 6455) for the ng protocol over ws:// and wss:// (Kamailio's `lwsc`
module, which rtpengine's `wsapi` parameter selects): one connection per URL in each process, opened
on first use with the `ng.rtpengine.com` subprotocol; a request is one masked binary message, the
reply the next data message."""
from __future__ import annotations

import base64
import hashlib
import os
import select
import socket
import ssl
import struct
import time
from urllib.parse import urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WsError(OSError):
    """The WebSocket request failed (connect, handshake, timeout, closed)."""


class WsConnection:
    def __init__(self, url: str, protocol: str, timeout: float) -> None:
        parts = urlsplit(url)
        secure = parts.scheme == "wss"
        host = parts.hostname or ""
        port = parts.port or (443 if secure else 80)
        sock = socket.create_connection((host, port), timeout=timeout)
        if secure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # lwsc connects without verifying, as Kamailio's
            sock = context.wrap_socket(sock, server_hostname=host)
        self.sock = sock
        key = base64.b64encode(os.urandom(16)).decode()
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        netloc = parts.netloc.rpartition("@")[2]
        request = (f"GET {path} HTTP/1.1\r\nHost: {netloc}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                   f"Sec-WebSocket-Protocol: {protocol}\r\n\r\n")
        sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise WsError("connection closed during the WebSocket handshake")
            head += chunk
        head, _, self.buffer = head.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise WsError(f"WebSocket handshake refused: {lines[0]}")
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if headers.get("sec-websocket-accept") != accept:
            raise WsError("WebSocket handshake: wrong Sec-WebSocket-Accept")

    def request(self, data: bytes, timeout: float) -> bytes:
        self._send(0x2, data)
        deadline = time.monotonic() + timeout
        while True:
            opcode, payload = self._frame(deadline)
            if opcode in (0x1, 0x2):
                return payload
            if opcode == 0x8:
                raise WsError("WebSocket closed by the server")
            if opcode == 0x9:
                self._send(0xA, payload)

    def _send(self, opcode: int, data: bytes) -> None:
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(head + mask + masked)

    def _need(self, n: int, deadline: float) -> bytes:
        while len(self.buffer) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0] and not self._pending():
                raise WsError("timeout waiting for the WebSocket reply")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise WsError("WebSocket connection closed")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _pending(self) -> bool:
        return isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0

    def _frame(self, deadline: float) -> tuple[int, bytes]:
        """One whole message (fragments joined)."""
        data, opcode = b"", None
        while True:
            b0, b1 = self._need(2, deadline)
            length = b1 & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._need(2, deadline))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._need(8, deadline))[0]
            mask = self._need(4, deadline) if b1 & 0x80 else b""
            payload = self._need(length, deadline) if length else b""
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode is None or b0 & 0x0F:
                opcode = b0 & 0x0F
            data += payload
            if b0 & 0x80:
                return opcode, data

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
