"""`$branch(attr)[i]`: attributes of the additional branches
(uri, dst_uri, path, q, send_socket, count, flags, ruid)."""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from kampy.api import Branch, MessageContext

from .common import Index, PVError, ReadWrite, Value, to_int

log = logging.getLogger("kampy.pv")

_ATTRS = ("uri", "dst_uri", "path", "q", "send_socket", "count", "flags", "ruid")


def branch_accessor(attr: str, index: Index) -> ReadWrite:
    attr = attr.strip()
    if attr not in _ATTRS:
        raise PVError(f"unknown $branch({attr})")

    def target(ctx: MessageContext) -> Branch | None:
        i = index.resolve(ctx) if index.kind != "all" else 0
        if i is None:
            return None
        i = len(ctx.branches) + i if i < 0 else i
        return ctx.branches[i] if 0 <= i < len(ctx.branches) else None

    def get(ctx: MessageContext) -> Value:
        if attr == "count":
            return len(ctx.branches)
        b = target(ctx)
        return None if b is None else _read(b, attr)

    def set_(ctx: MessageContext, value: Value) -> None:
        b = target(ctx)
        if b is None or attr == "count":
            log.error("$branch(%s): no such branch to set", attr)
            return
        _write(b, attr, value)

    return ReadWrite(get, set_)


def _read(b: Branch, attr: str) -> Value:
    if attr == "q":
        return b.q
    if attr == "flags":
        return b.flags
    if attr == "send_socket":
        return str(b.socket) if b.socket else None
    return getattr(b, attr)  # type: ignore[no-any-return]


def _write(b: Branch, attr: str, value: Value) -> None:
    if attr in ("q", "flags"):
        n = to_int(value) if value is not None else (-1 if attr == "q" else 0)
        if n is None:
            log.error("$branch(%s) needs an integer", attr)
            return
        setattr(b, attr, n)
    elif attr == "uri":
        if value is None:
            log.error("$branch(uri) cannot be $null")
            return
        b.uri = str(value)
    elif attr in ("dst_uri", "path", "ruid"):
        setattr(b, attr, None if value is None else str(value))
    else:
        log.error("$branch(%s) is read-only here", attr)


def sbranch_accessor(attr: str, static: Callable[[], Branch]) -> ReadWrite:
    """`$sbranch(attr)`: the static branch of this process (kept across messages, as Kamailio's
    _pv_sbranch), which sbranch_set_ruri()/sbranch_append() use."""
    attr = attr.strip()
    if attr not in _ATTRS:
        raise PVError(f"unknown PV branch name {attr}")

    def get(ctx: MessageContext) -> Value:
        b = static()
        if attr == "count":
            return 1 if b.uri else 0
        if not b.uri:
            return None
        return _read(b, attr)

    def set_(ctx: MessageContext, value: Value) -> None:
        if attr == "count":
            log.error("$sbranch(count) is read-only")
            return
        _write(static(), attr, value)

    return ReadWrite(get, set_)


def sbranch_set_ruri(ctx: MessageContext, b: Branch) -> int:
    """sbranch_set_ruri(): the static branch becomes branch 0 (R-URI, $du, instance, ruid,
    socket, q; its flags added to the branch flags). Kamailio 5.6 always leaves the path empty."""
    if not b.uri:
        return -1
    ctx.new_ruri = b.uri
    ctx.dst_uri = b.dst_uri or None
    ctx.path_vec = None
    ctx.instance = b.instance or None
    ctx.ruid = b.ruid or None
    ctx.location_ua = None
    if b.socket is not None:
        ctx.force_socket = b.socket
    ctx.ruri_q = b.q
    ctx.bflags |= b.flags
    return 1


def sbranch_append(ctx: MessageContext, b: Branch) -> int:
    if not b.uri:
        return -1
    ctx.branches.append(dataclasses.replace(b))
    return 1
