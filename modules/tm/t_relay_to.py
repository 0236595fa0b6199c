"""Relaying to a given address (Kamailio's t_relay_to* and t_forward_nonack* of tm.c, and t_replicate
of t_fwd.c/t_funcs.c): the destination named in the script instead of the next hop of the request,
a forced transport, and replication (a stateful copy whose replies stay here)."""
from __future__ import annotations

from kampy.api import MessageContext, Request, RouteType, SIPProtocolError, avp_get, destination, parse_uri

from .base import RELEASED, log
from .t_fwd import Forward

PROTOS = ("udp", "tcp", "tls", "sctp", "ws", "wss")
DEFAULT_PORTS = {"tls": 5061, "wss": 443, "ws": 80}
Proxy = tuple[str, str, int]

# t_relay_to(flags): the bits and what each switches for the transaction
NO_AUTO_100, NO_INTERNAL_REPLY, NO_DNS_FAILOVER = 0x01, 0x02, 0x04


def default_port(proto: str | None) -> int:
    return DEFAULT_PORTS.get(proto or "udp", 5060)


def parse_phostport(text: str) -> tuple[str | None, str, int | None] | None:
    """Kamailio's parse_phostport: "proto:host:port", proto and port optional; an IPv6 host in
    brackets. None when it does not parse."""
    rest = text.strip()
    proto = None
    head, sep, tail = rest.partition(":")
    if sep and head.lower() in PROTOS:
        proto, rest = head.lower(), tail
    port: int | None = None
    if rest.startswith("["):
        host, _, after = rest[1:].partition("]")
        if after:
            if not after.startswith(":"):
                return None
            port_text = after[1:]
        else:
            port_text = None
    else:
        host, sep, port_text = rest.partition(":")
        port_text = port_text if sep else None
        if port_text is not None and ":" in port_text:
            return None
    if port_text is not None:
        if not port_text.isdigit():
            return None
        port = int(port_text)
    if not host:
        return None
    return proto, host, port


def parse_relay_to(text: str) -> tuple[str, int | Proxy]:
    """fixup_t_relay_to with one argument: flags (decimal or 0x hex) or a proxy address."""
    flags = parse_flags(text, strict=False)
    if flags is not None:
        return "flags", flags
    parsed = parse_phostport(text)
    if parsed is None:
        raise ValueError(f"invalid proxy addr parameter <{text}>")
    proto, host, port = parsed
    return "proxy", (proto or "", host, port or 0)


def parse_flags(text: str, strict: bool = True) -> int | None:
    value = text.strip()
    try:
        if len(value) > 2 and value[:2] == "0x":
            return int(value[2:], 16)
        return int(value)
    except ValueError:
        if strict:
            raise ValueError(f"invalid flags <{text}>") from None
        return None


def forced(proxy: Proxy, proto: str | None) -> Proxy:
    """get_proto(force_proto, proxy->proto), the port defaulting per transport (proxy2su)."""
    p, host, port = proxy
    chosen = proto or p or "udp"
    return chosen, host, port or default_port(chosen)


class RelayTo(Forward):
    """t_relay_to*, t_forward_nonack*, t_replicate*."""

    # ------------------------------------------------------------ addresses

    def _host_port(self, host: str, port: str | None, proto: str | None) -> Proxy | None:
        """fixup_hostport2proxy: a host and a port (empty: the transport's default)."""
        name = host.strip().strip("[]")
        if not name:
            log.error("host name is empty")
            return None
        number = 0
        if port is not None and port.strip():
            if not port.strip().isdigit():
                log.error("bad port number <%s>", port)
                return None
            number = int(port)
        return forced(("", name, number), proto)

    def _proto_addr(self, ctx: MessageContext, proto_text: str, addr_text: str) -> Proxy | None:
        """t_protoaddr2proxy: a transport name (or its number, as Kamailio's PROTO_*) and "host[:port]",
        each a literal or an AVP named as the old core did (`$name`)."""
        proto_value = avp_of(ctx, proto_text)
        proto = proto_name(str(proto_value)) if proto_value is not None else None
        addr = avp_of(ctx, addr_text)
        if isinstance(addr, int):
            log.error("avp <%s> value is not string", addr_text[1:])
            return None
        host, sep, port_text = (addr or "").strip().partition(":")
        port = 5060
        if sep:
            if not port_text.isdigit():
                log.error("bad port number <%s>", addr)
                return None
            port = int(port_text)
        if not host:
            log.error("host name is empty")
            return None
        return proto or "udp", host, port

    def _next_hop(self, ctx: MessageContext, proto: str | None) -> Proxy | None:
        dest = destination(ctx.dst_uri or ctx.ruri)
        if dest is None:
            return None
        return dest if proto is None else (proto, dest[1], dest[2])

    # ------------------------------------------------------------ t_relay_to*

    def _relay_to(self, ctx: MessageContext, proxy: Proxy | None) -> int:
        """_w_t_relay_to: failure_route adds branches, request_route relays."""
        if ctx.route_type & RouteType.FAILURE:
            cell = self.cell_of(ctx)
            if cell is None:
                log.error("undefined T")
                return -1
            return 1 if self._forward(ctx, cell, proxy) > 0 else -1
        return self._relay(ctx, proxy)

    def t_relay_to(self, ctx: MessageContext, first: tuple[str, int | Proxy] | None = None,
                   flags: int | None = None) -> int:
        proxy: Proxy | None = None
        if first is not None:
            kind, value = first
            # Kamailio 5.6 calls a one-argument function with no second parameter, so the flags
            # of t_relay_to("0x01") never reach it: the request is relayed as by t_relay_to()
            if kind == "proxy":
                proxy = forced(value, None)  # type: ignore[arg-type]
            elif flags is not None:
                log.error("t_relay_to: invalid proxy addr parameter")
                return -1
        if flags:
            if flags & NO_AUTO_100:
                self._flag(ctx, "auto_inv_100", False)
            if flags & NO_INTERNAL_REPLY:
                self._flag(ctx, "disable_internal_reply", True)
            if flags & NO_DNS_FAILOVER:
                self._flag(ctx, "disable_failover", True)
        return self._relay_to(ctx, proxy)

    def fix_relay_to(self, value: str) -> tuple[str, int | Proxy]:
        return parse_relay_to(value)

    def fix_relay_flags(self, value: str) -> int:
        return parse_flags(value)  # type: ignore[return-value]

    def t_relay_to_tls(self, ctx: MessageContext, host: str | None = None, port: str | None = None) -> int:
        return self._relay_proto(ctx, "tls", host, port)

    def t_relay_to_avp(self, ctx: MessageContext, proto: str, addr: str) -> int:
        if ctx.route_type & RouteType.FAILURE:
            return -1
        proxy = self._proto_addr(ctx, proto, addr)
        return -1 if proxy is None else self._relay_to(ctx, proxy)

    # ------------------------------------------------------------ t_forward_nonack*

    def _forward_nonack(self, ctx: MessageContext, proxy: Proxy | None) -> int:
        msg = ctx.msg
        cell = self.cell_of(ctx)
        if cell is None:
            kind, cell = self._lookup(ctx)
            if kind != "retr" and cell is None:
                log.error("can't forward when no transaction was set up")
                return -1
        if cell is None:
            return -1
        if isinstance(msg, Request) and msg.method.upper() == "ACK":
            log.warning("you don't really want to fwd hop-by-hop ACK")
            return -1
        return self._forward(ctx, cell, proxy)

    def _nonack_host(self, ctx: MessageContext, host: str, port: str, proto: str | None) -> int:
        proxy = self._host_port(host, port, proto)
        return -1 if proxy is None else self._forward_nonack(ctx, proxy)

    def t_forward_nonack(self, ctx: MessageContext, host: str, port: str) -> int:
        return self._nonack_host(ctx, host, port, None)

    def t_forward_nonack_uri(self, ctx: MessageContext) -> int:
        return self._forward_nonack(ctx, None)

    def t_forward_nonack_udp(self, ctx: MessageContext, host: str, port: str) -> int:
        return self._nonack_host(ctx, host, port, "udp")

    def t_forward_nonack_tcp(self, ctx: MessageContext, host: str, port: str) -> int:
        return self._nonack_host(ctx, host, port, "tcp")

    def t_forward_nonack_tls(self, ctx: MessageContext, host: str, port: str) -> int:
        return self._nonack_host(ctx, host, port, "tls")

    def t_forward_nonack_to(self, ctx: MessageContext, proto: str, addr: str) -> int:
        proxy = self._proto_addr(ctx, proto, addr)
        return -1 if proxy is None else self._forward_nonack(ctx, proxy)

    # ------------------------------------------------------------ t_replicate*

    def _replicate(self, ctx: MessageContext, proxy: Proxy | None) -> int:
        """t_replicate: relay statefully, the replies absorbed here (none goes upstream)."""
        ret = self._relay(ctx, proxy, replicate=True)
        if ret <= 0:
            ctx.local[RELEASED] = True
        return ret

    def replicate_uri(self, ctx: MessageContext, uri: str | None) -> int:
        """t_replicate_uri: to a SIP URI, or the next hop."""
        if not uri:
            return self._replicate(ctx, None)
        try:
            parsed = parse_uri(uri)
        except (SIPProtocolError, ValueError):
            parsed = None
        if parsed is None or not parsed.is_sip or not parsed.host:
            log.error("bad replicate SIP address!")
            return -1
        proto = parsed.transport or ("tls" if parsed.scheme.lower() == "sips" else None)
        return self._replicate(ctx, forced(("", parsed.host.strip("[]"), parsed.port or 0), proto))

    def t_replicate(self, ctx: MessageContext, uri: str | None = None, port: str | None = None) -> int:
        """t_replicate([uri]) and t_replicate(host, port); also what tm offers (tmb.t_replicate)."""
        if port is None:
            return self.replicate_uri(ctx, uri)
        proto = ctx.src.proto if ctx.src is not None else None
        return self._replicate_host(ctx, uri or "", port, proto)

    def _replicate_host(self, ctx: MessageContext, host: str, port: str, proto: str | None) -> int:
        proxy = self._host_port(host, port, proto)
        return -1 if proxy is None else self._replicate(ctx, proxy)

    def t_replicate_udp(self, ctx: MessageContext, host: str, port: str) -> int:
        return self._replicate_host(ctx, host, port, "udp")

    def t_replicate_tcp(self, ctx: MessageContext, host: str, port: str) -> int:
        return self._replicate_host(ctx, host, port, "tcp")

    def t_replicate_tls(self, ctx: MessageContext, host: str, port: str) -> int:
        return self._replicate_host(ctx, host, port, "tls")

    def t_replicate_to(self, ctx: MessageContext, proto: str, addr: str) -> int:
        proxy = self._proto_addr(ctx, proto, addr)
        return -1 if proxy is None else self._replicate(ctx, proxy)


# Kamailio's PROTO_* numbers, as an int AVP gives the transport to t_relay_to_avp/t_replicate_to
PROTO_NUMBERS = {"1": "udp", "2": "tcp", "3": "tls", "4": "sctp", "5": "ws", "6": "wss"}


def proto_name(text: str) -> str | None:
    """str2proto (or a PROTO_* number): None for an unknown one (PROTO_NONE)."""
    name = text.strip().lower()
    if name in PROTOS:
        return name
    return PROTO_NUMBERS.get(name)


def avp_of(ctx: MessageContext, text: str) -> str | int | None:
    """fix_param(FPARAM_AVP | FPARAM_STRING): `$name` is the AVP `name` (None when it has no value;
    `$avp(name)` is no such name for it), anything else the literal."""
    if text.startswith("$"):
        return avp_get(ctx, text[1:])
    return text
