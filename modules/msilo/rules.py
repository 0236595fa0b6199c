"""msilo's pure rules, with no database and no clock: what Kamailio's msilo checks and builds.

Each function follows a step of the behaviour spec (shared/reference/msilo-behaviour.md); the
module (`impl.py`) strings them together.
"""
from __future__ import annotations

import email.utils
import re
import time

from kampy.api import Request, SIPProtocolError

MAX_EXTRA_HDRS = 1024   # Kamailio's header buffers: extra headers must stay below this
MAX_PREFIXED_BODY = 978  # longest body that still gets the "[Offline message - ...] " prefix
# The largest body m_store keeps: what m_dump sends must fit one UDP datagram (65,507 bytes over
# IPv4), since its next hop and the owner's contact may be UDP: 4,096 bytes are left for the headers
# (tm's lines with the URIs, Date, msilo's block below 1,024 bytes, a proxy's Via and Record-Route).
MAX_UDP_PAYLOAD = 65507
DUMP_HEADROOM = 4096
MAX_DELIVERABLE_BODY = MAX_UDP_PAYLOAD - DUMP_HEADROOM
OFFLINE_PREFIX = "[Offline message - "
REMINDER_PREFIX = "[Reminder message - "

# Header types Kamailio's parser knows (parser/hf.h, 5.6). m_store copies every *other* header of the
# MESSAGE, plus P-Asserted-Identity, P-Preferred-Identity and Privacy, into the stored extra headers.
KNOWN_HEADERS = frozenset({
    "via", "to", "from", "cseq", "call-id", "contact", "max-forwards", "route", "record-route",
    "content-type", "content-length", "authorization", "expires", "min-expires", "proxy-authorization",
    "supported", "require", "proxy-require", "unsupported", "allow", "event", "accept", "accept-language",
    "organization", "priority", "subject", "user-agent", "server", "content-disposition", "diversion",
    "remote-party-id", "refer-to", "sip-if-match", "session-expires", "min-se", "subscription-state",
    "accept-contact", "allow-events", "content-encoding", "referred-by", "reject-contact",
    "request-disposition", "www-authenticate", "proxy-authenticate", "date", "identity", "identity-info",
    "retry-after", "path", "reason", "call-info",
})
ALWAYS_KEPT = frozenset({"p-asserted-identity", "p-preferred-identity", "privacy"})

_ATOI = re.compile(r"[ \t\r\n]*([+-]?[0-9]+)")


def atoi(text: str | None) -> int:
    """C `atoi`: leading blanks, an optional sign, the leading digits; 0 when there are none."""
    if not text:
        return 0
    m = _ATOI.match(text)
    return int(m.group(1)) if m else 0


def int32(value: float) -> int:
    """Cut to a signed 32-bit int, as Kamailio's `(int)time(NULL)` and `(int)mktime()` do."""
    return ((int(value) + 2**31) % 2**32) - 2**31


# ------------------------------------------------------------------ m_store

def stored_ctype(msg: Request) -> str | None:
    """The content type m_store stores, or None when the MESSAGE's Content-Type is unusable
    (missing, unparsable, a list, a wildcard). text/plain and message/cpim both become the
    literal `text/plain` (Kamailio's quirk); anything else keeps the value's first word as sent."""
    raw = msg.header("content-type")
    if raw is None:
        return None
    try:
        parsed = msg.content_type
    except SIPProtocolError:
        return None
    if parsed is None or "*" in (parsed.type, parsed.subtype):
        return None
    if parsed.mime in ("text/plain", "message/cpim"):
        return "text/plain"
    return re.split(r"[ \t;\r\n]", raw.lstrip(" \t"), maxsplit=1)[0]


def stored_extra_headers(msg: Request) -> str:
    """Every header line the parser does not know, plus PAI, PPI and Privacy, raw, in message order."""
    seen: dict[str, int] = {}
    lines: list[str] = []
    for name in msg.header_names:
        index = seen.get(name, 0)
        seen[name] = index + 1
        if name in KNOWN_HEADERS and name not in ALWAYS_KEPT:
            continue
        raw = msg.get_all_raw(name)[index]
        lines.append(raw.decode("utf-8", "surrogateescape") + "\r\n")
    return "".join(lines)


def lifetime(msg: Request, expire_time: int) -> int:
    """expire_time, or the MESSAGE's Expires value when that is smaller and positive."""
    raw = msg.header("expires")
    if raw is not None:
        value = atoi(raw)
        if value > 0:
            return min(expire_time, value)
    return expire_time


# field: (start, length, first-digit maximum, value range once complete)
_TIME_FIELDS = ((0, 4), (4, 2), (6, 2), (8, 2), (10, 2), (12, 2))
_FIRST_DIGIT_MAX = {4: "1", 6: "3", 8: "2", 10: "5", 12: "5"}
_RANGES = ((1, 12), (1, 31), (0, 23), (0, 59), (0, 59))


def parse_send_time(text: str) -> int | None:
    """`YYYYMMDDHHMMSS` (a shorter prefix is accepted, missing fields zero) as Kamailio's
    ms_extract_time reads it: local time with DST forced off, cut to 32 bits. None when invalid."""
    if not text or len(text) > 14 or not all("0" <= c <= "9" for c in text):
        return None
    if text[0] < "2" or any(text[i] > limit for i, limit in _FIRST_DIGIT_MAX.items() if i < len(text)):
        return None
    values = []
    for start, length in _TIME_FIELDS:
        digits = text[start:start + length]
        scale = 10 ** (length - len(digits))
        values.append(int(digits) * scale if digits else 0)
    year, month, day, hour, minute, second = values
    for (low, high), value, (start, length) in zip(_RANGES, values[1:], _TIME_FIELDS[1:], strict=True):
        if len(text) >= start + length and not low <= value <= high:
            return None
    if len(text) < 6:  # the C code decrements the month only once its second digit is read
        month += 1
    try:
        stamp = time.mktime((year, month, day, hour, minute, second, 0, 0, 0))
    except (OverflowError, ValueError):
        return None
    return int32(stamp)


# ------------------------------------------------------------------ the notice

def notice_target(msg: Request, from_uri: str, use_contact: bool) -> str:
    """Where the "user is offline" notice goes: the first Contact when it is a plain `sip:` URI,
    else the MESSAGE's From URI."""
    if not use_contact or not msg.has_header("contact"):
        return from_uri
    try:
        contacts = msg.contacts
    except SIPProtocolError:
        return from_uri
    if contacts.star or not contacts:
        return from_uri
    uri = str(contacts[0].uri)
    if uri.startswith("sip:") and len(uri) >= 6 and uri[4] != " ":
        return uri
    return from_uri


# ------------------------------------------------------------------ m_dump

def register_wants_messages(msg: Request) -> bool:
    """Does this REGISTER ask for MESSAGEs? (msilo's check_message_support)."""
    try:
        contacts = msg.contacts
        allow = msg.allow
    except SIPProtocolError:
        return False
    if not contacts or contacts.star:
        return False
    header_expires = msg.header("expires")
    allows_message = allow is not None and "MESSAGE" in allow
    live = False
    for contact in contacts:
        param = contact.params.get("expires")
        if param:
            expiry = atoi(param)
        elif header_expires is not None:
            expiry = atoi(header_expires)
        else:
            expiry = 1
        if expiry <= 0:
            continue
        live = True
        methods = contact.params.get("methods")
        if methods is not None:
            wanted = {m.strip().upper() for m in methods.strip('"').split(",")}
            if "MESSAGE" in wanted:
                return True
        elif allows_message:
            return True
    return live and allow is None


def rfc1123(stamp: int) -> str:
    """`Thu, 26 Nov 2026 11:39:58 GMT`."""
    return email.utils.formatdate(stamp, usegmt=True)


def with_prefix(prefix: str, stamp: int, body: bytes) -> bytes:
    """`[Offline message - Thu Nov 26 11:39:58 2026] body` for bodies of 1..978 bytes;
    ctime is in the server's local time zone, as Kamailio's."""
    if not 1 <= len(body) <= MAX_PREFIXED_BODY:
        return body
    return f"{prefix}{time.ctime(stamp)}] ".encode() + body


def as_bytes(value: bytes | str | None) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return bytes(value)


def as_text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "surrogateescape")
    return value
