"""usrloc's own keepalives (ka_mode, Kamailio 5.6's ul_keepalive.c): on each timer run a request
(ka_method, OPTIONS by default) to every contact the mode picks, statelessly; a reply whose From
tag names the contact refreshes it, and with ka_timeout a contact silent that long expires in 10 s."""
from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from kampy.api import (
    CoreAPI,
    MessageContext,
    Outgoing,
    Response,
    SIPProtocolError,
    Socket,
    core_hash,
    log_at,
    parse_name_addr,
    parse_uri,
)

from .ucontact import UContact

log = logging.getLogger("kampy.usrloc")

ULKA_NONE, ULKA_ALL, ULKA_NAT, ULKA_UDP = 0, 1, 2, 4
GAU_OPT_SERVER_ID = 1
CALLID_PREFIX = "ksrulka-"
LOG_OFF = 255
_PROTOS = {"udp": "UDP", "tcp": "TCP", "tls": "TLS", "ws": "WS", "wss": "WSS", "sctp": "SCTP"}


def _first_path_uri(path: str) -> str:
    return str(parse_name_addr(path.split(",", 1)[0].strip()).uri)


class Keepalives:
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        self.core = core
        self.mode = int(params["ka_mode"])
        self.from_uri = str(params["ka_from"])
        self.domain = str(params["ka_domain"])
        self.method = str(params["ka_method"])
        self.filter = int(params["ka_filter"])
        self.loglevel = int(params["ka_loglevel"])
        logmsg = str(params["ka_logmsg"] or "")
        # parsed only when keepalives are on, as Kamailio's mod_init does: its default names pv's
        # $tu, which a config without pv and without ka_mode must not need
        self.logmsg: Callable[[MessageContext], str] | None = (
            core.formatter(logmsg) if logmsg and self.mode != ULKA_NONE else None)
        self.counter = 0

    def send_for(self, aor: str, contacts: Iterable[UContact], nat_flag: int, server_id: int) -> int:
        """ul_ka_urecord: a keepalive to each contact of `aor` the mode picks; how many were sent."""
        if self.mode == ULKA_NONE:
            return 0
        self.counter += 1
        sent = 0
        for c in contacts:
            if not c.contact or (self.filter & GAU_OPT_SERVER_ID and c.server_id != server_id):
                continue
            if self.mode & ULKA_NAT and (not nat_flag or c.cflags & nat_flag != nat_flag):
                continue
            out = self._request(aor, c, sent + 1)
            if out is None:
                continue
            self.core.send(out)
            sent += 1
        return sent

    def _request(self, aor: str, c: UContact, bcnt: int) -> Outgoing | None:
        try:
            dst = c.received or (_first_path_uri(c.path) if c.path else c.contact)
            uri = parse_uri(dst)
        except (SIPProtocolError, ValueError):
            log.error("usrloc: cannot parse next hop uri of %s", c.contact)
            return None
        proto = (uri.params.get("transport") or "udp").lower()
        if uri.scheme == "sips" and proto == "udp":
            proto = "tls"
        if self.mode & ULKA_UDP and proto != "udp":
            log.debug("usrloc: skipping non-udp contact %s", c.contact)
            return None
        sock = self._socket(c.socket, proto)
        if sock is None:
            log.error("usrloc: cannot get sending socket for %s", c.contact)
            return None
        host = uri.host.strip("[]")
        now = time.time()
        sec, usec = int(now), int((now - int(now)) * 1_000_000)
        vhost = sock.advertise_host or sock.host
        vhost = f"[{vhost}]" if ":" in vhost else vhost
        route = f"Route: {c.path}\r\n" if c.path else ""
        to = aor if "@" in aor else f"{aor}@{self.domain}"
        g, b = self.counter, bcnt
        text = (f"{self.method} {c.contact} SIP/2.0\r\n"
                f"Via: SIP/2.0/{_PROTOS.get(proto, proto.upper())} {vhost}:{sock.advertise_port or sock.port}"
                f";branch=z9hG4bKx.{g}.{b}.0\r\n"
                f"{route}"
                f"From: <{self.from_uri}>;tag={c.ruid}-{core_hash(aor):x}-{sec:x}-{usec:x}-{g:x}.{b:x}\r\n"
                f"To: <sip:{to}>\r\n"
                f"Call-ID: {CALLID_PREFIX}{random.getrandbits(31):x}-{os.getpid():x}-{g:x}.{b:x}\r\n"
                f"CSeq: 80 {self.method}\r\n"
                "Content-Length: 0\r\n\r\n")
        conn = c.connection_id if proto != "udp" and c.connection_id > 0 else None
        port = uri.port or (5061 if proto == "tls" else 5060)
        return Outgoing(proto, host, port, text.encode(), sock, conn)

    def _socket(self, text: str | None, proto: str) -> Socket | None:
        sockets = list(self.core.sockets)
        if text:
            found = next((s for s in sockets if str(s) == text), None)
            if found is not None:
                return found
        return next((s for s in sockets if s.proto == proto), None)

    def reply(self, ctx: MessageContext) -> tuple[int, str, int] | None:
        """ul_ka_reply_received: (aorhash, ruid, roundtrip in microseconds) of a reply to one of
        our keepalives, else None. The roundtrip is logged at ka_loglevel with ka_logmsg."""
        msg = ctx.msg
        if not isinstance(msg, Response) or msg.cseq is None or msg.cseq.method != self.method:
            return None
        try:
            if len(msg.vias) != 1 or msg.from_ is None or str(msg.from_.uri) != self.from_uri:
                return None
            tag = msg.from_.tag or ""
        except SIPProtocolError:
            return None
        parts = tag.rsplit("-", 4)
        if len(tag) <= 8 or len(parts) != 5 or not parts[0]:
            return None
        ruid, aorhash, sec, usec, _ = parts
        try:
            hashed, sent = int(aorhash, 16), int(sec, 16) + int(usec, 16) / 1_000_000
        except ValueError:
            return None
        roundtrip = max(0, int((time.time() - sent) * 1_000_000))
        if self.loglevel != LOG_OFF and self.logmsg is not None:
            log_at(log, self.loglevel, "keepalive roundtrip: %d.%06d sec - ruid [%s]%s",
                   roundtrip // 1_000_000, roundtrip % 1_000_000, ruid, self.logmsg(ctx))
        return hashed, ruid, roundtrip
