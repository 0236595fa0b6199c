"""Replies tm builds itself (t_reply, local 408/487/500) and replies it relays upstream."""
from __future__ import annotations

from collections.abc import Sequence

from kampy.api import Request, Response, Source, reply_via_line

REPLY_LUMPS = "reply_lumps"  # ctx.local keys shared with sl/textops (append_to_reply, set_reply_body)
REPLY_BODY = "reply_body"

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


def _raw_lines(msg: Request) -> list[tuple[str, bytes]]:
    seen: dict[str, int] = {}
    cache: dict[str, list[bytes]] = {}
    out = []
    for name in msg.header_names:
        if name not in cache:
            cache[name] = msg.get_all_raw(name)
        i = seen.get(name, 0)
        seen[name] = i + 1
        out.append((name, cache[name][i]))
    return out


def build_local_reply(request: Request, src: Source, code: int, reason: str, *, tag: str | None,
                      server: str, lumps: Sequence[str] = (), body: bytes = b"",
                      force_rport: bool = False) -> bytes:
    """A reply laid out as Kamailio's build_res_buf_from_sip_req: Vias (the first with received/
    rport), From, To (with `tag` for codes >= 180 when the request has none), Call-ID, CSeq,
    Record-Route for 180-299, the reply lumps, Server, Content-Length."""
    to = request.to
    add_tag = tag is not None and code >= 180 and to is not None and not to.tag
    out = [b"SIP/2.0 %d %s\r\n" % (code, reason.encode("utf-8", "surrogateescape"))]
    first_via = True
    for name, line in _raw_lines(request):
        if name == "via":
            if first_via:
                line = reply_via_line(request, src.ip, src.port, force_rport)
                first_via = False
        elif name == "to":
            line = line.rstrip() + b";tag=" + tag.encode() if add_tag and tag else line
        elif name == "record-route":
            if not 180 <= code < 300:
                continue
        elif name not in ("from", "call-id", "cseq"):
            continue
        out.append(line + b"\r\n")
    out += [text.encode("utf-8", "surrogateescape") for text in lumps]
    if server:
        out.append(f"Server: {server}\r\n".encode())
    out.append(b"Content-Length: %d\r\n\r\n" % len(body))
    return b"".join(out) + body


def without_top_via(reply: Response) -> bytes:
    """The reply as relayed upstream: our Via (the first value of the first Via line) removed."""
    name, _, rest = reply.get_all_raw("via")[0].partition(b":")
    others = _after_first_value(rest).strip()
    change = reply.replace_lines("via", 0, name + b": " + others if others else b"")
    try:
        return reply.to_bytes()
    finally:
        reply.cancel(change)


def _after_first_value(value: bytes) -> bytes:
    quoted = False
    for i, ch in enumerate(value):
        if ch == 0x22:
            quoted = not quoted
        elif ch == 0x2C and not quoted:
            return value[i + 1:]
    return b""
