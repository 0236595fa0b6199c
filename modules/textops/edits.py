"""Text edits of a SIP message expressed through the message's change list (lumps).

Kamailio's textops edits byte ranges of the received buffer. kampy's lumps work on whole header
lines, the Request-URI and the body, so a text edit is turned into those: the spans are applied to
the message as it stands with the edits made so far (`edit_view`), and each header line a span
touches is written anew in place (`Message.replace_lines`); a span across line ends merges those
lines into the first. Because edits start from the pending text, a second edit of the same line
composes with the first. Spans across the start line, the end of the headers or into the body are
refused with an error in the log.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from kampy.api import MessageContext, Request, as_bytes

log = logging.getLogger("kampy.textops")

CRLF = "\r\n"


def dec(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def header_lines(msg: Request | object) -> list[tuple[str, str]]:
    """(canonical name, raw line text with folds) for every received header line, in order."""
    names: list[str] = msg.header_names  # type: ignore[attr-defined]
    cache: dict[str, list[bytes]] = {}
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name not in cache:
            cache[name] = msg.get_all_raw(name)  # type: ignore[attr-defined]
        i = seen.get(name, 0)
        seen[name] = i + 1
        out.append((name, dec(cache[name][i])))
    return out


COMPACT_FORMS = {
    "i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length", "f": "from",
    "t": "to", "v": "via", "c": "content-type", "k": "supported", "s": "subject", "o": "event",
    "u": "allow-events", "r": "refer-to", "b": "referred-by", "x": "session-expires", "y": "identity",
    "a": "accept-contact", "j": "reject-contact", "d": "request-disposition", "n": "identity-info",
}


def canonical(name: str) -> str:
    """The lower-case full name of a header (compact forms expanded)."""
    low = name.strip().lower()
    return COMPACT_FORMS.get(low, low)


def line_name(line: str) -> str:
    return canonical(line.partition(":")[0])


def message_text(msg: object) -> str:
    """The received message as text: start line, header lines, empty line, body."""
    lines = [msg.start_line] + [raw for _, raw in header_lines(msg)]  # type: ignore[attr-defined]
    return CRLF.join(lines) + CRLF + CRLF + dec(msg.body)  # type: ignore[attr-defined]


def current_body(msg: object) -> bytes:
    """The body with earlier set_body() edits applied."""
    body: bytes = msg.body  # type: ignore[attr-defined]
    for change in msg.changes:  # type: ignore[attr-defined]
        if type(change).__name__ == "SetBody":
            body = change.body
    return body


def apply_spans(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    out, pos = [], 0
    for start, end, repl in sorted(spans):
        if start < pos:
            continue  # overlapping edits: the first one wins, as with Kamailio's lumps
        out += [text[pos:start], repl]
        pos = end
    out.append(text[pos:])
    return "".join(out)


@dataclass(frozen=True)
class Slot:
    """A part of the edit view: the start line, a header line (`name`, `index`: the received line it
    stands for) with its CRLF, the empty line, or the body."""
    start: int
    end: int
    kind: str
    name: str = ""
    index: int = 0


def edit_view(msg: object) -> tuple[str, list[Slot]]:
    """The message as text with the changes made so far to its lines and body, and its slots."""
    pieces: list[str] = [msg.start_line + CRLF]  # type: ignore[attr-defined]
    slots = [Slot(0, len(pieces[0]), "start")]
    pos = len(pieces[0])
    seen: dict[str, int] = {}
    for name, raw in header_lines(msg):
        index = seen.get(name, 0)
        seen[name] = index + 1
        pending = msg.pending_header_line(name, index)  # type: ignore[attr-defined]
        text = (raw if pending is None else dec(pending)) + CRLF
        slots.append(Slot(pos, pos + len(text), "header", name, index))
        pieces.append(text)
        pos += len(text)
    slots.append(Slot(pos, pos + 2, "empty"))
    body = dec(current_body(msg))
    slots.append(Slot(pos + 2, pos + 2 + len(body), "body"))
    pieces += [CRLF, body]
    return "".join(pieces), slots


def edit_text(msg: object) -> str:
    return edit_view(msg)[0]


def header_block_span(msg: object) -> tuple[int, int]:
    """(start, end) of the header lines in edit_text(): after the start line, before the CRLFCRLF."""
    _, slots = edit_view(msg)
    return slots[0].end, max(slots[-2].start - 2, slots[0].end)


def apply_spans_to_message(ctx: MessageContext, spans: list[tuple[int, int, str]]) -> bool:
    """Apply (start, end, replacement) spans of edit_text() to ctx.msg through lumps; False (and an
    error logged) when refused. Overlapping spans: the first wins, as with Kamailio's lumps."""
    text, slots = edit_view(ctx.msg)
    groups = _group(sorted(spans), slots)
    if groups is None:
        return False
    edits: list[tuple[Slot, list[Slot], str]] = []
    for first, last, group in groups:
        new = _edited(text, slots, first, last, group)
        while slots[first].kind == "header" and new and not new.endswith(CRLF):
            if slots[last + 1].kind != "header":  # the edit ate the CRLF of the last header line
                log.error("textops: edit joins a header line with the end of the headers; not applied")
                return False
            last += 1  # it ate a line end: the next line joins this one
            new = _edited(text, slots, first, last, group)
        edits.append((slots[first], slots[first + 1:last + 1], new))
    return _apply_slot_edits(ctx, edits)


def _edited(text: str, slots: list[Slot], first: int, last: int, group: list[tuple[int, int, str]]) -> str:
    base = slots[first].start
    return apply_spans(text[base:slots[last].end], [(a - base, b - base, r) for a, b, r in group])


def _group(spans: list[tuple[int, int, str]],
           slots: list[Slot]) -> list[tuple[int, int, list[tuple[int, int, str]]]] | None:
    """Spans grouped by the run of slots they touch: [(first slot, last slot, spans)]."""
    groups: list[tuple[int, int, list[tuple[int, int, str]]]] = []
    for a, b, repl in spans:
        first = _slot_at(slots, a)
        last = _slot_at(slots, max(b - 1, a))
        if groups and first <= groups[-1][1]:
            prev_first, prev_last, group = groups.pop()
            first, last = prev_first, max(prev_last, last)
            group.append((a, b, repl))
        else:
            group = [(a, b, repl)]
        groups.append((first, last, group))
    for first, last, _ in groups:
        kinds = {slots[i].kind for i in range(first, last + 1)}
        if len(kinds) > 1 or "empty" in kinds:
            log.error("textops: edit across the start line, the end of the headers or the body; "
                      "not applied")
            return None
    return groups


def _slot_at(slots: list[Slot], pos: int) -> int:
    for i, slot in enumerate(slots):
        if slot.start <= pos < slot.end:
            return i
    return len(slots) - 1


def _apply_slot_edits(ctx: MessageContext, edits: list[tuple[Slot, list[Slot], str]]) -> bool:
    msg = ctx.msg
    for slot, merged, new in edits:
        if slot.kind == "start":
            if not new.endswith(CRLF) or not _apply_start_line(msg, new[:-2]):
                return False
        elif slot.kind == "body":
            msg.set_body(as_bytes(new))
        else:
            try:
                msg.replace_lines(slot.name, slot.index, as_bytes(new[:-2]))
            except ValueError as exc:
                log.error("textops: %s; not applied", exc)
                return False
            for gone in merged:
                msg.replace_lines(gone.name, gone.index, b"")
    return True


def _apply_start_line(msg: object, start: str) -> bool:
    parts, old = start.split(" "), msg.start_line.split(" ")  # type: ignore[attr-defined]
    if not isinstance(msg, Request) or len(parts) != 3 or parts[0] != old[0] or parts[2] != old[2]:
        log.error("textops: only the Request-URI of the first line can be changed: %r", start)
        return False
    msg.set_ruri(parts[1])
    return True


def _logical_lines(header_text: str) -> list[str]:
    lines: list[str] = []
    for line in header_text.split(CRLF) if header_text else []:
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += CRLF + line
        elif line:
            lines.append(line)
    return lines


def split_header_text(text: str) -> list[tuple[str, str]]:
    """`Name: value\\r\\n...` as given to append_hf/insert_hf -> [(name, value)]; ValueError if malformed."""
    out = []
    for line in _logical_lines(text.replace("\r\n", "\n").replace("\n", CRLF).rstrip(CRLF)):
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise ValueError(f"not a header: {line!r}")
        out.append((name.strip(), " ".join(value.split(CRLF)).strip()))
    return out
