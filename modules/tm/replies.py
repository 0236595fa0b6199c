"""Replies tm builds itself (t_reply, local 408/487/500) and replies it relays upstream."""
from __future__ import annotations

from collections.abc import Sequence

from kampy.api import Request, Response, Source, as_bytes, build_reply

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


def build_local_reply(request: Request, src: Source, code: int, reason: str, *, tag: str | None,
                      server: str, lumps: Sequence[str] = (), body: bytes = b"",
                      force_rport: bool = False) -> bytes:
    """A reply to the transaction's request, in Kamailio's layout (the core's `build_reply`)."""
    return build_reply(request, src.ip, src.port, code, reason, to_tag=tag, force_rport=force_rport,
                       lumps=[as_bytes(text) for text in lumps], server=server, body=body)


def without_top_via(reply: Response) -> bytes:
    """The reply as relayed upstream: our Via (the first value of the first Via line) removed."""
    name, _, rest = reply.get_all_raw("via")[0].partition(b":")
    others = _after_first_value(rest).strip()
    return reply.bytes_with_line("via", 0, name + b": " + others if others else b"")


def _after_first_value(value: bytes) -> bytes:
    quoted = False
    for i, ch in enumerate(value):
        if ch == 0x22:
            quoted = not quoted
        elif ch == 0x2C and not quoted:
            return value[i + 1:]
    return b""
