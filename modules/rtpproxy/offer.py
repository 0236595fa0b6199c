"""rtpproxy_offer()/rtpproxy_answer() (Kamailio's force_rtp_proxy): one U (offer) or L (answer)
command per media stream, and the SDP rewritten with the port and address RTPProxy gives: the m=
port, the a=rtcp port, the c= address (the session's one once), optionally the session c= and the
o= address, relay ICE candidates, and the nortpproxy line."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from kampy.api import Sdp, SdpAddress, SdpStream

from .nodes import Node

log = logging.getLogger("kampy.rtpproxy")


class OfferError(Exception):
    """force_rtp_proxy fails with `code` (-1, -2 already proxied, -3 no proxy)."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Options:
    """The flags string of rtpproxy_offer/answer/manage, as force_rtp_proxy reads it."""

    opts: str = ""
    rep: str = ""
    via: int = 0
    extra: bool = False
    flookup: bool = False
    force: bool = False
    real: bool = False
    commip: bool = False
    orgip: bool = False
    autobridge: bool = False


def parse_options(flags: str | None, offer: bool) -> Options:
    o = Options()
    text = flags or ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "12":
            o.via = int(ch)
        elif ch == "3":
            o.via = 3
        elif ch in "aA":
            o.opts += "A"
            o.real = True
        elif ch == "b":
            o.extra = True
        elif ch in "iI":
            o.opts += "I"
        elif ch in "eE":
            o.opts += "E"
        elif ch in "lL":
            if not offer:
                raise OfferError(-1)
            o.flookup = True
        elif ch in "fF":
            o.force = True
        elif ch in "rR":
            o.real = True
        elif ch in "cC":
            o.commip = True
        elif ch in "oO":
            o.orgip = True
        elif ch in "xX":
            o.autobridge = True
        elif ch in "wW":
            o.opts += "S"
        elif ch in "zZ":
            o.rep += "Z"
            while i + 1 < len(text) and text[i + 1].isdigit():
                i += 1
                o.rep += text[i]
        elif ch in "tT":
            pass
        else:
            log.error("unknown option `%c'", ch)
            raise OfferError(-1)
        i += 1
    return o


@dataclass
class Session:
    """What one offer/answer needs from the message and the module."""

    callid: str
    from_tag: str
    to_tag: str
    src_ip: str
    default_ip: str            # the address to write when the proxy gives none (str2)
    forced_ip: str | None       # rtpproxy_offer(flags, ip): this address, whatever the proxy says
    timeout_socket: str
    ice_priority: int
    # sends the command built for the node chosen (node -> command): (node, reply)
    send: Callable[[Callable[[Node], str]], tuple[Node, str]]
    edits: list[tuple[int, int, str]] = field(default_factory=list)


def _payload_list(payloads: str) -> str:
    """`c<pt>,<pt>...` from an m= line's payload types."""
    return "c" + ",".join(p for p in payloads.split() if p.isdigit())


def _alter_ip(s: Session, old: SdpAddress, new_ip: str, new_family: str, text: str) -> None:
    """alter_mediaip: `old` becomes `new_ip` (and the family digit with it when it changes)."""
    if old.family == new_family and old.is_null:
        return
    if old.text == new_ip:
        return
    if old.family == new_family:
        s.edits.append((old.start, old.end, new_ip))
        return
    digit = old.start - 1
    while digit > 0 and text[digit] not in "46":
        digit -= 1
    s.edits.append((digit, old.end, ("6" if new_family == "IP6" else "4") + " " + new_ip))


def _candidates(ip: str, port: int, priority: int) -> str:
    """insert_candidates: relay candidates for RTCP and RTP, before the stream's first one."""
    digits = "".join(c for c in ip if c.isdigit())
    low, high = ("16777214", "16777215") if priority == 2 else ("2197815294", "2197815295")
    return (f"a=candidate:{digits} 2 UDP {low} {ip} {port + 1} typ relay\r\n"
            f"a=candidate:{digits} 1 UDP {high} {ip} {port} typ relay\r\n")


def rewrite(s: Session, sdp: Sdp, o: Options, offer: bool, viabranch: str | None) -> None:
    """The commands for every stream and the edits of `sdp.text` (into `s.edits`)."""
    text = sdp.text
    streams = sum(len(x.streams) for x in sdp.sessions)
    if streams == 0:
        log.error("sdp w/o streams")
        raise OfferError(-1)
    opts = ("U" if offer and not o.flookup else "L") + o.opts
    autobridge = o.autobridge
    medianum = 0
    callid = s.callid + (f";{viabranch}" if viabranch else "")
    for session in sdp.sessions:
        c1_altered = False
        origin_done = False
        for stream in session.streams:
            if s.ice_priority and stream.remote_candidates:
                break
            address = stream.address or session.address
            assert address is not None
            medianum += 1
            new_ip, new_family = (address.text, address.family) if o.real else \
                (s.src_ip, "IP6" if ":" in s.src_ip else "IP4")
            if address.family == "IP6":
                if autobridge:
                    opts, autobridge = opts + "EI", False
                opts += "6"
            elif autobridge:
                opts, autobridge = opts + "IE", False
            port, reply_ip, reply_family = _command(s, stream, opts, o, callid, new_ip, medianum)
            new_family = reply_family or new_family
            if address.is_null:
                new_ip = "::" if new_family == "IP6" else "0.0.0.0"
            elif s.forced_ip is not None:
                new_ip = s.forced_ip
            else:
                new_ip = reply_ip if reply_ip is not None else s.default_ip
            if stream.port != "0":
                s.edits.append((stream.port_start, stream.port_start + len(stream.port), str(port)))
            if stream.rtcp_port:
                s.edits.append((stream.rtcp_start, stream.rtcp_start + len(stream.rtcp_port), str(port + 1)))
            if s.ice_priority and stream.candidates:
                at = stream.candidates[0]
                s.edits.append((at, at, _candidates(new_ip, port, s.ice_priority)))
            if stream.address is not None or not c1_altered:
                target = stream.address or session.address
                assert target is not None
                _alter_ip(s, target, new_ip, new_family, text)
                if stream.address is None:
                    c1_altered = True
            if o.commip and session.address is not None and not c1_altered:
                _alter_ip(s, session.address, new_ip, new_family, text)
                c1_altered = True
            if not origin_done:
                _alter_ip(s, session.origin, new_ip, new_family, text)
                origin_done = True


def _command(s: Session, stream: SdpStream, opts: str, o: Options, callid: str, new_ip: str,
             medianum: int) -> tuple[int, str | None, str | None]:
    """One U/L command; (port, address, family) of the reply."""
    node_opts = o.rep
    command_tail = f" {callid} {new_ip} {stream.port} {s.from_tag};{medianum}"
    if s.to_tag:
        command_tail += f" {s.to_tag};{medianum}"
        if opts[0] == "U" and s.timeout_socket:
            command_tail += " " + s.timeout_socket

    def build(node: Node) -> str:
        rep = node_opts if node.rep_supported else ""
        if o.rep and not node.rep_supported:
            log.warning("re-packetization is requested but is not supported by the selected RTP proxy node")
        listed = stream.is_rtp and stream.payloads and node.ptl_supported
        pt = _payload_list(stream.payloads) if listed else ""
        return opts + rep + pt + command_tail

    node, reply = s.send(build)
    argv = reply.split()
    if not argv:
        log.error("no reply from rtp proxy")
        raise OfferError(-1)
    port = _atoi(argv[0])
    if port <= 0 or port > 65535:
        if port != 0 or not o.flookup:
            log.error("incorrect port %i in reply from rtp proxy", port)
        raise OfferError(-1)
    family = None
    if len(argv) == 2:
        family = "IP4"
    elif len(argv) >= 3:
        family = "IP6" if argv[2][:1] == "6" else "IP4"
    return port, argv[1] if len(argv) >= 2 else None, family


def _atoi(text: str) -> int:
    digits = ""
    for ch in text:
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else 0
