"""A SIP message as topoh rewrites it: the received or sent bytes, the places of the headers and of
the parts topoh masks in them (each Via body, each Record-Route/Route URI, the first Contact URI,
the Call-ID), and the edits to make (Kamailio's lumps: spans replaced, text inserted).

Offsets are into `text`, the message decoded as Latin-1, so they are byte offsets too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from kampy.api import URI, SIPProtocolError, parse_uri, replace_spans

class RawError(ValueError):
    """The bytes are not a SIP message topoh can work on."""


_COMPACT = {"v": "via", "m": "contact", "i": "call-id", "r": "refer-to", "f": "from", "t": "to"}
_NAME = re.compile(r"([^\s:]+)[ \t]*:")
_TAG = re.compile(r";\s*tag\s*=\s*([^;\s,>]+)", re.I)


@dataclass
class Header:
    name: str            # lower case, compact forms expanded
    start: int           # the header line
    end: int             # after its CRLF (folded lines included)
    value_start: int
    value_end: int       # before the line end


@dataclass
class Part:
    """A comma-separated part of a header value: its text span, trimmed."""

    start: int
    end: int


@dataclass
class RawMessage:
    text: str
    first_line: str
    head_end: int        # where the empty line after the headers begins
    headers: list[Header]
    edits: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def is_request(self) -> bool:
        return not self.first_line.startswith("SIP/")

    def named(self, name: str) -> list[Header]:
        return [h for h in self.headers if h.name == name]

    def value(self, header: Header) -> str:
        return self.text[header.value_start:header.value_end]

    def first_value(self, name: str) -> str | None:
        found = self.named(name)
        return self.value(found[0]).strip() if found else None

    def replace(self, start: int, end: int, new: str) -> None:
        self.edits.append((start, end, new))

    def insert(self, at: int, new: str) -> None:
        self.edits.append((at, at, new))

    def updated(self) -> bytes:
        return replace_spans(self.text, self.edits).encode("latin-1")

    # ------------------------------------------------------------------ the parts topoh uses

    def cseq_method(self) -> str | None:
        value = self.first_value("cseq")
        parts = value.split() if value else []
        return parts[1].upper() if len(parts) == 2 else None

    def tag(self, name: str) -> str:
        value = self.first_value(name) or ""
        m = _TAG.search(value[value.find(">") + 1:] if "<" in value else value)
        return m.group(1) if m else ""

    def ruri_span(self) -> tuple[int, int]:
        first = self.first_line
        start = first.index(" ") + 1
        return start, first.index(" ", start)

    def vias(self) -> list[Part]:
        """Every Via body, in order (`SIP/2.0/UDP host;params`, trailing blanks and commas left
        out), across Via header lines."""
        return [p for h in self.named("via") for p in split_commas(self.text, h.value_start, h.value_end)]

    def uris(self, name: str) -> list[Part]:
        """The URI of each name-addr of the Record-Route/Route/Contact headers named, in order."""
        found = []
        for h in self.named(name):
            for part in split_commas(self.text, h.value_start, h.value_end):
                found.append(nameaddr_uri(self.text, part))
        return found


def parse(data: bytes) -> RawMessage:
    """The message's headers; RawError when there is no header section."""
    text = data.decode("latin-1")
    head_end = _head_end(text)
    if head_end < 0:
        raise RawError("no end of headers")
    line_end = text.find("\n")
    first = text[:line_end].rstrip("\r")
    headers: list[Header] = []
    pos = line_end + 1
    while pos < head_end:
        end = _line_end(text, pos, head_end)
        m = _NAME.match(text, pos, end)
        if m is None:
            raise RawError("bad header line")
        name = m.group(1).lower()
        value_end = end
        while value_end > m.end() and text[value_end - 1] in "\r\n":
            value_end -= 1
        headers.append(Header(_COMPACT.get(name, name), pos, end, m.end(), value_end))
        pos = end
    return RawMessage(text, first, head_end, headers)


def _head_end(text: str) -> int:
    """Where the empty line after the headers begins (Kamailio's msg->unparsed), or -1."""
    for sep in ("\r\n\r\n", "\n\n"):
        at = text.find(sep)
        if at >= 0:
            return at + len(sep) // 2
    return -1


def _line_end(text: str, pos: int, limit: int) -> int:
    """After the line at `pos` and its folded continuations."""
    while True:
        nl = text.find("\n", pos, limit)
        if nl < 0:
            return limit
        pos = nl + 1
        if pos >= limit or text[pos] not in " \t":
            return pos


def split_commas(text: str, start: int, end: int) -> list[Part]:
    """The comma-separated parts of text[start:end] (commas in quotes or <> do not count),
    each without its surrounding blanks."""
    parts, depth, quoted, begin = [], 0, False, start
    for i in range(start, end + 1):
        c = text[i] if i < end else ","
        if quoted:
            quoted = c != '"' or text[i - 1] == "\\"
        elif c == '"':
            quoted = True
        elif c == "<":
            depth += 1
        elif c == ">":
            depth = max(0, depth - 1)
        elif c == "," and depth == 0:
            s, e = begin, i
            while s < e and text[s] in " \t\r\n":
                s += 1
            while e > s and text[e - 1] in " \t\r\n,":
                e -= 1
            if e > s:
                parts.append(Part(s, e))
            begin = i + 1
    return parts


def nameaddr_uri(text: str, part: Part) -> Part:
    """The URI of a name-addr: inside its angle brackets, else up to its first `;`."""
    value = text[part.start:part.end]
    lt = _unquoted_lt(value)
    if lt >= 0:
        gt = value.find(">", lt)
        return Part(part.start + lt + 1, part.start + (gt if gt >= 0 else len(value)))
    semi = value.find(";")
    return Part(part.start, part.start + (semi if semi >= 0 else len(value)))


def _unquoted_lt(value: str) -> int:
    quoted = False
    for i, c in enumerate(value):
        if c == '"' and (i == 0 or value[i - 1] != "\\"):
            quoted = not quoted
        elif c == "<" and not quoted:
            return i
    return -1


def params(text: str) -> list[tuple[str, str, int, int]]:
    """`;name=value` parameters of a Via or URI parameter string: (name, value, start of the `;`,
    end of the parameter)."""
    found = []
    pos = text.find(";")
    while pos >= 0:
        nxt = _next_semi(text, pos + 1)
        raw = text[pos + 1:nxt]
        name, _, value = raw.partition("=")
        found.append((name.strip(), value.strip().strip('"'), pos, nxt))
        pos = nxt if nxt < len(text) else -1
    return found


def _next_semi(text: str, pos: int) -> int:
    quoted = False
    for i in range(pos, len(text)):
        c = text[i]
        if c == '"':
            quoted = not quoted
        elif c == ";" and not quoted:
            return i
    return len(text)


def param(text: str, name: str) -> str | None:
    lname = name.lower()
    return next((v for n, v, _, _ in params(text) if n.lower() == lname), None)


def via_sent_by(body: str) -> tuple[str, str]:
    """(host, the text after `SIP/2.0/PROTO host[:port]`: the parameters)."""
    m = re.match(r"\s*[^/\s]+\s*/\s*[^/\s]+\s*/\s*[^\s]+\s+(\[[^\]]*\]|[^\s:;]+)(?:\s*:\s*\d+)?", body)
    if m is None:
        return "", body
    return m.group(1), body[m.end():]


def sip_uri(text: str) -> URI | None:
    try:
        return parse_uri(text.strip())
    except SIPProtocolError:
        return None
