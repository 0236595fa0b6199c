"""Kamailio 5.6's outbound module (outbound_mod.c): RFC 5626 flow tokens and the test whether a
request uses outbound, offered to rr (the flow token in the Record-Route user part, routing by it
in loose_route) and path (the flow token and `;ob` in the Path URI).

A flow token is base64 of: the last 10 bytes of HMAC-SHA1 over the rest, a protocol byte (bit 7:
IPv6; bits 0-6: Kamailio's protocol number), the local address and port the request came in on,
the peer's address and port (23 bytes for IPv4, 47 for IPv6)."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
import secrets
from typing import Any

from kampy.api import (
    CoreAPI,
    FlowToken,
    MessageContext,
    Module,
    Request,
    SIPProtocolError,
    isflagset,
)

log = logging.getLogger("kampy.outbound")

KEY_LEN = 20  # OB_KEY_LEN, a SHA-1 digest
MAC_LEN = 10  # HMAC-SHA1-80
TOKEN_LENGTHS = (23, 47)
MAX_FLAG = 31
# Kamailio's sip_protos (ip_addr.h)
PROTOS = {"udp": 1, "tcp": 2, "tls": 3, "sctp": 4, "ws": 5, "wss": 6}
PROTO_NAMES = {number: name for name, number in PROTOS.items()}
_FLOW = "outbound.flow"  # ctx.local: the flow token decoded for this message (msg->ldv.flow)
_KEY_TABLE = "outbound.key"


class OutboundModule(Module):

    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.force_flag = _flag(params["force_outbound_flag"], "bad force_outbound_flag value")
        self.force_no_flag = _flag(params["force_no_outbound_flag"], "bad no_outbound_flag value")
        secret = params["flow_token_secret"]
        self.key = hashlib.sha1(str(secret).encode()).digest() if secret is not None else self._shared_key()

    def _shared_key(self) -> bytes:
        """The random key every worker uses (Kamailio makes it in mod_init, before the fork)."""
        table = self.core.shared.table(_KEY_TABLE, 4)
        with table.transaction():
            found = table.get(b"key")
            if found is not None:
                return found[0]
            key = secrets.token_bytes(KEY_LEN)
            table.put(b"key", key)
            return key

    # -- flow tokens --
    def _mac(self, data: bytes) -> bytes:
        return hmac.new(self.key, data, hashlib.sha1).digest()[-MAC_LEN:]

    def encode_flow_token(self, ctx: MessageContext) -> str:
        src = ctx.src
        local = src.local
        dst_ip = ipaddress.ip_address(local.host.strip("[]"))
        src_ip = ipaddress.ip_address(src.ip.strip("[]"))
        data = bytes([(0x80 if dst_ip.version == 6 else 0) | PROTOS.get(src.proto, 0)])
        data += dst_ip.packed + local.port.to_bytes(2, "big") + src_ip.packed + src.port.to_bytes(2, "big")
        return base64.b64encode(self._mac(data) + data).decode()

    def decode_flow_token(self, ctx: MessageContext, token: str) -> tuple[int, FlowToken | None]:
        cached = ctx.local.get(_FLOW)
        if cached is not None:
            return 0, cached
        if not token:
            log.debug("no flow-token found")
            return -2, None
        try:
            raw = base64.b64decode(token.encode(), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raw = b""
        if len(raw) not in TOKEN_LENGTHS:
            log.debug("no flow-token found - bad length (%d)", len(raw))
            return -2, None
        if not hmac.compare_digest(raw[:MAC_LEN], self._mac(raw[MAC_LEN:])):
            log.info("flow-token failed validation")
            return -1, None
        data = raw[MAC_LEN:]
        size = 16 if data[0] & 0x80 else 4
        proto = PROTO_NAMES.get(data[0] & 0x7F, str(data[0] & 0x7F))
        dst = ipaddress.ip_address(data[1:1 + size])
        pos = 1 + size
        dst_port = int.from_bytes(data[pos:pos + 2], "big")
        src = ipaddress.ip_address(data[pos + 2:pos + 2 + size])
        src_port = int.from_bytes(data[pos + 2 + size:pos + 4 + size], "big")
        flow = FlowToken(proto, str(dst), dst_port, str(src), src_port)
        ctx.local[_FLOW] = flow
        return 0, flow

    # -- use_outbound --
    def use_outbound(self, ctx: MessageContext) -> int:
        msg = ctx.msg
        if not isinstance(msg, Request):
            log.error("use_outbound called for something that isn't a SIP request")
            return 0
        if self.force_flag >= 0 and isflagset(ctx, self.force_flag):
            log.debug("outbound used by force")
            return 1
        if self.force_no_flag >= 0 and isflagset(ctx, self.force_no_flag):
            log.debug("outbound not used by force")
            return 0
        try:
            if msg.method.upper() == "REGISTER":
                return self._use_register(msg)
            return self._use_non_register(ctx, msg)
        except SIPProtocolError as exc:
            log.error("parsing the request for outbound: %s", exc)
            return 0

    @staticmethod
    def _use_register(msg: Request) -> int:
        if len(msg.vias) > 1:
            log.debug("second Via: found - outbound not used")
            return 0
        contacts = msg.contacts
        if contacts and not contacts.star and "reg-id" in contacts[0].params:
            log.debug("found REGISTER with ;reg-id parameter on Contact-URI - outbound used")
            return 1
        log.debug("outbound not used")
        return 0

    def _use_non_register(self, ctx: MessageContext, msg: Request) -> int:
        routes = msg.routes
        if routes:
            uri = routes[0].uri
            if not self.core.is_myself(uri.host or "", uri.port or 5060) or "gr" in uri.params:
                log.debug("top Route-URI is not me - outbound not used")
                return 0
            if "ob" in uri.params:
                code, flow = self.decode_flow_token(ctx, uri.user or "")
                if code == 0 and flow is not None and not _same_peer(ctx, flow):
                    log.debug('"incoming" request found')
                    return 2
                log.debug('"outgoing" request found')
                return 1
        supported = msg.headers_named("supported")
        if supported and "outbound" not in {t.strip().lower() for v in supported for t in v.split(",")}:
            log.debug("outbound is not supported and thus not used")
            return 0
        if len(msg.vias) > 1:
            log.debug("second Via: found - outbound not used")
            return 0
        contacts = msg.contacts
        if contacts and not contacts.star and "ob" in contacts[0].uri.params:
            log.debug("found ;ob parameter on Contact-URI - outbound used")
            return 1
        log.debug("outbound not used")
        return 0


def _same_peer(ctx: MessageContext, flow: FlowToken) -> bool:
    try:
        same_ip = ipaddress.ip_address(ctx.src.ip.strip("[]")) == ipaddress.ip_address(flow.src_ip)
    except ValueError:
        same_ip = False
    return same_ip and ctx.src.port == flow.src_port


def _flag(value: Any, error: str) -> int:
    flag = int(value)
    if flag != -1 and not 0 <= flag <= MAX_FLAG:
        raise ValueError(f"{error} ({flag})")
    return flag
