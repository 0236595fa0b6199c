"""SIP messages: parse (lazily), edit with lumps, build (RFC 3261 sections 7, 8.2.6, 18.3, 20).

Parsing a datagram does the cheap work eagerly: the start line, the split of the header block into
lines (unfolded), each line's canonical name (compact forms mapped), and the body framing. A header
value is decoded and parsed only when asked for, and cached.

The received bytes are kept. Edits (`add_header`, `insert_header`, `replace_header`, `remove_header`,
`set_ruri`, `set_body`) are recorded as a list of changes, like Kamailio's lumps, and applied by
`to_bytes()`, which leaves every untouched line byte for byte and fixes Content-Length. Each edit
method returns its change, which `cancel()` takes back within the same pass. As in Kamailio,
accessors keep showing the received message; parse `to_bytes()` to see the edited one, or ask
`pending_header_line()` for one line as it will be written (so that a second edit composes with
the first).
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, Union

from kampy.sip.errors import SIPProtocolError
from kampy.sip.uri import (
    URI,
    ContactList,
    ContentType,
    CSeq,
    NameAddr,
    Via,
    parse_allow,
    parse_contacts,
    parse_content_type,
    parse_cseq,
    parse_date,
    parse_expires,
    parse_max_forwards,
    parse_name_addr,
    parse_uri,
    parse_vias,
    split_list,
)
from kampy.sip.text import as_bytes

__all__ = [
    "Message", "Request", "Response", "AddHeader", "InsertHeader", "ReplaceHeader", "RemoveHeader",
    "SetRequestURI", "SetBody", "Change",
    "parse_message", "build_response", "error_response", "canonical_name",
    "MAX_MESSAGE_SIZE", "MAX_HEADERS", "MAX_LINE_LENGTH",
]

MAX_MESSAGE_SIZE = 65535
MAX_HEADERS = 256
MAX_LINE_LENGTH = 8192

COMPACT_FORMS = {
    "i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length", "f": "from",
    "t": "to", "v": "via", "c": "content-type", "k": "supported", "s": "subject", "o": "event",
    "u": "allow-events", "r": "refer-to", "b": "referred-by", "x": "session-expires", "y": "identity",
    "a": "accept-contact", "j": "reject-contact", "d": "request-disposition", "n": "identity-info",
}
# Headers whose values are comma-separated lists (RFC 3261 section 7.3.1); others are never split.
LIST_HEADERS = frozenset({
    "via", "contact", "route", "record-route", "path", "service-route", "allow", "supported", "require",
    "proxy-require", "unsupported", "accept", "accept-encoding", "accept-language", "content-encoding",
    "content-language", "allow-events", "alert-info", "call-info", "error-info", "in-reply-to", "warning",
    "p-asserted-identity", "p-preferred-identity", "security-client", "security-server", "security-verify",
    "accept-contact", "reject-contact", "request-disposition", "history-info", "reason",
})
_PRETTY = {
    "call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version",
}
_REASONS = {400: "Bad Request", 500: "Server Internal Error", 505: "Version Not Supported",
            513: "Message Too Large"}

_TOKEN_B = rb"[A-Za-z0-9.!%*_+`'~\-]+"
_REQ_LINE = re.compile(rb"(" + _TOKEN_B + rb") ([^\x00-\x20\x7f<>\"]+) SIP/2\.0")
_REQ_LINE_ANY_VERSION = re.compile(rb"(" + _TOKEN_B + rb") ([^\x00-\x20\x7f<>\"]+) SIP/([0-9]+\.[0-9]+)")
_REQ_LINE_LENIENT = re.compile(rb"(" + _TOKEN_B + rb")[ \t]+.*[ \t]SIP/[0-9]+\.[0-9]+[ \t]*")
_RESP_LINE = re.compile(rb"SIP/2\.0 ([1-6][0-9][0-9])(?: ([^\r\n]*))?")
_HEADER_NAME = re.compile(_TOKEN_B)
_VIA_LINE = re.compile(rb"^[ \t]*(?:via|v)[ \t]*:", re.I | re.M)

_name_cache: dict[bytes, str] = {}
_str_name_cache: dict[str, str] = {}
_NAME_CACHE_MAX = 2048

T = TypeVar("T")
_Header = tuple[str, bytes, bytes]  # canonical lower-case name, unfolded value (unstripped), raw line


def _dec(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


def _enc(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else as_bytes(value)


def canonical_name(name: str) -> str:
    """The lower-case full name a header is indexed under (`"v"` -> `"via"`, `"CALL-ID"` -> `"call-id"`)."""
    key = _str_name_cache.get(name)
    if key is None:
        low = name.strip().lower()
        key = COMPACT_FORMS.get(low, low)
        if len(_str_name_cache) < _NAME_CACHE_MAX:
            _str_name_cache[name] = key
    return key


def pretty_name(lname: str) -> str:
    return _PRETTY.get(lname) or "-".join(p.capitalize() for p in lname.split("-"))


def _new_header_name(raw: bytes, can_reply: bool) -> str:
    name = raw.rstrip(b" \t")
    if not _HEADER_NAME.fullmatch(name):
        raise SIPProtocolError(f"malformed header name {raw[:40]!r}", can_reply=can_reply)
    low = name.decode("ascii").lower()
    key = COMPACT_FORMS.get(low, low)
    if len(_name_cache) < _NAME_CACHE_MAX:
        _name_cache[raw] = key
    return key


# Kamailio's msg_flags bits (parser/msg_parser.h) that modules share: fix_nated_sdp() marks a
# message whose SDP it made active, rtpengine_manage()/rtpproxy_manage() mark an INVITE (and its
# transaction's request) that carried SDP, so that its replies are answers; textops marks a body it
# made multipart (its boundary lines are rewritten as Kamailio's core does, see sip/multipart.py)
FL_FORCE_ACTIVE = 1 << 1
FL_SDP_BODY = 1 << 12
FL_BODY_MULTIPART = 1 << 17


# --- lumps -----------------------------------------------------------------------------------

# `cancel()` goes by identity: it takes back that change, not an equal twin recorded elsewhere.

@dataclass(frozen=True)
class AddHeader:
    """Add `name: value` after the last header, or before the first when `first`."""
    name: str
    value: str | bytes
    first: bool = False


@dataclass(frozen=True)
class InsertHeader:
    """Insert `lines` (whole header lines joined by CRLF) before the `index`-th received line called
    `anchor` (canonical name), or after it when `after`."""
    anchor: str
    index: int
    lines: bytes
    after: bool = False
    value: str | None = field(default=None, compare=False)  # as given to insert_header()


@dataclass(frozen=True)
class ReplaceHeader:
    """Write `lines` (whole header lines joined by CRLF, folds allowed) in place of the `index`-th
    received line called `name` (canonical name); the last replacement of a line wins."""
    name: str
    index: int
    lines: bytes


@dataclass(frozen=True)
class RemoveHeader:
    """Remove the received header lines called `name`: all of them, or only the `index`-th."""
    name: str
    index: int | None = None


@dataclass(frozen=True)
class SetRequestURI:
    uri: str


@dataclass(frozen=True)
class SetBody:
    body: bytes


Change = Union[AddHeader, InsertHeader, ReplaceHeader, RemoveHeader, SetRequestURI, SetBody]


# --- the message -----------------------------------------------------------------------------

class Message:
    """A parsed SIP message; use `parse_message()`, `Request(...)`, `Response(...)` or `build_response()`."""

    __slots__ = ("_raw", "_start", "_headers", "_index", "_body_start", "_cache", "_changes", "_can_reply",
                 "msg_flags")

    _raw: bytes
    _start: bytes
    _headers: list[_Header]
    _index: dict[str, list[int]]
    _body_start: int
    _cache: dict[str, Any]
    _changes: list[Change]
    _can_reply: bool
    # Kamailio's sip_msg_t msg_flags: marks modules set on a message (FL_SDP_BODY ...), 0 when parsed
    msg_flags: int

    is_request = False

    # -- raw access --
    @property
    def raw(self) -> bytes:
        """The received bytes of this message (trailing datagram bytes beyond Content-Length dropped)."""
        return self._raw

    @property
    def start_line(self) -> str:
        return _dec(self._start)

    @property
    def body(self) -> bytes:
        return self._raw[self._body_start:]

    @property
    def header_names(self) -> list[str]:
        """Canonical names of the header lines, in order, repeats included."""
        return [h[0] for h in self._headers]

    def header_lines(self) -> list[tuple[str, bytes]]:
        """(canonical name, raw line) for every header line, in order (folds kept, no line end)."""
        return [(lname, raw) for lname, _, raw in self._headers]

    def header_lines_named(self, names: frozenset[str] | set[str]) -> list[tuple[str, bytes]]:
        """`header_lines()` of the lines whose canonical name is in `names`."""
        return [(lname, raw) for lname, _, raw in self._headers if lname in names]

    def has_header(self, name: str) -> bool:
        return canonical_name(name) in self._index

    def get_all_raw(self, name: str) -> list[bytes]:
        """The raw header lines (`Name: value`, folds kept, no line end) called `name`."""
        return [self._headers[i][2] for i in self._index.get(canonical_name(name), ())]

    def _raw_values(self, lname: str) -> list[str]:
        headers = self._headers
        return [headers[i][1].strip().decode("utf-8", "surrogateescape") for i in self._index.get(lname, ())]

    def _values(self, lname: str) -> list[str]:
        values = self._raw_values(lname)
        if lname not in LIST_HEADERS:
            return values
        if len(values) == 1:  # one line, the usual case
            return split_list(values[0])
        return [part for v in values for part in split_list(v)]

    def header(self, name: str) -> str | None:
        """The first value of a header (the first list element for list headers), or None."""
        lname = canonical_name(name)
        idx = self._index.get(lname)
        if not idx:
            return None
        value = _dec(self._headers[idx[0]][1].strip())
        if lname in LIST_HEADERS and ("," in value):
            return split_list(value)[0]
        return value

    def headers_named(self, name: str) -> list[str]:
        """Every value of a header, list headers split per element (empty elements dropped)."""
        return [v for v in self._values(canonical_name(name)) if v]

    def headers(self) -> list[tuple[str, str]]:
        """(name as written, value) for every header line, in order."""
        return [(_dec(raw.partition(b":")[0].rstrip()), _dec(value.strip()))
                for _, value, raw in self._headers]

    # -- parsed, cached header values --
    def _parsed(self, key: str, parse: Callable[[], T]) -> T:
        cache = self._cache
        if key in cache:
            return cache[key]  # type: ignore[no-any-return]
        try:
            value = parse()
        except SIPProtocolError as exc:
            raise SIPProtocolError(exc.message, status=400, can_reply=self._can_reply) from None
        cache[key] = value
        return value

    def _single(self, lname: str) -> str | None:
        idx = self._index.get(lname)
        return self._headers[idx[0]][1].strip().decode("utf-8", "surrogateescape") if idx else None

    def _opt(self, lname: str, parse: Callable[[str], T]) -> T | None:
        cache = self._cache
        if lname in cache:  # the common case first, without building the closure below
            return cache[lname]  # type: ignore[no-any-return]

        def run() -> T | None:
            value = self._single(lname)
            return None if value is None else parse(value)
        return self._parsed(lname, run)

    @property
    def call_id(self) -> str | None:
        cache = self._cache
        if "call-id" in cache:
            return cache["call-id"]  # type: ignore[no-any-return]
        value = cache["call-id"] = self._single("call-id")
        return value

    @property
    def cseq(self) -> CSeq | None:
        cache = self._cache
        return cache["cseq"] if "cseq" in cache else self._opt("cseq", parse_cseq)  # type: ignore[no-any-return]

    @property
    def from_(self) -> NameAddr | None:
        cache = self._cache
        return cache["from"] if "from" in cache else self._opt("from", parse_name_addr)  # type: ignore[no-any-return]

    @property
    def to(self) -> NameAddr | None:
        cache = self._cache
        return cache["to"] if "to" in cache else self._opt("to", parse_name_addr)  # type: ignore[no-any-return]

    @property
    def vias(self) -> list[Via]:
        cache = self._cache
        if "via" in cache:
            return cache["via"]  # type: ignore[no-any-return]
        return self._parsed("via", lambda: parse_vias(self._values("via")))

    @property
    def via(self) -> Via | None:
        """The topmost Via."""
        vias = self._cache.get("via")
        if vias is None:
            vias = self.vias
        return vias[0] if vias else None

    @property
    def max_forwards(self) -> int | None:
        return self._opt("max-forwards", parse_max_forwards)

    @property
    def expires(self) -> int | None:
        return self._opt("expires", parse_expires)

    @property
    def contacts(self) -> ContactList:
        cache = self._cache
        if "contact" in cache:
            return cache["contact"]  # type: ignore[no-any-return]
        return self._parsed("contact", lambda: parse_contacts(self._values("contact")))

    @property
    def content_type(self) -> ContentType | None:
        return self._opt("content-type", parse_content_type)

    @property
    def content_length(self) -> int | None:
        """The Content-Length header's value (None when absent); the body is `body`."""
        value = self._single("content-length")
        return None if value is None else int(value)

    @property
    def allow(self) -> list[str] | None:
        if "allow" not in self._index:
            return None
        return self._parsed("allow", lambda: parse_allow(self.headers_named("allow")))

    @property
    def date(self) -> datetime | None:
        return self._opt("date", parse_date)

    @property
    def routes(self) -> list[NameAddr]:
        return self._parsed("route", lambda: [parse_name_addr(v) for v in self._values("route")])

    @property
    def record_routes(self) -> list[NameAddr]:
        return self._parsed("record-route",
                            lambda: [parse_name_addr(v) for v in self._values("record-route")])

    def validate(self) -> None:
        """Check what a proxy needs (like Kamailio's sanity module); raise SIPProtocolError if not met.

        Required headers present (Via, From, To, Call-ID, CSeq), single-value headers not repeated,
        every known header parses, and a request's CSeq method matches its method.
        """
        for lname in ("via", "from", "to", "call-id", "cseq"):
            if lname not in self._index:
                raise SIPProtocolError(f"missing {pretty_name(lname)} header", can_reply=self._can_reply)
        for lname in ("from", "to", "call-id", "cseq", "max-forwards", "content-length", "content-type",
                      "expires"):
            if len(self._index.get(lname, ())) > 1:
                raise SIPProtocolError(f"several {pretty_name(lname)} headers", can_reply=self._can_reply)
        _ = (self.vias, self.from_, self.to, self.cseq, self.max_forwards, self.expires, self.contacts,
             self.content_type, self.date, self.allow, self.routes, self.record_routes)
        try:
            for contact in self.contacts:
                _ = (contact.expires, contact.q)
        except SIPProtocolError as exc:
            raise SIPProtocolError(exc.message, can_reply=self._can_reply) from None
        self._check_cseq()

    def _check_cseq(self) -> None:
        pass

    # -- edits (lumps) --
    @property
    def changes(self) -> list[Change]:
        """The edits recorded so far, applied in order by `to_bytes()`."""
        return list(self._changes)

    def add_header(self, name: str, value: str | bytes, *, first: bool = False) -> AddHeader:
        _check_header(name, value)
        change = AddHeader(name, value, first)
        self._changes.append(change)
        return change

    def insert_header(self, anchor: str, index: int, name: str, value: str | bytes, *,
                      after: bool = False) -> InsertHeader:
        """Insert `name: value` before (after, when `after`) the `index`-th received line called
        `anchor`; IndexError when there is no such line."""
        _check_header(name, value)
        lname = canonical_name(anchor)
        self._line_index(lname, index)
        text = value if isinstance(value, str) else None
        change = InsertHeader(lname, index, _enc(name) + b": " + _enc(value), after, text)
        self._changes.append(change)
        return change

    def insert_lines(self, anchor: str, index: int, lines: str | bytes, *,
                     after: bool = False) -> InsertHeader:
        """`insert_header` for ready-made header lines (`Name: value`, several joined by CRLF)."""
        lname = canonical_name(anchor)
        self._line_index(lname, index)
        change = InsertHeader(lname, index, _check_lines(lines), after)
        self._changes.append(change)
        return change

    def replace_header(self, name: str, index: int, value: str | bytes) -> ReplaceHeader:
        """Write `value` in place of the `index`-th received `name` line's value, keeping the line's
        position and its name as written (`f:` stays `f:`); IndexError when there is no such line."""
        lname = canonical_name(name)
        written = self._headers[self._line_index(lname, index)][2].partition(b":")[0]
        _check_header("X", value)
        return self.replace_lines(lname, index, written + b": " + _enc(value))

    def replace_lines(self, name: str, index: int, lines: str | bytes) -> ReplaceHeader:
        """Write whole header lines (CRLF-joined, folds allowed) in place of the `index`-th received
        `name` line; empty `lines` removes it."""
        lname = canonical_name(name)
        self._line_index(lname, index)
        change = ReplaceHeader(lname, index, _check_lines(lines) if lines else b"")
        self._changes.append(change)
        return change

    def remove_header(self, name: str, index: int | None = None) -> int:
        """Remove received header lines called `name` (all, or the `index`-th); return how many go."""
        count = len(self._index.get(canonical_name(name), ()))
        removed = count if index is None else int(-count <= index < count)
        self._changes.append(RemoveHeader(name, index))
        return removed

    @property
    def current_body(self) -> bytes:
        """The body as `to_bytes()` will write it: the last `set_body()`, else the received one."""
        for change in reversed(self._changes):
            if change.__class__ is SetBody:
                return change.body  # type: ignore[union-attr]
        return self.body

    def set_body(self, body: bytes, content_type: str | None = None) -> SetBody:
        change = SetBody(bytes(body))
        self._changes.append(change)
        if content_type is not None:
            self.remove_header("content-type")
            self.add_header("Content-Type", content_type)
        return change

    def cancel(self, change: Change) -> bool:
        """Take back a change recorded earlier (identity, not equality); False if it is not pending."""
        for i, pending in enumerate(self._changes):
            if pending is change:
                del self._changes[i]
                return True
        return False

    def pending_header_line(self, name: str, index: int) -> bytes | None:
        """The `index`-th received `name` line as `to_bytes()` will write it: the last in-place
        replacement, the received line, or None when removed."""
        lname = canonical_name(name)
        pos = self._line_index(lname, index)
        current: bytes | None = self._headers[pos][2]
        for ch in self._changes:
            if ch.__class__ is ReplaceHeader and ch.name == lname and self._resolve(lname, ch.index) == pos:
                current = ch.lines or None
            elif ch.__class__ is RemoveHeader and canonical_name(ch.name) == lname and (
                    ch.index is None or self._resolve(lname, ch.index) == pos):
                return None
        return current

    def _line_index(self, lname: str, index: int) -> int:
        pos = self._resolve(lname, index)
        if pos is None:
            raise IndexError(f"no {lname} header line number {index}")
        return pos

    def _resolve(self, lname: str, index: int) -> int | None:
        idx = self._index.get(lname, ())
        return idx[index] if -len(idx) <= index < len(idx) else None

    def bytes_with_line(self, name: str, index: int, lines: bytes) -> bytes:
        """`to_bytes()` as if the `index`-th received `name` line were `lines` (b"": removed), without
        recording a change. With no change pending this splices the received bytes directly."""
        lname = canonical_name(name)
        pos = self._line_index(lname, index)
        raw_line = self._headers[pos][2]
        at = -1
        if not self._changes and "content-length" in self._index:
            at = self._raw.find(b"\r\n" + raw_line + b"\r\n", len(self._start), self._body_start)
        if at < 0:
            change = self.replace_lines(lname, index, lines)
            try:
                return self.to_bytes()
            finally:
                self.cancel(change)
        raw, end = self._raw, at + 2 + len(raw_line)
        if not lines:
            return raw[:at] + raw[end:]
        return raw[:at + 2] + _check_lines(lines) + raw[end:]

    def to_bytes(self) -> bytes:
        """The message on the wire: the received bytes object itself when nothing was changed."""
        if not self._changes:
            return self._raw
        return self._apply_changes()

    def _apply_changes(self) -> bytes:
        start = self._start
        body = self.body
        body_changed = False
        removed: set[int] = set()
        replaced: dict[int, bytes] = {}
        before: dict[int, list[bytes]] = {}
        after: dict[int, list[bytes]] = {}
        first: list[bytes] = []
        last: list[bytes] = []
        for ch in self._changes:
            if isinstance(ch, AddHeader):
                (first if ch.first else last).append(_enc(ch.name) + b": " + _enc(ch.value))
            elif isinstance(ch, ReplaceHeader):
                pos = self._resolve(ch.name, ch.index)
                if pos is not None:
                    replaced[pos] = ch.lines
            elif isinstance(ch, InsertHeader):
                pos = self._resolve(ch.anchor, ch.index)
                if pos is not None:
                    (after if ch.after else before).setdefault(pos, []).append(ch.lines)
            elif isinstance(ch, RemoveHeader):
                idx = self._index.get(canonical_name(ch.name), [])
                if ch.index is None:
                    removed.update(idx)
                elif -len(idx) <= ch.index < len(idx):
                    removed.add(idx[ch.index])
            elif isinstance(ch, SetRequestURI):
                method, _, rest = start.partition(b" ")
                start = method + b" " + _enc(ch.uri) + b" " + rest.rpartition(b" ")[2]
            else:
                body, body_changed = ch.body, True
        lines = [start]
        lines += [line for line in first if not _is_content_length(line)]
        cl_done = False
        for i, (lname, value, raw) in enumerate(self._headers):
            lines += before.get(i, ())
            if i not in removed:
                if lname == "content-length":
                    if not cl_done:
                        cl_done = True
                        if body_changed or value.strip() != str(len(body)).encode():
                            raw = b"Content-Length: %d" % len(body)
                        lines.append(raw)
                elif i in replaced:
                    if replaced[i]:
                        lines.append(replaced[i])
                else:
                    lines.append(raw)
            lines += after.get(i, ())
        lines += [line for line in last if not _is_content_length(line)]
        if not cl_done:
            lines.append(b"Content-Length: %d" % len(body))
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    def __bytes__(self) -> bytes:
        return self.to_bytes()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.start_line!r}>"


def _check_header(name: str, value: str | bytes) -> None:
    if not _HEADER_NAME.fullmatch(_enc(name)):
        raise ValueError(f"invalid header name {name!r}")
    data = _enc(value)
    if b"\n" in data or b"\r" in data:
        raise ValueError("header value contains a line break")


_BAD_BREAK = re.compile(rb"\r?\n(?![ \t])|\r(?!\n)")


def _check_lines(lines: str | bytes) -> bytes:
    """Whole header lines: each starts with a header name and ':'; breaks only between lines
    (CRLF) or as folds (CRLF + SP/HTAB)."""
    data = _enc(lines)
    if b"\r" in data or b"\n" in data:
        for line in re.split(rb"\r\n(?![ \t])", data):
            if _BAD_BREAK.search(line):
                raise ValueError(f"not a header line: {line[:60]!r}")
            _check_line_name(line)
    else:
        _check_line_name(data)  # one line, the usual case: no break to look for
    return data


def _check_line_name(line: bytes) -> None:
    name, colon, _ = line.partition(b":")
    # a name in the parser's cache passed the same check when a message was parsed
    if not colon or name not in _name_cache and not _HEADER_NAME.fullmatch(name.rstrip(b" \t")):
        raise ValueError(f"not a header line: {line[:60]!r}")


def _is_content_length(line: bytes) -> bool:
    return canonical_name(_dec(line.partition(b":")[0])) == "content-length"


class Request(Message):
    """A SIP request. `Request(method, uri, headers, body)` builds a new one from parts."""

    __slots__ = ("method", "_ruri")
    is_request = True

    def __init__(self, method: str, uri: str | URI, headers: _HeaderInput = (), body: bytes = b"") -> None:
        start = as_bytes(f"{method} {uri} SIP/2.0")
        _load_into(self, _assemble(start, headers, body), stream=False, limits=False)

    @property
    def ruri(self) -> URI:
        """The Request-URI, parsed."""
        return self._parsed("ruri", lambda: parse_uri(_dec(self._ruri)))

    @property
    def uri(self) -> str:
        """The Request-URI as received."""
        return _dec(self._ruri)

    def set_ruri(self, uri: str | URI) -> SetRequestURI:
        text = str(uri)
        if not text or any(c in text for c in " \t\r\n"):
            raise ValueError(f"invalid Request-URI {text!r}")
        change = SetRequestURI(text)
        self._changes.append(change)
        return change

    def _check_cseq(self) -> None:
        cseq = self.cseq
        if cseq is not None and cseq.method != self.method:
            raise SIPProtocolError(f"CSeq method {cseq.method!r} differs from request method {self.method!r}",
                                   can_reply=self._can_reply)


class Response(Message):
    """A SIP response. `Response(status, reason, headers, body)` builds a new one from parts."""

    __slots__ = ("status", "reason")

    def __init__(self, status: int, reason: str, headers: _HeaderInput = (), body: bytes = b"") -> None:
        if not 100 <= status <= 699:
            raise ValueError(f"invalid status code {status}")
        start = as_bytes(f"SIP/2.0 {status} {reason}")
        _load_into(self, _assemble(start, headers, body), stream=False, limits=False)


_HeaderInput = Union[Mapping[str, Union[str, bytes]], Iterable[tuple[str, Union[str, bytes]]]]


def _assemble(start: bytes, headers: _HeaderInput, body: bytes) -> bytes:
    items = headers.items() if isinstance(headers, Mapping) else headers
    lines = [start]
    has_cl = False
    for name, value in items:
        has_cl = has_cl or canonical_name(name) == "content-length"
        lines.append(_enc(name) + b": " + _enc(value))
    if not has_cl:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + bytes(body)


# --- parsing ---------------------------------------------------------------------------------

def parse_message(data: bytes, *, stream: bool = False, limits: bool = True) -> Request | Response:
    """Parse one message: a UDP datagram (Content-Length optional; bytes beyond it dropped), or with
    `stream` one framed from a stream (kampy.sip.stream), whose Content-Length is mandatory.
    `limits=False` for kampy's own messages: the size, header count and line length limits guard
    what is received, and a relayed request may pass them with what the proxy added."""
    if limits and len(data) > MAX_MESSAGE_SIZE:
        raise SIPProtocolError("message too large", status=513, can_reply=False)
    if data[:1] in (b"\r", b"\n"):  # RFC 3261 7.5: ignore CRLFs before the start line
        data = data.lstrip(b"\r\n")
    if data.startswith(b"SIP/"):  # (a first line shorter than that is no status line either)
        msg: Request | Response = Response.__new__(Response)
    else:
        msg = Request.__new__(Request)
    _load_into(msg, data, stream=stream, limits=limits)
    return msg


def _find_header_end(data: bytes, can_reply: bool) -> tuple[int, int]:
    """(end of the header block, start of the body)."""
    end = data.find(b"\r\n\r\n")
    if end >= 0 and data.find(b"\n\n", 0, end) < 0:
        return end, end + 4
    ends = [(i, i + n) for i, n in ((data.find(b"\n\r\n"), 3), (data.find(b"\n\n"), 2)) if i >= 0]
    if not ends:
        raise SIPProtocolError("no empty line after the headers", can_reply=can_reply)
    return min(ends)


def _split_lines(head: bytes, *, strict: bool = True) -> list[bytes]:
    """The lines of a header block, CRLF or bare LF ended. A CR at the end of a line is trailing
    white space, dropped (Kamailio trims it: `Max-Forwards: 69\r` is 69); `strict`: a CR inside a
    line is a SIPProtocolError (RFC 3261 25.1: no line break, and it could not be written back)."""
    lines = head.split(b"\r\n")
    if head.count(b"\n") != len(lines) - 1:  # bare LFs
        lines = [line[:-1] if line.endswith(b"\r") else line for line in head.split(b"\n")]
        stray = any(b"\r" in line for line in lines)
    else:
        stray = head.count(b"\r") != len(lines) - 1
    if stray:
        lines = [line.rstrip(b"\r") if b"\r" in line else line for line in lines]
        if strict and any(b"\r" in line for line in lines):
            raise SIPProtocolError("a CR without LF inside a header line")
    return lines


def _unfold(lines: list[bytes], can_reply: bool) -> list[tuple[bytes, bytes]]:
    """Join continuation lines: [(raw with folds, unfolded)] for each header line."""
    out: list[tuple[bytes, bytes]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if not out:
                raise SIPProtocolError("continuation line without a header", can_reply=can_reply)
            raw, joined = out[-1]
            out[-1] = (raw + b"\r\n" + line, joined.rstrip(b" \t") + b" " + line.lstrip(b" \t"))
        else:
            out.append((line, line))
    return out


def _load_into(msg: Message, data: bytes, *, stream: bool, limits: bool = True) -> None:
    try:
        _load_unchecked(msg, data, stream=stream, limits=limits)
    except SIPProtocolError as exc:
        # errors are raised with can_reply=True when their kind allows a reply; it also needs a Via
        if exc.can_reply and (data.startswith(b"SIP/") or _VIA_LINE.search(data) is None):
            exc.can_reply = False
        raise


def _load_unchecked(msg: Message, data: bytes, *, stream: bool, limits: bool) -> None:
    can_reply = True
    head_end, body_start = _find_header_end(data, can_reply)
    head = data[:head_end]
    lines = _split_lines(head)
    if limits and len(lines) > MAX_HEADERS + 1:
        raise SIPProtocolError("too many header lines", status=513, can_reply=can_reply)
    if limits and len(head) > MAX_LINE_LENGTH and max(map(len, lines)) > MAX_LINE_LENGTH:
        raise SIPProtocolError("header line too long", status=513, can_reply=can_reply)
    _parse_start_line(msg, lines[0], can_reply)
    msg._can_reply = can_reply = msg.is_request and b"SIP/" != data[:4]
    headers, index = _index_headers(lines, can_reply)
    msg._can_reply = can_reply and "via" in index
    msg._headers = headers
    msg._index = index
    msg._body_start = body_start
    msg._cache = {}
    msg._changes = []
    msg.msg_flags = 0
    cl = index.get("content-length")
    if cl is None:
        if stream:
            raise SIPProtocolError("Content-Length is required over a stream", can_reply=can_reply)
        msg._raw = data
        return
    value = headers[cl[0]][1].strip()
    if not value.isdigit() or len(value) > 10:
        raise SIPProtocolError(f"malformed Content-Length {value[:20]!r}", can_reply=can_reply)
    end = body_start + int(value)
    if end > len(data):
        raise SIPProtocolError("Content-Length larger than the message", can_reply=can_reply)
    if end != len(data) and stream:
        raise SIPProtocolError("Content-Length does not match the framed message", can_reply=can_reply)
    msg._raw = data if end == len(data) else data[:end]


def _parse_start_line(msg: Message, line: bytes, can_reply: bool) -> None:
    if isinstance(msg, Response):
        m = _RESP_LINE.fullmatch(line)
        if m is None:
            raise SIPProtocolError(f"malformed status line {line[:80]!r}", can_reply=False)
        msg.status = int(m.group(1))
        msg.reason = _dec(m.group(2) or b"")
    else:
        assert isinstance(msg, Request)
        m = _REQ_LINE.fullmatch(line)
        if m is None:
            _bad_request_line(line, can_reply)
        method, ruri = m.groups()
        if b"?" in ruri and (ruri[:4].lower() == b"sip:" or ruri[:5].lower() == b"sips:"):
            if b"?" in ruri[ruri.find(b"@") + 1:]:
                raise SIPProtocolError("headers in the Request-URI", can_reply=can_reply)
        msg.method = method.decode("ascii")
        msg._ruri = ruri
    msg._start = line


def _bad_request_line(line: bytes, can_reply: bool) -> Any:
    m = _REQ_LINE_ANY_VERSION.fullmatch(line)
    if m is not None and m.group(3) != b"2.0":
        raise SIPProtocolError(f"SIP version {m.group(3).decode()} not supported", status=505,
                               can_reply=can_reply)
    readable = _REQ_LINE_LENIENT.fullmatch(line) is not None
    raise SIPProtocolError(f"malformed request line {line[:80]!r}", can_reply=can_reply and readable)


def _index_headers(lines: list[bytes], can_reply: bool) -> tuple[list[_Header], dict[str, list[int]]]:
    headers: list[_Header] = []
    index: dict[str, list[int]] = {}
    cache = _name_cache
    for i, line in enumerate(lines):
        if not i:  # the start line
            continue
        name, sep, value = line.partition(b":")
        lname = cache.get(name) if sep else None
        if lname is None:
            if line[:1] in (b" ", b"\t") or not sep and _has_fold(lines):  # lines continued
                return _index_folded_headers(lines, can_reply)
            if not sep:
                raise SIPProtocolError(f"header line without ':' {line[:40]!r}", can_reply=can_reply)
            lname = _new_header_name(name, can_reply)
        idx = index.get(lname)
        if idx is None:
            index[lname] = [i - 1]
        else:
            idx.append(i - 1)
        headers.append((lname, value, line))
    return headers, index


def _has_fold(lines: list[bytes]) -> bool:
    return any(line[:1] in (b" ", b"\t") for line in lines[1:])


def _index_folded_headers(lines: list[bytes], can_reply: bool,
                          ) -> tuple[list[_Header], dict[str, list[int]]]:
    """`_index_headers` of header lines with continuation lines, each joined to its header line."""
    headers: list[_Header] = []
    index: dict[str, list[int]] = {}
    for raw, line in _unfold(lines[1:], can_reply):
        name, sep, value = line.partition(b":")
        if not sep:
            raise SIPProtocolError(f"header line without ':' {line[:40]!r}", can_reply=can_reply)
        lname = _name_cache.get(name) or _new_header_name(name, can_reply)
        index.setdefault(lname, []).append(len(headers))
        headers.append((lname, value, raw))
    return headers, index


# --- building --------------------------------------------------------------------------------

def build_response(request: Request, code: int, reason: str, to_tag: str | None = None,
                   extra_headers: _HeaderInput = (), body: bytes = b"", *,
                   first_via: bytes | None = None) -> Response:
    """A response to `request` per RFC 3261 8.2.6: Via(s), From, To (tag added if absent), Call-ID, CSeq.
    `first_via`, a whole `Via: ...` line, replaces the request's first Via line: a reply a server
    sends to the network passes `kampy.api.reply_via_line(...)` (received/rport filled in)."""
    headers: list[tuple[str, bytes]] = [("Via", raw) for raw in _stripped(request, "via")]
    if first_via is not None and headers:
        headers[0] = ("Via", first_via.partition(b":")[2].strip())
    headers += [("From", raw) for raw in _stripped(request, "from")]
    for raw in _stripped(request, "to"):
        if to_tag is not None and request.to is not None and request.to.tag is None:
            raw += b";tag=" + _enc(to_tag)
        headers.append(("To", raw))
    headers += [("Call-ID", raw) for raw in _stripped(request, "call-id")]
    headers += [("CSeq", raw) for raw in _stripped(request, "cseq")]
    items = extra_headers.items() if isinstance(extra_headers, Mapping) else extra_headers
    headers += [(name, _enc(value)) for name, value in items]
    return Response(code, reason, headers, body)


def _stripped(msg: Message, lname: str) -> list[bytes]:
    return [msg._headers[i][1].strip() for i in msg._index.get(lname, ())]


_COPY_FOR_ERROR = ("via", "from", "to", "call-id", "cseq")


def error_response(data: bytes, exc: SIPProtocolError, first_via: bytes | None = None) -> bytes | None:
    """The bytes of a response (exc.status, 400 usually) to malformed `data`, or None if none can be formed.

    Works from the raw bytes leniently: copies the Via, From, To, Call-ID and CSeq lines it can find
    and adds a To tag derived from the message (deterministic, no randomness needed).
    `first_via` (a whole `Via: ...` line) replaces the first Via value found: the caller's line
    with `received`/`rport` filled in.
    """
    if not exc.can_reply:
        return None
    head = data.lstrip(b"\r\n")
    cut = [i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0]
    head = head[:min(cut)] if cut else head
    lines = _split_lines(head[:MAX_MESSAGE_SIZE], strict=False)
    found: dict[str, list[bytes]] = {k: [] for k in _COPY_FOR_ERROR}
    for raw, line in _unfold_lenient(lines[1:MAX_HEADERS + 1]):
        name, sep, value = line.partition(b":")
        lname = canonical_name(name.decode("latin-1"))
        if sep and lname in found and len(raw) <= MAX_LINE_LENGTH and b"\r" not in line:
            found[lname].append(value.strip())
    if not found["via"]:
        return None
    if first_via is not None:
        found["via"][0] = first_via.partition(b":")[2].strip()
    tag = hashlib.sha1(data).hexdigest()[:16].encode()
    out = [b"SIP/2.0 %d %s" % (exc.status, _REASONS.get(exc.status, "Bad Request").encode())]
    for lname in _COPY_FOR_ERROR:
        for value in found[lname] if lname != "to" else found[lname][:1]:
            if lname == "to" and b";tag=" not in value.replace(b" ", b"").lower():
                value += b";tag=" + tag
            out.append(pretty_name(lname).encode() + b": " + value)
    out.append(b"Content-Length: 0")
    return b"\r\n".join(out) + b"\r\n\r\n"


def _unfold_lenient(lines: list[bytes]) -> list[tuple[bytes, bytes]]:
    while lines and lines[0][:1] in (b" ", b"\t"):
        lines = lines[1:]
    return _unfold(lines, False)
