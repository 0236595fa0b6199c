"""fix_nated_sdp(): the SDP changes of Kamailio's ki_fix_nated_sdp_ip, as text edits of the body.

The edits are made where Kamailio puts its lumps: `a=direction:active` at the end of each media
description, the nortpproxy line and each `a=oldmediaip:` at the end of the SDP (before its final
line end), addresses replaced in place; several at one place keep the order they were made in.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kampy.api import SdpAddress

ADD_ADIRECTION, FIX_MEDIP, ADD_ANORTPPROXY, FIX_ORGIP = 0x01, 0x02, 0x04, 0x08
ADIRECTION = "a=direction:active"


class SdpFixError(ValueError):
    """The SDP cannot be changed as asked (Kamailio logs it and the function returns -1)."""


@dataclass
class Edits:
    """Edits of the body text (start, end, new text), in the order they were made."""

    items: list[tuple[int, int, str]] = field(default_factory=list)
    replaced: int = 0

    def add(self, start: int, end: int, text: str) -> None:
        self.items.append((start, end, text))


def _line_at(text: str, start: int, end: int, head: str) -> int:
    """The next line of text[start:end] beginning with `head` (the body's first line counts)."""
    pos = start
    while True:
        at = text.find(head, pos, end)
        if at < 0:
            return -1
        if at == 0 or text[at - 1] in "\r\n":
            return at
        pos = at + len(head)


def media_ip(text: str, at: int, end: int, head: str) -> SdpAddress | None:
    """nh_extract_mediaip: the address after the `IP4`/`IP6` token of the line at `at`."""
    line_end = at + len(head)
    while line_end < end and text[line_end] not in "\r\n":
        line_end += 1
    pos = at + len(head)
    family = None
    while pos < line_end:
        while pos < line_end and text[pos] in " \t":
            pos += 1
        tok_end = pos
        while tok_end < line_end and text[tok_end] not in " \t":
            tok_end += 1
        if tok_end == pos:
            break
        token = text[pos:tok_end]
        if family is not None:
            return SdpAddress(token, pos, tok_end, family)
        if len(token) == 3 and token[:2] == "IP" and token[2] in "46":
            family = "IP" + token[2]
        pos = tok_end
    return None


def replace_ips(text: str, start: int, end: int, head: str, newip: str, preserve: bool,
                can_omit: bool, edits: Edits) -> None:
    """replace_sdp_ip: every `head` line's address becomes `newip` (not a null address or one that
    is `newip` already), with `a=oldmediaip[6]:<old>` added at the end of the SDP when `preserve`."""
    pos, family = start, None
    while True:
        at = _line_at(text, pos, end, head)
        if at < 0:
            return
        found = media_ip(text, at, end, head)
        if found is None:
            if can_omit:
                pos = at + len(head)
                continue
            raise SdpFixError(f"no `IP[4|6]' in `{head}' field")
        if family is None:
            family = found.family
        elif family != found.family:
            raise SdpFixError(f"mismatching address families in '{head}' SDP")
        pos = found.end
        if found.is_null or found.text == newip:
            continue
        if preserve:
            name = "a=oldmediaip6:" if found.family == "IP6" else "a=oldmediaip:"
            edits.add(end, end, "\r\n" + name + found.text)
        edits.add(found.start, found.end, newip)
        edits.replaced += 1


def fix_sdp(text: str, start: int, end: int, level: int, newip: str, nortpproxy: str,
            preserve: bool) -> Edits:
    """The edits fix_nated_sdp(level) makes to the SDP in text[start:end]."""
    edits = Edits()
    if level & ADD_ADIRECTION:
        m_at = text.find("\r\nm=", start, end)
        while m_at >= 0:
            following = text.find("\r\nm=", m_at + 4, end)
            edits.add(following if following >= 0 else end, following if following >= 0 else end,
                      "\r\n" + ADIRECTION)
            m_at = following
    if level & ADD_ANORTPPROXY and nortpproxy:
        edits.add(end, end, "\r\n" + nortpproxy)
    if level & (FIX_MEDIP | FIX_ORGIP):
        replace_ips(text, start, end, "a=rtcp", newip, preserve, True, edits)
        if level & FIX_MEDIP:
            replace_ips(text, start, end, "c=", newip, preserve, False, edits)
        if level & FIX_ORGIP:
            replace_ips(text, start, end, "o=", newip, preserve, False, edits)
    return edits
