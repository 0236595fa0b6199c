"""`$via0(attr)`, `$via1(attr)`, `$viaZ(attr)`: the first, second and last Via (host, port, proto,
protoid, branch, rport, received, i)."""
from __future__ import annotations

from kampy.api import MessageContext, SIPProtocolError, Via

from .common import PVError, Reader, Value

_PROTO_IDS = {"UDP": 1, "TCP": 2, "TLS": 3, "SCTP": 4, "WS": 5, "WSS": 6}


def _attr(via: Via, key: str) -> Value:
    if key == "host":
        return via.host
    if key == "port":
        return via.port or 5060
    if key == "proto":
        return via.transport
    if key == "protoid":
        return _PROTO_IDS.get(via.transport, 0)
    value = via.params.get(key)
    return value or None


def via_accessor(cls: str, key: str) -> Reader:
    key = key.strip()
    if key not in ("host", "port", "proto", "protoid", "branch", "rport", "received", "i"):
        raise PVError(f"unknown ${cls}({key})")
    pos = {"via0": 0, "via1": 1, "viaZ": -1}[cls]

    def get(ctx: MessageContext) -> Value:
        try:
            vias = ctx.msg.vias
        except SIPProtocolError:
            return None
        if not vias or (pos == 1 and len(vias) < 2):
            return None
        return _attr(vias[pos], key)

    return Reader(get)
