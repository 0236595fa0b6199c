"""corex's pseudo-variables and transformation (modules/corex/corex_var.c): `$cfg(line)`, `$lsock(...)`,
`{sock.host}`."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kampy.api import CoreAPI, MessageContext, PVar, Socket, Transform, module_logger

log = module_logger("corex")

_PROTO_HOST_PORT = re.compile(r"(?:(?P<proto>udp|tcp|tls|sctp|ws|wss|any):)?(?P<host>\[[^\]]*\]|[^:\[\]]+)"
                              r"(?::(?P<port>\d+))?\Z", re.I)


def split_proto_host_port(text: str) -> tuple[str | None, str, int]:
    """`[proto:]host[:port]` (parse_protohostport): (proto or None, host, port or 0); ValueError."""
    m = _PROTO_HOST_PORT.match(text.strip())
    if m is None:
        raise ValueError(f"bad socket address {text!r}")
    proto = m.group("proto")
    return (proto.lower() if proto else None), m.group("host"), int(m.group("port") or 0)


def _listen_text(sock: Socket) -> str:
    host = f"[{sock.host}]" if ":" in sock.host else sock.host
    return f"{sock.proto}:{host}:{sock.port}"


def _advertise_text(sock: Socket) -> str:
    if not sock.advertise_host:
        return ""
    return f"{sock.proto}:{sock.advertise_host}:{sock.advertise_port or sock.port}"


class _Get:
    __slots__ = ("get",)

    def __init__(self, get: Callable[[MessageContext], str | int | None]) -> None:
        self.get = get


class CorexVars:
    core: CoreAPI

    def pv_cfg(self, spec: PVar) -> _Get:
        """`$cfg(line)`, `$cfg(file)`/`$cfg(name)`, `$cfg(route)`: the action's place in the config."""
        key = (spec.arg or "").strip()
        if key == "line":
            line = spec.pos.line
            return _Get(lambda ctx: line)
        if key in ("name", "file"):
            name = spec.pos.file
            return _Get(lambda ctx: name)
        if key == "route":
            route = self.core.building_route()
            return _Get(lambda ctx: route)
        raise ValueError(f"unknown PV af key: {key}")

    def pv_lsock(self, spec: PVar) -> _Get:
        """`$lsock(m/value/field)`: the local socket whose n(ame), l(isten), a(dvertise) or i(ndex)
        is `value`, and its n(ame), l(isten), a(dvertise) or i(ndex)."""
        text = spec.arg or ""
        render = self.core.formatter(text) if "$" in text else None

        def get(ctx: MessageContext) -> str | int | None:
            expr = render(ctx) if render is not None else text
            parsed = _lsock_expr(expr)
            if parsed is None:
                log.error("failed to parse lsock expression [%s]", expr)
                return None
            return self._lsock(*parsed)
        return _Get(get)

    def _lsock(self, match: str, value: str, field: str) -> str | int | None:
        sockets = list(self.core.sockets)
        found: Socket | None = None
        if match == "n":
            found = next((s for s in sockets if s.name == value), None)
        elif match == "l":
            found = next((s for s in sockets if _listen_text(s) == value), None)
        elif match == "a":
            found = next((s for s in sockets if _advertise_text(s) and _advertise_text(s) == value), None)
        elif sockets:  # "i": Kamailio 5.6 never reads the number, so it is always the first socket
            found = sockets[0]
        if found is None:
            return None
        if field == "n":
            return found.name or ""
        if field == "l":
            return _listen_text(found)
        if field == "a":
            return _advertise_text(found)
        return sockets.index(found)

    def tr_sock(self, tr: Transform) -> Callable[[MessageContext, Any], Any]:
        """`{sock.host}`, `{sock.port}`, `{sock.proto}`, `{sock.touri}` of a `proto:host:port` value."""
        name = tr.name.lower()

        def apply(ctx: MessageContext, value: Any) -> Any:
            if not isinstance(value, str):
                return None
            try:
                proto, host, port = split_proto_host_port(value)
            except ValueError:
                log.error("bad protocol in %s", value)
                return None
            sport = str(port) if port else ""
            if name == "host":
                return host
            if name == "port":
                return sport
            if name == "proto":
                return proto or ""
            uri = f"sip:{host}" + (f":{sport}" if sport else "")
            return uri + (f";transport={proto}" if proto else "")
        return apply


def _lsock_expr(text: str) -> tuple[str, str, str] | None:
    """pv_parse_lsock_expr(): `m/value/field`, the field at least two characters long (Kamailio
    checks so), m and the field's first letter one of n, l, i, a."""
    first = text.find("/")
    second = text.find("/", first + 1) if first >= 0 else -1
    if first < 0 or second < 0 or second >= len(text) - 2 or text.find("/", second + 1) >= 0:
        return None
    match, value, field = text[:first], text[first + 1:second], text[second + 1:]
    if match not in ("n", "l", "i", "a") or field[0] not in "nlia":
        return None
    return match, value, field[0]
