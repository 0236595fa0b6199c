"""The top Via of a request as the replies and forwards built from it carry it: `received`/`rport`
(RFC 3261 18.2.1, RFC 3581, Kamailio's received_test), the reply's Via line, where a reply goes."""
from __future__ import annotations

import ipaddress
import re
import socket

from kampy.sip.message import Request, Response
from kampy.sip.text import as_bytes
from kampy.sip.uri import Via


def received_params(via: Via, src_ip: str, src_port: int, force_rport: bool = False,
                    ) -> tuple[str | None, str | None]:
    """(received, rport) values to record in the top Via of a request from src_ip:src_port, None
    for those not wanted (Kamailio's received_test and its rport rule, RFC 3261 18.2.1, RFC 3581):
    `received` when the Via already has one, asks for rport, or names another address; `rport`
    when asked for or forced."""
    has_rport = via.has_rport
    rport = str(src_port) if force_rport or has_rport else None
    wanted = has_rport or via.received is not None or not _same_address(via.host, src_ip)
    return (src_ip if wanted else None), rport


# Kamailio's received_dns (`dns=yes`/-r: DO_DNS, `rev_dns=yes`/-R: DO_REV_DNS): a Via host that is
# a name matches the source address when it resolves to it, or the address resolves back to it
DO_DNS, DO_REV_DNS = 1, 2
_received_dns = 0


def set_received_dns(mode: int) -> None:
    global _received_dns
    _received_dns = mode


# Kamailio's reply_to_via: replies go to the first Via's sent-by (its received, its rport's value)
# instead of the request's source address
_reply_to_via = False


def set_reply_to_via(on: bool) -> None:
    global _reply_to_via
    _reply_to_via = on


def _same_address(host: str, ip: str) -> bool:
    """check_via_address(): the Via host is the source address (or, with received_dns, names it)."""
    host = host.strip("[]")
    if host == ip:
        return True
    try:
        return ipaddress.ip_address(host) == ipaddress.ip_address(ip)
    except ValueError:
        pass
    if _received_dns & DO_DNS:
        try:
            if ip in {info[4][0] for info in socket.getaddrinfo(host, None)}:
                return True
        except OSError:
            pass
    if _received_dns & DO_REV_DNS:
        try:
            name, aliases, _ = socket.gethostbyaddr(ip)
        except OSError:
            return False
        return host in (name, *aliases)
    return False


def check_via_address(host: str, ip: str) -> bool:
    """Kamailio's check_via_address() == 0: the Via host `host` is the source address `ip` (or,
    with the core's `dns`/`rev_dns`, a name of it). nathelper's nat_uac_test bit 2 asks this."""
    return _same_address(host, ip)


def reply_via_line(msg: Request, src_ip: str, src_port: int, force_rport: bool = False) -> bytes:
    """The request's first Via line as a locally built reply carries it (Kamailio's
    build_res_buf_from_sip_req): `rport=` filled in where it stands (else appended), `received=`
    appended. sl and tm both build replies with this.

    Two deliberate differences from Kamailio: the params go into the first Via of the line, not
    after its last one when the line holds several, and a `received` the client sent is replaced
    rather than repeated."""
    via = msg.via
    line = msg.get_all_raw("via")[0]
    if via is None:
        return line
    received, rport = received_params(via, src_ip, src_port, force_rport)
    if received is None and rport is None:
        return line
    name, colon, rest = line.partition(b":")
    first, comma, others = split_first_via(rest)
    if rport is not None:
        first = _set_via_param(first, b"rport", as_bytes(rport))
    if received is not None:
        first = _set_via_param(first, b"received", as_bytes(received))
    return name + colon + first + comma + others


def split_first_via(value: bytes) -> tuple[bytes, bytes, bytes]:
    """A Via line's value split at the first comma outside quotes: (first, comma, the rest)."""
    comma = value.find(b",")
    if comma < 0:
        return value.rstrip(), b"", b""
    if b'"' not in value[:comma]:  # no quote before it: the first comma is outside quotes
        return value[:comma].rstrip(), b",", value[comma + 1:]
    quoted = False
    for i, ch in enumerate(value):
        if ch == 0x22:
            quoted = not quoted
        elif ch == 0x2C and not quoted:
            return value[:i].rstrip(), b",", value[i + 1:]
    return value.rstrip(), b"", b""


def _set_via_param(via_value: bytes, name: bytes, value: bytes) -> bytes:
    """`;name=value` in place of the value's first `name` parameter (any case, spaces around the name,
    with or without a value), else appended. `name` is lower-case."""
    at = via_value.lower().find(name)
    if at < 0:  # nowhere, in any case: not a parameter either
        return via_value + b";" + name + b"=" + value
    end = at + len(name)
    if via_value[at - 1:at] == b";" and via_value[end:end + 1] in (b"", b";", b"="):
        # the name's first appearance is the usual `;name` or `;name=...`: no earlier one can match
        start, stop = at - 1, via_value.find(b";", end)
    else:
        found = _via_param_re(name).search(via_value)
        if found is None:
            return via_value + b";" + name + b"=" + value
        start, stop = found.span()
    return via_value[:start] + b";" + name + b"=" + value + (via_value[stop:] if stop >= 0 else b"")


def _via_param_re(name: bytes) -> re.Pattern[bytes]:
    """A parameter called `name`: what lies between a `;` and the next one (or the end) when, stripped,
    its part before any `=` is `name` once stripped too."""
    pattern = _VIA_PARAM_RES.get(name)
    if pattern is None:
        pattern = re.compile(rb";\s*" + re.escape(name) + rb"\s*(?:=[^;]*)?(?=;|\Z)", re.I)
        _VIA_PARAM_RES[name] = pattern
    return pattern


_VIA_PARAM_RES: dict[bytes, re.Pattern[bytes]] = {}  # (only rport and received)



def reply_destination(msg: Request | Response, src_ip: str, src_port: int) -> tuple[str, int]:
    via = msg.via
    if via is None:
        return src_ip, src_port
    if via.maddr:
        return via.maddr, via.port or 5060
    if _reply_to_via:  # update_sock_struct_from_via()
        return via.received or via.host, via.rport or via.port or 5060
    if via.has_rport:
        return src_ip, src_port
    return src_ip, via.port or 5060
