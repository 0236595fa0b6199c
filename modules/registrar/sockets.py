"""Which local socket save() stores with a binding: the one the REGISTER came in on, its advertised
address (sock_mode 1), or, when the message flag sock_flag is set, the socket named in the header
sock_hdr_name or in the xavp_cfg XAVP's `socket` field (Kamailio's get_sock_val)."""
from __future__ import annotations

import logging
from typing import Any

from kampy.api import CoreAPI, MessageContext, grep_socket

log = logging.getLogger("kampy.registrar")

REG_SOCK_USE_ADVERTISED = 1


def parse_phostport(text: str) -> tuple[str, int, str | None] | None:
    """`[proto:]host[:port]` as Kamailio's parse_phostport: (host, port or 0, proto or None)."""
    proto: str | None = None
    head, sep, rest = text.partition(":")
    if sep and head.lower() in ("udp", "tcp", "tls", "sctp", "ws", "wss"):
        proto, text = head.lower(), rest
    if text.startswith("["):
        host, _, after = text[1:].partition("]")
        port = after[1:] if after.startswith(":") else after
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    if not host or (port and not port.isdigit()):
        return None
    return host, int(port or 0), proto


class SocketChoice:
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        self.core = core
        self.sock_mode = int(params["sock_mode"])
        flag = int(params["sock_flag"])
        hdr = params["sock_hdr_name"]
        self.xavp_cfg = str(params["xavp_cfg"] or "")
        if hdr is not None:
            if not hdr or flag == -1:
                log.info("empty sock_hdr_name or sock_flag not set -> resetting")
                hdr, flag = "", -1
        elif self.xavp_cfg:
            if flag == -1:
                log.debug("empty reg_xavp_cfg or sock_flag not set -> resetting")
        elif flag != -1:
            log.info("sock_flag defined but no sock_hdr_name or no reg_xavp_cfg -> resetting flag")
            flag = -1
        self.sock_hdr_name = str(hdr or "")
        self.sock_flag = flag

    def for_binding(self, ctx: MessageContext) -> str:
        """The socket text save() stores for the REGISTER of `ctx`."""
        if self.sock_flag >= 0 and ctx.flags & (1 << self.sock_flag):
            named = self._from_msg(ctx)
            if named is not None:
                return named
        if ctx.force_socket is not None:
            return str(ctx.force_socket)
        local = ctx.src.local
        if self.sock_mode & REG_SOCK_USE_ADVERTISED and (local.advertise_host or local.advertise_port):
            host = local.advertise_host or local.host
            host = f"[{host}]" if ":" in host and not host.startswith("[") else host
            return f"{local.proto}:{host}:{local.advertise_port or local.port}"
        return str(local)

    def _from_msg(self, ctx: MessageContext) -> str | None:
        if self.sock_hdr_name:
            value = ctx.msg.header(self.sock_hdr_name)
            text = (value or "").strip()
        else:
            items = ctx.xavps.get(self.xavp_cfg) if self.xavp_cfg else None
            values = items[0].get("socket") if items else None
            text = str(values[0]) if values and values[0] is not None else ""
        if not text:
            return None
        parsed = parse_phostport(text)
        if parsed is None:
            log.error("bad socket <%s> in", text)
            return None
        sock = grep_socket(self.core.sockets, *parsed)
        if sock is None:
            log.error("non-local socket <%s>", text)
            return None
        return str(sock)
