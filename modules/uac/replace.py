"""The From/To replacement of uac (Kamailio's replace.c): the header edits, and the Record-Route
parameter that lets a later request of the dialog, or a reply, have the URIs put back.

The parameter is Kamailio's, byte for byte, so Kamailio and kampy restore each other's: the old
and the new URI XORed (over the longer one's length), XORed with `restore_passwd` (repeated), in
base64 with `-` for the padding `=`."""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

MAX_URI_SIZE = 1024


def encode_param(data: bytes) -> str:
    """Kamailio's encode_uri: base64 whose padding is written `-`."""
    return base64.b64encode(data).decode("ascii").replace("=", "-")


def decode_param(text: str) -> bytes | None:
    """Kamailio's decode_uri; None for an empty or invalid value."""
    if not text:
        return None
    body = text.rstrip("-")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def xor_repeat(data: bytes, key: bytes) -> bytes:
    """`data` XORed with `key` repeated (restore_passwd); `data` itself for an empty key."""
    if not key:
        return data
    return bytes(b ^ key[i % len(key)] for i, b in enumerate(data))


def store_value(old_uri: str, new_uri: str, passwd: str) -> str:
    """The Record-Route parameter value for replacing `old_uri` with `new_uri`."""
    old, new = old_uri.encode(), new_uri.encode()
    longer, shorter = (old, new) if len(old) > len(new) else (new, old)
    mixed = bytes(b ^ shorter[i] if i < len(shorter) else b for i, b in enumerate(longer))
    return encode_param(xor_repeat(mixed, passwd.encode()))


def restored_uri(value: str, current_uri: str, passwd: str) -> tuple[str | None, str]:
    """The URI a stored value gives beside `current_uri` (Kamailio's restore_uri): (uri, '') or
    (None, the reason)."""
    data = decode_param(value)
    if data is None:
        return None, "failed to decode uri"
    mixed = bytearray(xor_repeat(data, passwd.encode()))
    cur = current_uri.encode()
    if len(mixed) < len(cur):
        return None, f"new URI shorter than old URI [{current_uri}]"
    length = len(mixed)
    for i, b in enumerate(cur):
        mixed[i] ^= b
        if mixed[i] == 0:
            length = i
            break
    uri = bytes(mixed[:length])
    if not uri:
        return None, "new URI got 0 len"
    if any(b < 0x20 or b > 0x7E for b in uri):
        return None, "invalid char found in the new uri - skipping the update"
    return uri.decode("ascii"), ""


@dataclass
class Address:
    """A From/To header value cut as Kamailio's to-body parser sees it: the display name (quotes
    kept), the URI, and where the name-addr ends (after `>` when there is one)."""

    value: str
    display: tuple[int, int] | None
    uri: tuple[int, int]
    bracketed: bool

    @property
    def uri_text(self) -> str:
        return self.value[self.uri[0]:self.uri[1]]

    @property
    def display_text(self) -> str:
        return self.value[self.display[0]:self.display[1]] if self.display else ""

    @property
    def addr_end(self) -> int:
        """The end of `display <uri>` (whitespace and `>` after the URI included)."""
        i = self.uri[1]
        while i < len(self.value) and self.value[i].isspace():
            i += 1
        return i + 1 if i < len(self.value) and self.value[i] == ">" else self.uri[1]

    @property
    def name_addr(self) -> str:
        """What the reply restore copies: from the start of the value to `addr_end`."""
        return self.value[:self.addr_end]


def parse_address(value: str) -> Address | None:
    """Cut a From/To value; None when it has no URI."""
    quoted = False
    for i, ch in enumerate(value):
        if ch == '"' and (i == 0 or value[i - 1] != "\\"):
            quoted = not quoted
        elif ch == "<" and not quoted:
            end = value.find(">", i + 1)
            if end < 0:
                return None
            head = value[:i]
            lead = len(head) - len(head.lstrip())
            display = (lead, len(head.rstrip())) if head.strip() else None
            return Address(value, display, (i + 1, end), True)
    start = len(value) - len(value.lstrip())
    end = start
    while end < len(value) and value[end] not in "; \t":
        end += 1
    if end == start:
        return None
    return Address(value, None, (start, end), False)


def with_display(addr: Address, display: str) -> str:
    """The value with the display name replaced (an empty one removes it), as replace_uri()
    builds its lumps: the new name goes where the old one was, else before `<`, a bare URI
    getting its brackets."""
    value = addr.value
    if addr.display is not None:
        a, b = addr.display
        if display:
            return value[:a] + display + value[b:]
        return value[:a] + value[b:]
    if not display:
        return value
    if addr.bracketed:
        lt = addr.uri[0] - 1
        return value[:lt] + display + " " + value[lt:]
    a, b = addr.uri
    return value[:a] + display + " <" + value[a:b] + ">" + value[b:]


def with_uri(value: str, uri: str) -> str | None:
    """The value with its URI replaced."""
    addr = parse_address(value)
    if addr is None:
        return None
    a, b = addr.uri
    return value[:a] + uri + value[b:]


def with_name_addr(value: str, name_addr: str) -> str | None:
    """The value with its `display <uri>` part replaced by `name_addr`, its parameters kept (the
    reply restore of restore_uris_reply)."""
    addr = parse_address(value)
    if addr is None:
        return None
    return name_addr + value[addr.addr_end:]


def current_value(msg: Any, hname: str) -> str | None:
    """The header's value as it will go out (an earlier change included)."""
    try:
        line = msg.pending_header_line(hname, 0)
    except IndexError:
        return None
    if line is None:
        return None
    return line.partition(b":")[2].strip().decode("utf-8", "surrogateescape")


def write_value(msg: Any, hname: str, value: str) -> None:
    msg.replace_header(hname, 0, value)
