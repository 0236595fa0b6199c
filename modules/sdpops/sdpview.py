"""The SDP as sdpops sees it: Kamailio's parse_sdp() result with the byte positions sdpops deletes at.

kampy's core parser (`parse_sdp`) gives the sessions and streams; this adds what sdpops reads from
them: where the payload list of each `m=` line is, the `a=rtpmap` encodings of its payloads, its
direction attribute, and the `o=` line's sess-version. Positions are offsets into the message body
(decoded as Latin-1), as Kamailio's lumps are offsets into the message.

The string helpers are Kamailio's own (str_find_token, sdp_codec_in_str, find_sdp_line,
sdp_locate_line), character for character: their quirks decide which codecs a list names.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from kampy.api import Message, SdpError, message_sdp, parse_sdp, sdp_span

_M_LINE = re.compile(r"m=([^ \t\r\n]*)[ \t]*([^ \t\r\n]*)[ \t]*([^ \t\r\n]*)[ \t]*")
_RTPMAP = re.compile(r"a=rtpmap:", re.I)
_DIRECTIONS = ("a=sendrecv", "a=recvonly", "a=inactive", "a=sendonly")


@dataclass
class Stream:
    media: str
    port: str
    transport: str
    payloads: str
    payloads_at: int                 # where the payload list starts in the body
    start: int                       # the m= line (Kamailio's raw_stream)
    end: int
    sendrecv_mode: str = ""          # the last a=sendrecv|recvonly|inactive|sendonly, without `a=`
    rtpmap: dict[str, str] = field(default_factory=dict)  # payload -> encoding (its last a=rtpmap)


@dataclass
class Session:
    family: int                      # 4 or 6 from the session c= line, 0 without one
    sess_version: str
    sess_version_at: int
    streams: list[Stream]


@dataclass
class SdpView:
    text: str                        # the whole body, Latin-1
    raw_start: int                   # Kamailio's raw_sdp: where the SDP starts and ends
    raw_end: int
    sessions: list[Session]

    @property
    def streams(self) -> list[Stream]:
        return [s for session in self.sessions for s in session.streams]

    @property
    def raw(self) -> str:
        return self.text[self.raw_start:self.raw_end]


def message_view(msg: Message, body: bytes | None = None) -> tuple[int, SdpView | None]:
    """Kamailio's parse_sdp(msg) for sdpops: (1, None) for an empty body, (-1, None) when there is
    no SDP or it does not parse, (0, view) otherwise. `body` replaces the message's own."""
    data = msg.body if body is None else body
    ctype = msg.header("content-type")
    code, _ = message_sdp(data, ctype)
    if code != 0:
        return code, None
    span = sdp_span(data, ctype)
    if span is None:
        return -1, None
    text = data.decode("latin-1")
    start, end = span
    if (ctype or "").strip().lower().startswith("multipart"):
        while end < len(text) and text[end] in "\r\n":
            end += 1
    else:
        start, end = 0, len(text)  # application/sdp: the whole body is the SDP
    try:
        return 0, _view(text, start, end)
    except SdpError:
        return -1, None


def _view(text: str, start: int, end: int) -> SdpView:
    sdp = parse_sdp(text[start:end])
    sessions = []
    for session in sdp.sessions:
        o_at = start + _line_start(sdp.text, session.origin.start)
        version, version_at = _sess_version(text, o_at)
        family = {"IP4": 4, "IP6": 6}.get(session.address.family, 0) if session.address else 0
        streams = [_stream(text, start + m.start, start + m.end) for m in session.streams]
        sessions.append(Session(family, version, version_at, streams))
    return SdpView(text, start, end, sessions)


def _line_start(text: str, pos: int) -> int:
    return max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1


def _sess_version(text: str, o_at: int) -> tuple[str, int]:
    """extract_sess_version: the third field of the o= line, fields split at single spaces."""
    line_end = _eol(text, o_at)
    if line_end - o_at + 2 < 15:
        raise SdpError("invalid o -line")
    pos = o_at + 2
    for _ in range(2):
        space = text.find(" ", pos, line_end)
        if space < 0:
            break
        pos = space + 1
    space = text.find(" ", pos, line_end)
    return text[pos:space if space >= 0 else line_end], pos


def _eol(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] not in "\r\n":
        pos += 1
    return pos


def _stream(text: str, start: int, end: int) -> Stream:
    line_end = _eol(text, start)
    while line_end > start and text[line_end - 1] in " \t":
        line_end -= 1
    m = _M_LINE.match(text, start, line_end)
    assert m is not None  # the core parser accepted this m= line
    stream = Stream(m.group(1), m.group(2), m.group(3), text[m.end():line_end], m.end(), start, end)
    if not stream.payloads:
        return stream  # Kamailio parses no payload attributes then
    ids = stream.payloads.split()
    pos = find_sdp_line(text, start, end, "a")
    while pos >= 0:
        head = text[pos:pos + 10].lower()
        if head in _DIRECTIONS:
            stream.sendrecv_mode = text[pos + 2:pos + 10]
        elif _RTPMAP.match(text, pos):
            entry = _rtpmap(text[pos + 9:_eol(text, pos)])
            if entry is not None and entry[0] in ids:
                stream.rtpmap[entry[0]] = entry[1]
        pos = find_sdp_line(text, pos + 2, end, "a")
    return stream


def _rtpmap(value: str) -> tuple[str, str] | None:
    """extract_rtpmap: `<payload> <encoding>/<clock>...`; None without the `/`."""
    value = value.strip(" \t")
    payload = re.match(r"[^ \t\r\n]*", value).group()  # type: ignore[union-attr]
    rest = value[len(payload):].lstrip(" \t")
    if not payload or not rest or rest == value[len(payload):] or "/" not in rest:
        return None
    return payload, rest[:rest.index("/")]


# ------------------------------------------------------------------ Kamailio's string helpers

def find_sdp_line(text: str, start: int, end: int, char: str) -> int:
    """find_sdp_line: the next `<char>=` at the start of a line in text[start:end], or -1."""
    head = char + "="
    pos = start
    while pos < end:
        at = text.find(head, pos, end)
        if at < 0:
            return -1
        if at > 0 and text[at - 1] in "\r\n":
            return at
        if end - at < 2:
            return -1
        pos = at + 2
    return -1


def locate_line(text: str, pos: int) -> tuple[int, int]:
    """sdp_locate_line: the line around `pos`, its `\\n` included (start, end)."""
    start = text.rfind("\n", 0, pos) + 1
    nl = text.find("\n", pos)
    return start, (nl + 1 if nl >= 0 else len(text))


def find_token(text: str, pos: int, end: int, delim: str) -> tuple[int, int, int]:
    """str_find_token on text[pos:end]: (token start, token end, where the rest begins). Past `end`
    the C string holds its terminating zero, which ends every token."""
    if pos < end and text[pos] == delim:
        pos += 1
    while pos < end and text[pos] in " \t\r\n":
        pos += 1
    tok = pos
    while tok < end and text[tok] not in (delim, "\0", "\r", "\n"):
        tok += 1
    return pos, tok, tok


def tokens(text: str, delim: str) -> list[str]:
    """Every token str_find_token gives, until an empty one."""
    found, pos = [], 0
    while True:
        start, stop, pos = find_token(text, pos, len(text), delim)
        if stop == start:
            return found
        found.append(text[start:stop])


def codec_in_str(allcodecs: str, codec: str, delim: str) -> bool:
    """sdp_codec_in_str: `codec` is one of the `delim`-separated items of `allcodecs`."""
    if not allcodecs or not codec:
        return False
    n = len(codec)
    compare = True
    for i, c in enumerate(allcodecs):
        if compare and n <= len(allcodecs) - i and allcodecs.startswith(codec, i):
            if i + n == len(allcodecs) or allcodecs[i + n] == delim:
                return True
        compare = c == delim
    return False


def codec_position(payloads: str, codec: str) -> int:
    """sdp_remove_str_codec_id: where `codec` is among the space-separated payloads, or -1."""
    n = len(codec)
    compare = True
    for i, c in enumerate(payloads):
        if compare and n <= len(payloads) - i and payloads.startswith(codec, i):
            if i + n == len(payloads) or payloads[i + n] == " ":
                return i
        compare = c == " "
    return -1


# The static table of sdpops_data.c. Its lengths are Kamailio's: "CN" is copied with 5 bytes, so
# its id is followed by three zero bytes in the list, which end the list there.
CODEC_IDS = {"PCMU": "0", "GSM": "3", "G723": "4", "DVI4": "5,6,16,17", "LPC": "7", "PCMA": "8",
             "G722": "9", "L16": "10,11", "QCELP": "12", "CN": "13\0\0\0", "MPA": "14", "G728": "15",
             "G729": "18"}
_MAX_LIST = 128
_MAX_IDS = 16


def ids_list(view: SdpView, names: str) -> str | None:
    """sdpops_build_ids_list: the ids of the codec names (the static table first, else the
    a=rtpmap lines of the SDP), comma-separated; None when there are none or too many."""
    parts: list[str] = []
    size = 0
    for name in tokens(names, ","):
        fixed = next((ids for key, ids in CODEC_IDS.items() if key.lower() == name.lower()), None)
        if fixed is not None:
            found = [fixed]
        else:
            found = [pt for s in view.streams for pt, enc in s.rtpmap.items() if enc.lower() == name.lower()]
            if len(found) > _MAX_IDS:
                found = []
        for ident in found:
            if size + len(ident) >= _MAX_LIST:
                return None
            parts.append(ident)
            size += len(ident) + 1
    return ",".join(parts) if parts else None
