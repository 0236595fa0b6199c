"""The sipjson module: sj_serialize() as Kamailio's sj_serialize_data() builds the document."""
from __future__ import annotations

import json
from typing import Any

from kampy.api import (L_ERR, MessageContext, Module, PVAccessor, Request, SIPProtocolError, as_bytes, log_at,
                       module_logger, parse_name_addr, parse_uri)

log = module_logger("sipjson")


def _uri_parts(text: str | None) -> tuple[str, str, int] | None:
    """(user, host, port number or 0) of a URI, None when it does not parse."""
    if text is None:
        return None
    try:
        uri = parse_uri(text)
    except SIPProtocolError:
        return None
    return uri.user or "", uri.host or "", uri.port or 0


def _header_uri(msg: Any, name: str) -> tuple[str, str, int] | None:
    value = msg.header(name)
    if value is None:
        return None
    try:
        return _uri_parts(str(parse_name_addr(value).uri))
    except SIPProtocolError:
        return None


def serialize(ctx: MessageContext, opt: str) -> dict[str, Any]:
    msg = ctx.msg
    doc: dict[str, Any] = {}
    is_request = isinstance(msg, Request)
    cseq = msg.cseq
    doc["mt"] = 2 if is_request else 1
    doc["rm"] = msg.method if is_request else (cseq.method if cseq else "")
    doc["pr"] = ctx.src.proto.lower() or "none"
    doc["si"] = ctx.src.ip
    doc["sp"] = ctx.src.port
    if ctx.src.local is not None:
        doc["Ri"] = ctx.src.local.host
        doc["Rp"] = ctx.src.local.port
    if is_request:
        ruri = _uri_parts(ctx.ruri)
        doc["ru"] = ctx.ruri if ruri is not None else ""
        user, host, port = ruri or ("", "", 0)
        doc.update({"rU": user, "rd": host, "rp": port, "rs": 0, "rr": ""})
    else:
        doc.update({"ru": "", "rU": "", "rd": "", "rp": 0, "rs": msg.status, "rr": msg.reason})
    from_user, from_host, _ = _header_uri(msg, "from") or ("", "", 0)
    doc.update({"fU": from_user, "fd": from_host})
    doc["ua"] = msg.header("user-agent") or ""
    doc["ci"] = msg.call_id or ""
    for flag in opt:
        if flag == "B":
            doc["rb"] = msg.body.decode("utf-8", "surrogateescape")
        elif flag == "c":
            doc["cs"] = str(cseq.num) if cseq else ""
        elif flag == "t":
            to_user, to_host, _ = _header_uri(msg, "to") or ("", "", 0)
            doc.update({"tU": to_user, "td": to_host})
    return doc


def to_json(doc: dict[str, Any]) -> str:
    """Compact, as srjson_PrintUnformatted() writes it (no spaces, non-ASCII kept)."""
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    return as_bytes(text).decode("utf-8", "replace")


class SipJsonModule(Module):
    def sj_serialize(self, ctx: MessageContext, opt: str, ovar: PVAccessor) -> int:
        if not opt:
            log_at(log, L_ERR, "no serialization mode parameter")
            return -1
        setter = getattr(ovar, "set", None)
        if setter is None:
            log_at(log, L_ERR, "read only output variable")
            return -1
        setter(ctx, to_json(serialize(ctx, opt)))
        return 1
