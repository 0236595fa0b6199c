"""HTTP/1.x requests arriving on a SIP TCP listener (for xhttp): sans-IO framing with strict limits.

`looks_like_http(first bytes)` tells an HTTP request from SIP by its method (SIP has no GET, POST,
PUT, HEAD or DELETE). `HttpParser.feed(bytes)` returns complete requests; a malformed or too large
request raises `HttpError(status, reason)` (the connection answers it and closes).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kampy.version import SERVER_HEADER

MAX_HEAD = 16 * 1024
MAX_BODY = 1024 * 1024
_METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"PATCH ")
SNIFF_BYTES = 7


class HttpError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


@dataclass
class HttpRequest:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)

    @property
    def keep_alive(self) -> bool:
        conn = (self.header("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return conn == "keep-alive"
        return conn != "close"


def looks_like_http(head: bytes) -> bool | None:
    """True for an HTTP request line, False for anything else, None when too short to tell."""
    if any(head.startswith(m) for m in _METHODS):
        return True
    if len(head) < SNIFF_BYTES and any(m.startswith(head) for m in _METHODS):
        return None
    return False


class HttpParser:
    def __init__(self, max_head: int = MAX_HEAD, max_body: int = MAX_BODY) -> None:
        self.max_head = max_head
        self.max_body = max_body
        self._buf = b""

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[HttpRequest]:
        self._buf += data
        out = []
        while True:
            request = self._next()
            if request is None:
                return out
            out.append(request)

    def _next(self) -> HttpRequest | None:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > self.max_head:
                raise HttpError(431, "Request Header Fields Too Large")
            return None
        request = _parse_head(self._buf[:end])
        length = _content_length(request)
        if length > self.max_body:
            raise HttpError(413, "Payload Too Large")
        start = end + 4
        if len(self._buf) - start < length:
            return None
        request.body = self._buf[start:start + length]
        self._buf = self._buf[start + length:]
        return request


def _parse_head(head: bytes) -> HttpRequest:
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
    except ValueError:
        raise HttpError(400, "Bad Request") from None
    if not version.startswith("HTTP/1."):
        raise HttpError(505, "HTTP Version Not Supported")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise HttpError(400, "Bad Request")
        headers.append((name.strip(), value.strip()))
    return HttpRequest(method, target, version, headers)


def _content_length(request: HttpRequest) -> int:
    if request.header("transfer-encoding"):
        raise HttpError(411, "Length Required")
    value = request.header("content-length")
    if value is None:
        return 0
    try:
        length = int(value)
    except ValueError:
        raise HttpError(400, "Bad Request") from None
    if length < 0:
        raise HttpError(400, "Bad Request")
    return length


def build_response(status: int, reason: str, body: bytes = b"", content_type: str | None = "text/plain",
                   server: str = SERVER_HEADER, close: bool = False) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    if server:  # none with server_signature=no
        lines.append(f"Server: {server}")
    if close:
        lines.append("Connection: close")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
