"""Setters of the writable message pseudo-variables: R-URI parts, $du, $fs, From/To parts, flags."""
from __future__ import annotations

import logging
from collections.abc import Callable

from kampy.api import URI, MessageContext, NameAddr, Request, SIPProtocolError, Socket, parse_uri

from .common import Value, to_int

log = logging.getLogger("kampy.pv")

Setter = Callable[[MessageContext, Value], None]


# ---------------------------------------------------------------- R-URI


def set_ru(ctx: MessageContext, value: Value) -> None:
    """`$ru = "sip:..."` (SET_URI_T); Kamailio refuses $null and non-string values."""
    if not isinstance(ctx.msg, Request):
        log.error("cannot set the R-URI of a reply")
        return
    if not isinstance(value, str):
        log.error("str value required to set R-URI")
        return
    try:
        parse_uri(value)
    except SIPProtocolError:
        log.error("invalid R-URI %r", value)
        return
    ctx.new_ruri = value


def _set_ruri_part(apply: Callable[[URI, str | None], None], what: str) -> Setter:
    def setter(ctx: MessageContext, value: Value) -> None:
        if not isinstance(ctx.msg, Request):
            log.error("cannot set the R-URI %s of a reply", what)
            return
        try:
            uri = parse_uri(ctx.ruri)
        except SIPProtocolError:
            log.error("failed to parse the R-URI")
            return
        apply(uri, None if value is None or value == "" else str(value))
        ctx.new_ruri = str(uri)
    return setter


def _user(uri: URI, v: str | None) -> None:
    uri.user = v
    if v is None:
        uri.password = None


def _host(uri: URI, v: str | None) -> None:
    if v is not None:
        uri.host = v


def _port(uri: URI, v: str | None) -> None:
    port = to_int(v) if v is not None else None
    if v is not None and (port is None or not 0 < port < 65536):
        log.error("invalid port %r", v)
        return
    uri.port = port


set_rU = _set_ruri_part(_user, "user")
set_rd = _set_ruri_part(_host, "host")
set_rp = _set_ruri_part(_port, "port")


# ---------------------------------------------------------------- destination and socket


def set_du(ctx: MessageContext, value: Value) -> None:
    if value is None:
        ctx.dst_uri = None
        return
    if not isinstance(value, str):
        log.error("str value required to set dst uri")
        return
    try:
        parse_uri(value)
    except SIPProtocolError:
        log.error("invalid dst uri %r", value)
        return
    ctx.dst_uri = value
    ctx.ruri_new = True  # pv_set_dsturi()'s ruri_mark_new(): the R-URI is forked again to the new $du


def find_socket(ctx: MessageContext, text: str) -> Socket | None:
    """`proto:host:port` (or `host:port`, `host`) among the core's listening sockets."""
    proto, host, port = parse_socket_text(text)
    for sock in ctx.core.sockets:
        if proto and sock.proto != proto:
            continue
        if sock.host.strip("[]").lower() != host.lower():
            continue
        if port and sock.port != port:
            continue
        return sock
    return None


def parse_socket_text(text: str) -> tuple[str | None, str, int | None]:
    t = text.strip()
    proto = None
    head, sep, rest = t.partition(":")
    if sep and head.lower() in ("udp", "tcp", "tls", "sctp", "ws", "wss"):
        proto, t = head.lower(), rest
    port = None
    if t.startswith("["):
        host, _, tail = t[1:].partition("]")
        if tail.startswith(":"):
            port = to_int(tail[1:])
    elif t.count(":") == 1:
        host, _, p = t.partition(":")
        port = to_int(p)
    else:
        host = t
    return proto, host, port


def set_fs(ctx: MessageContext, value: Value) -> None:
    if value is None or value == "":
        ctx.force_socket = None
        return
    sock = find_socket(ctx, str(value))
    if sock is None:
        log.error("no local socket matching %r", value)
        return
    ctx.force_socket = sock


def get_fs(ctx: MessageContext) -> Value:
    return str(ctx.force_socket) if ctx.force_socket else None


def get_fsp(ctx: MessageContext) -> Value:
    return ctx.force_socket.port if ctx.force_socket else None


# ---------------------------------------------------------------- From / To


def _current_nameaddr(ctx: MessageContext, name: str) -> NameAddr | None:
    pending = ctx.local.get(f"pv.{name}")
    if pending is not None:
        return pending[0]  # type: ignore[no-any-return]
    try:
        na = ctx.msg.from_ if name == "from" else ctx.msg.to
    except SIPProtocolError:
        log.error("cannot parse the %s header", name)
        return None
    if na is None:
        return None
    return NameAddr(na.display, URI.parse(str(na.uri)), list(na.params.items()))


def _write_header(ctx: MessageContext, name: str, na: NameAddr) -> None:
    """Write the From/To line anew where it stands (its name as written kept); a later write in
    the same message takes this one back and writes its own."""
    msg = ctx.msg
    pending = ctx.local.get(f"pv.{name}")
    if pending is not None:
        msg.cancel(pending[1])
    try:
        change = msg.replace_header(name, 0, str(na))
    except (IndexError, ValueError) as exc:
        log.error("cannot write the %s header: %s", name, exc)
        return
    ctx.local[f"pv.{name}"] = (na, change)


def _set_hdr_part(name: str, apply: Callable[[NameAddr, str | None], bool]) -> Setter:
    def setter(ctx: MessageContext, value: Value) -> None:
        na = _current_nameaddr(ctx, name)
        if na is None:
            log.error("no %s header to change", name)
            return
        if apply(na, None if value is None else str(value)):
            _write_header(ctx, name, na)
    return setter


def _na_uri(na: NameAddr, v: str | None) -> bool:
    if not v:
        log.error("a URI is required")
        return False
    try:
        na.uri = parse_uri(v)
    except SIPProtocolError:
        log.error("invalid URI %r", v)
        return False
    return True


def _na_user(na: NameAddr, v: str | None) -> bool:
    na.uri.user = v or None
    if not v:
        na.uri.password = None
    return True


def _na_host(na: NameAddr, v: str | None) -> bool:
    if not v:
        log.error("a domain is required")
        return False
    na.uri.host = v
    return True


def _na_display(na: NameAddr, v: str | None) -> bool:
    na.display = v.strip('"') if v else None
    return True


def header_setters(name: str, prefix: str) -> dict[str, Setter]:
    uri_setter = _set_hdr_part(name, _na_uri)
    return {
        f"{prefix}u": uri_setter, name: uri_setter,
        f"{prefix}U": _set_hdr_part(name, _na_user),
        f"{prefix}d": _set_hdr_part(name, _na_host),
        f"{prefix}n": _set_hdr_part(name, _na_display),
    }


# ---------------------------------------------------------------- flags


def _int_value(value: Value, what: str) -> int | None:
    n = 0 if value is None else to_int(value)
    if n is None:
        log.error("integer value required to set %s", what)
    return n


def set_mf(ctx: MessageContext, value: Value) -> None:
    n = _int_value(value, "message flags")
    if n is not None:
        ctx.flags = n & 0xFFFFFFFF


def set_bf(ctx: MessageContext, value: Value) -> None:
    n = _int_value(value, "branch flags")
    if n is not None:
        ctx.bflags = n & 0xFFFFFFFF


WRITERS: dict[str, Setter] = {
    "ru": set_ru, "ruri": set_ru, "rU": set_rU, "rd": set_rd, "rp": set_rp,
    "du": set_du, "duri": set_du, "fs": set_fs,
    "mf": set_mf, "mF": set_mf, "bf": set_bf, "bF": set_bf,
    **header_setters("from", "f"), **header_setters("to", "t"),
}
