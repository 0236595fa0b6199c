"""Pseudo-variables read from the message and its context: `$ru $rU $fu $ci $si $Ri $du $mb ...`.

Each getter takes the MessageContext and returns str, int or None ($null), as Kamailio's
`pv_get_*` functions in src/modules/pv/pv_core.c. Like Kamailio, header PVs show the received
message: edits (lumps) are seen only once applied.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable

from kampy.api import (
    URI,
    BoundedCache,
    DigestCredentials,
    DigestSyntaxError,
    MessageContext,
    NameAddr,
    Request,
    SIPProtocolError,
    parse_digest_credentials,
    parse_name_addr,
    parse_uri,
)

from .common import Value

log = logging.getLogger("kampy.pv")

# Kamailio's METHOD_* bits (src/core/parser/msg_parser.h) for $rmid.
METHOD_IDS = {
    "INVITE": 1, "CANCEL": 2, "ACK": 4, "BYE": 8, "INFO": 16, "REGISTER": 32, "SUBSCRIBE": 64,
    "NOTIFY": 128, "MESSAGE": 256, "OPTIONS": 512, "PRACK": 1024, "UPDATE": 2048, "REFER": 4096,
    "PUBLISH": 8192, "KDMQ": 16384, "GET": 32768, "POST": 65536, "PUT": 131072, "DELETE": 262144,
}
METHOD_OTHER = 524288
# Kamailio's PROTO_* values (src/core/ip_addr.h) for $prid.
PROTO_IDS = {"udp": 1, "tcp": 2, "tls": 3, "sctp": 4, "ws": 5, "wss": 6}


_URI_CACHE: BoundedCache[str, URI | None] = BoundedCache(512)


def _uri(text: str | None) -> URI | None:
    """The parsed URI (None when malformed). The getters only read it, so one parse of a text
    serves every `$rU`/`$rd`/... of every message (a bounded cache)."""
    if not text:
        return None
    try:
        return _URI_CACHE[text]
    except KeyError:
        pass
    try:
        uri: URI | None = parse_uri(text)
    except SIPProtocolError:
        uri = None
    return _URI_CACHE.put(text, uri)


def _nameaddr(ctx: MessageContext, name: str) -> NameAddr | None:
    try:
        if name == "from":
            return ctx.msg.from_
        if name == "to":
            return ctx.msg.to
        value = ctx.msg.header(name)
        return parse_name_addr(value) if value else None
    except SIPProtocolError:
        log.error("cannot parse %s header", name)
        return None


def _req(ctx: MessageContext) -> Request | None:
    return ctx.msg if isinstance(ctx.msg, Request) else None


# ---------------------------------------------------------------- URI attributes


def uri_user(u: URI | None) -> Value:
    return u.user if u is not None and u.user else None


def uri_user_len(u: URI | None) -> Value:
    """`$rUl`: the length of the user part (0 when none)."""
    return len(u.user) if u is not None and u.user else 0


def uri_host(u: URI | None) -> Value:
    return u.host if u is not None and u.host else None


def uri_port(u: URI | None) -> Value:
    """`$rp`: the port as written, else 5061 for TLS and 5060 otherwise (pv_get_xuri_attr)."""
    if u is None:
        return None
    if u.port is None:
        tls = str(uri_transport(u)).lower() == "tls" or u.scheme.lower() == "sips"
        return "5061" if tls else "5060"
    return str(u.port)


def uri_transport(u: URI | None) -> Value:
    """`$rP`: the transport parameter as written, else "UDP" (pv_get_udp's upper case)."""
    if u is None:
        return None
    value = u.params.get("transport") if u.is_sip else None
    return value or "UDP"


def uri_scheme(u: URI | None) -> Value:
    return u.scheme.lower() if u is not None else None


def uri_str(u: URI | None) -> Value:
    return str(u) if u is not None else None


def _ruri(ctx: MessageContext) -> URI | None:
    return _uri(ctx.ruri) if _req(ctx) else None


def _ouri(ctx: MessageContext) -> URI | None:
    req = _req(ctx)
    return _uri(req.uri) if req else None


def _attr_of(source: Callable[[MessageContext], URI | None],
             attr: Callable[[URI | None], Value]) -> Callable[[MessageContext], Value]:
    def get(ctx: MessageContext) -> Value:
        return attr(source(ctx))
    return get


def get_ru(ctx: MessageContext) -> Value:
    return ctx.ruri if _req(ctx) else None


def get_ou(ctx: MessageContext) -> Value:
    req = _req(ctx)
    return req.uri if req else None


# ---------------------------------------------------------------- From / To


def _hdr_uri(name: str) -> Callable[[MessageContext], URI | None]:
    def get(ctx: MessageContext) -> URI | None:
        na = _nameaddr(ctx, name)
        return na.uri if na else None
    return get


def _hdr_display(name: str) -> Callable[[MessageContext], Value]:
    def get(ctx: MessageContext) -> Value:
        na = _nameaddr(ctx, name)
        if na is None or not na.display:
            return None
        raw = ctx.msg.header(name) or ""
        return _raw_display(raw) or na.display
    return get


def _raw_display(raw: str) -> str | None:
    """The display name as written (Kamailio keeps the quotes)."""
    text = raw.strip()
    lt = text.find("<")
    if lt <= 0:
        return None
    return text[:lt].strip() or None


def _hdr_tag(name: str) -> Callable[[MessageContext], Value]:
    def get(ctx: MessageContext) -> Value:
        na = _nameaddr(ctx, name)
        return na.tag if na is not None and na.tag else None
    return get


# ---------------------------------------------------------------- first line, headers, body


def get_rm(ctx: MessageContext) -> Value:
    req = _req(ctx)
    if req is not None:
        return req.method
    cseq = ctx.msg.cseq
    return cseq.method if cseq else None


def get_rmid(ctx: MessageContext) -> Value:
    method = get_rm(ctx)
    return METHOD_IDS.get(str(method).upper(), METHOD_OTHER) if method else None


def get_rs(ctx: MessageContext) -> Value:
    """`$rs`: the status code, a number in expressions (Kamailio's pv_get_intstrval: `$rs + 1` adds)."""
    return None if ctx.is_request else ctx.msg.status  # type: ignore[union-attr]


def get_rsi(ctx: MessageContext) -> Value:
    return None if ctx.is_request else ctx.msg.status  # type: ignore[union-attr]


def get_rr(ctx: MessageContext) -> Value:
    return None if ctx.is_request else ctx.msg.reason  # type: ignore[union-attr]


def get_rv(ctx: MessageContext) -> Value:
    line = ctx.msg.start_line
    return line.split(" ", 1)[0] if not ctx.is_request else line.rsplit(" ", 1)[-1]


def get_ci(ctx: MessageContext) -> Value:
    return ctx.msg.call_id


def get_cs(ctx: MessageContext) -> Value:
    cseq = _safe(lambda: ctx.msg.cseq)
    return str(cseq.num) if cseq else None


def get_csb(ctx: MessageContext) -> Value:
    return ctx.msg.header("cseq")


def _safe(fn: Callable[[], object]) -> object:
    try:
        return fn()
    except SIPProtocolError:
        return None


def _first_hf(name: str) -> Callable[[MessageContext], Value]:
    """The body of the first header line called `name` (the whole line for list headers)."""
    def get(ctx: MessageContext) -> Value:
        values = header_bodies(ctx, name)
        return values[0] if values else None
    return get


def header_bodies(ctx: MessageContext, name: str) -> list[str]:
    """The body of every header line called `name`, as Kamailio's hdr_field body (trimmed)."""
    out = []
    for raw in ctx.msg.get_all_raw(name):
        body = raw.decode("utf-8", "surrogateescape").partition(":")[2]
        out.append(body.replace("\r\n", "").strip())
    return out


def get_ct(ctx: MessageContext) -> Value:
    return _first_hf("contact")(ctx)


def get_cT(ctx: MessageContext) -> Value:
    return _first_hf("content-type")(ctx)


def get_cl(ctx: MessageContext) -> Value:
    return _safe(lambda: ctx.msg.content_length)  # type: ignore[return-value]


def get_rb(ctx: MessageContext) -> Value:
    """`$rb`: the body, an empty string when there is none (get_body points past the headers)."""
    return ctx.msg.body.decode("utf-8", "surrogateescape")


def get_bs(ctx: MessageContext) -> Value:
    return len(ctx.msg.body)


def get_mb(ctx: MessageContext) -> Value:
    return ctx.msg.raw.decode("utf-8", "surrogateescape")


def get_mbu(ctx: MessageContext) -> Value:
    return ctx.msg.to_bytes().decode("utf-8", "surrogateescape")


def get_ml(ctx: MessageContext) -> Value:
    return len(ctx.msg.raw)


def get_mt(ctx: MessageContext) -> Value:
    return 1 if ctx.is_request else 2


def get_ua(ctx: MessageContext) -> Value:
    return _first_hf("user-agent")(ctx)


# ---------------------------------------------------------------- credentials: $au $ar ...


def _auth_attr(read: Callable[[DigestCredentials], str | None], *,
               empty_null: bool = False) -> Callable[[MessageContext], Value]:
    """Kamailio's pv_get_authattr: an attribute of the digest credentials of the first
    Proxy-Authorization header, else of the first Authorization header ($null for ACK and CANCEL,
    without credentials, or when they cannot be parsed); an attribute they lack is "" ($null
    with `empty_null`, as $adu)."""
    def get(ctx: MessageContext) -> Value:
        msg = ctx.msg
        if not isinstance(msg, Request) or msg.method in ("ACK", "CANCEL"):
            return None
        bodies = header_bodies(ctx, "proxy-authorization") or header_bodies(ctx, "authorization")
        if not bodies:
            return None
        try:
            cred = parse_digest_credentials(bodies[0])
        except DigestSyntaxError:
            cred = None
        if cred is None:
            log.error("failed to parse credentials")
            return None
        value = read(cred) or ""
        return None if empty_null and not value else value
    return get


AUTH_VARS: dict[str, Callable[[MessageContext], Value]] = {
    "au": _auth_attr(lambda c: c.user), "ar": _auth_attr(lambda c: c.realm),
    "adu": _auth_attr(lambda c: c.uri, empty_null=True), "ad": _auth_attr(lambda c: c.domain),
    "aU": _auth_attr(lambda c: c.username), "aa": _auth_attr(lambda c: c.algorithm),
    "adn": _auth_attr(lambda c: c.nonce), "adc": _auth_attr(lambda c: c.cnonce),
    "adr": _auth_attr(lambda c: c.response), "ado": _auth_attr(lambda c: c.opaque),
}


# ---------------------------------------------------------------- source and local socket


def get_si(ctx: MessageContext) -> Value:
    return ctx.src.ip


def get_siz(ctx: MessageContext) -> Value:
    ip = ctx.src.ip
    return f"[{ip}]" if ":" in ip else ip


def get_sp(ctx: MessageContext) -> Value:
    return ctx.src.port


def get_su(ctx: MessageContext) -> Value:
    s = ctx.src
    return f"sip:{get_siz(ctx)}:{s.port};transport={s.proto}"


def get_sas(ctx: MessageContext) -> Value:
    s = ctx.src
    return f"{s.proto}:{get_siz(ctx)}:{s.port}"


def get_Ri(ctx: MessageContext) -> Value:
    return ctx.src.local.host


def get_Rp(ctx: MessageContext) -> Value:
    return ctx.src.local.port


def get_RAi(ctx: MessageContext) -> Value:
    return ctx.src.local.advertise_host or ctx.src.local.host


def get_RAp(ctx: MessageContext) -> Value:
    return ctx.src.local.advertise_port or ctx.src.local.port


def _sock_uri(host: str, port: int, proto: str) -> str:
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"sip:{host}:{port};transport={proto}"


def get_Ru(ctx: MessageContext) -> Value:
    loc = ctx.src.local
    return _sock_uri(loc.host, loc.port, loc.proto)


def get_RAu(ctx: MessageContext) -> Value:
    loc = ctx.src.local
    return _sock_uri(loc.advertise_host or loc.host, loc.advertise_port or loc.port, loc.proto)


def get_Ras(ctx: MessageContext) -> Value:
    return str(ctx.src.local)


def get_pr(ctx: MessageContext) -> Value:
    return ctx.src.proto


def get_prid(ctx: MessageContext) -> Value:
    return PROTO_IDS.get(ctx.src.proto, 0)


def get_conid(ctx: MessageContext) -> Value:
    return ctx.src.conn_id


def get_pp(ctx: MessageContext) -> Value:
    return os.getpid()


# ---------------------------------------------------------------- the table

MSG_GETTERS: dict[str, Callable[[MessageContext], Value]] = {
    "ru": get_ru, "ruri": get_ru,
    "rU": _attr_of(_ruri, uri_user), "rUl": _attr_of(_ruri, uri_user_len),
    "rd": _attr_of(_ruri, uri_host), "rp": _attr_of(_ruri, uri_port),
    "rP": _attr_of(_ruri, uri_transport), "rz": _attr_of(_ruri, uri_scheme),
    "ou": get_ou, "ouri": get_ou,
    "oU": _attr_of(_ouri, uri_user), "oUl": _attr_of(_ouri, uri_user_len),
    "od": _attr_of(_ouri, uri_host), "op": _attr_of(_ouri, uri_port), "oP": _attr_of(_ouri, uri_transport),
    "fu": _attr_of(_hdr_uri("from"), uri_str), "from": _attr_of(_hdr_uri("from"), uri_str),
    "fU": _attr_of(_hdr_uri("from"), uri_user), "fUl": _attr_of(_hdr_uri("from"), uri_user_len),
    "fd": _attr_of(_hdr_uri("from"), uri_host), "fn": _hdr_display("from"), "ft": _hdr_tag("from"),
    "tu": _attr_of(_hdr_uri("to"), uri_str), "to": _attr_of(_hdr_uri("to"), uri_str),
    "tU": _attr_of(_hdr_uri("to"), uri_user), "tUl": _attr_of(_hdr_uri("to"), uri_user_len),
    "td": _attr_of(_hdr_uri("to"), uri_host), "tn": _hdr_display("to"), "tt": _hdr_tag("to"),
    "ai": _attr_of(_hdr_uri("p-asserted-identity"), uri_str),
    "pu": _attr_of(_hdr_uri("p-preferred-identity"), uri_str),
    "pU": _attr_of(_hdr_uri("p-preferred-identity"), uri_user),
    "pd": _attr_of(_hdr_uri("p-preferred-identity"), uri_host),
    "pn": _hdr_display("p-preferred-identity"),
    "re": _attr_of(_hdr_uri("remote-party-id"), uri_str),
    "rt": _attr_of(_hdr_uri("refer-to"), uri_str),
    "di": _attr_of(_hdr_uri("diversion"), uri_str),
    "rm": get_rm, "rmid": get_rmid, "rs": get_rs, "rsi": get_rsi, "rr": get_rr, "rv": get_rv,
    "ci": get_ci, "cs": get_cs, "csb": get_csb, "ct": get_ct, "cT": get_cT, "cl": get_cl,
    "rb": get_rb, "bs": get_bs, "mb": get_mb, "mbu": get_mbu, "ml": get_ml, "mt": get_mt, "ua": get_ua,
    "si": get_si, "src_ip": get_si, "siz": get_siz, "sp": get_sp, "su": get_su, "sut": get_su,
    "sas": get_sas,
    "Ri": get_Ri, "Rp": get_Rp, "RAi": get_RAi, "RAp": get_RAp, "Ru": get_Ru, "Rut": get_Ru,
    "RAu": get_RAu, "RAut": get_RAu, "Ras": get_Ras,
    "pr": get_pr, "proto": get_pr, "prid": get_prid, "conid": get_conid, "pp": get_pp,
    "mi": lambda ctx: ctx.msg_id,
    **AUTH_VARS,
}
