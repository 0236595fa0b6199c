"""What nathelper reads and writes in Contact headers and URIs: the first contact's URI and where it
is in its header line, the `;alias=ip~port~proto` parameter (Kamailio's core dset.c), the source
address as a URI (get_src_uri), and the private address ranges of nat_uac_test and is_rfc1918."""
from __future__ import annotations

import ipaddress
import logging
import re
import socket
from dataclasses import dataclass

from kampy.api import URI, MessageContext, parse_uri

log = logging.getLogger("kampy.nathelper")

# Kamailio's protocol numbers (ip_addr.h), as the alias parameter writes them
PROTO_NUMBERS = {"udp": 1, "tcp": 2, "tls": 3, "sctp": 4, "ws": 5, "wss": 6}
# proto_type_to_str: the transport a number stands for in a URI (ws for both ws and wss)
PROTO_NAMES = {1: "udp", 2: "tcp", 3: "tls", 4: "sctp", 5: "ws", 6: "ws"}

# RFC 1918, RFC 6598 (carrier-grade NAT) and RFC 7335's 192.0.0.0/29; with nat_addr_mode 1 also
# the rest of 192.0.0.0/24 (IETF protocol assignments)
NETS_1918 = tuple(ipaddress.ip_network(n) for n in
                  ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.0.0/29"))
NETS_EXTRA = (ipaddress.ip_network("192.0.0.0/24"),)


def parse_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address as inet_aton() reads it (which also takes `10.1` and `0x0a.1.2.3`)."""
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text.strip()))
    except (OSError, ValueError):
        return None


def is_1918(text: str, extra: bool) -> int:
    """Kamailio's is1918addr: 1 for a private address, 0 for another IPv4 address, -1 for no IPv4
    address at all."""
    addr = parse_ipv4(text)
    if addr is None:
        return -1
    nets = NETS_1918 + (NETS_EXTRA if extra else ())
    return 1 if any(addr in net for net in nets) else 0


def proto_number(ctx: MessageContext) -> int:
    return PROTO_NUMBERS.get(ctx.src.proto.lower(), 0)


def src_host(ctx: MessageContext) -> str:
    """The source address as a URI writes it (IPv6 in brackets)."""
    ip = ctx.src.ip
    return f"[{ip}]" if ":" in ip else ip


def src_uri(ctx: MessageContext) -> str:
    """get_src_uri(msg, 0): `sip:ip:port`, with `;transport=` unless UDP (ws for WebSocket)."""
    uri = f"sip:{src_host(ctx)}:{ctx.src.port}"
    proto = ctx.src.proto.lower()
    if proto not in ("udp", ""):
        uri += ";transport=" + ("ws" if proto in ("ws", "wss") else proto)
    return uri


@dataclass
class ContactSpan:
    """The first contact of a Contact header line: its URI and where the URI and the whole contact
    (with its parameters) are in the line, and whether the URI is in angle brackets."""

    uri_text: str
    uri_start: int
    uri_end: int
    end: int          # end of the contact (its header parameters included)
    bracketed: bool
    uri: URI


def _skip_quoted(text: str, i: int) -> int:
    """The index after the quoted string starting at text[i] == '"'."""
    i += 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        i += 1
    return i


def _contact_end(text: str, i: int) -> int:
    """The end of a contact's parameters: the next ',' outside quotes, or the end."""
    while i < len(text):
        if text[i] == '"':
            i = _skip_quoted(text, i)
            continue
        if text[i] == ",":
            return i
        i += 1
    return i


def contacts_in_line(line: str) -> list[ContactSpan] | None:
    """Every contact of the header line `line` (`Contact: ...`); None when one does not parse
    (a URI without a host), [] for `*` or an empty value."""
    colon = line.find(":")
    if colon < 0:
        return None
    found: list[ContactSpan] = []
    i = colon + 1
    while True:
        while i < len(line) and line[i] in " \t\r\n,":
            i += 1
        if i >= len(line) or line[i] == "*":
            return found
        c = _contact_at(line, i)
        if c is None:
            return None
        found.append(c)
        i = c.end


def _contact_at(line: str, i: int) -> ContactSpan | None:
    j = i
    while j < len(line) and line[j] not in "<,;":
        if line[j] == '"':
            j = _skip_quoted(line, j)
            continue
        j += 1
    if j < len(line) and line[j] == "<":
        start = j + 1
        close = line.find(">", start)
        if close < 0:
            return None
        end, bracketed, after = close, True, close + 1
    else:
        start = end = i
        while end < len(line) and line[end] not in ";, \t\r\n":
            end += 1
        bracketed, after = False, end
    text = line[start:end].strip()
    try:
        uri = parse_uri(text)
    except ValueError:
        return None
    if not getattr(uri, "host", None):
        return None
    return ContactSpan(text, start, end, _contact_end(line, after), bracketed, uri)


def first_contact(line: str) -> ContactSpan | None:
    """The first contact of the header line `line`, or None when there is none (`*`, empty) or
    its URI does not parse with a host (get_contact_uri failing)."""
    found = contacts_in_line(line)
    return found[0] if found else None


def split_contacts(value: str) -> list[str]:
    """The contacts of a Contact value, split at commas outside quotes and angle brackets."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(value):
        if ch == '"' and (i == 0 or value[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return [p.strip() for p in parts if p.strip()]


def received_edits(line: str, uri: str, in_uri: bool) -> list[tuple[int, int, str]] | None:
    """add_rcv_param's edits of one Contact line: `;received=<uri>` after each contact's URI, or
    `;received="<uri>"` after each contact's parameters."""
    found = contacts_in_line(line)
    if found is None:
        return None
    if in_uri:
        return [(c.uri_end, c.uri_end, f";received={uri}") for c in found]
    return [(c.end, c.end, f';received="{uri}"') for c in found]


def hostport_span(uri_text: str) -> tuple[int, int]:
    """Where `host[:port]` is in a SIP URI's text (after `user@`, before `;` or `?`)."""
    colon = uri_text.find(":")
    at = uri_text.find("@", colon + 1)
    start = at + 1 if at >= 0 else colon + 1
    end = start
    if end < len(uri_text) and uri_text[end] == "[":
        end = uri_text.find("]", end) + 1 or len(uri_text)
    while end < len(uri_text) and uri_text[end] not in ";?>":
        end += 1
    return start, end


def alias_value(ctx: MessageContext) -> str:
    """uri_add_rcv_alias's value: `ip~port~proto`, the source address of the message."""
    return f"{src_host(ctx)}~{ctx.src.port}~{proto_number(ctx)}"


def trim_alias(uri: str, alias: str) -> str | None:
    """uri_trim_rcv_alias: `uri` without its last `;alias=ip~port~proto` parameter, or None when
    it has no well-formed one (`proto` one character, then the end or another parameter)."""
    head = ";" + alias + "="
    at = uri.rfind(head, 0, max(len(uri) - 11, 0))
    if at <= 5:
        return None
    value_start = at + len(head)
    tilde = uri.find("~", value_start)
    if tilde < 0 or tilde + 1 >= len(uri):
        return None
    tilde2 = uri.find("~", tilde + 1)
    if tilde2 < 0 or tilde2 + 1 >= len(uri):
        return None
    end = tilde2 + 2
    if end != len(uri) and uri[end] != ";":
        return None
    return uri[:at] + uri[end:]


def param_span(params: str, name: str) -> tuple[int, int] | None:
    """Where the URI parameter `name=value` (without its `;`) is in `params` (the URI after its
    host and port), or None."""
    pos = 0
    while True:
        at = params.find(";", pos)
        if at < 0:
            return None
        start = at + 1
        while start < len(params) and params[start] in " \t":
            start += 1
        end = start
        while end < len(params) and params[end] not in ";?>":
            end += 1
        if params[start:end].split("=", 1)[0].strip().lower() == name:
            return start, end
        pos = end


def same_ip(a: str, b: str) -> bool:
    """ip_addr_cmp of two addresses written as text (False when either is not an address)."""
    try:
        return ipaddress.ip_address(a.strip("[]")) == ipaddress.ip_address(b.strip("[]"))
    except ValueError:
        return False


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
        return True
    except ValueError:
        return False


def given_alias(ip: str, port: str, proto: str) -> str | None:
    """add_contact_alias(ip, port, proto)'s value, or None (logged) when a part is invalid."""
    if not _is_ip(ip):
        log.error("ip param value %s is not valid IP address", ip)
        return None
    if not port.isdigit() or not 0 < int(port) <= 65535:
        log.error("port param value is not valid port")
        return None
    number = PROTO_NUMBERS.get(proto.lower())
    if number is None:
        log.error("proto param value %s is not a known protocol", proto)
        return None
    return f"{ip}~{port}~{number}"


def alias_to_uri(contact: str, alias: str) -> str | None:
    """nh_alias_to_uri: `sip:host:port;transport=proto` from the alias parameter of a contact."""
    head = ";" + alias + "="
    at = contact.find(head, 0, max(len(contact) - 5, 0))
    if at < 0:
        log.error("Alias sign couldn't be found")
        return None
    host_start = at + len(head)
    tilde = contact.find("~", host_start)
    if tilde < 0:
        log.error("No alias parameter found for host")
        return None
    if tilde + 1 >= len(contact):
        log.error("Alias port is not set")
        return None
    tilde2 = contact.find("~", tilde + 1)
    if tilde2 < 0:
        log.error("Alias sign couldn't be found for proto")
        return None
    digits = ""
    for ch in contact[tilde2 + 1:]:
        if not ch.isdigit():
            break
        digits += ch
    proto = PROTO_NAMES.get(int(digits) if digits else 0, "")
    return f"sip:{contact[host_start:tilde]}:{contact[tilde + 1:tilde2]};transport={proto}"


def handle_ruri_alias(ctx: MessageContext, alias: str, mode: int) -> int:
    """ki_handle_ruri_alias_mode: the first (mode 0) or last `alias` parameter of the R-URI sets
    $du and is removed from $ru. 1 done, 2 no alias parameter, -1 error."""
    ruri = ctx.ruri
    _, host_end = hostport_span(ruri)
    params_end = ruri.find("?", host_end)
    params = ruri[host_end:params_end if params_end >= 0 else len(ruri)]
    if not params:
        return 2
    head = alias + "="
    starts = [m.start() + 1 for m in re.finditer(";", params) if params.startswith(head, m.start() + 1)]
    if not starts:
        return 2
    start = starts[0] if mode == 0 else starts[-1]
    value = params[start + len(head):]
    tilde = value.find("~")
    if tilde < 0:
        log.error("no '~' in alias param value")
        return -1
    tilde2 = value.find("~", tilde + 1)
    if tilde2 < 0:
        log.error("no second '~' in alias param value")
        return -1
    if tilde2 + 1 >= len(value) or value[tilde2 + 1] in ";?":
        log.error("no proto in alias param")
        return -1
    number = ord(value[tilde2 + 1]) - ord("0")
    following = value[tilde2 + 2:tilde2 + 3]
    if following and following not in ";?":
        log.error("invalid alias param value")
        return -1
    dst = f"sip:{value[:tilde]}:{value[tilde + 1:tilde2]}"
    if number != PROTO_NUMBERS["udp"]:
        name = PROTO_NAMES.get(number)
        if name is None:
            log.error("unknown proto in alias param")
            return -1
        dst += ";transport=" + name
    ctx.dst_uri = dst
    cut = host_end + start - 1  # the ';' before the parameter
    ctx.new_ruri = ruri[:cut] + ruri[cut + 1 + len(head) + tilde2 + 2:]
    return 1


def _default_port(port: int | None, proto: str | None) -> int:
    """GET_SIP_PORT: the port, else 5061 for TLS and 5060 for the rest."""
    if port:
        return port
    return 5061 if (proto or "").lower() == "tls" else 5060


def _hosts_differ(dhost: str, rhost: str) -> int:
    d_ip, r_ip = _is_ip(dhost), _is_ip(rhost)
    if not d_ip and not r_ip:
        return 1 if rhost and rhost != dhost else 0
    if not d_ip or not r_ip:
        return 1
    return 0 if same_ip(dhost, rhost) else 1


def destination_differs(ctx: MessageContext) -> int:
    """nh_test_destination: 1 when the message goes elsewhere than its R-URI (requests: $du) or
    its second Via (replies: received/rport) says, or over WebSocket."""
    msg = ctx.msg
    if not msg.is_request:
        vias = msg.vias
        if len(vias) < 2:
            return 0
        via2 = vias[1]
        if via2.transport.lower() in ("ws", "wss"):
            return 1
        rport = via2.rport
        if rport and rport != _default_port(via2.port, via2.transport):
            return 1
        if via2.received is None:
            return 0
        return _hosts_differ(via2.received, via2.host) if via2.received else 0
    try:
        ruri = parse_uri(ctx.ruri)
    except ValueError:
        log.error("failed to parse the R-URI")
        return -1
    if not ctx.dst_uri:
        return 1 if (ruri.transport or "").lower() in ("ws", "wss") else 0
    try:
        duri = parse_uri(ctx.dst_uri)
    except ValueError:
        log.error("failed to parse dst uri [%s]", ctx.dst_uri)
        return -1
    if (duri.transport or "").lower() in ("ws", "wss"):
        return 1
    if _default_port(duri.port, duri.transport) != _default_port(ruri.port, ruri.transport):
        return 1
    return _hosts_differ(duri.host, ruri.host)
