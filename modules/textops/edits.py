"""Text edits of a SIP message expressed through the message's change list (lumps).

Kamailio's textops edits byte ranges of the received buffer. kampy's lumps work on whole header
lines, the Request-URI and the body, so a text edit is turned into those: the edited text is split
again into start line, header lines and body, and each header name whose lines changed is removed
and re-added with its new lines (lines of one name keep their order; RFC 3261 7.3.1 leaves the order
of different names free). A header name is rewritten at most once per message, because an added
line cannot be taken back; a second edit of the same name is refused with an error in the log.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

from kampy.api import MessageContext, Request

log = logging.getLogger("kampy.textops")

_REWRITTEN = "textops.rewritten"  # ctx.local: header names already re-added for this message
CRLF = "\r\n"


def dec(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def enc(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


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


def header_block_span(msg: object) -> tuple[int, int]:
    """(start, end) of the header lines in message_text(): after the start line, before the CRLFCRLF."""
    start = len(msg.start_line) + 2  # type: ignore[attr-defined]
    text_len = sum(len(raw) + 2 for _, raw in header_lines(msg))
    return start, start + max(text_len - 2, 0)


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


def apply_text(ctx: MessageContext, new_text: str) -> bool:
    """Make ctx.msg become `new_text` (an edited message_text()) through lumps; False if refused."""
    msg = ctx.msg
    head, sep, body = new_text.partition(CRLF + CRLF)
    if not sep:
        log.error("edit removed the end of the headers; not applied")
        return False
    start, _, header_text = head.partition(CRLF)
    new_lines = _logical_lines(header_text)
    old_groups = _groups(header_lines(msg))
    new_groups = _groups((line_name(line), line) for line in new_lines)
    dirty = [n for n in dict.fromkeys([*old_groups, *new_groups])
             if n != "content-length" and old_groups.get(n) != new_groups.get(n)]
    done: set[str] = ctx.local.setdefault(_REWRITTEN, set())
    if any(n in done for n in dirty):
        log.error("textops: header(s) %s already rewritten in this message; edit not applied",
                  ", ".join(n for n in dirty if n in done))
        return False
    if start != msg.start_line and not _apply_start_line(msg, start):
        return False
    for name in dirty:
        replace_group(ctx, name, new_groups.get(name, []))
    if enc(body) != msg.body:
        msg.set_body(enc(body))
    return True


def replace_group(ctx: MessageContext, name: str, lines: list[str]) -> None:
    """Replace every received line called `name` with `lines` (raw `Name: value` texts)."""
    msg = ctx.msg
    if msg.has_header(name):
        msg.remove_header(name)
    for line in lines:
        hname, _, value = line.partition(":")
        msg.add_header(hname.strip(), " ".join(value.split(CRLF)).strip(), first=(name == "via"))
    ctx.local.setdefault(_REWRITTEN, set()).add(name)


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


def _groups(lines: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name, line in lines:
        groups.setdefault(name, []).append(line)
    return groups


def split_header_text(text: str) -> list[tuple[str, str]]:
    """`Name: value\\r\\n...` as given to append_hf/insert_hf -> [(name, value)]; ValueError if malformed."""
    out = []
    for line in _logical_lines(text.replace("\r\n", "\n").replace("\n", CRLF).rstrip(CRLF)):
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise ValueError(f"not a header: {line!r}")
        out.append((name.strip(), " ".join(value.split(CRLF)).strip()))
    return out
