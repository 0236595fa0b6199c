"""Transformations `{s.*}`, `{uri.*}`, `{nameaddr.*}`, `{tobody.*}`, `{param.*}`, `{line.*}`.

Kamailio 5.6 semantics (src/modules/pv/pv_trans.c): an int input is turned into its string first
(except where noted); a failed transformation makes the value $null (None); parts of a URI or
header that are absent give the empty string, as Kamailio's `_tr_empty`.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import time
import urllib.parse
import zlib
from collections.abc import Callable

from kampy.api import MessageContext, SIPProtocolError, Transform, parse_name_addr, parse_uri, as_bytes

from . import codecs
from .common import Dyn, PVError, Resolver, Value, make_param, str_to_int_prefix, to_int

log = logging.getLogger("kampy.pv")

TrFunc = Callable[[MessageContext, Value], Value]


class TrFailed(Exception):
    """This transformation cannot apply to this value (Kamailio's tr_eval returning -1)."""


def _s(value: Value) -> str:
    if value is None:
        raise TrFailed("$null input")
    return str(value)


class Params:
    """The transformation's parameters, rendered per message."""

    def __init__(self, tr: Transform, resolve: Resolver, needed: int, optional: int = 0) -> None:
        n = len(tr.params)
        if not needed <= n <= needed + optional:
            want = str(needed) if not optional else f"{needed} to {needed + optional}"
            raise PVError(f"{{{tr.cls}.{tr.name}}} takes {want} parameter(s), got {n}")
        self.items: list[Dyn] = [make_param(p, resolve) for p in tr.params]

    def __len__(self) -> int:
        return len(self.items)

    def text(self, ctx: MessageContext, i: int) -> str:
        return self.items[i].render(ctx)

    def num(self, ctx: MessageContext, i: int) -> int:
        v = to_int(self.items[i].value(ctx))
        if v is None:
            raise TrFailed(f"parameter {i + 1} is not an integer")
        return v

    def char(self, ctx: MessageContext, i: int) -> str:
        text = self.text(ctx, i)
        escapes = {"\\\\": "\\", "\\n": "\n", "\\r": "\r", "\\t": "\t"}
        if len(text) > 1 and text[:2] in escapes:
            return escapes[text[:2]]
        if not text:
            raise TrFailed("empty separator")
        return text[0]


def _wrap(fn: Callable[[MessageContext, Value], Value], label: str) -> TrFunc:
    def run(ctx: MessageContext, value: Value) -> Value:
        try:
            return fn(ctx, value)
        except (TrFailed, SIPProtocolError, ValueError) as exc:
            log.debug("transformation %s failed: %s", label, exc)
            return None
    return run


# ---------------------------------------------------------------- {s.*}


def _substr(text: str, i: int, j: int) -> str:
    if j < 0:
        raise TrFailed("substr negative length")
    n = len(text)
    if i >= 0:
        if i >= n:
            raise TrFailed("substr out of range")
        return text[i:] if j == 0 or i + j >= n else text[i:i + j]
    i = -i
    if i > n:
        raise TrFailed("substr out of range")
    return text[n - i:] if j == 0 or i < j else text[n - i:n - i + j]


def _select(text: str, i: int, sep: str) -> str:
    parts = text.split(sep)
    if i < 0:
        i = len(parts) + i
    if not 0 <= i < len(parts):
        raise TrFailed("select index out of range")
    return parts[i]


def _prefixes(text: str, limit: int | None, quoted: bool) -> str:
    top = len(text) if not limit or limit <= 0 or limit >= len(text) else limit
    q = "'" if quoted else ""
    return ",".join(f"{q}{text[:i]}{q}" for i in range(1, top + 1))


def _escape_common(text: str) -> str:
    out = []
    for c in text:
        if c in "'\"\\":
            out.append("\\" + c)
        elif c == "\0":
            out.append("\\0")
        else:
            out.append(c)
    return "".join(out)


def _unescape_common(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append({"0": "\0", "n": "\n", "r": "\r", "t": "\t"}.get(nxt, nxt))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


_USER_SAFE = "-_.!~*'()&=+$,;?/"  # RFC 3261 unreserved + user-unreserved
_PARAM_SAFE = "-_.!~*'()[]/:&+$"  # unreserved + param-unreserved


def _escape(text: str, safe: str) -> str:
    return urllib.parse.quote(text, safe=safe)


def _b64(text: str, altchars: bytes | None, trim: bool) -> str:
    out = base64.b64encode(as_bytes(text), altchars).decode()
    return out.rstrip("=") if trim else out


def _unb64(text: str, altchars: bytes | None) -> str:
    pad = "=" * (-len(text) % 4)
    return base64.b64decode(text + pad, altchars, validate=False).decode("utf-8", "surrogateescape")


def _hash(algo: str) -> Callable[[str], str]:
    return lambda t: hashlib.new(algo, as_bytes(t)).hexdigest()


def _numeric(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _unbracket(text: str) -> str:
    pairs = {"(": ")", "[": "]", "{": "}", "<": ">"}
    if len(text) >= 2 and pairs.get(text[0]) == text[-1]:
        return text[1:-1]
    return text


def _csv(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _corehash(text: str, size: int | None) -> int:
    """A stable hash of the string (Kamailio's core_hash); modulo `size` when given."""
    h = zlib.crc32(as_bytes(text))
    return h % size if size else h


def _ftime(value: Value, fmt: str) -> str:
    n = to_int(value)
    if n is None:
        raise TrFailed("ftime needs an integer timestamp")
    return time.strftime(fmt, time.localtime(n))


def _before(text: str, c: str, last: bool) -> str:
    i = text.rfind(c) if last else text.find(c)
    return text if i < 0 else text[:i]


def _after(text: str, c: str, last: bool) -> str:
    i = text.rfind(c) if last else text.find(c)
    return "" if i < 0 else text[i + 1:]


def _rmws(text: str) -> str:
    return "".join(c for c in text if c not in " \t\r\n")


# one-argument string transformations: name -> function of the input text
_S_SIMPLE: dict[str, Callable[[str], Value]] = {
    "len": len,
    "md5": _hash("md5"), "sha256": _hash("sha256"), "sha384": _hash("sha384"), "sha512": _hash("sha512"),
    "tolower": str.lower, "toupper": str.upper,
    "numeric": _numeric, "rmws": _rmws,
    "encode.hexa": lambda t: as_bytes(t).hex(),
    "decode.hexa": lambda t: binascii.unhexlify(t).decode("utf-8", "surrogateescape"),
    "encode.base64": lambda t: _b64(t, None, False), "decode.base64": lambda t: _unb64(t, None),
    "encode.base64t": lambda t: _b64(t, None, True), "decode.base64t": lambda t: _unb64(t, None),
    "encode.base64url": lambda t: _b64(t, b"-_", False), "decode.base64url": lambda t: _unb64(t, b"-_"),
    "encode.base64urlt": lambda t: _b64(t, b"-_", True), "decode.base64urlt": lambda t: _unb64(t, b"-_"),
    "escape.common": _escape_common, "unescape.common": _unescape_common,
    "escape.user": lambda t: _escape(t, _USER_SAFE), "unescape.user": urllib.parse.unquote,
    "escape.param": lambda t: _escape(t, _PARAM_SAFE), "unescape.param": urllib.parse.unquote,
    "urlencode.param": lambda t: urllib.parse.quote(t, safe="-_.~"),
    "urldecode.param": urllib.parse.unquote_plus,
    "escape.csv": _csv,
    "trim": lambda t: t.strip(" \t\r\n"), "rtrim": lambda t: t.rstrip(" \t\r\n"),
    "ltrim": lambda t: t.lstrip(" \t\r\n"),
    "unquote": _unquote, "unbracket": _unbracket,
    "encode.7bit": codecs.encode_7bit, "decode.7bit": codecs.decode_7bit,
    "encode.base58": codecs.encode_base58, "decode.base58": codecs.decode_base58,
}


def s_transform(tr: Transform, resolve: Resolver) -> TrFunc:
    name = tr.name
    label = f"{{s.{name}}}"
    if name == "int":
        Params(tr, resolve, 0)
        return _wrap(lambda ctx, v: v if isinstance(v, int) else str_to_int_prefix(_s(v)), label)
    if name in _S_SIMPLE:
        Params(tr, resolve, 0)
        fn = _S_SIMPLE[name]
        return _wrap(lambda ctx, v: fn(_s(v)), label)
    builder = _S_PARAM.get(name)
    if builder is None:
        raise PVError(f"unknown transformation {label}")
    return _wrap(builder(tr, resolve), label)


def _p_fmtline(tr: Transform, r: Resolver, fill: str) -> TrFunc:
    p = Params(tr, r, 2)
    return lambda ctx, v: codecs.fmtline(_s(v), p.num(ctx, 0), p.num(ctx, 1), fill)


def urialias_transform(tr: Transform, resolve: Resolver) -> TrFunc:
    """{urialias.encode} / {urialias.decode}: a failed conversion gives "" (with a warning)."""
    if tr.name not in ("encode", "decode"):
        raise PVError(f"unknown transformation {{urialias.{tr.name}}}")
    Params(tr, resolve, 0)
    convert = codecs.urialias_encode if tr.name == "encode" else codecs.urialias_decode

    def run(ctx: MessageContext, value: Value) -> Value:
        if not isinstance(value, str) or not value:
            return None
        try:
            return convert(value)
        except codecs.CodecError as exc:
            log.warning("error converting uri to alias [%s]: %s", value, exc)
            return ""
    return run


def _p_substr(tr: Transform, r: Resolver) -> TrFunc:
    p = Params(tr, r, 2)
    return lambda ctx, v: _substr(_s(v), p.num(ctx, 0), p.num(ctx, 1))


def _p_select(tr: Transform, r: Resolver) -> TrFunc:
    if len(tr.params) == 3 and tr.params[1:] == ("", ""):  # `{s.select,1,,}`: the separator is ','
        tr = Transform(tr.cls, tr.name, (tr.params[0], "','"), pos=tr.pos)
    p = Params(tr, r, 2)
    return lambda ctx, v: _select(_s(v), p.num(ctx, 0), p.char(ctx, 1))


def _p_strip(tr: Transform, r: Resolver) -> TrFunc:
    p = Params(tr, r, 1)

    def run(ctx: MessageContext, v: Value) -> Value:
        n = p.num(ctx, 0)
        text = _s(v)
        return "" if n >= len(text) else text[max(n, 0):]
    return run


def _p_striptail(tr: Transform, r: Resolver) -> TrFunc:
    p = Params(tr, r, 1)

    def run(ctx: MessageContext, v: Value) -> Value:
        n = p.num(ctx, 0)
        text = _s(v)
        return "" if n >= len(text) else text[:len(text) - max(n, 0)]
    return run


def _p_stripto(tr: Transform, r: Resolver) -> TrFunc:
    p = Params(tr, r, 1)

    def run(ctx: MessageContext, v: Value) -> Value:
        text = _s(v)
        i = text.find(p.char(ctx, 0))
        return "" if i < 0 else text[i:]
    return run


def _p_prefixes(quoted: bool) -> Callable[[Transform, Resolver], TrFunc]:
    def build(tr: Transform, r: Resolver) -> TrFunc:
        p = Params(tr, r, 0, 1)
        return lambda ctx, v: _prefixes(_s(v), p.num(ctx, 0) if len(p) else None, quoted)
    return build


def _p_replace(tr: Transform, r: Resolver) -> TrFunc:
    p = Params(tr, r, 2)
    return lambda ctx, v: _s(v).replace(p.text(ctx, 0), p.text(ctx, 1)) if p.text(ctx, 0) else _s(v)


def _p_rm(tr: Transform, r: Resolver) -> TrFunc:
    p = Params(tr, r, 1)
    return lambda ctx, v: _s(v).replace(p.text(ctx, 0), "") if p.text(ctx, 0) else _s(v)


def _p_count(tr: Transform, r: Resolver) -> TrFunc:
    p = Params(tr, r, 1)
    return lambda ctx, v: _s(v).count(p.char(ctx, 0))


def _p_ftime(tr: Transform, r: Resolver) -> TrFunc:
    p = Params(tr, r, 1)
    return lambda ctx, v: _ftime(v, p.text(ctx, 0))


def _p_corehash(tr: Transform, r: Resolver) -> TrFunc:
    p = Params(tr, r, 0, 1)
    return lambda ctx, v: _corehash(_s(v), p.num(ctx, 0) if len(p) else None)


def _p_cut(fn: Callable[[str, str, bool], str], last: bool) -> Callable[[Transform, Resolver], TrFunc]:
    def build(tr: Transform, r: Resolver) -> TrFunc:
        p = Params(tr, r, 1)
        return lambda ctx, v: fn(_s(v), p.char(ctx, 0), last)
    return build


_S_PARAM: dict[str, Callable[[Transform, Resolver], TrFunc]] = {
    "substr": _p_substr, "select": _p_select, "strip": _p_strip, "striptail": _p_striptail,
    "stripto": _p_stripto, "prefixes": _p_prefixes(False), "prefixes.quoted": _p_prefixes(True),
    "replace": _p_replace, "rm": _p_rm, "count": _p_count, "ftime": _p_ftime, "corehash": _p_corehash,
    "before": _p_cut(_before, False), "rbefore": _p_cut(_before, True),
    "after": _p_cut(_after, False), "rafter": _p_cut(_after, True),
    "fmtlines": lambda tr, r: _p_fmtline(tr, r, " "), "fmtlinet": lambda tr, r: _p_fmtline(tr, r, "\t"),
}


# ---------------------------------------------------------------- {uri.*}


def _uri_params_text(text: str) -> str:
    """What follows the host part's first ';' up to '?' (without the ';')."""
    rest = text.split("@", 1)[-1]
    head = rest.split("?", 1)[0]
    _, semi, params = head.partition(";")
    return params if semi else ""


def _uri_attr(name: str, text: str, param: str | None) -> Value:
    u = parse_uri(text)
    if name == "user":
        return u.user or ""
    if name in ("host", "domain"):
        return u.host or ""
    if name == "passwd":
        return u.password or ""
    if name == "port":
        return "" if u.port is None else str(u.port)
    if name == "params":
        return _uri_params_text(text)
    if name == "param":
        value = u.params.get(param or "") if param and param in u.params else None
        return value or ""
    if name == "headers":
        return u.headers or ""
    if name in ("transport", "ttl", "maddr", "method", "lr", "r2"):
        return u.params.get(name) or "" if name in u.params else ""
    if name == "uparam":
        return (u.user or "").partition(";")[2]
    if name == "scheme":
        return u.scheme
    if name == "saor":
        return f"{u.user}@{u.host}" if u.user else u.host or ""
    if name == "suri":
        return _simple_uri(u.scheme, u.user, u.host, u.port, None)
    if name == "duri":
        return _simple_uri(u.scheme, None, u.host, u.port, u.transport)
    if name == "tosocket":
        proto = u.transport or ("tls" if u.scheme.lower() == "sips" else "udp")
        return f"{proto}:{u.host}:{u.port or (5061 if proto == 'tls' else 5060)}"
    raise TrFailed(f"unknown uri attribute {name}")


def _simple_uri(scheme: str, user: str | None, host: str | None, port: int | None, tr: str | None) -> str:
    out = f"{scheme}:"
    if user:
        out += f"{user}@"
    out += host or ""
    if port is not None:
        out += f":{port}"
    if tr:
        out += f";transport={tr}"
    return out


_URI_NAMES = ("user", "host", "domain", "passwd", "port", "saor", "suri", "duri", "params", "headers",
              "param", "transport", "ttl", "uparam", "maddr", "method", "lr", "r2", "scheme", "tosocket")


def uri_transform(tr: Transform, resolve: Resolver) -> TrFunc:
    if tr.name not in _URI_NAMES:
        raise PVError(f"unknown transformation {{uri.{tr.name}}}")
    p = Params(tr, resolve, 1 if tr.name == "param" else 0)
    name = tr.name
    return _wrap(lambda ctx, v: _uri_attr(name, _s(v).strip(), p.text(ctx, 0) if len(p) else None),
                 f"{{uri.{name}}}")


# ---------------------------------------------------------------- {nameaddr.*} and {tobody.*}


def _display_raw(text: str) -> str:
    t = text.strip()
    lt = t.find("<")
    return t[:lt].strip() if lt > 0 else ""


def _nameaddr(name: str, text: str) -> Value:
    t = text.strip()
    if name == "name":
        return _display_raw(t)
    gt = t.find(">")
    lt = t.find("<")
    if name == "len":
        return gt + 1 if lt >= 0 and gt > lt else len(t.split(";", 1)[0])
    if lt >= 0 and gt > lt:
        return t[lt + 1:gt]
    return t.split(";", 1)[0] if not t.lower().startswith(("sip:", "sips:")) else t.split(";", 1)[0]


def nameaddr_transform(tr: Transform, resolve: Resolver) -> TrFunc:
    if tr.name not in ("uri", "len", "name"):
        raise PVError(f"unknown transformation {{nameaddr.{tr.name}}}")
    Params(tr, resolve, 0)
    name = tr.name
    return _wrap(lambda ctx, v: _nameaddr(name, _s(v)), f"{{nameaddr.{name}}}")


def _tobody(name: str, text: str) -> Value:
    na = parse_name_addr(text)
    if name == "uri":
        t = text.strip()
        lt, gt = t.find("<"), t.find(">")
        return t[lt + 1:gt] if lt >= 0 and gt > lt else str(na.uri)
    if name == "tag":
        return na.tag or ""
    if name == "user":
        return na.uri.user or ""
    if name == "host":
        return na.uri.host or ""
    if name == "params":
        return str(na.params).lstrip(";")
    if name == "display":
        return _display_raw(text)
    raise TrFailed(name)


def tobody_transform(tr: Transform, resolve: Resolver) -> TrFunc:
    if tr.name not in ("uri", "tag", "user", "host", "params", "display"):
        raise PVError(f"unknown transformation {{tobody.{tr.name}}}")
    Params(tr, resolve, 0)
    name = tr.name
    return _wrap(lambda ctx, v: _tobody(name, _s(v)), f"{{tobody.{name}}}")


# ---------------------------------------------------------------- {param.*}


def _split_params(text: str, sep: str) -> list[tuple[str, str]]:
    out = []
    for part in text.split(sep):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        out.append((name.strip(), value.strip()))
    return out


def _param(name: str, p: Params, ctx: MessageContext, text: str) -> Value:
    nparams = {"value": 1, "in": 1, "valueat": 1, "name": 1, "count": 0}[name]
    sep = p.char(ctx, nparams) if len(p) > nparams else ";"
    items = _split_params(text, sep)
    if name == "count":
        return len(items)
    if name in ("value", "in"):
        key = p.text(ctx, 0).lower()
        found = [v for k, v in items if k.lower() == key]
        if name == "in":
            return 1 if found else 0
        return found[0] if found else ""
    i = p.num(ctx, 0)
    i = len(items) + i if i < 0 else i
    if not 0 <= i < len(items):
        return ""
    return items[i][1] if name == "valueat" else items[i][0]


def param_transform(tr: Transform, resolve: Resolver) -> TrFunc:
    needed = {"value": 1, "in": 1, "valueat": 1, "name": 1, "count": 0}.get(tr.name)
    if needed is None:
        raise PVError(f"unknown transformation {{param.{tr.name}}}")
    p = Params(tr, resolve, needed, 1)
    name = tr.name
    return _wrap(lambda ctx, v: _param(name, p, ctx, _s(v)), f"{{param.{name}}}")


# ---------------------------------------------------------------- {line.*}


def _lines(text: str) -> list[str]:
    return [line.rstrip("\r") for line in text.split("\n")] if text else []


def _line(name: str, p: Params, ctx: MessageContext, text: str) -> Value:
    lines = _lines(text.rstrip("\r\n") if text.endswith("\n") else text)
    if name == "count":
        return len(lines)
    if name == "at":
        i = p.num(ctx, 0)
        i = len(lines) + i if i < 0 else i
        return lines[i] if 0 <= i < len(lines) else ""
    prefix = p.text(ctx, 0)
    return next((line for line in lines if line.startswith(prefix)), "")


def line_transform(tr: Transform, resolve: Resolver) -> TrFunc:
    needed = {"at": 1, "sw": 1, "count": 0}.get(tr.name)
    if needed is None:
        raise PVError(f"unknown transformation {{line.{tr.name}}}")
    p = Params(tr, resolve, needed)
    name = tr.name
    return _wrap(lambda ctx, v: _line(name, p, ctx, _s(v)), f"{{line.{name}}}")


HANDLERS: dict[str, Callable[[Transform, Resolver], TrFunc]] = {
    "s": s_transform,
    "uri": uri_transform,
    "nameaddr": nameaddr_transform,
    "tobody": tobody_transform,
    "param": param_transform,
    "line": line_transform,
    "urialias": urialias_transform,
}
