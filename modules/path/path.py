"""Kamailio 5.6's path module (path.c, path_mod.c).

The Path header goes before the first Path header of the request, else after its last header:
`Path: <sip:[user@]ADDRESS;lr[;received=..][;ob][;params][;r2=on]>`, where ADDRESS is what
Kamailio's SUBST_SND_ALL lump writes for the socket each copy is sent from (with enable_r2 a
second header for the socket the request came in on, SUBST_RCV_ALL)."""
from __future__ import annotations

import logging
import urllib.parse
from typing import Any

from kampy.api import (
    CoreAPI,
    MessageContext,
    Module,
    ObAPI,
    Request,
    RrAPI,
    SendSocketValue,
    Socket,
    as_bytes,
    socket_address,
)

log = logging.getLogger("kampy.path")

# Kamailio's sip_protos (ip_addr.h): the PROTO number of received_format 1
PROTO_NUMBERS = {"udp": 1, "tcp": 2, "tls": 3, "sctp": 4, "ws": 5, "wss": 6}
PROTO_NAMES = {number: name for name, number in PROTO_NUMBERS.items()}
# received_format 0: the transport, escaped (proto_strings); none for UDP
ESCAPED_TRANSPORT = {"tcp": "%3Btransport%3Dtcp", "tls": "%3Btransport%3Dtls", "sctp": "%3Btransport%3Dsctp",
                     "ws": "%3Btransport%3Dws", "wss": "%3Btransport%3Dws"}


class _PathHeader:
    """One add_path*() call's Path header(s), written for the socket each copy is sent from."""

    def __init__(self, module: PathModule, user: str, suffix: str) -> None:
        self.module, self.prefix, self.suffix = module, f"Path: <sip:{user + '@' if user else ''}", suffix

    def line(self, sock: Socket) -> str:
        return f"{self.prefix}{socket_address(sock, self.module.sockname_mode)}{self.suffix}"

    def render(self, ctx: MessageContext, sock: Socket) -> bytes:
        lines = [self.line(sock)]
        if self.module.enable_r2:
            lines.append(self.line(ctx.src.local))
        return as_bytes("\r\n".join(lines))

    def value(self, ctx: MessageContext) -> SendSocketValue:
        return SendSocketValue(self.line(ctx.src.local).partition(": ")[2], self.render)


class PathModule(Module):

    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.use_received = int(params["use_received"]) != 0
        self.received_format = int(params["received_format"])
        self.enable_r2 = int(params["enable_r2"]) != 0
        self.sockname_mode = int(params["sockname_mode"]) != 0
        self.received_name = str(params["received_name"])
        self.ob: ObAPI | None = core.api("outbound")
        if self.ob is None:
            log.info("outbound module not available")
        if self.use_received:
            rr: RrAPI | None = core.api("rr")
            if rr is None:
                raise ValueError("failed to load rr-API")
            rr.register_rrcb(self.rr_callback)

    # -- the functions --
    def add_path(self, ctx: MessageContext, user: str | None = None, parameters: str | None = None) -> int:
        if user is None:
            return self._outbound_path(ctx, received=False)
        return self._prepend(ctx, user, received=False, ob=False, params=parameters or "")

    def add_path_received(self, ctx: MessageContext, user: str | None = None,
                          parameters: str | None = None) -> int:
        if user is None:
            return self._outbound_path(ctx, received=True)
        return self._prepend(ctx, user, received=True, ob=False, params=parameters or "")

    def _outbound_path(self, ctx: MessageContext, received: bool) -> int:
        """handleOutbound: with outbound used for the request, its flow token as the user, and `;ob`
        when this proxy is the first hop (one Via)."""
        user, ob = "", False
        if self.ob is not None and self.ob.use_outbound(ctx):
            user = self.ob.encode_flow_token(ctx)
            ob = isinstance(ctx.msg, Request) and len(ctx.msg.vias) < 2
        return self._prepend(ctx, user, received=received, ob=ob, params="")

    def _prepend(self, ctx: MessageContext, user: str, *, received: bool, ob: bool, params: str) -> int:
        msg = ctx.msg
        if not isinstance(msg, Request):
            return -1
        suffix = ";lr"
        if received:
            suffix += f";{self.received_name}={self._received(ctx)}"
        if ob:
            suffix += ";ob"
        if params:
            suffix += f";{params}"
        suffix += ";r2=on>" if self.enable_r2 else ">"
        value = _PathHeader(self, user, suffix).value(ctx)
        try:
            if msg.get_all_raw("path"):
                msg.insert_header("path", 0, "Path", value)
            else:
                msg.add_header("Path", value)
        except ValueError as exc:
            log.error("failed to insert Path header: %s", exc)
            return -1
        return 1

    def _received(self, ctx: MessageContext) -> str:
        src = ctx.src
        host = f"[{src.ip}]" if ":" in src.ip and not src.ip.startswith("[") else src.ip
        if self.received_format == 0:
            return f"sip:{host}:{src.port}{ESCAPED_TRANSPORT.get(src.proto, '')}"
        return f"{host}~{src.port}~{PROTO_NUMBERS.get(src.proto, 0)}"

    # -- routing by the received parameter (use_received) --
    def rr_callback(self, ctx: MessageContext, params: str) -> None:
        """path_rr_callback: the destination from our Route URI's received parameter."""
        value = self._received_param(params)
        if not value:
            log.debug("no %s parameter in route header", self.received_name)
            return
        dst = urllib.parse.unquote(value) if self.received_format == 0 else _alias_uri(value)
        if dst is None:
            return
        log.debug("setting dst uri: %s", dst)
        ctx.dst_uri = dst

    def _received_param(self, params: str) -> str | None:
        # received_name "received" is matched as Kamailio's contact-class hook: case-insensitively
        exact = self.received_name != "received"
        for part in params.split(";"):
            name, _, value = part.partition("=")
            name = name.strip()
            if name == self.received_name or (not exact and name.lower() == "received"):
                return value.strip().strip('"')
        return None


def _alias_uri(value: str) -> str | None:
    """received_format 1: `IP~PORT~PROTO` -> `sip:IP:PORT[;transport=..]`."""
    parts = value.split("~", 2)  # Kamailio reads one digit after the second `~`, nothing more
    if len(parts) < 3:
        log.error("invalid received format")
        return None
    host, port, proto = parts
    if not proto:
        log.error("invalid received format")
        return None
    number = ord(proto[0]) - ord("0")
    if number == PROTO_NUMBERS["udp"]:
        return f"sip:{host}:{port}"
    name = PROTO_NAMES.get(number)
    if name is None:
        log.error("unknown proto in received param")
        return None
    return f"sip:{host}:{port};transport={name}"
