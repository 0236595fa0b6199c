"""Locally generated replies, shared by every module that answers a request (sl, tm, ...).

Kamailio builds them in the core (`build_res_buf_from_sip_req` in msg_translator.c) and computes the
To-tags of local replies with the same CRC helpers in sl and tm; kampy keeps one copy here.
"""
from __future__ import annotations

import binascii
import functools
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from kampy.sip.via import reply_via_line
from kampy.sip.errors import SIPProtocolError
from kampy.sip.message import Message, Request
from kampy.sip.text import as_bytes

if TYPE_CHECKING:
    from kampy.apis import CoreAPI
    from kampy.runtime.context import Source


_TEXTS = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 200: "OK", 300: "Multiple Choices", 301: "Moved Permanently",
    302: "Moved Temporarily", 305: "Use Proxy", 380: "Alternative Service", 400: "Bad Request",
    401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
    408: "Request Timeout", 410: "Gone", 413: "Request Entity Too Large", 414: "Request-URI Too Long",
    415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 417: "Bad Extension",
    421: "Extension Required", 423: "Interval Too Brief", 480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist", 482: "Loop Detected", 483: "Too Many Hops",
    484: "Address Incomplete", 485: "Ambiguous", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 491: "Request Pending", 500: "Server Internal Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Server Time-Out",
    505: "Version Not Supported", 513: "Message Too Large", 600: "Busy Everywhere", 603: "Decline",
    604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}
_CLASS_TEXTS = ((600, "Global Failure"), (500, "Server Failure"), (400, "Request Failure"),
                (300, "Redirection"), (200, "Successful"), (100, "Provisional"))


def error_text(code: int) -> str:
    """Kamailio's error_text(): the reason phrase of a locally generated reply."""
    text = _TEXTS.get(code)
    if text is not None:
        return text
    return next((t for floor, t in _CLASS_TEXTS if code >= floor), "Unspecified")


# Kamailio's crcitt_string_array is the bit-reflected CRC-CCITT (polynomial 0x8408, start 0xFFFF).
# binascii.crc_hqx computes the non-reflected one; on bit-reversed bytes with the result bit-reversed
# it gives the same value, in C instead of a Python loop over every byte.
_REVERSED_BYTES = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))
# The suffix prints the complement of the bit-reversed result as 4 hex digits, low nibble first: the
# two hex digits each byte of crc_hqx's result becomes, by table.
_SUFFIX_DIGITS = tuple(f"{~_REVERSED_BYTES[i] & 0xFF:02x}"[::-1] for i in range(256))


def _crc_text(*parts: bytes) -> str:
    """crc_suffix of `parts`, each already bit-reversed (`bytes.translate(_REVERSED_BYTES)`)."""
    crc = 0xFFFF
    for part in parts:
        crc = binascii.crc_hqx(part, crc)
    return _SUFFIX_DIGITS[crc >> 8] + _SUFFIX_DIGITS[crc & 0xFF]


def crc_suffix(parts: Iterable[bytes]) -> str:
    """Kamailio's crcitt_string_array: CRC-CCITT printed as 4 hex digits, low nibble first."""
    return _crc_text(b"".join(parts).translate(_REVERSED_BYTES))


def tag_prefix(core: CoreAPI, signature: str) -> str:
    """The fixed part of a local tag: MD5 of a signature and the first socket (init_tags)."""
    sock = core.sockets[0] if core.sockets else None
    return _tag_prefix(signature, sock.host if sock else "", str(sock.port) if sock else "")


@functools.lru_cache(maxsize=64)
def _tag_prefix(signature: str, host: str, port: str) -> str:
    return hashlib.md5(as_bytes("".join(p.strip() for p in (signature, host, port)))).hexdigest()


def local_to_tag(core: CoreAPI, msg: Request, signature: str, separator: str) -> str:
    """`<md5><sep><crc>`, the same for every retransmission of a request (top Via and Call-ID).

    sl uses ("KAMAILIO-stateless", "."); tm uses ("SER-TM/tags", "-") (calc_crc_suffix).
    """
    via = msg.via
    if via is None:
        return tag_prefix(core, signature) + separator
    host, port = _reversed(via.host), _reversed(None if via.port is None else str(via.port))
    first = _crc_text(host, port, _reversed(via.branch))
    second = _crc_text(port, host, _reversed(msg.call_id))
    return f"{tag_prefix(core, signature)}{separator}{first}{second}"


def _reversed(text: str | None) -> bytes:
    """The bytes of `text` bit-reversed for `_crc_text` (none for None)."""
    return b"" if text is None else as_bytes(text).translate(_REVERSED_BYTES)


_TAG_PARAM = re.compile(r";\s*tag\s*=\s*([^;,\s>]*)", re.IGNORECASE)


def to_tag_of(msg: Message) -> str | None:
    """The To-tag of a message, None without one; a To header our strict parser refuses (RFC 4475's
    unquoted display name `Watson, Thomas <sip:...>`) is read as Kamailio's lenient parse_to does:
    the tag parameter after the closing `>`."""
    try:
        to = msg.to
    except SIPProtocolError:
        raw = msg.header("to") or ""
        match = _TAG_PARAM.search(raw, raw.rfind(">") + 1)
        return match.group(1) or None if match else None
    return to.tag if to is not None else None


def header_lines(msg: Request) -> list[tuple[str, bytes]]:
    """(canonical name, raw line) for every header line of the message, in received order."""
    return msg.header_lines()


_COPIED_TO_REPLY = frozenset({"via", "from", "to", "call-id", "cseq", "record-route"})
_COPIED_NO_RR = _COPIED_TO_REPLY - {"record-route"}  # Record-Route goes into 180-299 replies only


def build_reply(request: Request, src_ip: str, src_port: int, code: int, reason: str, *,
                to_tag: str | None, force_rport: bool = False, lumps: Sequence[bytes] = (),
                server: str = "", body: bytes = b"", warning: bytes = b"") -> bytes:
    """A reply laid out as Kamailio's build_res_buf_from_sip_req: the Vias (the first with
    received/rport), From, To (with `to_tag` for codes >= 180 when the request has none), Call-ID,
    CSeq, Record-Route for 180-299, the reply lumps (whole header lines), Server, Content-Length,
    then `warning` (a whole header line, `warning_line`)."""
    code &= 0xFFFFFFFF  # Kamailio's unsigned code: any int goes, as its last three digits
    add_tag = to_tag is not None and code >= 180 and request.has_header("to") and not to_tag_of(request)
    lines = [b"SIP/2.0 %03d %s" % (code % 1000, as_bytes(reason))]
    first_via = True
    for name, line in request.header_lines_named(_COPIED_TO_REPLY if 180 <= code < 300 else _COPIED_NO_RR):
        if name == "via":
            if first_via:
                line = reply_via_line(request, src_ip, src_port, force_rport)
                first_via = False
        elif name == "to" and add_tag:
            line = line.rstrip() + b";tag=" + as_bytes(to_tag or "")
        lines.append(line)
    lines.append(b"")  # the CRLF after the last copied line
    return b"".join((b"\r\n".join(lines), *lumps, _server_line(server) if server else b"",
                     b"Content-Length: %d\r\n" % len(body), warning, b"\r\n", body))


def warning_line(request: Request, src: Source, out_uri: str) -> bytes:
    """Kamailio's sip_warning header line (warning_builder): the receiving socket, this process and
    where the request came from, its R-URI as received and as rewritten (`out_uri`), its Via lines."""
    local = src.local
    bind = f"[{local.host}]" if ":" in local.host and not local.host.startswith("[") else local.host
    vias = len(request.header_lines_named(_VIA))
    return as_bytes(f'Warning: 392 {bind}:{local.port} "Noisy feedback tells:  pid={os.getpid()} '
                    f"req_src_ip={src.ip.strip('[]')} req_src_port={src.port} in_uri={request.uri} "
                    f'out_uri={out_uri} via_cnt=={vias}"\r\n')


_VIA = frozenset({"via"})


@functools.lru_cache(maxsize=8)
def _server_line(server: str) -> bytes:
    return as_bytes(f"Server: {server}\r\n")
