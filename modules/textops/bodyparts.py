"""textops' multipart body functions (set_body_multipart, append_body_part[_hex], remove_body_part,
get_body_part[_raw], filter_body) and is_audio_on_hold, after modules/textops/textops.c.

Like Kamailio these look at the message as received (its body and its Content-Type header): a body
turned into a multipart one is seen as such only after msg_apply_changes(). Where Kamailio marks the
message FL_BODY_MULTIPART, its core rewrites the boundary lines when the message is sent
(check_boundaries(): every inner boundary line becomes `--b` CRLF, the last one `--b--` CRLF); kampy
does that rewrite when these functions set the body, with the same result on the wire.
"""
from __future__ import annotations

import logging
import re

from kampy.api import FL_BODY_MULTIPART, MessageContext, boundary_of, check_boundaries, message_sdp

log = logging.getLogger("kampy.textops")

CRLF = b"\r\n"
DEFAULT_CTYPE = "text/plain"
DEFAULT_DELIMITER = "unique-boundary-1"


def _enc(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _dec(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def content_type_body(ctx: MessageContext) -> str | None:
    """The received Content-Type header's value, or None."""
    for name, value in ctx.msg.headers():
        if name.strip().lower() in ("content-type", "c"):
            return value
    return None


def is_multipart_mixed(ctype: str | None) -> bool:
    return ctype is not None and re.match(r"\s*multipart\s*/\s*mixed\b", ctype, re.I) is not None


def part_text(txt: bytes, ctype: str, disposition: str, delimiter: str, initial: bool) -> bytes:
    """generate_boundary(): a body part, its closing delimiter line and, for the first, the opening."""
    out = b"--" + _enc(delimiter) + CRLF if initial else b""
    out += b"Content-Type: " + _enc(ctype) + CRLF
    if disposition:
        out += b"Content-Disposition: " + _enc(disposition) + CRLF
    out += CRLF + txt
    if not txt.endswith(CRLF + CRLF):
        out += CRLF
    return out + b"--" + _enc(delimiter) + CRLF


def _line_len(body: bytes, pos: int) -> int:
    """get_line(): the length of the line at `pos` with its CRLF (the rest when there is none)."""
    cr = body.find(b"\r", pos)
    return len(body) - pos if cr < 0 else cr - pos + 2


def _hex_bytes(text: str) -> bytes | None:
    """append_body_part_hex's input: pairs of hex digits, blanks between pairs ignored."""
    out, i = bytearray(), 0
    while i < len(text):
        if text[i] in " \t":
            i += 1
            continue
        pair = text[i:i + 2]
        if len(pair) < 2 or not all(c in "0123456789abcdefABCDEF" for c in pair):
            log.error("invalid input hex data [%s] (%d/%d)", text, len(text), i)
            return None
        out.append(int(pair, 16))
        i += 2
    if not out:
        log.error("invalid input hex data [%s] (%d/%d)", text, len(text), i)
        return None
    return bytes(out)


def _find_part(body: bytes, ctype: str) -> tuple[int, int] | None:
    """(start of the part's Content-Type line, end of its Content-Type value with CRLF) of the first
    part whose Content-Type starts with `ctype` (find_hdr_line_start() + strncasecmp)."""
    pos = 0
    want = _enc(ctype).lower()
    while pos < len(body):
        end = body.find(CRLF, pos)
        line_end = len(body) if end < 0 else end
        name, colon, _ = body[pos:line_end].partition(b":")
        if colon and name.strip().lower() in (b"content-type", b"c"):
            value_at = pos + len(name) + 1
            while value_at < line_end and body[value_at:value_at + 1] in (b" ", b"\t"):
                value_at += 1
            if body[value_at:value_at + len(want)].lower() == want:
                if body[value_at + len(want):value_at + len(want) + 2] != CRLF:
                    log.error("no CRLF found after content type")
                    return None
                return pos, value_at + len(want) + 2
        if end < 0:
            return None
        pos = end + 2
    return None


def _set_multipart_body(ctx: MessageContext, body: bytes) -> None:
    """Set a body Kamailio marks FL_BODY_MULTIPART: its boundary lines rewritten as Kamailio's core
    does on sending, when the received Content-Type has a boundary (textopsx's msg_apply_changes()
    does it with the new Content-Type when the flag is still set)."""
    delimiter = boundary_of(content_type_body(ctx))
    ctx.msg.set_body((check_boundaries(body, delimiter) if delimiter else None) or body)
    ctx.msg.msg_flags |= FL_BODY_MULTIPART


class BodyParts:
    """The multipart and SDP hold functions of textops (a mixin of the module class)."""

    # ------------------------------------------------------------ multipart bodies
    def set_body_multipart(self, ctx: MessageContext, txt: str | None = None, content_type: str | None = None,
                           boundary: str | None = None) -> int:
        if txt is not None and content_type is None:  # set_body_multipart(boundary)
            txt, boundary = None, txt
        return self._set_multipart(ctx, txt or "", content_type or "", boundary or "")

    def _set_multipart(self, ctx: MessageContext, txt: str, content_type: str, boundary: str) -> int:
        msg = ctx.msg
        received_ctype = content_type_body(ctx)
        convert = not is_multipart_mixed(received_ctype)
        if not convert and not txt:
            return 1  # the body is multipart already
        ctype = content_type or DEFAULT_CTYPE
        delimiter = boundary or DEFAULT_DELIMITER
        body = msg.body
        if txt:
            new_part, part_ctype = _enc(txt), ctype
        elif convert and body:
            new_part, part_ctype = body, received_ctype or ctype
        else:
            log.warning("no body to be set in the message")
            return -1
        if delimiter.startswith("-"):
            log.error("delimiter with initial '-'. Invalid parameter.")
            return -1
        _set_multipart_body(ctx, part_text(new_part, part_ctype, "", delimiter, True))
        if convert:
            if received_ctype is not None:
                msg.remove_header("content-type")
            msg.add_header("Content-Type", f'multipart/mixed;boundary="{delimiter}"')
            msg.add_header("Mime-Version", "1.0")
        return 1

    def append_body_part(self, ctx: MessageContext, txt: str, content_type: str,
                         content_disposition: str = "") -> int:
        return self._append_part(ctx, _enc(txt) if txt else None, content_type, content_disposition)

    def append_body_part_hex(self, ctx: MessageContext, txt: str, content_type: str,
                             content_disposition: str = "") -> int:
        if not txt:
            log.error("invalid body parameter")
            return -1
        return self._append_part(ctx, _hex_bytes(txt), content_type, content_disposition)

    def _append_part(self, ctx: MessageContext, data: bytes | None, ctype: str, disposition: str) -> int:
        if not data:
            log.error("invalid body parameter")
            return -1
        if not ctype:
            log.error("invalid content-type parameter")
            return -1
        msg = ctx.msg
        if not msg.body:
            return -1
        received_ctype = content_type_body(ctx)
        delimiter = boundary_of(received_ctype) if is_multipart_mixed(received_ctype) else None
        if not delimiter:
            log.error("Cannot get boundary. Is body multipart?")
            return -1
        if delimiter.startswith("-"):
            log.error("delimiter with initial '-'. Invalid parameter.")
            return -1
        _set_multipart_body(ctx, msg.current_body + part_text(data, ctype, disposition, delimiter, False))
        return 1

    def remove_body_part(self, ctx: MessageContext, content_type: str) -> int:
        body = ctx.msg.body
        if not body:
            return -1
        delimiter = boundary_of(content_type_body(ctx))
        if delimiter is None:
            log.error("Cannot get boundary from Content type header. Is body multipart?")
            return -1
        found = _find_part(body, content_type)
        if found is None:
            return -1
        start, after = found
        line = b"--" + _enc(delimiter)
        at = body.find(CRLF + line, after - 2)
        if at < 0:
            log.error("boundary not found after content")
            return -1
        at += 2
        end = at + len(line) + _line_len(body, at + len(line))
        _set_multipart_body(ctx, body[:start] + body[end:])
        return 1

    def get_body_part(self, ctx: MessageContext, content_type: str, opv: object) -> int:
        return self._get_part(ctx, content_type, opv, raw=False)

    def get_body_part_raw(self, ctx: MessageContext, content_type: str, opv: object) -> int:
        return self._get_part(ctx, content_type, opv, raw=True)

    def _get_part(self, ctx: MessageContext, content_type: str, opv: object, *, raw: bool) -> int:
        body = ctx.msg.body
        if not body:
            return -1
        delimiter = boundary_of(content_type_body(ctx))
        if delimiter is None:  # not multipart: the whole body
            opv.set(ctx, _dec(body))  # type: ignore[attr-defined]
            return 1
        found = _find_part(body, content_type)
        if found is None:
            return -1
        start, after = found
        line = b"--" + _enc(delimiter)
        at = body.find(CRLF + line, after - 2)
        if at < 0:
            log.error("boundary not found after content")
            return -1
        at += 2
        end = at + len(line) + _line_len(body, at + len(line))
        opv.set(ctx, _dec(body[start:end] if raw else body[after:at]))  # type: ignore[attr-defined]
        return 1

    def filter_body(self, ctx: MessageContext, content_type: str) -> int:
        body = ctx.msg.body
        if not body:
            return -1
        received_ctype = content_type_body(ctx)
        if not is_multipart_mixed(received_ctype):
            log.warning("body not multipart")
            return -1
        delimiter = boundary_of(received_ctype)
        if delimiter is None:
            return -1
        found = _find_part(body, content_type)
        if found is None:
            return -1
        start = found[1]
        while start < len(body) and body[start:start + 1] in (b"\r", b"\n"):
            start += 1
        line = b"--" + _enc(delimiter)
        at = body.find(CRLF + line, start - 2) if start >= 2 else -1
        if at < 0 or at < start - 2:
            log.error("boundary not found after content")
            return -1
        ctx.msg.set_body(body[start:at])
        return 1

    # ------------------------------------------------------------ SDP
    def is_audio_on_hold(self, ctx: MessageContext) -> int:
        code, sdp = message_sdp(ctx.msg.body, content_type_body(ctx))
        if code != 0 or sdp is None:
            return -1
        text = sdp.text
        for session in sdp.sessions:
            first_m = session.streams[0].start if session.streams else session.end
            session_hold = _mode_hold(_a_lines(text, session.start, first_m), first_only=True)
            trickle = False
            for stream in session.streams:
                lines = _a_lines(text, stream.start, stream.end) if stream.payloads else []
                trickle = trickle or any(_is_trickle(line) for line in lines)
                hold = _mode_hold(lines, first_only=False)
                if not hold:
                    address = stream.address or session.address
                    if address is not None and address.family == "IP4" and address.text == "0.0.0.0" \
                            and not (trickle and stream.port == "9"):
                        hold = 1
                if stream.media == "audio" and hold:
                    return hold
                if stream.media == "audio" and session_hold:
                    return session_hold
        return -1


def _a_lines(text: str, start: int, end: int) -> list[str]:
    return [line for line in re.split(r"\r?\n", text[start:end]) if line.startswith("a=")]


def _mode_hold(lines: list[str], *, first_only: bool) -> int:
    """extract_sendrecv_mode() over a= lines: 2 (RFC 3264 hold) for a=inactive or a=sendonly."""
    hold = 0
    for line in lines:
        mode = line[:10].lower()
        if mode in ("a=inactive", "a=sendonly"):
            hold = 2
        elif mode not in ("a=sendrecv", "a=recvonly"):
            continue
        if first_only:
            break
    return hold


def _is_trickle(line: str) -> bool:
    if line[:14].lower() != "a=ice-options:":
        return False
    return "trickle" in line[14:].split()
