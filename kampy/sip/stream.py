"""Framing SIP messages on a byte stream (TCP/TLS), sans-IO: feed bytes in, get messages out.

RFC 3261 18.3: over a stream, Content-Length is mandatory and frames the body. CRLFs between
messages are keep-alives (RFC 5626 3.5.1: a CRLFCRLF "ping" wants a CRLF "pong"); `pings` counts
the pings seen so the I/O layer can answer them. After a SIPProtocolError the stream is broken:
every later `feed()` raises again (the connection should be closed, after sending any reply that
`error_response` builds).
"""
from __future__ import annotations

import logging
import re

from kampy.sip.errors import SIPProtocolError
from kampy.sip.message import MAX_MESSAGE_SIZE, Request, Response, parse_message

__all__ = ["StreamParser"]

log = logging.getLogger(__name__)

_CONTENT_LENGTH = re.compile(rb"\n[ \t]*(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)", re.I)


class StreamParser:
    """Split a byte stream into SIP messages."""

    def __init__(self, max_message_size: int = MAX_MESSAGE_SIZE, *, accept_no_cl: bool = False) -> None:
        self.max_message_size = max_message_size
        self.accept_no_cl = accept_no_cl  # Kamailio's tcp_accept_no_cl: no Content-Length, no body
        self.pings = 0
        self._buf = bytearray()
        self._scan_from = 0
        self._error: SIPProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete message."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Request | Response]:
        """Add received bytes; return every message they complete, in order."""
        if self._error is not None:
            raise self._error
        self._buf += data
        out: list[Request | Response] = []
        try:
            while True:
                msg = self._next()
                if msg is None:
                    return out
                out.append(msg)
        except SIPProtocolError as exc:
            log.debug("stream broken: %s", exc)
            self._error = exc
            raise

    def _skip_keepalives(self) -> None:
        buf = self._buf
        n = 0
        while n < len(buf) and buf[n] in b"\r\n":
            n += 1
        if n:
            self.pings += bytes(buf[:n]).count(b"\r\n\r\n") + bytes(buf[:n]).count(b"\n\n")
            del buf[:n]
            self._scan_from = 0

    def _next(self) -> Request | Response | None:
        self._skip_keepalives()
        buf = self._buf
        if not buf:
            return None
        head_end = self._header_end()
        if head_end < 0:
            if len(buf) > self.max_message_size:
                raise SIPProtocolError("header block too large", status=513, can_reply=False)
            return None
        m = _CONTENT_LENGTH.search(buf, 0, head_end)
        if m is None and self.accept_no_cl:
            data = bytes(buf[:head_end])
            del buf[:head_end]
            self._scan_from = 0
            return parse_message(data)
        if m is None:
            raise SIPProtocolError("Content-Length is required over a stream", can_reply=False)
        value = m.group(1).strip()
        if not value.isdigit() or len(value) > 10:
            raise SIPProtocolError(f"malformed Content-Length {bytes(value[:20])!r}", can_reply=False)
        total = head_end + int(value)
        if total > self.max_message_size:
            raise SIPProtocolError("message too large", status=513, can_reply=False)
        if len(buf) < total:
            return None
        data = bytes(buf[:total])
        del buf[:total]
        self._scan_from = 0
        return parse_message(data, stream=True)

    def _header_end(self) -> int:
        """Offset just past the empty line ending the headers, or -1 (remembers how far it looked)."""
        buf = self._buf
        start = max(0, self._scan_from - 3)
        ends = [i + n for i, n in ((buf.find(b"\n\r\n", start), 3), (buf.find(b"\n\n", start), 2)) if i >= 0]
        if ends:
            return min(ends)
        self._scan_from = len(buf)
        return -1
