"""SIP messages as tests write them, and what the server sent, as plain objects."""
from __future__ import annotations

import dataclasses
import itertools
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Union

from kampy.runtime.context import Outgoing
from kampy.sip.message import Request, Response, build_response, canonical_name, parse_message
from kampy.sip.uri import parse_name_addr, parse_uri
from kampy.testing.address import format_address

_counter = itertools.count(1)

REASONS = {
    100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 202: "Accepted",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 407: "Proxy Authentication Required", 408: "Request Timeout",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist", 483: "Too Many Hops",
    486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here", 500: "Server Internal Error",
    503: "Service Unavailable", 603: "Decline",
}


def reason_for(status: int) -> str:
    return REASONS.get(status, "Unknown")


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}"


def _name_addr(uri: str) -> str:
    return uri if "<" in uri else f"<{uri}>"


@dataclass
class RequestSpec:
    """The parts of a request a test gives; the rest gets sensible values."""

    method: str
    ruri: str
    from_: str
    to: str | None = None
    body: bytes = b""
    headers: Mapping[str, str] | list[tuple[str, str]] = field(default_factory=dict)
    call_id: str | None = None
    cseq: int = 1
    from_tag: str | None = None
    to_tag: str | None = None
    contact: str | None = None
    max_forwards: int | None = 70
    content_type: str | None = None
    branch: str | None = None

    def completed(self) -> RequestSpec:
        """This request with its Call-ID and From tag chosen (sent again after a 401, it keeps them)."""
        return dataclasses.replace(self, call_id=self.call_id or f"{unique('call-')}@kampy.test",
                                   from_tag=self.from_tag or unique("ft"))

    def build(self, via_host: str, via_port: int, transport: str) -> bytes:
        ruri_aor = _aor_of(self.ruri)
        to = self.to or ruri_aor
        from_tag = self.from_tag or unique("ft")
        branch = self.branch or unique("z9hG4bK-t")
        headers: list[tuple[str, str]] = [
            ("Via", f"SIP/2.0/{transport.upper()} {via_host}:{via_port};branch={branch};rport"),
            ("From", f"{_name_addr(self.from_)};tag={from_tag}"),
            ("To", _name_addr(to) + (f";tag={self.to_tag}" if self.to_tag else "")),
            ("Call-ID", self.call_id or f"{unique('call-')}@kampy.test"),
            ("CSeq", f"{self.cseq} {self.method}"),
        ]
        if self.max_forwards is not None:
            headers.append(("Max-Forwards", str(self.max_forwards)))
        if self.contact:
            headers.append(("Contact", _name_addr(self.contact)))
        if self.body:
            headers.append(("Content-Type", self.content_type or "text/plain"))
        items = self.headers.items() if isinstance(self.headers, Mapping) else self.headers
        return bytes(Request(self.method, self.ruri, merge_headers(headers, list(items)), self.body))


def merge_headers(built: list[tuple[str, str]], given: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`built` with the test's `given` headers: a given name (compact forms included) replaces every
    built header of that name, in the place of the first; the others are added at the end."""
    names = {canonical_name(name) for name, _ in given}
    merged: list[tuple[str, str]] = []
    placed: set[str] = set()
    for name, value in built:
        key = canonical_name(name)
        if key not in names:
            merged.append((name, value))
        elif key not in placed:
            placed.add(key)
            merged += [(n, v) for n, v in given if canonical_name(n) == key]
    merged += [(n, v) for n, v in given if canonical_name(n) not in placed]
    return merged


def _aor_of(uri: str) -> str:
    """`sip:bob@example.test;transport=udp` -> `sip:bob@example.test`."""
    try:
        parsed = parse_uri(uri)
    except Exception:  # noqa: BLE001 - a test may send a deliberately bad URI
        return uri
    user = f"{parsed.user}@" if parsed.user else ""
    return f"{parsed.scheme}:{user}{parsed.host}"


def raw_message(text: str | bytes, content_length: bool = True) -> bytes:
    """SIP text as a test writes it: indentation removed, lines ended with CRLF, and a
    Content-Length added when missing. Bytes are taken exactly as given."""
    if isinstance(text, bytes):
        return text
    text = textwrap.dedent(text).lstrip("\n").replace("\r\n", "\n")
    head, _, body = text.partition("\n\n")
    lines = [line for line in head.split("\n") if line.strip()]
    body_bytes = body.replace("\n", "\r\n").encode()
    if content_length and not any(re.match(r"(?i)(content-length|l)\s*:", line) for line in lines):
        lines.append(f"Content-Length: {len(body_bytes)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body_bytes


def response_to(request: Request, status: int, reason: str | None = None, *, to_tag: str | None = None,
                headers: Mapping[str, str] | None = None, body: bytes = b"") -> bytes:
    """A response to `request` (Vias, From, To with a tag, Call-ID, CSeq copied)."""
    extra = dict(headers or {})
    if body and not any(n.lower() == "content-type" for n in extra):
        extra["Content-Type"] = "text/plain"
    tag = to_tag if to_tag is not None else (unique("tt") if status > 100 else None)
    return bytes(build_response(request, status, reason or reason_for(status), tag, extra, body))


@dataclass(frozen=True)
class Sent:
    """One message the server sent: where to (`proto`, `host`, `port`), the exact `data`, and the
    parsed message (`msg`). `time` is the fake clock's wall time when it was sent."""

    proto: str
    host: str
    port: int
    data: bytes
    time: float = 0.0
    local: object | None = None
    conn_id: int | None = None
    send_flags: int = 0  # SND_F_* (TCP: only on an open connection, close it after)

    @classmethod
    def of(cls, out: Outgoing, now: float) -> Sent:
        return cls(out.proto, out.host, out.port, out.data, now, out.local, out.conn_id, out.send_flags)

    @cached_property
    def msg(self) -> Request | Response:
        return parse_message(self.data)

    @property
    def is_request(self) -> bool:
        return not self.data.startswith(b"SIP/2.0 ")

    @property
    def is_response(self) -> bool:
        return not self.is_request

    @property
    def method(self) -> str:
        """The request's method, or the CSeq method of a response."""
        msg = self.msg
        if isinstance(msg, Request):
            return msg.method
        return msg.cseq.method if msg.cseq else ""

    @property
    def status(self) -> int | None:
        msg = self.msg
        return msg.status if isinstance(msg, Response) else None

    @property
    def reason(self) -> str | None:
        msg = self.msg
        return msg.reason if isinstance(msg, Response) else None

    @property
    def ruri(self) -> str | None:
        msg = self.msg
        return msg.uri if isinstance(msg, Request) else None

    @property
    def body(self) -> bytes:
        return self.msg.body

    @property
    def call_id(self) -> str | None:
        return self.msg.call_id

    @property
    def branch(self) -> str | None:
        via = self.msg.via
        return via.branch if via is not None else None

    @property
    def dest(self) -> str:
        return format_address(self.proto, self.host, self.port)

    def header(self, name: str) -> str | None:
        return self.msg.header(name)

    def headers(self, name: str) -> list[str]:
        return self.msg.headers_named(name)

    @property
    def from_uri(self) -> str | None:
        value = self.msg.header("From")
        return str(parse_name_addr(value).uri) if value else None

    @property
    def to_uri(self) -> str | None:
        value = self.msg.header("To")
        return str(parse_name_addr(value).uri) if value else None

    @property
    def first_line(self) -> str:
        return self.data.split(b"\r\n", 1)[0].decode("utf-8", "replace")

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")

    def __str__(self) -> str:
        return f"{self.first_line}  -> {self.dest}"


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    after: float = 0.0  # seconds on the fake clock before the answer is sent


AnswerSpec = Union[int, Answer, None, list[Union[int, Answer]], Callable[[Sent], Any]]
NEVER = None


def answers_of(spec: Any, request: Sent) -> list[Answer]:
    """Turn an answer spec into the answers to send, in order."""
    if callable(spec) and not isinstance(spec, Answer):
        spec = spec(request)
    if spec is None:
        return []
    if isinstance(spec, int):
        return [Answer(spec)]
    if isinstance(spec, Answer):
        return [spec]
    return [a for item in spec for a in answers_of(item, request)]
