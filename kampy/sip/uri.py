"""SIP URIs and the structured header values built on them (RFC 3261 sections 19, 20, 25).

Everything here works on `str` (header bytes decoded as UTF-8 with surrogateescape, so any byte
survives a round trip). Escapes (`%41`) are kept as written. Malformed input raises
`SIPProtocolError` with `can_reply=False`; `kampy.sip.message` re-raises it with the right
`can_reply` for the message it came from.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, MutableMapping
from datetime import UTC, datetime
from typing import NamedTuple

from kampy.sip.errors import SIPProtocolError

__all__ = [
    "URI", "Params", "NameAddr", "Via", "CSeq", "ContentType", "ContactList",
    "parse_uri", "parse_name_addr", "parse_via", "parse_vias", "parse_cseq", "parse_max_forwards",
    "parse_expires", "parse_contacts", "parse_content_type", "parse_allow", "parse_date",
    "parse_params", "split_list",
]

TOKEN = r"[A-Za-z0-9.!%*_+`'~\-]+"
QUOTED = r'"(?:[^"\\]|\\.)*"'
MAX_CSEQ = 2**31 - 1
MAX_DELTA = 2**32 - 1

_SIP_URI = re.compile(
    r"(?:(?P<userinfo>[^@]*)@)?"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._\-]+)"
    r"(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<params>;[^?]*)?"
    r"(?:\?(?P<headers>.*))?",
    re.S,
)
# `_SIP_URI` after the scheme, refusing what `_BAD_URI_CHARS` finds: the usual URI in one match
_SIP_URI_WITH_SCHEME = re.compile(
    r"([Ss][Ii][Pp][Ss]?):"
    r"(?:([^@\s<>\"]*)@)?"
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._\-]+)"
    r"(?::([0-9]{1,5}))?"
    r"(;[^?\s<>\"]*)?"
    r"(?:\?([^\s<>\"]*))?",
    re.S,
)
# A parameter as `_PARAM` reads it, in its plain form: without spaces, quotes or an empty value
_PLAIN_PARAM = r"(?:;" + TOKEN + r'(?:=[^\s;,"]+)?)'
_PLAIN_PARAMS = re.compile(_PLAIN_PARAM + "+")
# The usual name-addr, `<sip:...>` and plain parameters: the URI's groups, then the parameters
_PLAIN_NAME_ADDR = re.compile("<" + _SIP_URI_WITH_SCHEME.pattern + ">(" + _PLAIN_PARAM + "*)", re.S)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_BAD_URI_CHARS = re.compile(r'[\s<>"]')
_TOKEN_RE = re.compile(TOKEN)
_PARAM = re.compile(r"\s*;\s*(" + TOKEN + r")(?:\s*=\s*(" + QUOTED + r'|[^\s;,"]+))?\s*', re.S)
# The usual Via, `SIP/2.0/UDP host:port` and plain parameters, without spaces to skip
_PLAIN_VIA = re.compile(
    r"SIP/([0-9]+\.[0-9]+)/(" + TOKEN + r") (\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._\-]+)(?::([0-9]{1,5}))?"
    r"(" + _PLAIN_PARAM + "*)")
_QUOTED_RE = re.compile(QUOTED, re.S)
_DISPLAY_TOKENS = re.compile(TOKEN + r"(?:\s+" + TOKEN + r")*")
_UNESCAPE = re.compile(r"\\(.)", re.S)
_VIA = re.compile(
    r"\s*SIP\s*/\s*([0-9]+\.[0-9]+)\s*/\s*(" + TOKEN + r")\s+"
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._\-]+)(?:\s*:\s*([0-9]{1,5}))?\s*",
    re.I,
)
_CSEQ = re.compile(r"\s*([0-9]{1,10})\s+(" + TOKEN + r")\s*")
_DIGITS = re.compile(r"\s*([0-9]{1,12})\s*")
_CTYPE = re.compile(r"\s*(" + TOKEN + r")\s*/\s*(" + TOKEN + r")\s*")
_LIST_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|<[^>]*>?|,|[^,"<]+', re.S)
_DATE = re.compile(
    r"\s*(Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT\s*"
)
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


def _fail(what: str, text: str) -> SIPProtocolError:
    return SIPProtocolError(f"malformed {what}: {text[:80]!r}", can_reply=False)


class Params(MutableMapping[str, "str | None"]):
    """Ordered parameters with case-insensitive names; a flag parameter (`;lr`) has value None.

    Names keep the case they were written with; values are kept as written (quotes included).
    """

    __slots__ = ("_d",)

    def __init__(self, items: Iterable[tuple[str, str | None]] = ()) -> None:
        self._d: dict[str, tuple[str, str | None]] = {}
        for k, v in items:
            self[k] = v

    def __getitem__(self, key: str) -> str | None:
        return self._d[key.lower()][1]

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        # Mapping.get goes through __getitem__ and a caught KeyError: slow for the usual absent name.
        item = self._d.get(key.lower())
        return default if item is None else item[1]

    def body(self, key: str) -> str | None:
        """The value of `key` as Kamailio's parameter parser gives it: a quoted-string without its
        quotes (`+sip.instance="<urn:...>"` is `<urn:...>`), anything else as written."""
        value = self.get(key)
        if value is not None and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            return value[1:-1]
        return value

    def __setitem__(self, key: str, value: str | None) -> None:
        old = self._d.get(key.lower())
        self._d[key.lower()] = (old[0] if old else key, value)

    def __delitem__(self, key: str) -> None:
        del self._d[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._d

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._d.values())

    def __len__(self) -> int:
        return len(self._d)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Params):
            return NotImplemented
        return {k: v[1] for k, v in self._d.items()} == {k: v[1] for k, v in other._d.items()}

    def __str__(self) -> str:
        return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self._d.values())

    def __repr__(self) -> str:
        return f"Params({list(self._d.values())!r})"


def _parse_uri_params(text: str) -> Params:
    params = Params()
    for part in text.split(";")[1:]:
        name, eq, value = part.partition("=")
        if not name:
            raise _fail("URI parameter", text)
        params[name] = value if eq else None
    return params


class URI:
    """A `sip:`/`sips:`/`tel:` URI, or any other scheme kept opaque (`opaque` holds what follows `scheme:`).

    `host` keeps IPv6 brackets (`[::1]`); `port` is an int or None; `headers` is the text after `?`.
    """

    __slots__ = ("scheme", "user", "password", "host", "port", "params", "headers", "opaque")

    def __init__(
        self,
        scheme: str = "sip",
        user: str | None = None,
        host: str | None = None,
        port: int | None = None,
        params: Params | Iterable[tuple[str, str | None]] = (),
        headers: str | None = None,
        *,
        password: str | None = None,
        opaque: str | None = None,
    ) -> None:
        self.scheme = scheme
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.params = params if isinstance(params, Params) else Params(params)
        self.headers = headers
        self.opaque = opaque

    @classmethod
    def parse(cls, text: str) -> URI:
        return parse_uri(text)

    @property
    def transport(self) -> str | None:
        t = self.params.get("transport")
        return t.lower() if t else None

    @property
    def is_sip(self) -> bool:
        return self.opaque is None and self.scheme.lower() in ("sip", "sips")

    @property
    def hostport(self) -> str:
        host = self.host or ""
        return host if self.port is None else f"{host}:{self.port}"

    def __str__(self) -> str:
        if self.opaque is not None:
            return f"{self.scheme}:{self.opaque}"
        if self.scheme.lower() == "tel":
            return f"tel:{self.user}{self.params}"
        user, params = self.user, self.params
        userinfo = "" if user is None else f"{user}@" if self.password is None else f"{user}:{self.password}@"
        port = "" if self.port is None else f":{self.port}"
        headers = "" if self.headers is None else "?" + self.headers
        return f"{self.scheme}:{userinfo}{self.host or ''}{port}{str(params) if params._d else ''}{headers}"

    def __repr__(self) -> str:
        return f"URI({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, URI):
            return NotImplemented
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


def parse_uri(text: str) -> URI:
    """Parse a URI; raise SIPProtocolError if it is malformed."""
    m = _SIP_URI_WITH_SCHEME.fullmatch(text)
    if m is not None:
        return _sip_uri(text, *m.groups())
    m = _SCHEME.match(text)
    if m is None or _BAD_URI_CHARS.search(text):
        raise _fail("URI", text)
    scheme = m.group(1)
    rest = text[m.end():]
    low = scheme.lower()
    if low in ("sip", "sips"):
        return _parse_sip_uri(scheme, rest, text)
    if low == "tel":
        number, _, params = rest.partition(";")
        if not number:
            raise _fail("tel URI", text)
        return URI("tel", number, None, None, _parse_uri_params(";" + params) if params else Params())
    if not rest:
        raise _fail("URI", text)
    return URI(scheme, opaque=rest)


def _parse_sip_uri(scheme: str, rest: str, text: str) -> URI:
    m = _SIP_URI.fullmatch(rest)
    if m is None:
        raise _fail("SIP URI", text)
    return _sip_uri(text, scheme, *m.groups())


def _sip_uri(text: str, scheme: str, userinfo: str | None, host: str, port: str | None, params: str | None,
             headers: str | None) -> URI:
    user = password = None
    if userinfo is not None:
        user, colon, pw = userinfo.partition(":")
        if not user:
            raise _fail("SIP URI user", text)
        password = pw if colon else None
    portnum = None
    if port is not None:
        portnum = int(port)
        if portnum > 65535:
            raise _fail("SIP URI port", text)
    return URI(scheme, user, host, portnum, _parse_uri_params(params) if params else Params(), headers,
               password=password)


def parse_params(text: str, pos: int = 0, *, stop: str = "") -> tuple[Params, int]:
    """Parse `*( ; name [= value] )` from text[pos:]; return the params and where parsing stopped.

    Parsing stops at the end or at a character in `stop`; anything else is an error.
    """
    n = len(text)
    if pos >= n:
        return Params(), pos
    if _PLAIN_PARAMS.fullmatch(text, pos):  # the usual case: no spaces, quotes or empty values
        return _plain_params(text[pos + 1:]), n
    params = Params()
    while pos < n:
        m = _PARAM.match(text, pos)
        if m is None:
            if text[pos:].strip() == "" or text[pos] in stop:
                break
            raise _fail("parameters", text)
        params[m.group(1)] = m.group(2)
        pos = m.end()
    return params, pos


def _plain_params(text: str) -> Params:
    """The params of `name[=value];...` (text after the first `;`) that `_PLAIN_PARAMS` accepted."""
    found: dict[str, tuple[str, str | None]] = {}
    for part in text.split(";"):
        name, eq, value = part.partition("=")
        key = name.lower()
        old = found.get(key)
        found[key] = (name if old is None else old[0], value if eq else None)
    params = Params.__new__(Params)
    params._d = found
    return params


def split_list(text: str) -> list[str]:
    """Split a comma-separated header value, not inside quotes or <>; empty elements are kept."""
    if "," not in text:
        return [text.strip()]
    if '"' not in text and "<" not in text:
        return [p.strip() for p in text.split(",")]
    out: list[str] = []
    cur: list[str] = []
    for piece in _LIST_TOKENS.findall(text):
        if piece == ",":
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(piece)
    out.append("".join(cur).strip())
    return out


class NameAddr:
    """`display <uri>;params` or `uri;params` (From, To, Contact, Route, ...). `display` is unquoted."""

    __slots__ = ("display", "uri", "params")

    def __init__(self, display: str | None, uri: URI,
                 params: Params | Iterable[tuple[str, str | None]] = ()) -> None:
        self.display = display
        self.uri = uri
        self.params = params if isinstance(params, Params) else Params(params)

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        return parse_name_addr(text)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @property
    def expires(self) -> int | None:
        value = self.params.get("expires")
        return None if value is None else _delta(value, "expires parameter")

    @property
    def q(self) -> float | None:
        value = self.params.get("q")
        if value is None:
            return None
        try:
            q = float(value)
        except ValueError:
            raise _fail("q parameter", value) from None
        if not 0.0 <= q <= 1.0:
            raise _fail("q parameter", value)
        return q

    @property
    def methods(self) -> list[str] | None:
        value = self.params.get("methods")
        if value is None:
            return None
        return [m.strip().upper() for m in value.strip('"').split(",") if m.strip()]

    def __str__(self) -> str:
        head = ""
        if self.display:
            head = '"' + self.display.replace("\\", "\\\\").replace('"', '\\"') + '" '
        return f"{head}<{self.uri}>{self.params}"

    def __repr__(self) -> str:
        return f"NameAddr({str(self)!r})"


def parse_name_addr(text: str) -> NameAddr:
    """Parse name-addr or addr-spec with header parameters (From/To/Contact/Route values)."""
    s = text.strip()
    plain = _PLAIN_NAME_ADDR.fullmatch(s)
    if plain is not None:
        *uri_parts, params = plain.groups()
        uri = _sip_uri(s[1:plain.start(7) - 1], *uri_parts)
        return NameAddr(None, uri, _plain_params(params[1:]) if params else Params())
    display: str | None = None
    if s.startswith('"'):
        m = _QUOTED_RE.match(s)
        if m is None:
            raise _fail("quoted display name", s)
        display = _UNESCAPE.sub(r"\1", m.group()[1:-1])
        pos = m.end()
        while pos < len(s) and s[pos] in " \t":
            pos += 1
        if not s.startswith("<", pos):
            raise _fail("name-addr", s)
        return _angle_addr(s, pos, display)
    lt = s.find("<")
    if lt >= 0:
        disp = s[:lt].strip()
        if disp and not _DISPLAY_TOKENS.fullmatch(disp):
            raise _fail("display name", s)
        return _angle_addr(s, lt, disp or None)
    semi = s.find(";")
    uri_text = s if semi < 0 else s[:semi].rstrip()
    if "?" in uri_text or "," in uri_text:
        raise _fail("addr-spec (a URI with headers must be in <>)", s)
    uri = parse_uri(uri_text)
    params = Params()
    if semi >= 0:
        params, end = parse_params(s, semi)
        if end != len(s):
            raise _fail("name-addr parameters", s)
    return NameAddr(None, uri, params)


def _angle_addr(s: str, lt: int, display: str | None) -> NameAddr:
    gt = s.find(">", lt)
    if gt < 0:
        raise _fail("name-addr (no >)", s)
    uri = parse_uri(s[lt + 1:gt])
    params, end = parse_params(s, gt + 1)
    if end != len(s):
        raise _fail("name-addr parameters", s)
    return NameAddr(display, uri, params)


class ContactList(list[NameAddr]):
    """The Contact values of a message; `star` is true for `Contact: *`."""

    def __init__(self, items: Iterable[NameAddr] = (), star: bool = False) -> None:
        super().__init__(items)
        self.star = star


def parse_contacts(values: Iterable[str]) -> ContactList:
    """Parse Contact values (already split per comma)."""
    items = [v.strip() for v in values]
    if "*" in items:
        if len(items) != 1:
            raise _fail("Contact (* with other values)", ",".join(items))
        return ContactList((), star=True)
    if "" in items:
        raise _fail("Contact (empty value)", ",".join(items))
    return ContactList([parse_name_addr(v) for v in items])


class Via:
    """One Via value: `SIP/2.0/UDP host:port;branch=...;received=...;rport`."""

    __slots__ = ("sent_protocol", "host", "port", "params")

    def __init__(self, sent_protocol: str, host: str, port: int | None = None,
                 params: Params | Iterable[tuple[str, str | None]] = ()) -> None:
        self.sent_protocol = sent_protocol
        self.host = host
        self.port = port
        self.params = params if isinstance(params, Params) else Params(params)

    @classmethod
    def parse(cls, text: str) -> Via:
        return parse_via(text)

    @property
    def transport(self) -> str:
        return self.sent_protocol.rpartition("/")[2].upper()

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def has_rfc3261_branch(self) -> bool:
        """True when the branch starts with the magic cookie and has something after it."""
        b = self.branch
        return b is not None and len(b) > 7 and b.startswith("z9hG4bK")

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def has_rport(self) -> bool:
        """True when `rport` is present, with or without a value."""
        return "rport" in self.params

    @property
    def rport(self) -> int | None:
        """The rport value, or None when absent or a bare flag (see `has_rport`)."""
        value = self.params.get("rport")
        if value is None:
            return None
        if not value.isdigit() or int(value) > 65535:
            raise _fail("Via rport", value)
        return int(value)

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def ttl(self) -> int | None:
        value = self.params.get("ttl")
        if value is None:
            return None
        if not value.isdigit() or int(value) > 255:
            raise _fail("Via ttl", value)
        return int(value)

    def __str__(self) -> str:
        port = "" if self.port is None else f":{self.port}"
        return f"{self.sent_protocol} {self.host}{port}{self.params}"

    def __repr__(self) -> str:
        return f"Via({str(self)!r})"


def parse_via(text: str) -> Via:
    m = _PLAIN_VIA.fullmatch(text)
    if m is not None:
        version, transport, host, port, plain = m.groups()
        params = _plain_params(plain[1:]) if plain else Params()
    else:
        m = _VIA.match(text)
        if m is None:
            raise _fail("Via", text)
        version, transport, host, port = m.groups()
        params, end = parse_params(text, m.end())
        if end != len(text):
            raise _fail("Via parameters", text)
    portnum = None
    if port is not None:
        portnum = int(port)
        if portnum > 65535:
            raise _fail("Via port", text)
    return Via(f"SIP/{version}/{transport}", host, portnum, params)


def parse_vias(values: Iterable[str]) -> list[Via]:
    return [parse_via(v) for v in values]


class CSeq(NamedTuple):
    num: int
    method: str

    def __str__(self) -> str:
        return f"{self.num} {self.method}"


def parse_cseq(text: str) -> CSeq:
    m = _CSEQ.fullmatch(text)
    if m is None or int(m.group(1)) > MAX_CSEQ:
        raise _fail("CSeq", text)
    return CSeq(int(m.group(1)), m.group(2))


def parse_max_forwards(text: str) -> int:
    m = _DIGITS.fullmatch(text)
    if m is None or int(m.group(1)) > 255:
        raise _fail("Max-Forwards", text)
    return int(m.group(1))


def _delta(text: str, what: str) -> int:
    m = _DIGITS.fullmatch(text)
    if m is None or int(m.group(1)) > MAX_DELTA:
        raise _fail(what, text)
    return int(m.group(1))


def parse_expires(text: str) -> int:
    return _delta(text, "Expires")


class ContentType(NamedTuple):
    type: str
    subtype: str
    params: Params

    @property
    def mime(self) -> str:
        return f"{self.type}/{self.subtype}"

    def __str__(self) -> str:
        return f"{self.type}/{self.subtype}{self.params}"


def parse_content_type(text: str) -> ContentType:
    m = _CTYPE.match(text)
    if m is None:
        raise _fail("Content-Type", text)
    params, end = parse_params(text, m.end())
    if end != len(text):
        raise _fail("Content-Type parameters", text)
    return ContentType(m.group(1).lower(), m.group(2).lower(), params)


def parse_allow(values: Iterable[str]) -> list[str]:
    out = []
    for v in values:
        if not _TOKEN_RE.fullmatch(v):
            raise _fail("Allow", v)
        out.append(v.upper())
    return out


def parse_date(text: str) -> datetime:
    """Parse an RFC 1123 date in GMT (RFC 3261 section 20.17); any other zone is an error."""
    m = _DATE.fullmatch(text)
    if m is None:
        raise _fail("Date", text)
    _, day, mon, year, hh, mm, ss = m.groups()
    try:
        return datetime(int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss), tzinfo=UTC)
    except ValueError:
        raise _fail("Date", text) from None
