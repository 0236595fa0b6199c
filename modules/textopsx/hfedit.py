"""textopsx's header value functions (append_hf_value, insert_hf_value, remove_hf_value,
assign_hf_value, remove_hf_value2, assign_hf_value2, include_hf_value, exclude_hf_value,
hf_value_exists), after modules/textopsx/textopsx.c.

The first argument names a header, an index and a parameter: `hname[idx].param`, `hname[*].param`
(see `HeaderRef`). Kamailio edits byte ranges of the received header lines; here each line's edits
are kept as (start, end, text) spans of its received text and the line is written anew with all of
them (so several calls compose as Kamailio's lumps do). Whole lines are removed and new lines added
through the message's change list.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from kampy.api import MessageContext

from .hfvalue import header_key


log = logging.getLogger("kampy.textopsx")

MAX_STACK = 10  # MAX_HF_VALUE_STACK
_EDITS = "textopsx.hf_edits"  # ctx.local: {(name, index): [(start, end, text)]}
_SPACE = " \t\r\n"
_NAME = re.compile(r"[A-Za-z0-9_-]*")
Span = tuple[int, int]


@dataclass(frozen=True)
class HeaderRef:
    """fixup_hname_param(): `hname [ "[" (* | number) "]" ] [ "." param ]`."""
    name: str
    indexed: bool = False
    every: bool = False
    idx: int = 0
    param: str = ""

    @property
    def key(self) -> str:
        return header_key(self.name)


def parse_header_ref(text: str) -> HeaderRef:
    """The header reference of a function's first argument; ValueError when it does not parse."""
    pos = _skip(text, 0)
    name = _NAME.match(text, pos).group()  # type: ignore[union-attr]
    if not name:
        raise ValueError(f"cannot parse header near '{text[pos:]}'")
    pos = _skip(text, pos + len(name))
    indexed = every = False
    idx = 0
    if text[pos:pos + 1] == "[":
        indexed = True
        pos = _skip(text, pos + 1)
        if text[pos:pos + 1] == "*":
            every, pos = True, pos + 1
        elif text[pos:pos + 1] != "]":
            number = re.match(r"[+-]?\d+", text[pos:])
            if number is None:
                raise ValueError(f"cannot parse header near '{text[pos:]}'")
            idx, pos = int(number.group()), pos + number.end()
        pos = _skip(text, pos)
        if text[pos:pos + 1] != "]":
            raise ValueError(f"cannot parse header near '{text[pos:]}'")
        pos += 1
    pos = _skip(text, pos)
    param = ""
    if text[pos:pos + 1] == ".":
        pos = _skip(text, pos + 1)
        param = _NAME.match(text, pos).group()  # type: ignore[union-attr]
        if not param:
            raise ValueError(f"cannot parse header near '{text[pos:]}'")
        pos += len(param)
    if pos != len(text):
        raise ValueError(f"cannot parse header near '{text[pos:]}'")
    return HeaderRef(name, indexed, every, idx, param)


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SPACE:
        pos += 1
    return pos


@dataclass(frozen=True)
class Line:
    """A received header line: its canonical name and index among those lines, its text, and where
    its body starts and ends in it."""
    name: str
    index: int
    raw: str
    body_start: int
    body_end: int

    @property
    def body(self) -> str:
        return self.raw[self.body_start:self.body_end]


def header_lines(ctx: MessageContext, ref: HeaderRef) -> list[Line]:
    """find_next_hf(): the received lines of the header `ref` names, in order."""
    out, seen = [], {}
    for name, raw_bytes in ctx.msg.header_lines():
        index = seen.get(name, 0)
        seen[name] = index + 1
        if name != ref.key:
            continue
        raw = raw_bytes.decode("utf-8", "surrogateescape")
        start = _skip_blank(raw, raw.find(":") + 1)
        end = len(raw.rstrip(_SPACE))
        out.append(Line(name, index, raw, start, max(end, start)))
    return out


def _skip_blank(raw: str, pos: int) -> int:
    while pos < len(raw) and raw[pos] in _SPACE:
        pos += 1
    return pos


def values(line: Line) -> list[tuple[Span, Span]]:
    """find_next_value() over a line's body: (value, value with its leading blanks and comma) spans."""
    out, p, end, raw = [], line.body_start, line.body_end, line.raw
    while True:
        lump_start = p
        while p < end and raw[p] in _SPACE:
            p += 1
        val_start, quoted = p, False
        while p < end and (raw[p] != "," or quoted):
            if raw[p] == '"' and (not quoted or raw[p - 1] != "\\"):
                quoted = not quoted
            p += 1
        val_end = p
        while val_end > val_start and raw[val_end - 1] in _SPACE:
            val_end -= 1
        while p < end and raw[p] != ",":
            p += 1
        if p < end:
            p += 1
        out.append(((val_start, val_end), (lump_start, p)))
        if p >= end:
            return out


def find_value(ctx: MessageContext, ref: HeaderRef, idx: int,
               per_value: bool = True) -> tuple[Line, Span, Span] | None:
    """find_hf_value_idx(): the idx-th value (from 1; negative: from the end, at most 10 back) of the
    header, or with per_value False the idx-th line."""
    items = [(line, val, lump) for line in header_lines(ctx, ref)
             for val, lump in (values(line) if per_value else [((0, 0), (0, 0))])]
    if idx > 0:
        return items[idx - 1] if idx <= len(items) else None
    if -idx > MAX_STACK or -idx > min(len(items), MAX_STACK):
        return None
    return items[idx]


def for_delete(line: Line, lump: Span) -> Span:
    """adjust_lump_val_for_delete(): the last value of a line takes the comma before it."""
    if lump[1] == line.body_end and lump[0] > line.body_start:
        return lump[0] - 1, lump[1]
    return lump


class LineEditor:
    """The edits of one message's header lines (kept in ctx.local) and the lines they give."""

    def __init__(self, ctx: MessageContext) -> None:
        self.ctx = ctx
        self.edits: dict[tuple[str, int], list[tuple[int, int, str]]] = ctx.local.setdefault(_EDITS, {})

    def edit(self, line: Line, start: int, end: int, text: str) -> None:
        spans = self.edits.setdefault((line.name, line.index), [])
        spans.append((start, end, text))
        order = sorted(range(len(spans)), key=lambda i: (spans[i][0], spans[i][1] > spans[i][0], i))
        out, pos = [], 0
        for i in order:
            a, b, repl = spans[i]
            if a < pos:
                continue
            out += [line.raw[pos:a], repl]
            pos = b
        out.append(line.raw[pos:])
        self.ctx.msg.replace_lines(line.name, line.index, "".join(out))

    def delete(self, line: Line, span: Span) -> None:
        """delete_value_lump(): the whole line when the span is its whole body."""
        if span == (line.body_start, line.body_end):
            self.ctx.msg.remove_header(line.name, line.index)
        else:
            self.edit(line, span[0], span[1], "")

    def insert_value(self, line: Line | None, at: int, value: str) -> None:
        """insert_value_lump(): the value with a comma after it, or before it at the body's end."""
        if line is None:
            return
        self.edit(line, at, at, "," + value if at == line.body_end else value + ",")

    def new_header(self, ref: HeaderRef, value: str, before: Line | None = None) -> int:
        """insert_header_lump(): `name: value` before a line, or after the last header."""
        try:
            if before is None:
                self.ctx.msg.add_header(ref.name, value)
            else:
                self.ctx.msg.insert_lines(before.name, before.index, f"{ref.name}: {value}")
        except ValueError as exc:
            log.error("Can't insert lump: %s", exc)
            return -1
        return 1
