"""Stateless forwarding of requests and relaying of replies (src/core/forward.c, msg_translator.c).

A forwarded request gets a new top Via with the sending socket's address and a branch computed from
the transaction key like Kamailio's (char_msg_val + branch_builder: `z9hG4bK<hash>.<md5>.0`), so a
retransmission, its ACK for a negative reply and a CANCEL get the same branch. Max-Forwards is not
touched (that is the maxfwd module's job). A reply is relayed by removing our Via and sending it to
the next one (its `received`/`rport` when present).
"""
from __future__ import annotations

import functools
import hashlib
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from kampy.runtime.context import (FL_ADD_SRVID, FL_ADD_XAVP_VIA_PARAMS, FL_MTU_FB_MASK, FL_MTU_SCTP_FB,
                                   FL_MTU_TCP_FB, FL_MTU_TLS_FB, FL_USE_XAVP_VIA_FIELDS,
                                   MessageContext, Outgoing, Socket)
from kampy.config import ast
from kampy.runtime.flow import LoadError
from kampy.runtime.values import as_bool
from kampy.sip.via import received_params, split_first_via
from kampy.sip.errors import SIPProtocolError
from kampy.sip.message import AddHeader, Change, InsertHeader, Request, Response
from kampy.sip.uri import URI, Via, parse_uri
from kampy.runtime.hashes import hash2_raw, reverse_hex
from kampy.runtime.sipdns import DNS_IPV4_ONLY, SipDest, SipTarget, srv_protos
from kampy.sip.text import as_bytes

if TYPE_CHECKING:
    from kampy.apis import CoreAPI

log = logging.getLogger("kampy.forward")

DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061, "sctp": 5060, "ws": 80, "wss": 443}


def stateless_branch(msg: Request) -> str:
    from_ = msg.from_
    to = msg.to
    cseq = msg.cseq
    via = msg.via
    callid = msg.call_id or ""
    cseq_num = str(cseq.num) if cseq else ""
    to_tag = "" if msg.method in ("INVITE", "ACK", "CANCEL") else ((to.tag if to else None) or "")
    parts = [(from_.tag if from_ else None) or "", to_tag, callid, msg.uri, cseq_num]
    if via is not None:
        parts += [via.host, "" if via.port is None else str(via.port)]
        if via.branch is not None:
            parts.append(via.branch)
    md5 = hashlib.md5(as_bytes("".join(parts))).hexdigest()
    hash_index = hash2_raw(callid, cseq_num) & 0xFFFF
    return f"z9hG4bK{reverse_hex(hash_index)}.{md5}.0"


def previous_via_line(msg: Request, line: bytes, src_ip: str, src_port: int,
                      force_rport: bool) -> bytes | None:
    """The received top Via line with `received`/`rport` recorded as Kamailio's via lumps do in a
    forwarded request (build_req_buf_from_sip_req): each replaces its old value where it stands,
    else goes right after the sent-by (`;rport=N;received=IP;branch=...`). None when unchanged."""
    via = msg.via
    if via is None:
        return None
    received, rport = received_params(via, src_ip, src_port, force_rport)
    if received is None and rport is None:
        return None
    name, colon, rest = line.partition(b":")
    first, comma, others = split_first_via(rest)
    parts = first.split(b";")
    names = [part.strip().partition(b"=")[0].strip().lower() for part in parts]
    new = {b"rport": rport, b"received": received}
    anchor = names.index(b"received") if received is not None and b"received" in names[1:] else 1
    for key in (b"received", b"rport"):  # inserted at the same anchor: rport ends up first
        value = new[key]
        if value is not None and key not in names[1:]:
            parts.insert(anchor, key + b"=" + as_bytes(value))
            names.insert(anchor, key)
    for i in range(1, len(parts)):
        value = new.get(names[i])
        if value is not None:
            parts[i] = names[i] + b"=" + as_bytes(value)
    return name + colon + b";".join(parts) + comma + others


@functools.lru_cache(maxsize=4096)  # the same few next hops (outbound proxy, contacts) again and again
def destination(uri_text: str) -> tuple[str, str, int] | None:
    """(proto, host, port) to send to for a URI: its transport param, host, port or the default."""
    try:
        uri = parse_uri(uri_text)
    except SIPProtocolError:
        return None
    return uri_destination(uri)


def uri_destination(uri: URI) -> tuple[str, str, int] | None:
    if not uri.is_sip or not uri.host:
        return None
    proto = uri.transport or ("tls" if uri.scheme.lower() == "sips" else "udp")
    port = uri.port or DEFAULT_PORTS.get(proto, 5060)
    return proto, uri.host.strip("[]"), port


def choose_socket(ctx: MessageContext, proto: str, host: str) -> Socket | None:
    forced = ctx.force_socket
    if forced is not None and forced.proto == proto:
        return forced
    want_v6 = ":" in host
    sockets = ctx.core.sockets
    if proto == "udp" and as_bool(ctx.core.core_params.get("mhomed"), False):
        return mhomed_socket(sockets, host)
    # prefer the socket the request came in on, as Kamailio's get_send_socket does
    local = ctx.src.local if ctx.src is not None else None
    if local is not None and local.proto == proto and (":" in local.host) == want_v6:
        return local
    for sock in sockets:
        if sock.proto == proto and (":" in sock.host) == want_v6:
            return sock
    return None


def mhomed_socket(sockets: list[Socket], host: str) -> Socket | None:
    """Kamailio's `mhomed=yes` (get_out_socket()): the UDP socket whose address is the one the
    kernel would send from to `host`; none when kampy does not listen there."""
    address = host.strip("[]")
    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((address, 5060))  # a UDP connect sends nothing: it only picks the route
            local = probe.getsockname()[0]
        except OSError as exc:
            log.error("mhomed: no route to %s: %s", host, exc)
            return None
    found = next((s for s in sockets if s.proto == "udp" and s.host.strip("[]") == local), None)
    if found is None:
        log.error("mhomed: no udp socket listening on %s, the address the system sends from to %s",
                  local, host)
    return found


def _via_host(sock: Socket, ctx: MessageContext) -> str:
    host = ctx.advertised_address or sock.advertise_host or sock.host
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def forward_request(ctx: MessageContext, proto: str | None, host: str | None, port: int | None) -> int:
    """Send the request statelessly to the first target its destination resolves to (RFC 3263);
    returns 1, or -1 (with a log line) when it cannot. With use_dns_failover, a send that fails goes
    to the next address of the destination (forward.c). A destination not in the DNS cache is
    resolved on the event loop: the request, built now, goes out once it is."""
    msg = ctx.msg
    if not isinstance(msg, Request):
        log.error("forward() on a reply: use it in request routes")
        return -1
    if host is None:
        target = ctx.dst_uri or ctx.ruri
        dest = sip_destination(target)
        if dest is None:
            log.error("forward(): cannot send to '%s' (not a SIP URI with a host)", target)
            return -1
        dest = SipDest(dest.host, port or dest.port, (proto or "").lower() or dest.proto)
    else:
        dest = SipDest(host.strip("[]"), port or None, proto.lower() if proto else None)
    core = ctx.core
    targets = core.sip_targets(dest)
    if targets is not None:
        return _forward_to(ctx, dest, targets)
    variants = send_variants(ctx, dest)
    if not variants:
        log.error("forward(): no socket to send to %s", dest.host)
        return -1
    failover = _dns_failover(ctx)
    core.resolve_sip(dest, lambda found: _forward_resolved(core, dest, found, variants, failover))
    return 1


def _dns_failover(ctx: MessageContext) -> bool:
    return bool(ctx.core.cfg.get("core", "use_dns_failover"))


def _forward_to(ctx: MessageContext, dest: SipDest, targets: list[SipTarget]) -> int:
    if not targets:
        log.error("forward(): failed to resolve '%s'", dest.host)
        return -1
    for i, target in enumerate(targets):
        sock = choose_socket(ctx, target.proto, target.ip)
        if sock is None:
            continue
        data, sock = build_sent(ctx, sock, target.ip)
        ctx.send(Outgoing(sock.proto, target.ip, target.port, data, sock,
                          fallbacks=fallbacks(targets, i) if _dns_failover(ctx) else ()))
        return 1
    log.error("forward(): no %s socket to send to %s (%s)", targets[0].proto, dest.host, targets[0].ip)
    return -1


def _forward_resolved(core: CoreAPI, dest: SipDest, targets: list[SipTarget],
                      variants: Variants, failover: bool) -> None:
    for i, target in enumerate(targets):
        variant = variants.get((target.proto, ":" in target.ip))
        if variant is not None:
            data, sock = variant
            core.send(Outgoing(sock.proto, target.ip, target.port, data, sock,
                               fallbacks=fallbacks(targets, i) if failover else ()))
            return
    if targets:
        log.error("forward(): no socket to send to %s (%s:%s)", dest.host, targets[0].proto, targets[0].ip)
    else:
        log.error("forward(): failed to resolve '%s'", dest.host)


def fallbacks(targets: list[SipTarget], i: int) -> tuple[tuple[str, int], ...]:
    """The addresses after target `i` a send that failed can go to with the same bytes (same
    protocol and address family)."""
    first = targets[i]
    return tuple((t.ip, t.port) for t in targets[i + 1:]
                 if t.proto == first.proto and (":" in t.ip) == (":" in first.ip))


Variants = dict[tuple[str, bool], tuple[bytes, Socket]]  # (proto, IPv6?) -> (bytes, socket)


def send_variants(ctx: MessageContext, dest: SipDest,
                  build: Callable[[Socket], tuple[bytes, Socket]] | None = None) -> Variants:
    """The request as it would leave from each (protocol, IPv6?) the resolution may pick, built now
    (the message and the script's changes as they are at the time of the call)."""
    opts = ctx.core.dns_options()
    protos = [dest.proto] if dest.proto else list(dict.fromkeys(["udp", *srv_protos(None, opts)]))
    families = [False, True] if not opts.ip_flags & DNS_IPV4_ONLY else [False]
    found = {}
    for proto in protos:
        for v6 in families:
            sock = choose_socket(ctx, proto, "::" if v6 else "0.0.0.0")
            if sock is not None and (":" in sock.host) == v6:
                found[(proto, v6)] = build(sock) if build else build_sent(ctx, sock, sock.host)
    return found


def sip_destination(uri_text: str) -> SipDest | None:
    """What the URI names for RFC 3263: host, port if given, transport if given (TLS for sips)."""
    try:
        uri = parse_uri(uri_text)
    except SIPProtocolError:
        return None
    return uri_sip_dest(uri)


def uri_sip_dest(uri: URI) -> SipDest | None:
    if not uri.is_sip or not uri.host:
        return None
    proto = uri.transport.lower() if uri.transport else ("tls" if uri.scheme.lower() == "sips" else None)
    return SipDest(uri.host.strip("[]"), uri.port or None, proto)


def socket_address(sock: Socket, sockname: bool = False) -> str:
    """What Kamailio's SUBST_SND_ALL/SUBST_RCV_ALL lumps write for `sock`: its (advertised) address,
    `:port` unless it is 5060 and not advertised, `;transport=` unless UDP; with `sockname`
    (SUBST_*_ALL_EX) `;sn=` and the socket's name when it has one."""
    host = sock.advertise_host or sock.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = sock.advertise_port or sock.port
    text = host if port == 5060 and not sock.advertise_port else f"{host}:{port}"
    if sock.proto != "udp":
        text += f";transport={sock.proto}"
    if sockname and sock.name:
        text += f";sn={sock.name}"
    return text


class SendSocketValue(str):
    """A header value whose final text depends on the socket a request is sent from (Kamailio's
    SUBST_SND_* and COND_IF_DIFF_REALMS lumps, used by rr's Record-Route and path's Path). Add it
    with `msg.add_header(name, value)` or `msg.insert_header(anchor, i, name, value)`: its text is
    what a plain `to_bytes()` writes; each copy that `build_forwarded` sends has that header line
    replaced by `render(ctx, sock)` (whole header lines, CRLF-joined, "Name: value")."""

    render: Callable[[MessageContext, Socket], bytes]

    def __new__(cls, text: str, render: Callable[[MessageContext, Socket], bytes]) -> SendSocketValue:
        obj = super().__new__(cls, text)
        obj.render = render
        return obj


def _send_socket_value(change: Change) -> SendSocketValue | None:
    if change.__class__ in (AddHeader, InsertHeader):
        value = change.value  # type: ignore[union-attr]
        if isinstance(value, SendSocketValue):
            return value
    return None


def _render_send_socket_values(ctx: MessageContext, sock: Socket, added: list[Change],
                                data: bytes) -> bytes:
    end = data.find(b"\r\n\r\n")
    head, rest = data[:end + 2], data[end + 2:]
    for change in added:
        value = _send_socket_value(change)
        assert value is not None
        if isinstance(change, InsertHeader):
            line = change.lines
        else:
            assert isinstance(change, AddHeader)
            line = change.name.encode() + b": " + as_bytes(value)
        head = head.replace(b"\r\n" + line + b"\r\n", b"\r\n" + value.render(ctx, sock) + b"\r\n", 1)
    return head + rest


# udp_mtu_try_proto's values (Kamailio's PROTO_* numbers, or the word) -> the msg_flags bit it sets
MTU_PROTO_FLAGS = {2: FL_MTU_TCP_FB, 3: FL_MTU_TLS_FB, 4: FL_MTU_SCTP_FB,
                   "tcp": FL_MTU_TCP_FB, "tls": FL_MTU_TLS_FB, "sctp": FL_MTU_SCTP_FB}


def mtu_proto_bit(call: ast.Call) -> int:
    """udp_mtu_try_proto(PROTO)'s msg_flags bit (udp: none); LoadError for another word."""
    node = call.args[0] if len(call.args) == 1 else None
    word = node.name.lower() if isinstance(node, ast.Ident) else ""
    if word not in ("udp", "tcp", "tls", "sctp"):
        raise LoadError(call.pos, "udp_mtu_try_proto(): bad argument, UDP, TCP, TLS or SCTP expected")
    return MTU_PROTO_FLAGS.get(word, 0)


def build_sent(ctx: MessageContext, sock: Socket, ip: str, branch: str | None = None) -> tuple[bytes, Socket]:
    """build_forwarded() from `sock` to `ip`, and the socket it then goes from: as Kamailio's
    build_req_buf_from_sip_req(), a UDP request longer than the core's udp_mtu goes over the
    protocol of udp_mtu_try_proto (the parameter or the function) when there is a socket of it."""
    data = build_forwarded(ctx, sock, branch)
    if sock.proto != "udp":
        return data, sock
    cfg = ctx.core.cfg
    mtu = int(cfg.get("core", "udp_mtu") or 0)
    flags = (ctx.msg_flags | MTU_PROTO_FLAGS.get(cfg.get("core", "udp_mtu_try_proto"), 0)) & FL_MTU_FB_MASK
    if not mtu or not flags or len(data) <= mtu:
        return data, sock
    for proto, bit in (("tcp", FL_MTU_TCP_FB), ("tls", FL_MTU_TLS_FB)):  # kampy has no SCTP
        other = choose_socket(ctx, proto, ip) if flags & bit else None
        if other is not None:
            log.debug("request of %d bytes is over udp_mtu %d: sending it over %s", len(data), mtu, proto)
            return build_forwarded(ctx, other, branch), other
    return data, sock


def build_forwarded(ctx: MessageContext, sock: Socket, branch: str | None = None) -> bytes:
    """The request as sent on from `sock`: script edits, new R-URI, new top Via with `branch`
    (tm gives its own; the stateless one by default)."""
    msg = ctx.msg
    assert isinstance(msg, Request)
    port: int | str = ctx.advertised_port or sock.advertise_port or sock.port
    host = _via_host(sock, ctx)
    flags = ctx.msg_flags
    params = ctx.core.core_params
    if flags & FL_USE_XAVP_VIA_FIELDS and params.get("xavp_via_fields"):
        fields = _xavp_fields(ctx, str(params["xavp_via_fields"]))
        host, port = _str_field(fields, "address") or host, _str_field(fields, "port") or port
    branch = branch or stateless_branch(msg)
    via = f"SIP/2.0/{sock.proto.upper()} {host}:{port};branch={branch}"
    if ctx.add_local_rport or as_bool(params.get("local_rport"), False):  # add_local_rport() or the core's
        via += ";rport"
    if flags & FL_ADD_SRVID and ctx.core.server_id:
        via += f";srvid={ctx.core.server_id & 0xFFFFFFFF}"
    if flags & FL_ADD_XAVP_VIA_PARAMS and params.get("xavp_via_params"):
        via += _serialized(_xavp_fields(ctx, str(params["xavp_via_params"])))
    # the Via and R-URI edits are for this copy only (a second forward() builds its own)
    edits: list[Change] = []
    try:
        if ctx.new_ruri is not None and ctx.new_ruri != msg.uri:
            edits.append(msg.set_ruri(ctx.new_ruri))
        current = msg.pending_header_line("via", 0)  # the script may have edited it already
        line = None if current is None else previous_via_line(
            msg, current, ctx.src.ip, ctx.src.port, ctx.force_rport)
        if line is not None:
            edits.append(msg.replace_lines("via", 0, line))
        edits.append(msg.add_header("Via", via, first=True))
        if ctx.path_vec:
            edits.append(_path_route(msg, ctx.path_vec))
        data = msg.to_bytes()
        per_socket = [ch for ch in msg.changes if _send_socket_value(ch) is not None]
        if per_socket:
            data = _render_send_socket_values(ctx, sock, per_socket, data)
        return data
    finally:
        for change in edits:
            msg.cancel(change)


def _path_route(msg: Request, path: str) -> Change:
    """The Route a branch's path vector (lookup() of a contact with Path) goes in as: before the
    received Route headers, else right after the new Via (msg_translator.c)."""
    if msg.get_all_raw("route"):
        return msg.insert_header("route", 0, "Route", path)
    return msg.add_header("Route", path, first=True)


def _xavp_fields(ctx: MessageContext, name: str) -> list[tuple[str, object]]:
    """The fields of the first xavp `name`, as Kamailio lists them (the one set last first)."""
    items = ctx.xavps.get(name)
    if not items or not isinstance(items[0], dict):
        return []
    return [(field, value) for field, values in reversed(items[0].items()) for value in values]


def _str_field(fields: list[tuple[str, object]], name: str) -> str | None:
    return next((str(v) for f, v in fields if f == name and isinstance(v, str)), None)


def _serialized(fields: list[tuple[str, object]]) -> str:
    """xavp_serialize_fields(): `;name=value` (`;name` for an empty string) per int or string."""
    out = ""
    for name, value in fields:
        if isinstance(value, int):
            out += f";{name}={value & 0xFFFFFFFF}"
        elif isinstance(value, str):
            out += f";{name}={value}" if value else f";{name}"
    return out


def send_as_is(ctx: MessageContext, proto: str, host: str, port: int) -> int:
    """`send()`: the message with the script's edits but no new Via."""
    sock = choose_socket(ctx, proto, host)
    if sock is None:
        log.error("send(): no %s socket to send to %s:%d", proto, host, port)
        return -1
    ctx.send(Outgoing(proto, host, port, ctx.msg.to_bytes(), sock))
    return 1


def relay_reply(ctx: MessageContext) -> Outgoing | None:
    """The reply with our top Via removed, addressed to the next Via; None when it has nowhere to go."""
    msg = ctx.msg
    assert isinstance(msg, Response)
    vias = msg.vias
    if len(vias) < 2:
        log.debug("reply %d has no second Via: not relayed", msg.status)
        return None
    name, _, rest = msg.get_all_raw("via")[0].partition(b":")
    others = split_first_via(rest)[2].strip()
    if others:
        msg.replace_lines("via", 0, name + b": " + others)  # our Via shared its line with others
    else:
        msg.remove_header("via", 0)
    nxt = vias[1]
    proto = nxt.transport.lower()
    # Kamailio's update_sock_struct_from_via for a relayed reply: `received` (the address the
    # request came from, recorded when it was forwarded) before the Via's host, `rport` before
    # its port; `maddr` is not looked at
    host = nxt.received or nxt.host
    port = _reply_port(nxt)
    host = host.strip("[]")
    sock = choose_socket(ctx, proto, host)
    return Outgoing(proto, host, port, msg.to_bytes(), sock)


def _reply_port(via: Via) -> int:
    try:
        rport = via.rport
    except SIPProtocolError:
        rport = None
    return rport or via.port or DEFAULT_PORTS.get(via.transport.lower(), 5060)


def is_our_via(core: CoreAPI, via: Via) -> bool:
    return core.is_myself(via.host, via.port or DEFAULT_PORTS.get(via.transport.lower(), 5060))
