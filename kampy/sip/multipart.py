"""Multipart bodies as Kamailio's core treats them: the boundary of a Content-Type (get_boundary())
and the rewrite of the boundary lines of a body marked FL_BODY_MULTIPART (check_boundaries() in
core/msg_translator.c)."""
from __future__ import annotations

import logging

log = logging.getLogger("kampy.core")

CRLF = b"\r\n"


def boundary_of(content_type: str | None) -> str | None:
    """The `boundary` parameter of a Content-Type value (quotes removed), or None."""
    if content_type is None or ";" not in content_type:
        return None
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "boundary":
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value
    return None


def _line_starts(body: bytes, prefix: bytes) -> list[int]:
    """Where lines start with `prefix` (each search goes on right after the prefix found, as
    find_line_start() is called there)."""
    found, pos = [], 0
    while len(prefix) <= len(body) - pos:
        if body.startswith(prefix, pos):
            found.append(pos)
            pos += len(prefix)
            continue
        cr = body.find(b"\r", pos, len(body) - 1)
        if cr < 0 or body[cr + 1:cr + 2] != b"\n":
            break
        pos = cr + 2
    return found


def line_length(body: bytes, pos: int) -> int:
    """get_line(): the length of the line at `pos` with its CRLF (the rest when there is none)."""
    cr = body.find(b"\r", pos)
    return len(body) - pos if cr < 0 else cr - pos + 2


def check_boundaries(body: bytes, boundary: str) -> bytes | None:
    """The body from its first boundary line on with every inner boundary line `--b` CRLF and the
    last `--b--` CRLF; None (leave it) with fewer than two boundary lines."""
    mark = b"--" + boundary.encode("utf-8", "surrogateescape")
    inner, final = mark + CRLF, mark + b"--" + CRLF
    starts = _line_starts(body, mark)
    if len(starts) < 2:
        log.error("found[%d] wrong number of boundaries", len(starts))
        return None
    out = []
    for here, following in zip(starts, starts[1:], strict=False):
        size = line_length(body, here)
        if body[here:here + size] != inner:
            out += [inner, body[here + size:following]]
        else:
            out.append(body[here:following])
    first = starts[0]
    # Kamailio checks the first boundary line here (not the last): unless that one is already a
    # final one, the final boundary line is written and what follows the last boundary is dropped
    out.append(body[first:] if body[first:first + line_length(body, first)] == final else final)
    return b"".join(out)
