"""corex's functions and parameters (Kamailio 5.6's modules/corex/corex_mod.c, corex_lib.c, corex_nio.c)."""
from __future__ import annotations

import dataclasses
import socket
from typing import Any

from kampy.api import (
    FL_ADD_SRVID,
    FL_ADD_XAVP_VIA_PARAMS,
    FL_UAC_AUTH,
    FL_USE_UAC_FROM,
    FL_USE_UAC_TO,
    FL_USE_XAVP_VIA_FIELDS,
    L_WARN,
    Branch,
    CoreAPI,
    MessageContext,
    Module,
    Outgoing,
    PVAccessor,
    Response,
    SIPProtocolError,
    Source,
    destination,
    grep_socket,
    log_at,
    module_logger,
    parse_message,
    relay_reply,
    send_as_is,
)

from .rpc import CorexRpc
from .vars import CorexVars, split_proto_host_port

log = module_logger("corex")

MAX_XFLAG = 63  # KSR_MAX_XFLAG: two 32-bit words of extended flags
IFLAGS = {"USE_UAC_FROM": FL_USE_UAC_FROM, "USE_UAC_TO": FL_USE_UAC_TO, "UAC_AUTH": FL_UAC_AUTH}
_PROTOS = {"udp", "tcp", "tls", "sctp"}
_DNS_TYPES = {"a": "A", "aaaa": "AAAA", "srv": "SRV"}


# ------------------------------------------------------------------ parameters
def _int_field(fields: dict[str, str], name: str) -> int:
    try:
        return int(fields.get(name) or 0)
    except ValueError:
        return 0




def parse_alias(text: str) -> tuple[str | None, str, int]:
    """An `alias_subdomains` value: `[proto:]domain[:port]` -> (proto, domain, port or 0)."""
    head, colon, rest = text.partition(":")
    proto = None
    if colon and len(head) in (3, 4) and head.lower() in _PROTOS:
        proto, text = head.lower(), rest
    elif colon and len(head) in (3, 4):
        raise ValueError(f"invalid protocol {head}")
    host, colon, port = text.partition(":")
    if not host or (colon and not port):
        raise ValueError(f"error adding alias subdomains: {text}")
    return proto, host, int(port) if port.isdigit() else 0


def check_alias(value: str) -> None:
    parse_alias(value)


def parse_dns_record(text: str) -> dict[str, str]:
    """A `dns_cache` value: `name=...;type=...;addr=...;ttl=...;...` as a dict (names lower-cased)."""
    fields: dict[str, str] = {}
    for part in text.rstrip(";").split(";"):
        name, _, value = part.partition("=")
        if name.strip():
            fields[name.strip().lower()] = value.strip()
    for key in ("ttl", "flags", "priority", "weight", "port"):
        if key in fields and not fields[key].lstrip("-").isdigit():
            raise ValueError(f"invalid {key}: {fields[key]}")
    if not fields.get("name") or not fields.get("addr"):
        raise ValueError("a dns_cache record needs name= and addr=")
    if fields.get("type", "").lower() not in _DNS_TYPES:
        raise ValueError(f"type= must be A, AAAA or SRV, not {fields.get('type', '')!r}")
    return fields


def check_dns_record(value: str) -> None:
    parse_dns_record(value)


def _subdomain_check(aliases: list[tuple[str | None, str, int]]) -> Any:
    """corex_check_self(): a host that is one of the domains or one of their sub-domains."""
    def check(host: str, port: int | None, proto: str | None) -> bool:
        host = host.lower()
        for aproto, domain, aport in aliases:
            if aport and port and aport != port:
                continue
            if aproto and proto and aproto != proto:
                continue
            domain = domain.lower()
            if host == domain or host.endswith("." + domain):
                return True
        return False
    return check


def _q_value(text: str) -> int:
    """str2q(): `0.5` -> 500, `1` -> 1000; ValueError for anything else."""
    t = text.strip()
    if t in ("1", "1.", "1.0", "1.00", "1.000"):
        return 1000
    if t.startswith("0.") and 1 <= len(t) - 2 <= 3 and t[2:].isdigit():
        return int(t[2:].ljust(3, "0"))
    if t in ("0", "0.", "0.0"):
        return 0
    raise ValueError(f"bad q value {text!r}")


class CorexModule(CorexRpc, CorexVars, Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        aliases = [parse_alias(v) for v in params["alias_subdomains"] or []]
        if aliases:
            core.add_myself_check(_subdomain_check(aliases))
        for value in params["dns_cache"] or []:
            self._dns_record(parse_dns_record(value))
        self.nio = bool(params["nio_intercept"])
        self.nio_min_len = max(0, int(params["nio_min_msg_len"]))
        self.nio_avp: PVAccessor | None = None
        self.incoming = False
        if self.nio:
            if not core.has_route("event", "network:msg"):
                raise ValueError("failed to find event_route[network:msg]")
            if params["nio_msg_avp"]:
                spec = str(params["nio_msg_avp"])
                if not spec.startswith("$avp("):
                    raise ValueError(f"malformed or non AVP {spec} AVP definition")
                self.nio_avp = core.pv_accessor(spec)
            else:
                log_at(log, L_WARN, "no AVP defined to store modified message")

    def _dns_record(self, fields: dict[str, str]) -> None:
        kind = _DNS_TYPES[fields["type"].lower()]
        if kind == "SRV":
            self.core.add_dns_srv_record(fields["name"], fields["addr"], _int_field(fields, "port"),
                                         _int_field(fields, "priority"), _int_field(fields, "weight"))
            return
        self.core.add_dns_record(fields["name"], fields["addr"])

    # ------------------------------------------------------------ branches and sending

    def append_branch(self, ctx: MessageContext, uri: str | None = None, q: str | None = None) -> int:
        """corex_append_branch(): the new branch takes the message's destination, path, branch flags
        and socket; without a URI it takes the R-URI, and those are then reset for the message."""
        qv = -1
        if q:
            try:
                qv = _q_value(q)
            except ValueError:
                log.error("cannot parse the Q parameter")
                return -1
        target = uri if uri else ctx.ruri
        ctx.branches.append(Branch(target, dst_uri=ctx.dst_uri, path=ctx.path_vec, q=qv, flags=ctx.bflags,
                                   socket=ctx.force_socket))
        if not uri:
            ctx.force_socket = None
            ctx.bflags = 0
            ctx.dst_uri = None
            ctx.path_vec = None
        return 1

    def _send(self, ctx: MessageContext, proto: str, dest: str | None) -> int:
        """corex_send(): the message as it was received (the script's changes applied) to `dest`
        (`host[:port]`, port 5060 by default) or the next hop, over `proto`."""
        if dest:
            host, port = _host_port(dest)
        else:
            found = destination(ctx.dst_uri or ctx.ruri) if ctx.is_request else None
            if found is None:
                log.error("send() - bad_uri dropping packet")
                return -1
            _, host, port = found
        return 1 if send_as_is(ctx, proto, host, port) > 0 else -1

    def send_udp(self, ctx: MessageContext, dest: str | None = None) -> int:
        return self._send(ctx, "udp", dest)

    def send_tcp(self, ctx: MessageContext, dest: str | None = None) -> int:
        return self._send(ctx, "tcp", dest)

    def _send_data(self, ctx: MessageContext, uri: str, sock: str | None, data: str) -> int:
        found = destination(uri)
        if found is None:
            log.error("bad dst sip uri <%s>", uri)
            return -1
        proto, host, port = found
        local = None
        if sock:
            sproto, shost, sport = split_proto_host_port(sock)
            local = grep_socket(self.core.sockets, shost, sport, sproto)
            if local is None:
                log_at(log, L_WARN, "local socket not found: %s", sock)
        if local is None or local.proto != proto:
            local = next((s for s in self.core.sockets if s.proto == proto), None)
            if local is None:
                log.error("no socket for dst sip uri <%s>", uri)
                return -1
        ctx.send(Outgoing(proto, host, port, data.encode("utf-8", "surrogateescape"), local))
        return 1

    def send_data(self, ctx: MessageContext, uri: str, data: str) -> int:
        return self._send_data(ctx, uri, None, data)

    def sendx(self, ctx: MessageContext, uri: str, sock: str, data: str) -> int:
        return self._send_data(ctx, uri, sock, data)

    def forward_reply(self, ctx: MessageContext) -> int:
        """Send the reply on to its next Via now (the core still relays it after reply_route, as
        Kamailio does, unless the route drops it)."""
        if isinstance(ctx.msg, Response):
            out = relay_reply(ctx)
            if out is not None:
                ctx.send(out)
        return 1

    # ------------------------------------------------------------ flags

    def msg_iflag_set(self, ctx: MessageContext, name: str) -> int:
        # Kamailio 5.6 tests the wrong value here (fv==1), so an unknown name sets every flag (-1)
        ctx.msg_flags |= IFLAGS.get(name.upper(), -1)
        return 1

    def msg_iflag_reset(self, ctx: MessageContext, name: str) -> int:
        flag = IFLAGS.get(name.upper())
        if flag is None:
            log.error("unsupported flag name [%s]", name)
            return -1
        ctx.msg_flags &= ~flag
        return 1

    def msg_iflag_is_set(self, ctx: MessageContext, name: str) -> int:
        flag = IFLAGS.get(name.upper())
        if flag is None:
            log.error("unsupported flag name [%s]", name)
            return -1
        return 1 if ctx.msg_flags & flag else -2

    def setxflag(self, ctx: MessageContext, flag: int) -> int:
        if not 0 <= flag <= MAX_XFLAG:
            return -1
        ctx.xflags |= 1 << flag
        return 1

    def resetxflag(self, ctx: MessageContext, flag: int) -> int:
        if not 0 <= flag <= MAX_XFLAG:
            return -1
        ctx.xflags &= ~(1 << flag)
        return 1

    def isxflagset(self, ctx: MessageContext, flag: int) -> int:
        if not 0 <= flag <= MAX_XFLAG:
            return -1
        return 1 if ctx.xflags & (1 << flag) else -1

    def _via_flag(self, ctx: MessageContext, flag: int, on: int) -> int:
        ctx.msg_flags = ctx.msg_flags | flag if on else ctx.msg_flags & ~flag
        return 1

    def via_add_srvid(self, ctx: MessageContext, on: int) -> int:
        return self._via_flag(ctx, FL_ADD_SRVID, on)

    def via_add_xavp_params(self, ctx: MessageContext, on: int) -> int:
        return self._via_flag(ctx, FL_ADD_XAVP_VIA_PARAMS, on)

    def via_use_xavp_fields(self, ctx: MessageContext, on: int) -> int:
        return self._via_flag(ctx, FL_USE_XAVP_VIA_FIELDS, on)

    # ------------------------------------------------------------ files

    def file_read(self, ctx: MessageContext, path: str, var: PVAccessor) -> int:
        if not path:
            log.error("cannot get file path")
            return -1
        try:
            with open(path, "rb") as f:
                content = f.read()
        except OSError:
            log.error("cannot open file: %s", path)
            return -1
        var.set(ctx, content.decode("utf-8", "surrogateescape"))  # type: ignore[attr-defined]
        return 1

    def file_write(self, ctx: MessageContext, path: str, content: str) -> int:
        if not path:
            log.error("cannot get file path")
            return -1
        if not content:
            log.error("cannot get the content")
            return -1
        try:
            with open(path, "wb") as f:
                f.write(content.encode("utf-8", "surrogateescape"))
        except OSError:
            log.error("cannot open file: %s", path)
            return -1
        return 1

    # ------------------------------------------------------------ sockets

    def _set_socket(self, ctx: MessageContext, text: str, by_name: bool, receive: bool) -> int:
        if not text:
            log.error("cannot get socket address value")
            return -1
        if by_name:
            found = next((s for s in self.core.sockets if s.name == text), None)
        else:
            try:
                proto, host, port = split_proto_host_port(text)
            except ValueError:
                log.error("invalid socket specification [%s] (%d)", text, int(receive))
                return -1
            found = grep_socket(self.core.sockets, host, port, proto)
        if found is None:
            log_at(log, L_WARN, "no socket found to match [%s] (%d)", text, int(receive))
        elif receive:
            ctx.src = dataclasses.replace(ctx.src, local=found, proto=found.proto)
        else:
            ctx.force_socket = found
        return 1

    def set_send_socket(self, ctx: MessageContext, saddr: str) -> int:
        return self._set_socket(ctx, saddr, by_name=False, receive=False)

    def set_send_socket_name(self, ctx: MessageContext, sname: str) -> int:
        return self._set_socket(ctx, sname, by_name=True, receive=False)

    def set_recv_socket(self, ctx: MessageContext, saddr: str) -> int:
        return self._set_socket(ctx, saddr, by_name=False, receive=True)

    def set_recv_socket_name(self, ctx: MessageContext, sname: str) -> int:
        return self._set_socket(ctx, sname, by_name=True, receive=True)

    def set_source_address(self, ctx: MessageContext, saddr: str) -> int:
        if not saddr:
            log.error("cannot get source address value")
            return -1
        try:
            _, host, port = split_proto_host_port(saddr)
            address = socket.getaddrinfo(host.strip("[]"), None)[0][4][0]
        except (ValueError, OSError):
            log.error("failed to resolve address [%s]", saddr)
            return -1
        ctx.src = dataclasses.replace(ctx.src, ip=address, port=port or 5060)
        return 1

    def is_socket_name(self, ctx: MessageContext, name: str) -> int:
        if not name:
            log.error("cannot get socket name value")
            return -1
        return 1 if any(s.name == name for s in self.core.sockets) else -1

    def is_faked_msg(self, ctx: MessageContext) -> int:
        return 1 if ctx.faked else -1

    # ------------------------------------------------------------ network io intercept

    def is_incoming(self, ctx: MessageContext) -> int:
        return 1 if self.incoming else -1

    def net_data_in(self, data: bytes, src: Source) -> bytes:
        if not self.nio or len(data) < self.nio_min_len:
            return data
        return self._intercept(data, src, incoming=True)

    def net_data_out(self, out: Outgoing) -> Outgoing:
        if not self.nio or len(out.data) < self.nio_min_len:
            return out
        src = Source(out.proto, out.host, out.port, out.local or self.core.sockets[0], out.conn_id)
        data = self._intercept(out.data, src, incoming=False)
        return out if data is out.data else dataclasses.replace(out, data=data)

    def _intercept(self, data: bytes, src: Source, incoming: bool) -> bytes:
        """Run event_route[network:msg] with the message; its AVP, when set, replaces it."""
        try:
            msg = parse_message(data)
        except SIPProtocolError:
            return data
        ctx = MessageContext(msg, src, self.core)
        self.incoming = incoming
        self.core.run_event_route("network:msg", ctx)
        if self.nio_avp is None:
            return data
        value = self.nio_avp.get(ctx)
        if not isinstance(value, str):
            log_at(log, L_WARN, "no value set for AVP, using unmodified message")
            return data
        return value.encode("utf-8", "surrogateescape")


def _host_port(text: str) -> tuple[str, int]:
    """corex_send()'s destination: `host[:port]` (IPv6 in brackets), port 5060 by default."""
    close = text.find("]")
    colon = text.find(":", close + 1 if close >= 0 else 0)
    if colon < 0:
        return text.strip("[]"), 5060
    port = text[colon + 1:]
    return text[:colon].strip("[]"), int(port) if port.isdigit() else 0

