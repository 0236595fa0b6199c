"""ctl's old FIFO protocol (fifo_server.c), over a named pipe, UDP or TCP: text in, text out.

A request is a command line `:method:reply_fifo`, one parameter per line, and an empty line:

    :core.uptime:kamailio_reply
    <empty line>

The reply is `code reason`, then the values: a plain value on a line of its own, a struct's members
as `name:value` joined by `,` (a member's text escaped: `\\n`, `\\r`, `\\t`, `\\\\`, `\\0`, `\\o` for `:`,
`\\c` for `,`). Over a FIFO it goes to the named reply FIFO under /tmp/ (a name with `.`, `/` or
`\\` is refused); over UDP and TCP back to the sender. The values are laid out as Kamailio's
chunk list does it (build_iovec): members added to a struct follow its start, each before the
previous one.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kampy.api import Member, RpcFault

FIFO_DIR = "/tmp/"
MIN_REQUEST = 6
REASON_MAX = 1023

POSITIONAL, MEMBER_NAME, MEMBER_VALUE = 1, 2, 4
NULL_STRING = "<null string>"


def frame(buf: bytes) -> int:
    """The length of the first request (up to and with the empty line), 0 while incomplete."""
    if len(buf) < MIN_REQUEST:
        return 0
    for r in range(1, len(buf)):
        if buf[r] in b"\r\n" and buf[r - 1] in b"\r\n":
            return r + 1
    return 0


@dataclass
class Request:
    method: str
    reply_file: str | None          # under FIFO_DIR, or None
    params: list[str] = field(default_factory=list)


class BadCommand(Exception):
    """A command line that cannot be read: Kamailio answers nothing (it has no reply file)."""


def read_lines(data: bytes) -> list[str]:
    """Kamailio's read_line(): lines up to `\\n`, trailing CR, spaces and tabs trimmed."""
    text = data.decode(errors="replace")
    return [line.rstrip("\r \t") for line in text.split("\n")]


def parse_request(data: bytes) -> Request:
    lines = read_lines(data)
    command = lines[0] if lines else ""
    if len(command) < 3 or not command.startswith(":"):
        raise BadCommand("a command is ':method:reply_fifo'")
    method, sep, reply = command[1:].partition(":")
    if not sep or not method:
        raise BadCommand("file separator missing or empty command")
    reply_file = None
    if reply:
        if any(c in reply for c in "./\\"):
            raise BadCommand(f"forbidden reply file name {reply!r}")
        reply_file = FIFO_DIR + reply
    params = []
    for line in lines[1:]:
        if not line:
            break
        params.append(line)
    return Request(method, reply_file, params)


def reply_path(data: bytes) -> str | None:
    try:
        return parse_request(data).reply_file
    except BadCommand:
        return None


def unescape(text: str) -> str:
    """A parameter's escapes (`\\n`, `\\r`, `\\t`, `\\\\`, `\\0`, `\\c` for `:`, `\\o` for `,`);
    raises ValueError for another one."""
    out = []
    i = 0
    table = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t", "0": "\0", "c": ":", "o": ","}
    while i < len(text):
        c = text[i]
        if c == "\\":
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if nxt not in table:
                raise ValueError(f"bad escape in {text!r}")
            out.append(table[nxt])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def escape(text: str, members: bool) -> str:
    out = []
    for c in text:
        if c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif c == "\\":
            out.append("\\\\")
        elif c == "\0":
            out.append("\\0")
        elif c == ":" and members:
            out.append("\\o")
        elif c == "," and members:
            out.append("\\c")
        else:
            out.append(c)
    return "".join(out)


class _Chunk:
    __slots__ = ("text", "flags", "next")

    def __init__(self, text: str, flags: int) -> None:
        self.text = text
        self.flags = flags
        self.next: _Chunk | None = None


class _Body:
    """The reply's chunk list, built as fifo_server.c's rpc_add/rpc_struct_add build it."""

    def __init__(self) -> None:
        self.head: _Chunk | None = None
        self.last: _Chunk | None = None

    def append(self, chunk: _Chunk) -> None:
        if self.last is None:
            self.head = chunk
        else:
            self.last.next = chunk
        self.last = chunk

    def insert_after(self, at: _Chunk, chunk: _Chunk) -> None:
        chunk.next = at.next
        at.next = chunk
        if at is self.last:
            self.last = chunk

    def text(self) -> str:
        out = []
        chunk = self.head
        while chunk is not None:
            out.append(chunk.text)
            if chunk.flags & POSITIONAL:
                out.append("\n")
            elif chunk.flags & MEMBER_NAME:
                out.append(":")
            elif chunk.flags & MEMBER_VALUE:
                nxt = chunk.next
                out.append("," if nxt is not None and nxt.flags & MEMBER_NAME else "\n")
            chunk = chunk.next
        return "".join(out)


def _scalar(value: Any, members: bool) -> str:
    if value is None:
        return escape(NULL_STRING, members)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:f}"
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode(errors="replace")
    return escape(str(value), members)


def _members(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict) and not isinstance(value, Member):
        return [(str(k), v) for k, v in value.items()]
    items = value if isinstance(value, (list, tuple)) else [value]
    return [(m.name, m.value) if isinstance(m, Member) else ("", m) for m in items]


def _fill(body: _Body, at: _Chunk, value: Any) -> None:
    for name, item in _members(value):
        name_chunk = _Chunk(escape(name, True), MEMBER_NAME)
        if isinstance(item, (dict, list, tuple)):
            body.append(name_chunk)
            _fill(body, name_chunk, item)
        else:
            body.insert_after(at, _Chunk(_scalar(item, True), MEMBER_VALUE))
            body.insert_after(at, name_chunk)


def render(result: Any) -> str:
    """The body of a reply for what a method returned (a top-level list: several values)."""
    body = _Body()
    values = result if isinstance(result, list) else ([] if result is None else [result])
    for value in values:
        if isinstance(value, (dict, list, tuple)):
            start = _Chunk("", 0)
            body.append(start)
            _fill(body, start, value)
        else:
            body.append(_Chunk(_scalar(value, False), POSITIONAL))
    return body.text()


def reply(code: int, reason: str, body: str = "") -> bytes:
    return f"{code} {reason[:REASON_MAX]}\n{body}".encode()


def answer(data: bytes, call: Callable[[str, list[str]], Any]) -> bytes | None:
    """The reply to one request; `call(method, params)` runs the method (RpcFault for a fault,
    LookupError for an unknown method). None when the command line cannot be read."""
    try:
        request = parse_request(data)
    except BadCommand:
        return None
    try:
        params = [unescape(p) for p in request.params]
    except ValueError:
        return reply(500, "Internal Server Error")
    try:
        result = call(request.method, params)
    except LookupError:
        return reply(500, f"Command '{request.method}' not found")
    except RpcFault as fault:
        return reply(fault.code, fault.message)
    return reply(200, "OK", render(result))
