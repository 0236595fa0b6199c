"""The rest of Kamailio 5.6's pv classes: `$snd $sndto $sndfrom $rcv $nh $rpl $expires $Au $AU
$Rn $fsn $mts $ds $dic $dip $dir $err.* $ruid $location_ua $msgbuf`, as pv_core.c and pv_branch.c.
"""
from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable

from kampy.api import MessageContext, Request, SIPProtocolError

from .common import PVError, Value, to_int
from .msgvars import PROTO_IDS, _first_hf, _hdr_uri, _uri, header_bodies, uri_transport, uri_user

log = logging.getLogger("kampy.pv")

Getter = Callable[[MessageContext], Value]

AF_INET, AF_INET6 = 2, 10  # Linux's values, as Kamailio prints $snd(af)


def _af(host: str) -> int:
    return AF_INET6 if ":" in host else AF_INET


# ---------------------------------------------------------------- $snd / $sndto / $sndfrom

SND_FIELDS = ("ip", "af", "port", "proto", "buf", "len", "sproto")


def snd_getter(field: str, towards: bool) -> Getter:
    """pv_get_sndto (`towards`) / pv_get_sndfrom: the message being sent, $null elsewhere."""
    if field not in SND_FIELDS:
        raise PVError(f"unknown PV snd name {field}")

    def get(ctx: MessageContext) -> Value:
        out = ctx.onsend
        if out is None:
            return None
        sock = out.local or ctx.src.local
        if field == "ip":
            return out.host if towards else sock.host
        if field == "af":
            return _af(sock.host)
        if field == "port":
            return out.port if towards else sock.port
        if field == "proto":
            return PROTO_IDS.get(sock.proto.lower(), 0)
        if field == "sproto":
            return sock.proto.lower()
        if field == "buf":
            return out.data.decode("utf-8", "surrogateescape")
        return len(out.data)
    return get


RCV_FIELDS = ("af", "buf", "len", "proto", "srcip", "rcvip", "sproto", "srcport", "rcvport")


def rcv_getter(field: str) -> Getter:
    """pv_get_rcv: Kamailio sets it only in event_route[core:msg-received], which kampy does
    not run; everywhere else (and so everywhere in kampy) it is $null, as in Kamailio."""
    if field not in RCV_FIELDS:
        raise PVError(f"unknown PV rcv name {field}")
    return lambda ctx: None


# ---------------------------------------------------------------- $nh / $rpl


def _via2(ctx: MessageContext) -> tuple[str, int, str] | None:
    """Host (received= first), port (rport= first) and protocol of a reply's second Via."""
    vias = ctx.msg.headers_named("via")
    if len(vias) < 2:
        return None
    try:
        via = _parse_via(vias[1])
    except (SIPProtocolError, ValueError):
        return None
    proto, host, port, params = via
    if params.get("received"):
        host = params["received"]
    rport = params.get("rport")
    if rport:
        n = to_int(rport)
        if n is None:
            log.error("invalid rport value")
            return None
        port = n
    if not port:
        port = 5061 if proto == "tls" else 5060
    return host, port, proto


def _parse_via(text: str) -> tuple[str, str, int, dict[str, str]]:
    sent_proto, _, rest = text.strip().partition(" ")
    proto = sent_proto.rsplit("/", 1)[-1].strip().lower()
    sent_by, *raw_params = rest.strip().split(";")
    sent_by = sent_by.strip()
    if sent_by.startswith("["):
        end = sent_by.index("]")
        host, port_text = sent_by[1:end], sent_by[end + 1:].lstrip(":")
    else:
        host, _, port_text = sent_by.partition(":")
    params = {}
    for p in raw_params:
        name, _, value = p.partition("=")
        params[name.strip().lower()] = value.strip()
    return proto, host, int(port_text) if port_text else 0, params


def _ip_family(host: str) -> int:
    try:
        return ipaddress.ip_address(host.strip("[]")).version
    except ValueError:
        return 0


NH_FIELDS = {"u": 0, "U": 1, "d": 2, "p": 3, "P": 4, "i": 5}


def nh_getter(field: str) -> Getter:
    """pv_get_nh: the next hop ($du, else the R-URI; a reply's second Via)."""
    key = NH_FIELDS.get(field)
    if key is None:
        raise PVError(f"unknown PV nh name {field}")

    def get(ctx: MessageContext) -> Value:
        if not isinstance(ctx.msg, Request):
            return _nh_reply(ctx, key)
        text = ctx.dst_uri or ctx.ruri
        if key == 0:
            return text
        uri = _uri(text)
        if uri is None:
            log.error("failed to parse nh uri [%s]", text)
            return None
        if key == 1:
            return uri.user or None
        if key == 2:
            return uri.host or None
        if key == 3:
            return uri.port if uri.port is not None else 5060
        if key == 4:
            return uri_transport(uri)
        return _ip_family(uri.host) if uri.host else 0
    return get


def _nh_reply(ctx: MessageContext, key: int) -> Value:
    via = _via2(ctx)
    if via is None:
        return None
    host, port, proto = via
    return {0: f"sip:{host}:{port};transport={proto or 'udp'}", 1: None, 2: host, 3: port,
            4: proto or "udp", 5: _ip_family(host)}[key]


RPL_FIELDS = {"duri": 0, "dhost": 2, "dport": 3, "dproto": 4, "dprotoid": 5, "cntvia": 20,
              "cntrr": 21}


def rpl_getter(field: str) -> Getter:
    """pv_get_rpl_attrs: where a reply goes next (its second Via), how many Via/Record-Route."""
    key = RPL_FIELDS.get(field)
    if key is None:
        raise PVError(f"unknown PV rpl key: {field}")

    def get(ctx: MessageContext) -> Value:
        if isinstance(ctx.msg, Request):
            return None
        if key == 20:
            return len(ctx.msg.headers_named("via"))
        if key == 21:
            return len(ctx.msg.headers_named("record-route"))
        via = _via2(ctx)
        if via is None:
            return None
        host, port, proto = via
        if key == 5:
            return PROTO_IDS.get(proto or "udp", 0)
        return _nh_reply(ctx, key)
    return get


# ---------------------------------------------------------------- $expires


def expires_getter(field: str) -> Getter:
    """pv_get_expires: the lowest (min) or highest (max) expires of the contacts, the Expires
    header standing in for contacts without one, and alone when there is no contact."""
    if field not in ("min", "max"):
        raise PVError(f"unknown PV expires key: {field}")

    def get(ctx: MessageContext) -> Value:
        header = _first_hf("expires")(ctx)
        ehdr = None
        if header is not None:
            ehdr = to_int(str(header).strip())
            if ehdr is None:
                log.error("failed to parse hdr expires body")
                return None
        found: list[int] = []
        for contact in ctx.msg.headers_named("contact"):
            if contact.strip() == "*":
                continue
            value = _contact_expires(contact)
            if value == "":
                if ehdr is not None:
                    found.append(ehdr)
                continue
            n = to_int(value)
            if n is None:
                log.error("failed to parse expires")
                return None
            found.append(n)
        if not found and ehdr is not None:
            found.append(ehdr)
        if not found:
            return None
        return min(found) if field == "min" else max(found)
    return get


def _contact_expires(contact: str) -> str:
    """The expires parameter of one contact ("" when it has none)."""
    end = contact.rfind(">")
    params = contact[end + 1:] if end >= 0 else contact.partition(";")[2] and ";" + contact.partition(";")[2]
    for p in params.split(";"):
        name, _, value = p.partition("=")
        if name.strip().lower() == "expires":
            return value.strip()
    return ""


# ---------------------------------------------------------------- accounting users, sockets


def _cred_user_realm(ctx: MessageContext) -> tuple[str, str] | None:
    cred = ctx.authorized()
    if cred is None or not cred.user:
        return None
    return cred.user, cred.realm


def get_AU(ctx: MessageContext) -> Value:
    """pv_get_acc_user: the authorized user, else the From URI's user."""
    cred = _cred_user_realm(ctx)
    if cred is not None:
        return cred[0]
    return uri_user(_hdr_uri("from")(ctx))


def get_Au(ctx: MessageContext) -> Value:
    """pv_get_acc_username: user@realm of the authorized credentials, else user@host of From."""
    cred = _cred_user_realm(ctx)
    if cred is not None:
        return f"{cred[0]}@{cred[1]}" if cred[1] else cred[0]
    uri = _hdr_uri("from")(ctx)
    if uri is None:
        return None
    return f"{uri.user or ''}@{uri.host or ''}"


def get_Rn(ctx: MessageContext) -> Value:
    return ctx.src.local.name


def get_fsn(ctx: MessageContext) -> Value:
    return ctx.force_socket.name if ctx.force_socket is not None else None


def set_fsn(ctx: MessageContext, value: Value) -> None:
    """pv_set_force_sock_name: the listen socket of that name (unset with $null)."""
    if value is None:
        ctx.force_socket = None
        return
    for sock in ctx.core.sockets:
        if sock.name == str(value):
            ctx.force_socket = sock
            return
    log.error("no socket found to match name [%s]", value)


def get_mts(ctx: MessageContext) -> Value:
    return "rq" if isinstance(ctx.msg, Request) else "rp"


# ---------------------------------------------------------------- $ds, Diversion, location


def _q_text(q: int) -> str:
    """Kamailio's q2str for thousandths: "1", "0", "0.5", "0.125"."""
    if q >= 1000:
        return "1"
    if q <= 0:
        return "0"
    return "0." + f"{q:03d}".rstrip("0")


def _contact(uri: str, q: int) -> str:
    return f"<{uri}>" + (f";q={_q_text(q)}" if q >= 0 else "")


def get_ds(ctx: MessageContext) -> Value:
    """pv_get_dset: print_dset() without its line end: the R-URI when the script changed it,
    then every branch, as a Contact header."""
    parts = []
    if ctx.new_ruri is not None:
        parts.append(_contact(ctx.new_ruri, ctx.ruri_q))
    parts.extend(_contact(b.uri, b.q) for b in ctx.branches)
    if not parts:
        log.warning("no r-uri or branches")
        return None
    return "Contact: " + ", ".join(parts)


def _diversion_param(name: str) -> Getter:
    def get(ctx: MessageContext) -> Value:
        bodies = header_bodies(ctx, "diversion")
        if not bodies:
            return None
        first = bodies[0].split(",")[0] if "<" not in bodies[0] else bodies[0]
        end = first.find(">")
        params = first[end + 1:] if end >= 0 else first.partition(";")[2]
        for p in params.split(";"):
            key, _, value = p.partition("=")
            if key.strip().lower() == name:
                return value.strip()
        return None
    return get


def _branch0(read: Callable[[MessageContext], str | None]) -> Getter:
    def get(ctx: MessageContext) -> Value:
        if not isinstance(ctx.msg, Request):
            return None
        return read(ctx) or None
    return get


def msgbuf_getter(index: Callable[[MessageContext], Value]) -> Getter:
    """pv_get_msgbuf: the character at that offset of the received message."""
    def get(ctx: MessageContext) -> Value:
        n = to_int(index(ctx))
        raw = ctx.msg.raw
        if n is None or n < 0 or n >= len(raw):
            log.error("index out of range")
            return None
        # Kamailio gives the character and the zero that ends its buffer (a length of 2)
        return raw[n:n + 1].decode("latin-1") + "\0"
    return get


OTHER_GETTERS: dict[str, Getter] = {
    "Au": get_Au, "AU": get_AU, "Rn": get_Rn, "fsn": get_fsn, "mts": get_mts, "ds": get_ds,
    "dir": _diversion_param("reason"), "dip": _diversion_param("privacy"),
    "dic": _diversion_param("counter"),
    "err.class": lambda ctx: None, "err.level": lambda ctx: None, "err.info": lambda ctx: None,
    "err.rcode": lambda ctx: None, "err.rreason": lambda ctx: None,
    "ruid": _branch0(lambda ctx: ctx.ruid), "location_ua": _branch0(lambda ctx: ctx.location_ua),
}
# the dotted names read and write what their short names do
DOTTED_ALIASES = {"from.user": "fU", "from.domain": "fd", "to.user": "tU", "to.domain": "td",
                  "ruri.user": "rU", "ruri.domain": "rd"}
