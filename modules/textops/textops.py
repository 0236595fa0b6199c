"""textops: search, replace and header/body edits of the current message (Kamailio's textops)."""
from __future__ import annotations

import logging
import re
import time
from functools import lru_cache
from typing import Any

from kampy.api import REGEX_FLAGS, MessageContext, Module, Request, as_bytes

from .bodyparts import BodyParts
from .matching import Matching
from .transforms import re_subst_transform
from .edits import (
    apply_spans,
    apply_spans_to_message,
    canonical,
    current_body,
    dec,
    edit_text,
    edit_view,
    header_block_span,
    header_lines,
    message_text,
    split_header_text,
)

CRLF = "\r\n"

log = logging.getLogger("kampy.textops")


_METHOD_IDS = {"INVITE", "CANCEL", "ACK", "BYE", "INFO", "REGISTER", "SUBSCRIBE", "NOTIFY", "MESSAGE",
               "OPTIONS", "PRACK", "UPDATE", "REFER", "PUBLISH", "KDMQ", "GET", "POST", "PUT", "DELETE"}


_BACKREF = re.compile(r"\\(\d|\\)")


class SubstExpr:
    """A sed-like `/re/repl/flags` expression (Kamailio's subst_parser): flags i, g, s."""

    def __init__(self, text: str) -> None:
        if len(text) < 4:
            raise ValueError(f"subst expression too short: {text!r}")
        sep = text[0]
        parts = _split_unescaped(text[1:], sep)
        if len(parts) != 3:
            raise ValueError(f"bad subst expression {text!r}")
        regex, self.repl, flags = parts
        cflags = re.MULTILINE
        for f in flags:
            if f == "i":
                cflags |= re.IGNORECASE
            elif f == "s":
                cflags = (cflags & ~re.MULTILINE) | re.DOTALL
            elif f != "g":
                raise ValueError(f"unknown subst flag {f!r} in {text!r}")
        self.regex = re.compile(regex.replace("\\" + sep, sep), cflags)
        self.repl = self.repl.replace("\\" + sep, sep)
        self.all = "g" in flags

    def expand(self, m: re.Match[str]) -> str:
        def group(g: re.Match[str]) -> str:
            return "\\" if g.group(1) == "\\" else (m.group(int(g.group(1))) or "")
        return _BACKREF.sub(group, self.repl)

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        matches = self.regex.finditer(text) if self.all else filter(None, [self.regex.search(text)])
        return [(m.start(), m.end(), self.expand(m)) for m in matches]

    def sub(self, text: str) -> str | None:
        spans = self.spans(text)
        return apply_spans(text, spans) if spans else None


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, cur, i = [], "", 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur += text[i:i + 2]
            i += 2
            continue
        if ch == sep:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    if cur:
        parts.append(cur)
    elif text.endswith(sep):
        parts.append("")
    return parts


@lru_cache(maxsize=512)
def subst_expr(text: str) -> SubstExpr:
    return SubstExpr(text)


@lru_cache(maxsize=512)
def _regex(text: str) -> re.Pattern[str]:
    """A regex given as a string at run time (the *_pv variants), with the flags of the fixups."""
    return re.compile(text, REGEX_FLAGS)


def _text_of(value: Any) -> str:
    return "" if value is None else str(value)


class TextopsModule(BodyParts, Matching, Module):

    def tr_re(self, tr: Any) -> Any:
        """The `{re.subst,...}` transformation (modules/textops/transforms.py)."""
        return re_subst_transform(tr, self.core.pv_accessor)

    # ------------------------------------------------------------ search
    def search(self, ctx: MessageContext, regex: re.Pattern[str]) -> int:
        return 1 if regex.search(message_text(ctx.msg)) else -1

    def search_body(self, ctx: MessageContext, regex: re.Pattern[str]) -> int:
        body = ctx.msg.body
        return 1 if body and regex.search(dec(body)) else -1

    def search_hf(self, ctx: MessageContext, hf: str, regex: str, flags: str) -> int:
        """Search the value of header `hf` (flags: a = all, f = first, l = last)."""
        wanted = canonical(hf)
        values = [raw.partition(":")[2].strip() for name, raw in header_lines(ctx.msg) if name == wanted]
        if flags == "f":
            values = values[:1]
        elif flags == "l":
            values = values[-1:]
        pattern = _regex(regex)
        return 1 if any(pattern.search(v) for v in values) else -1

    def search_str(self, ctx: MessageContext, text: str, regex: str) -> int:
        return 1 if re.search(regex, text) else -1

    # ------------------------------------------------------------ edits of the whole message
    def _edit(self, ctx: MessageContext, spans: list[tuple[int, int, str]]) -> int:
        """Apply spans found in edit_text(ctx.msg) (the message with this pass's edits so far)."""
        if not spans:
            return -1
        return 1 if apply_spans_to_message(ctx, spans) else -1

    def search_append(self, ctx: MessageContext, regex: re.Pattern[str], txt: str) -> int:
        m = regex.search(edit_text(ctx.msg))
        return self._edit(ctx, [(m.end(), m.end(), txt)] if m else [])

    def replace(self, ctx: MessageContext, regex: re.Pattern[str], txt: str) -> int:
        m = regex.search(edit_text(ctx.msg))
        return self._edit(ctx, [(m.start(), m.end(), txt)] if m else [])

    def replace_all(self, ctx: MessageContext, regex: re.Pattern[str], txt: str) -> int:
        text = edit_text(ctx.msg)
        spans = [(m.start(), m.end(), txt) for m in regex.finditer(text) if m.end() > m.start()]
        return self._edit(ctx, spans)

    def replace_hdrs(self, ctx: MessageContext, regex: re.Pattern[str], txt: str) -> int:
        start, end = header_block_span(ctx.msg)
        m = regex.search(edit_text(ctx.msg), start, end)
        return self._edit(ctx, [(m.start(), m.end(), txt)] if m else [])

    def replace_str(self, ctx: MessageContext, match: str, repl: str, mode: str) -> int:
        return self._replace_str(ctx, match, repl, mode, 0, None)

    def replace_hdrs_str(self, ctx: MessageContext, match: str, repl: str, mode: str) -> int:
        start, end = header_block_span(ctx.msg)
        return self._replace_str(ctx, match, repl, mode, start, end)

    def _replace_str(self, ctx: MessageContext, match: str, repl: str, mode: str,
                     start: int, end: int | None) -> int:
        if not match:
            return -1
        text = edit_text(ctx.msg)
        limit = len(text) if end is None else end
        spans, pos = [], text.find(match, start, limit)
        while pos >= 0:
            spans.append((pos, pos + len(match), repl))
            if mode.lower() != "a":
                break
            pos = text.find(match, pos + len(match), limit)
        return self._edit(ctx, spans)

    @staticmethod
    def fix_subst(expr: str) -> SubstExpr:
        """The fix-up of a `/re/repl/flags` argument (Kamailio's fixup_substre): parsed once."""
        try:
            return subst_expr(expr)
        except (ValueError, re.error) as exc:
            raise ValueError(f"bad substitution: {exc}") from None

    def subst(self, ctx: MessageContext, se: SubstExpr) -> int:
        return self._edit(ctx, se.spans(edit_text(ctx.msg)))

    # ------------------------------------------------------------ body
    def _set_body_text(self, ctx: MessageContext, body: str | None) -> int:
        if body is None:
            return -1
        ctx.msg.set_body(as_bytes(body))
        return 1

    def _body_text(self, ctx: MessageContext) -> str:
        return dec(current_body(ctx.msg))

    def search_append_body(self, ctx: MessageContext, regex: re.Pattern[str], txt: str) -> int:
        body = self._body_text(ctx)
        m = regex.search(body)
        return self._set_body_text(ctx, body[:m.end()] + txt + body[m.end():] if m else None)

    def replace_body(self, ctx: MessageContext, regex: re.Pattern[str], txt: str) -> int:
        body = self._body_text(ctx)
        m = regex.search(body)
        return self._set_body_text(ctx, body[:m.start()] + txt + body[m.end():] if m else None)

    def replace_body_all(self, ctx: MessageContext, regex: re.Pattern[str], txt: str) -> int:
        body = self._body_text(ctx)
        spans = [(m.start(), m.end(), txt) for m in regex.finditer(body) if m.end() > m.start()]
        return self._set_body_text(ctx, apply_spans(body, spans) if spans else None)

    def replace_body_atonce(self, ctx: MessageContext, regex: re.Pattern[str], txt: str) -> int:
        body = self._body_text(ctx)
        spans = [(m.start(), m.end(), txt) for m in regex.finditer(body) if m.end() > m.start()]
        return self._set_body_text(ctx, apply_spans(body, spans) if spans else None)

    def replace_body_str(self, ctx: MessageContext, match: str, repl: str, mode: str) -> int:
        body = self._body_text(ctx)
        if not match or match not in body:
            return -1
        count = -1 if mode.lower() == "a" else 1
        return self._set_body_text(ctx, body.replace(match, repl, count))

    def subst_body(self, ctx: MessageContext, se: SubstExpr) -> int:
        return self._set_body_text(ctx, se.sub(self._body_text(ctx)))

    def set_body(self, ctx: MessageContext, txt: str, content_type: str) -> int:
        if not txt:
            return -1
        ctx.msg.set_body(as_bytes(txt), content_type or None)
        return 1

    def set_reply_body(self, ctx: MessageContext, txt: str, content_type: str) -> int:
        if not txt or not content_type:
            return -1
        ctx.reply_lumps.append(f"Content-Type: {content_type}\r\n")
        ctx.reply_body = as_bytes(txt)
        return 1

    def has_body(self, ctx: MessageContext, mime: str = "") -> int:
        if not ctx.msg.body:
            return -1
        if not mime:
            return 1
        ctype = ctx.msg.content_type
        if ctype is None:
            return 1 if mime.lower() == "application/sdp" else -1
        return 1 if ctype.mime == mime.strip().lower() else -1

    # ------------------------------------------------------------ R-URI
    def subst_uri(self, ctx: MessageContext, se: SubstExpr) -> int:
        if not isinstance(ctx.msg, Request):
            return -1
        return self._set_ruri(ctx, se.sub(ctx.ruri))

    def subst_user(self, ctx: MessageContext, se: SubstExpr) -> int:
        if not isinstance(ctx.msg, Request):
            return -1
        uri = ctx.ruri
        scheme, colon, rest = uri.partition(":")
        userinfo, at, hostpart = rest.rpartition("@")
        user, _, password = userinfo.partition(":") if at else ("", "", "")
        new_user = se.sub(user)
        if new_user is None:
            return -1
        auth = new_user + (":" + password if password else "")
        return self._set_ruri(ctx, f"{scheme}{colon}{auth + '@' if auth else ''}{hostpart if at else rest}")

    def _set_ruri(self, ctx: MessageContext, uri: str | None) -> int:
        if uri is None:
            return -1
        try:
            ctx.msg.set_ruri(uri)  # type: ignore[union-attr]
        except ValueError as exc:
            log.error("invalid new R-URI: %s", exc)
            return -1
        ctx.new_ruri = uri
        return 1

    # ------------------------------------------------------------ headers
    def _add_headers(self, ctx: MessageContext, txt: str, *, first: bool) -> int:
        try:
            headers = split_header_text(txt)
        except ValueError as exc:
            log.error("invalid header text: %s", exc)
            return -1
        for name, value in (reversed(headers) if first else headers):
            try:
                ctx.msg.add_header(name, value, first=first)
            except ValueError as exc:
                log.error("invalid header: %s", exc)
                return -1
        return 1

    def append_hf(self, ctx: MessageContext, txt: str, hdr: str | None = None) -> int:
        """After the last `hdr` line when there is one (Kamailio's add_hf_helper), else at the end."""
        return self._add_at_anchor(ctx, txt, hdr, after=True)

    def insert_hf(self, ctx: MessageContext, txt: str, hdr: str | None = None) -> int:
        """Before the first `hdr` line when there is one, else before the first header."""
        return self._add_at_anchor(ctx, txt, hdr, after=False)

    def _add_at_anchor(self, ctx: MessageContext, txt: str, hdr: str | None, *, after: bool) -> int:
        if hdr is None or not ctx.msg.has_header(hdr):
            return self._add_headers(ctx, txt, first=not after)
        try:
            lines = CRLF.join(f"{name}: {value}" for name, value in split_header_text(txt))
            ctx.msg.insert_lines(hdr, -1 if after else 0, lines, after=after)
        except ValueError as exc:
            log.error("invalid header text: %s", exc)
            return -1
        return 1

    def append_urihf(self, ctx: MessageContext, prefix: str, suffix: str) -> int:
        if not isinstance(ctx.msg, Request):
            return -1
        return self._add_headers(ctx, prefix + ctx.ruri + suffix, first=False)

    def append_time_to_request(self, ctx: MessageContext) -> int:
        if ctx.msg.has_header("Date"):
            return -1
        return self._add_headers(ctx, self._date_header(), first=False)

    def append_time(self, ctx: MessageContext) -> int:
        ctx.reply_lumps.append(self._date_header())
        return 1

    def _date_header(self) -> str:
        return time.strftime("Date: %a, %d %b %Y %H:%M:%S GMT\r\n", time.gmtime(self.core.clock.time()))

    def append_to_reply(self, ctx: MessageContext, txt: str) -> int:
        if not txt:
            return -1
        ctx.reply_lumps.append(txt)
        return 1

    def _remove_where(self, ctx: MessageContext, match: Any) -> int:
        names = [n for n in dict.fromkeys(ctx.msg.header_names) if match(n)]
        count = sum(ctx.msg.remove_header(n) for n in names)
        return count if count else -1

    def remove_hf(self, ctx: MessageContext, hname: str) -> int:
        wanted = canonical(hname)
        return self._remove_where(ctx, lambda n: n == wanted)

    remove_hf_pv = remove_hf

    def remove_hf_idx(self, ctx: MessageContext, hname: str, idx: int) -> int:
        count = len(ctx.msg.headers_named(hname)) and len(ctx.msg.get_all_raw(hname))
        if not -count <= idx < count:
            return -1
        return ctx.msg.remove_header(hname, idx) or -1

    def _written_names(self, ctx: MessageContext) -> dict[str, str]:
        """canonical name -> the name as written in the message (regexes match the written one)."""
        out: dict[str, str] = {}
        for name, raw in header_lines(ctx.msg):
            out.setdefault(name, raw.partition(":")[0].strip())
        return out

    def remove_hf_re(self, ctx: MessageContext, regex: re.Pattern[str]) -> int:
        written = self._written_names(ctx)
        return self._remove_where(ctx, lambda n: bool(regex.search(written[n])))

    def remove_hf_re_pv(self, ctx: MessageContext, regex: str) -> int:
        return self.remove_hf_re(ctx, _regex(regex))

    def remove_hf_exp(self, ctx: MessageContext, match: re.Pattern[str], skip: re.Pattern[str]) -> int:
        written = self._written_names(ctx)
        return self._remove_where(
            ctx, lambda n: bool(match.search(written[n])) and not skip.search(written[n]))

    def remove_hf_exp_pv(self, ctx: MessageContext, match: str, skip: str) -> int:
        return self.remove_hf_exp(ctx, _regex(match), _regex(skip))

    def is_present_hf(self, ctx: MessageContext, name: str) -> int:
        return 1 if ctx.msg.has_header(name) else -1

    is_present_hf_pv = is_present_hf

    def is_present_hf_re(self, ctx: MessageContext, regex: re.Pattern[str]) -> int:
        return 1 if any(regex.search(n) for n in self._written_names(ctx).values()) else -1

    def is_present_hf_re_pv(self, ctx: MessageContext, regex: str) -> int:
        return self.is_present_hf_re(ctx, _regex(regex))

    def subst_hf(self, ctx: MessageContext, hf: str, expr: str, flags: str) -> int:
        """subst on the values of header `hf` (flags: a = all, f = first, l = last)."""
        try:
            se = subst_expr(expr)
        except (ValueError, re.error) as exc:
            log.error("subst_hf: %s", exc)
            return -1
        text, slots = edit_view(ctx.msg)
        wanted = canonical(hf)
        lines = [slot for slot in slots if slot.kind == "header" and slot.name == wanted]
        chosen = lines[:1] if flags == "f" else lines[-1:] if flags == "l" else lines
        spans = []
        for slot in chosen:
            name, colon, value = text[slot.start:slot.end - 2].partition(":")
            base = slot.start + len(name) + len(colon)
            spans += [(base + s, base + e, r) for s, e, r in se.spans(value)]
        return self._edit(ctx, spans)

    # ------------------------------------------------------------ methods and strings
    def is_method(self, ctx: MessageContext, names: str) -> int:
        msg = ctx.msg
        if isinstance(msg, Request):
            method = msg.method
        else:
            cseq = msg.cseq
            if cseq is None:
                return -1
            method = cseq.method
        wanted = [n.strip() for n in names.split("|") if n.strip()]
        for name in wanted:
            # known methods compare without case (Kamailio maps them to ids), others exactly
            if name.upper() in _METHOD_IDS and method.upper() == name.upper() or name == method:
                return 1
        return -1

    def in_list(self, ctx: MessageContext, subject: str, items: str, sep: str) -> int:
        if len(sep) != 1:
            log.error("in_list: separator must be one character")
            return -1
        return 1 if subject in (s.strip() for s in items.split(sep)) else -1

    def in_list_prefix(self, ctx: MessageContext, subject: str, items: str, sep: str) -> int:
        if len(sep) != 1:
            log.error("in_list_prefix: separator must be one character")
            return -1
        prefixes = [s.strip() for s in items.split(sep) if s.strip()]
        return 1 if any(subject.startswith(p) for p in prefixes) else -1

    def cmp_str(self, ctx: MessageContext, s1: str, s2: str) -> int:
        return 1 if s1 == s2 else (-1 if s1 > s2 else -2)

    def cmp_istr(self, ctx: MessageContext, s1: str, s2: str) -> int:
        return self.cmp_str(ctx, s1.lower(), s2.lower())

    def starts_with(self, ctx: MessageContext, s1: str, s2: str) -> int:
        if len(s1) < len(s2):
            return -1
        head = s1[:len(s2)]
        return 1 if head == s2 else (-1 if head > s2 else -2)

    def ends_with(self, ctx: MessageContext, s1: str, s2: str) -> int:
        if len(s1) < len(s2):
            return -1
        tail = s1[len(s1) - len(s2):]
        return 1 if tail == s2 else (-1 if tail > s2 else -2)

    def str_find(self, ctx: MessageContext, txt: str, needle: str) -> int:
        pos = txt.find(needle) if len(needle) <= len(txt) else -1
        return pos + 1 if pos >= 0 else -1

    def str_ifind(self, ctx: MessageContext, txt: str, needle: str) -> int:
        return self.str_find(ctx, txt.lower(), needle.lower())
