"""SDP as Kamailio's core parser sees it (src/core/parser/sdp), with the byte positions of what the
NAT and media-relay modules rewrite.

* `sdp_span(body, content_type)` is Kamailio's extract_body(): where the SDP is in a message body
  (the whole body, or the application/sdp part of a multipart/mixed one), trailing line ends left
  out; None when there is none.
* `parse_sdp(text)` splits the SDP into sessions (each begins with a `v=` line) and each session
  into streams (each begins with an `m=` line). Positions are offsets into `text`, which is the
  body decoded as Latin-1, so they are byte offsets too. A session without `o=` or `m=`, or a
  stream without a connection address (its own `c=` or its session's), makes the SDP unparsable
  (`SdpError`), as in Kamailio.
* `replace_spans(text, edits)` applies (start, end, new) edits, the way Kamailio's lumps do.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# transports whose streams carry RTP (sup_ptypes of sdp_helpr_funcs.c)
_TRANSPORTS = {"rtp/avp": True, "udptl": False, "rtp/avpf": True, "rtp/savp": True, "rtp/savpf": True,
               "udp": False, "udp/bfcp": False}
_LINE = re.compile(r"[^\r\n]*")


class SdpError(ValueError):
    """The SDP cannot be parsed (Kamailio's parse_sdp() failing)."""


@dataclass
class Address:
    """An address of a `c=` or `o=` line: the text and where it is, and its family ("IP4"/"IP6")."""

    text: str
    start: int
    end: int
    family: str

    @property
    def is_null(self) -> bool:
        """0.0.0.0, or an IPv6 address of zeros (Kamailio's isnulladdr)."""
        if self.family == "IP6":
            return all(c in "0:" for c in self.text)
        return self.text == "0.0.0.0"


@dataclass
class SdpStream:
    """One media description (`m=` line and what follows it)."""

    start: int                  # where its m= line begins
    end: int                    # where the next m= line (or the session) begins
    media: str
    port: str
    port_start: int
    transport: str
    payloads: str
    is_rtp: bool
    address: Address | None = None  # its own c= line
    rtcp_port: str | None = None     # the value of a=rtcp:, as written
    rtcp_start: int = -1
    candidates: list[int] = field(default_factory=list)  # where each a=candidate: line begins
    remote_candidates: bool = False


@dataclass
class SdpSession:
    start: int
    end: int
    origin: Address                 # the o= line's address
    address: Address | None         # the session-level c= line
    streams: list[SdpStream] = field(default_factory=list)


@dataclass
class Sdp:
    text: str
    sessions: list[SdpSession]

    @property
    def streams(self) -> list[tuple[SdpSession, SdpStream]]:
        return [(s, m) for s in self.sessions for m in s.streams]


def find_line(text: str, start: int, end: int, kind: str) -> int:
    """Where the first line beginning `kind=` starts in text[start:end], or -1 (find_sdp_line: a
    match counts only at the start of a line; the body's first line counts)."""
    head = kind + "="
    pos = start
    while True:
        at = text.find(head, pos, end)
        if at < 0:
            return -1
        if at == 0 or text[at - 1] in "\r\n":
            return at
        pos = at + 2


def line_end(text: str, start: int) -> int:
    """The end of the line that starts at `start` (before its CR/LF)."""
    return _LINE.match(text, start).end()  # type: ignore[union-attr]


def _address(text: str, at: int, what: str) -> Address:
    """The address of the `c=`/`o=` line at `at` (extract_mediaip: the token after ` IP4`/` IP6`)."""
    end = line_end(text, at)
    line = text[at + 2:end]
    stripped = line.rstrip(" \t")
    ip = stripped.rfind(" IP")
    if ip < 0 or ip + 4 > len(stripped):
        raise SdpError(f"no `IP[4|6]' in `{what}' field")
    family = stripped[ip + 1:ip + 4]
    if family not in ("IP4", "IP6"):
        raise SdpError(f"invalid addrtype IPx for `{what}' line")
    rest = ip + 4
    while rest < len(stripped) and stripped[rest] in " \t":
        rest += 1
    token_end = rest
    while token_end < len(stripped) and stripped[token_end] not in " \t":
        token_end += 1
    if token_end == rest:
        raise SdpError(f"no `IP[4|6]' address in `{what}' field")
    start = at + 2 + rest
    return Address(text[start:at + 2 + token_end], start, at + 2 + token_end, family)


def _stream(text: str, session_c: Address | None, m_at: int, m_end: int) -> SdpStream:
    line = text[m_at + 2:line_end(text, m_at)]
    parts = line.split(" ", 3)
    if len(parts) < 3:
        raise SdpError("can't extract media attr from the message")
    media, port, transport = parts[0], parts[1], parts[2]
    payloads = parts[3].strip() if len(parts) > 3 else ""
    port_text = port.split("/", 1)[0]
    stream = SdpStream(m_at, m_end, media, port_text, m_at + 2 + len(media) + 1, transport, payloads,
                       _TRANSPORTS.get(transport.lower(), False))
    c_at = find_line(text, m_at, m_end, "c")
    if c_at >= 0:
        stream.address = _address(text, c_at, "c=")
    elif session_c is None:
        raise SdpError("can't find media IP in the message")
    pos = find_line(text, m_at, m_end, "a")
    while pos >= 0:
        end = line_end(text, pos)
        value = text[pos:end]
        if value.startswith("a=rtcp:"):
            raw = text[pos + 7:end]
            lead = len(raw) - len(raw.lstrip(" \t"))
            stream.rtcp_port = raw.strip(" \t")
            stream.rtcp_start = pos + 7 + lead
        elif value.lower().startswith("a=candidate:") and payloads:
            stream.candidates.append(pos)
        elif value.startswith("a:remote-candidates:") and payloads:
            stream.remote_candidates = True
        pos = find_line(text, pos + 2, m_end, "a")
    return stream


def _session(text: str, start: int, end: int) -> SdpSession:
    o_at = find_line(text, start, end, "o")
    if o_at < 0:
        raise SdpError("no o= in session")
    m_at = find_line(text, o_at, end, "m")
    if m_at < 0:
        raise SdpError("no m= in session")
    origin = _address(text, o_at, "o=")
    c_at = find_line(text, o_at, m_at, "c")
    address = _address(text, c_at, "c=") if c_at >= 0 else None
    session = SdpSession(start, end, origin, address)
    while m_at >= 0:
        following = find_line(text, m_at + 2, end, "m")
        m_end = following if following >= 0 else end
        session.streams.append(_stream(text, address, m_at, m_end))
        m_at = following
    return session


def parse_sdp(text: str) -> Sdp:
    """The sessions and streams of an SDP (the body decoded as Latin-1); SdpError when Kamailio's
    parser would fail."""
    v_at = find_line(text, 0, len(text), "v")
    if v_at < 0:
        raise SdpError("no sessions in SDP")
    sessions = []
    while v_at >= 0:
        following = find_line(text, v_at + 2, len(text), "v")
        end = following if following >= 0 else len(text)
        sessions.append(_session(text, v_at, end))
        v_at = following
    return Sdp(text, sessions)


def message_sdp(body: bytes, content_type: str | None) -> tuple[int, Sdp | None]:
    """Kamailio's parse_sdp(msg): (1, None) for an empty body, (-1, None) when there is no SDP to
    parse (no or another Content-Type) or it does not parse, (0, sdp) otherwise."""
    if not body:
        return 1, None
    lower = (content_type or "").strip().lower()
    if not (lower.startswith("multipart/mixed") or re.match(r"application\s*/\s*sdp(?:$|[;\s])", lower)):
        return -1, None
    span = sdp_span(body, content_type)
    if span is None:
        return -1, None
    try:
        return 0, parse_sdp(body[span[0]:span[1]].decode("latin-1"))
    except SdpError:
        return -1, None


def sdp_span(body: bytes, content_type: str | None) -> tuple[int, int] | None:
    """Where the SDP is in `body` as Kamailio's extract_body() finds it, without trailing line
    ends: the whole body when the Content-Type is application/sdp (or absent), the application/sdp
    part of a multipart/mixed body; None when there is none or the body is empty."""
    if not body:
        return None
    ctype = (content_type or "").strip()
    lower = ctype.lower()
    if lower.startswith("multipart/mixed"):
        found = _multipart_sdp(body, ctype)
        if found is None:
            return None
        start, end = found
    elif not ctype or re.match(r"application\s*/\s*sdp(?:$|[;\s])", lower):
        start, end = 0, len(body)
    else:
        return None
    while end > start and body[end - 1:end] in (b"\r", b"\n"):
        end -= 1
    return (start, end) if end > start else None


def _multipart_sdp(body: bytes, ctype: str) -> tuple[int, int] | None:
    m = re.search(r';\s*boundary\s*=\s*"?([^";]+)"?', ctype, re.I)
    if m is None:
        return None
    delimiter = b"--" + m.group(1).strip().encode("latin-1")
    parts = [i.start() for i in re.finditer(re.escape(delimiter), body)
             if i.start() == 0 or body[i.start() - 1:i.start()] in (b"\r", b"\n")]
    for here, following in zip(parts, parts[1:] + [len(body)], strict=True):
        head_start = body.find(b"\n", here) + 1
        if head_start <= 0 or head_start >= following:
            continue
        head_end = _part_head_end(body, head_start, following)
        if head_end is None:
            continue
        headers, content = head_end
        if re.search(rb"(?im)^content-type\s*:\s*application\s*/\s*sdp\b", body[head_start:headers]):
            return content, following
    return None


def _part_head_end(body: bytes, start: int, end: int) -> tuple[int, int] | None:
    """(end of a part's headers, start of its content)."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = body.find(sep, start - 2 if start >= 2 else 0, end)
        if at >= 0:
            return at, at + len(sep)
    return None


def replace_spans(text: str, edits: Iterable[tuple[int, int, str]]) -> str:
    """`text` with each (start, end, new) edit made; edits that overlap an earlier one are dropped,
    as Kamailio drops overlapping lumps."""
    out, pos = [], 0
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < pos:
            continue
        out += [text[pos:start], new]
        pos = end
    out.append(text[pos:])
    return "".join(out)
