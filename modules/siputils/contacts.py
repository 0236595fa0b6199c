"""Contact URI rewriting of siputils: encode_contact/decode_contact* and contact_param_*, byte for
byte as Kamailio 5.6's contact_ops.c writes them."""
from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable

from kampy.api import MessageContext, Request, SIPProtocolError, parse_uri

log = logging.getLogger("kampy.siputils")

# a URI rewrite (the URI, whether it is in angle brackets): the new text, 0 to leave it, or the
# negative code the function returns
Rewrite = Callable[[str, bool], "str | int"]


def contact_uri_spans(value: str) -> list[tuple[int, int, bool]]:
    """(start, end, bracketed) of each contact's URI in a Contact header value (no `*`)."""
    spans: list[tuple[int, int, bool]] = []
    i, n = 0, len(value)
    while i < n:
        while i < n and value[i] in " \t\r\n,":
            i += 1
        if i >= n:
            break
        start = i
        lt = -1
        quoted = False
        while i < n:  # the contact's extent: to a ',' outside quotes and brackets
            ch = value[i]
            if ch == '"':
                quoted = not quoted
            elif ch == "\\" and quoted:
                i += 1
            elif not quoted and ch == "<" and lt < 0:
                lt = i
                gt = value.find(">", i)
                i = n if gt < 0 else gt
            elif not quoted and ch == ",":
                break
            i += 1
        element = value[start:i]
        if element.strip() == "*":
            continue
        if lt >= 0:
            gt = value.find(">", lt)
            spans.append((lt + 1, gt if gt >= 0 else i, True))
        else:
            end = value.find(";", start, i)
            end = i if end < 0 else end
            while end > start and value[end - 1] in " \t\r\n":
                end -= 1
            spans.append((start, end, False))
    return spans


def rewrite_contacts(ctx: MessageContext, rewrite: Rewrite, all_headers: bool) -> int:
    """Apply `rewrite` to each contact URI of the first Contact header (of all of them when
    `all_headers`), in place; the first negative code stops and is returned, else 1."""
    raws = ctx.msg.get_all_raw("contact")
    for index, raw in enumerate(raws if all_headers else raws[:1]):
        line = raw.decode("utf-8", "surrogateescape")
        name, colon, value = line.partition(":")
        edits: list[tuple[int, int, str]] = []
        for start, end, bracketed in contact_uri_spans(value):
            new = rewrite(value[start:end], bracketed)
            if isinstance(new, int):
                if new < 0:
                    return new
                continue
            edits.append((start, end, new))
        if not edits:
            continue
        for start, end, new in reversed(edits):
            value = value[:start] + new + value[end:]
        ctx.msg.replace_lines("contact", index, (name + colon + value).encode("utf-8", "surrogateescape"))
    return 1


# ------------------------------------------------------------ encode_contact / decode_contact


def encode_uri(uri: str, prefix: str, public_ip: str, sep: str) -> str | int:
    """sip:user:pass@host:port;transport=p becomes sip:<prefix>*user*pass*host*port*p@<public_ip>
    (Kamailio keeps no other URI parameter)."""
    if len(uri) <= 1:
        return -1
    colon = uri.find(":")
    if colon < 0:
        log.error("unable to encode Contact URI [%s].Return code -5", uri)
        return -25
    if colon < 3:
        return -26
    try:
        parsed = parse_uri(uri[colon - 3:])
    except SIPProtocolError:
        log.error("parse_uri failed on [%s]", uri)
        return -31
    transport = parsed.params.get("transport") or ""
    port = "" if parsed.port is None else str(parsed.port)
    fields = (prefix, parsed.user or "", parsed.password or "", parsed.host or "", port, transport)
    return uri[:colon + 1] + sep.join(fields) + "@" + public_ip


def decode_uri(uri: str, sep: str) -> str | int:
    """The inverse of encode_uri: what follows the public address (from its first `;` or `>`) is
    kept."""
    if not uri:
        return -1
    colon = uri.find(":")
    if colon < 0:
        log.error("invalid SIP uri - missing :")
        return -22
    at = uri.find("@", colon + 1)
    if at < 0:
        log.error("invalid SIP uri - missing @")
        return -23
    fields = uri[colon + 1:at].split(sep)
    if len(fields) > 6:
        return -24
    if len(fields) < 6:
        log.error("unexpected state %d", len(fields) - 1)
        return -26
    _, user, password, ip, port, proto = fields
    if not ip:
        log.error("unable to decode host address")
        return -2
    if password and not user:
        log.error("password decoded but no username available")
        return -3
    tail = len(uri)
    for i in range(at, len(uri)):
        if uri[i] in ";>":
            tail = i
            break
    out = uri[:colon + 1]
    if user:
        out += user + (":" + password if password else "") + "@"
    out += ip
    if port:
        out += ":" + port
    if proto:
        out += ";transport=" + proto
    return out + uri[tail:]


# ------------------------------------------------------------ contact_param_*


def b64url_encode(text: str) -> str:
    """Kamailio's base64url of the URI, at most two trailing `=` removed."""
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogateescape")).decode().rstrip("=")


def b64url_decode(value: str) -> str | None:
    """Padding added back, then decoded; None when it is no base64url."""
    padded = value + "=" * (-len(value) % 4)
    try:
        raw = base64.b64decode(padded.translate(str.maketrans("-_", "+/")), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.decode("utf-8", "surrogateescape") if raw else None


def uri_param_span(uri: str, name: str) -> tuple[int, int, str] | None | int:
    """Where `;name[=value]` is in `uri` (the `;` to the value's end) and its value; None when
    absent, -1 when the URI does not parse."""
    try:
        parse_uri(uri)
    except SIPProtocolError:
        log.error("failed to parse contact uri [%s]", uri)
        return -1
    head = uri.split("?", 1)[0]
    at = head.rfind("@")
    semi = head.find(";", at + 1)
    while semi >= 0:
        nxt = head.find(";", semi + 1)
        end = len(head) if nxt < 0 else nxt
        pname, eq, pval = head[semi + 1:end].partition("=")
        if pname.strip().lower() == name.lower():
            return semi, end, pval.strip() if eq else ""
        semi = nxt
    return None


def param_decode(uri: str, name: str) -> str | int:
    found = uri_param_span(uri, name)
    if isinstance(found, int):
        return found
    if found is None or not found[2]:
        return 0
    decoded = b64url_decode(found[2])
    if decoded is None:
        log.error("failed to decode contact uri [%s]", uri)
        return -1
    return decoded


def param_remove(uri: str, name: str) -> str | int:
    found = uri_param_span(uri, name)
    if isinstance(found, int):
        return found
    if found is None:
        return 0
    return uri[:found[0]] + uri[found[1]:]


def decode_ruri(ctx: MessageContext, name: str) -> int:
    """contact_param_decode_ruri: the R-URI becomes the decoded value of its parameter `name`."""
    if not isinstance(ctx.msg, Request):
        log.error("r-uri not found")
        return -1
    uri = ctx.ruri
    found = uri_param_span(uri, name)
    if isinstance(found, int):
        log.error("failed to parse r-uri [%s]", uri)
        return -1
    if found is None or not found[2]:
        return 1
    decoded = b64url_decode(found[2])
    if decoded is None:
        log.error("failed to decode uri [%s]", uri)
        return -1
    try:
        ctx.msg.set_ruri(decoded)
    except ValueError as exc:
        log.error("invalid R-URI: %s", exc)
        return -1
    ctx.new_ruri = decoded
    return 1

