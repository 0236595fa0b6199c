"""topoh: topology hiding on the bytes received and sent (Kamailio's SREV_NET_DATA_IN/OUT hooks).

Received messages are unmasked before kampy parses them, and marked with a cookie (a `TH` header
and a `TH` parameter of the top Via: `d`ownstream/`u`pstream, `i`nitial/in-`c`ialog) that tells the
send hook what the message is; sent messages lose the cookie and are masked. The logic is
topoh_mod.c's th_msg_received()/th_msg_sent() and th_msg.c's, step for step.
"""
from __future__ import annotations

from typing import Any

from kampy.api import (L_DBG, CoreAPI, MessageContext, Module, Outgoing, SanityAPI, SIPProtocolError, Source,
                       log_at, module_logger, parse_message)

from . import rawmsg
from .mask import Mask
from .rawmsg import RawMessage

log = module_logger("topoh")

COOKIE = "TH"
OUTGOING, SENDING = 1, 2
EVENT_OUTGOING, EVENT_SENDING = "topoh:msg-outgoing", "topoh:msg-sending"


class TopohModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.ip: str = params["mask_ip"]
        if not self.ip:
            raise ValueError("mask IP parameter is invalid")
        self.mask = Mask(params["mask_key"].encode("latin-1"))
        self.mask_callid = bool(params["mask_callid"])
        self.uparam_name: str = params["uparam_name"]
        self.uparam_prefix: str = params["uparam_prefix"]
        self.vparam_name: str = params["vparam_name"]
        self.vparam_prefix: str = params["vparam_prefix"]
        self.callid_prefix: str = params["callid_prefix"]
        self.uri_prefix_checks = bool(params["uri_prefix_checks"])
        self.event_mode: int = params["event_mode"]
        self.via_prefix = f"SIP/2.0/UDP {self.ip};{self.vparam_name}={self.vparam_prefix}"
        self.uri_prefix = f"sip:{self.ip};{self.uparam_name}={self.uparam_prefix}"
        uri = rawmsg.sip_uri(f"sip:{self.ip}")
        if uri is None or not uri.host:
            raise ValueError("mask uri is invalid")
        self.ip_host, self.ip_port = uri.host, uri.port
        self._mask_is_myself: bool | None = None
        self.sanity: SanityAPI | None = None
        if params["sanity_checks"]:
            self.sanity = core.api("sanity")
            if self.sanity is None:
                raise ValueError("cannot bind to sanity module")

    @property
    def mask_addr_myself(self) -> bool:
        """Whether mask_ip is one of kampy's own addresses (known once the sockets are bound)."""
        if self._mask_is_myself is None:
            self._mask_is_myself = self.core.is_myself(self.ip_host, self.ip_port)
        return self._mask_is_myself

    # ------------------------------------------------------------------ the hooks

    def net_data_in(self, data: bytes, src: Source) -> bytes:
        msg = self._prepare(data)
        if msg is None:
            return data
        if msg.is_request and self.sanity is not None and not self._sane(data, src):
            log.error("sanity checks failed")
            return data
        cookie = self._received(msg)
        if cookie is None:
            return data
        log_at(log, L_DBG, "adding cookie: %s", cookie)
        msg.insert(msg.head_end, f"{COOKIE}: {cookie}h\r\n")
        vias = msg.vias()
        if vias:
            msg.insert(self._via_cookie_at(msg, vias[0]), f";{COOKIE}={cookie}v")
        return msg.updated()

    def net_data_out(self, out: Outgoing) -> Outgoing:
        if self.event_mode & OUTGOING and self._outgoing_dropped(out):
            return out
        msg = self._prepare(out.data)
        if msg is None:
            return out
        cookie = self._cookie(msg)
        if cookie[:1] != "x":
            self._delete_cookie(msg)
        if self.event_mode & SENDING and self._sending_dropped(msg, out):
            return out
        if not (self._request_sent(msg, cookie) if msg.is_request else self._reply_sent(msg, cookie)):
            return out
        data = msg.updated()
        if data == out.data:
            return out
        return Outgoing(out.proto, out.host, out.port, data, out.local, out.conn_id)

    # ------------------------------------------------------------------ what was received

    def _decode(self, text: str, prefix: str) -> str | None:
        """th_mask_decode; None also when the result would break the message (a line end or a
        zero byte, which only text not encoded by topoh gives: Kamailio would insert it)."""
        decoded = self.mask.decode(text, prefix)
        if decoded is None or any(c in decoded for c in b"\r\n\0"):
            return None
        return decoded.decode("latin-1")

    def _sane(self, data: bytes, src: Source) -> bool:
        """sanity's default checks; the replies they make to a request that fails are sent."""
        assert self.sanity is not None
        try:
            ctx = MessageContext(parse_message(data), src, self.core)
        except SIPProtocolError:
            return False
        passed = self.sanity.check_defaults(ctx) >= 1
        for out in ctx.outbox:
            self.core.send(out)
        return passed

    def _received(self, msg: RawMessage) -> str | None:
        """Unmask a received message; the cookie to add, None to leave it alone."""
        if msg.is_request:
            if not msg.tag("to"):
                return "di"
            direction = self._route_direction(msg)
            if direction < 0:
                log.error("not able to detect direction")
                return None
            self._unmask_ruri(msg)
            self._unmask_route(msg)
            self._unmask_refer_to(msg)
            if direction == 1:
                self._unmask_callid(msg)
            return "uc" if direction else "dc"
        if len(msg.vias()) < 2 and msg.cseq_method() != "CANCEL":
            return None  # the reply to a request of ours: nothing to unhide
        cookie = self._unmask_via(msg)
        self._flip_record_route(msg, sending=False)
        if cookie[:1] == "u":
            return "dc"
        self._unmask_callid(msg)
        return "uc"

    def _route_direction(self, msg: RawMessage) -> int:
        """th_route_direction: 1 (upstream) when the first Route's ftag is not the From tag."""
        from_tag = msg.tag("from")
        if not from_tag:
            log.error("failed to get from header tag")
            return -1
        routes = msg.uris("route")
        if not routes:
            return 0
        uri = rawmsg.sip_uri(msg.text[routes[0].start:routes[0].end])
        if uri is None:
            log.error("failed to parse the first route URI")
            return -1
        ftag = uri.params.get("ftag")
        if ftag is None:
            return 0
        return 0 if ftag == from_tag else 1

    def _uri_param(self, text: str) -> str | None:
        """th_get_uri_param_value(uparam_name): the masked value a URI carries, or None."""
        uri = rawmsg.sip_uri(text)
        if uri is None:
            return None
        value = uri.params.get(self.uparam_name)
        return value or None

    def _unprefixed(self, text: str) -> bool:
        """uri_prefix_checks: the URI does not begin with the masked URIs' prefix."""
        return self.uri_prefix_checks and not text.lower().startswith(self.uri_prefix.lower())

    def _unmask_ruri(self, msg: RawMessage) -> None:
        start, end = msg.ruri_span()
        self._unmask_uri(msg, start, end)

    def _unmask_uri(self, msg: RawMessage, start: int, end: int, stop_at_headers: bool = False) -> None:
        text = msg.text[start:end]
        if self._unprefixed(text):
            return
        value = self._uri_param(text)
        if value is None:
            return
        decoded = self._decode(value, self.uparam_prefix)
        if decoded is None:
            log.error("cannot decode [%s]", text)
            return
        if stop_at_headers and "?" in text:
            end = start + text.index("?")
        msg.replace(start, end, decoded)

    def _unmask_route(self, msg: RawMessage) -> None:
        for part in msg.uris("route")[1:]:
            self._unmask_uri(msg, part.start, part.end)

    def _unmask_refer_to(self, msg: RawMessage) -> None:
        if msg.cseq_method() != "REFER":
            return
        found = msg.uris("refer-to")
        if found:
            self._unmask_uri(msg, found[0].start, found[0].end, stop_at_headers=True)

    @staticmethod
    def _callid(msg: RawMessage) -> tuple[int, int] | None:
        header = next(iter(msg.named("call-id")), None)
        if header is None:
            log.error("cannot get Call-Id header")
            return None
        return _trimmed(msg.text, header.value_start, header.value_end)

    def _unmask_callid(self, msg: RawMessage) -> None:
        span = self._callid(msg) if self.mask_callid else None
        if span is None:
            return
        start, end = span
        value = msg.text[start:end]
        if not value.lower().startswith(self.callid_prefix.lower()):
            return
        decoded = self._decode(value, self.callid_prefix)
        if decoded is None:
            log.error("cannot decode callid")
            return
        msg.replace(start, end, decoded)

    def _unmask_via(self, msg: RawMessage) -> str:
        """th_unmask_via: the Vias below the first decoded; the cookie the second one carried."""
        cookie = "xx"
        for i, part in enumerate(msg.vias()[1:], 2):
            body = msg.text[part.start:part.end]
            host, rest = rawmsg.via_sent_by(body)
            if self.uri_prefix_checks and host.lower() != self.ip.lower():
                continue
            value = rawmsg.param(rest, self.vparam_name)
            if value is None:
                log.error("cannot find param in via %d", i)
                return cookie
            if self.vparam_prefix and (len(value) <= len(self.vparam_prefix)
                                       or not value.startswith(self.vparam_prefix)):
                continue
            decoded = self._decode(value, self.vparam_prefix)
            if decoded is None:
                log.error("cannot decode via %d", i)
                return cookie
            text = decoded
            if i == 2:
                found = rawmsg.param(rawmsg.via_sent_by(text)[1], COOKIE)
                if found is None:
                    log.error("cannot find cookie in via2")
                    return cookie
                cookie = found
            msg.replace(part.start, part.end, text)
        return cookie

    # ------------------------------------------------------------------ what is sent

    def _request_sent(self, msg: RawMessage, cookie: str) -> bool:
        """Mask a request going out; False to send it as it is."""
        upstream = cookie[:1] == "u"
        method = msg.cseq_method()
        if len(msg.vias()) < 2:
            local = 2 if not upstream and cookie[1:2] == "l" else 1
        else:
            local = 1 if cookie[:1] not in ("d", "u") else 0
        if local:
            if method in ("ACK", "CANCEL") or local == 2:
                self._mask_callid(msg)
                return True
            return False
        self._mask_vias(msg)
        self._mask_contact(msg)
        self._mask_record_route(msg)
        if msg.tag("to"):
            if not upstream:
                self._mask_callid(msg)
        else:
            self._update_replaces(msg)
            self._mask_callid(msg)
        return True

    def _reply_sent(self, msg: RawMessage, cookie: str) -> bool:
        if cookie[-1:] == "x":
            return False
        if cookie[-1:] == "v":  # a reply of ours: the request said where it goes
            if cookie[:1] == "u":
                self._mask_callid(msg)
            return True
        self._flip_record_route(msg, sending=True)
        self._mask_contact(msg)
        if cookie[:1] == "d":
            self._mask_callid(msg)
        return True

    def _mask_vias(self, msg: RawMessage) -> None:
        for part in msg.vias()[1:]:
            body = msg.text[part.start:part.end].encode("latin-1")
            msg.replace(part.start, part.end, self.mask.encode(body, self.via_prefix))

    def _mask_uri(self, msg: RawMessage, part: rawmsg.Part) -> None:
        uri = msg.text[part.start:part.end].encode("latin-1")
        msg.replace(part.start, part.end, self.mask.encode(uri, self.uri_prefix))

    def _mask_contact(self, msg: RawMessage) -> None:
        contacts = msg.uris("contact")
        if not contacts:
            return
        first = contacts[0]
        if msg.text[first.start:first.end].strip() in ("", "*"):
            log.error("invalid contact header")
            return
        masked = self.mask.encode(msg.text[first.start:first.end].encode("latin-1"), self.uri_prefix)
        if msg.text[first.start - 1] != "<":
            masked = f"<{masked}>"
        msg.replace(first.start, first.end, masked)

    def _mask_record_route(self, msg: RawMessage) -> None:
        for part in msg.uris("record-route")[1:]:
            self._mask_uri(msg, part)

    def _mask_callid(self, msg: RawMessage) -> None:
        span = self._callid(msg) if self.mask_callid else None
        if span is None:
            return
        start, end = span
        value = msg.text[start:end].encode("latin-1")
        msg.replace(start, end, self.mask.encode(value, self.callid_prefix))

    def _update_replaces(self, msg: RawMessage) -> None:
        """An INVITE's Replaces call-id, masked or unmasked (whichever it is not)."""
        if not self.mask_callid or msg.cseq_method() != "INVITE":
            return
        header = next(iter(msg.named("replaces")), None)
        if header is None:
            return
        start, end = _trimmed(msg.text, header.value_start, header.value_end)
        semi = msg.text.find(";", start, end)
        end = semi if semi >= 0 else end
        callid = msg.text[start:end]
        if len(callid) > len(self.callid_prefix) and callid.startswith(self.callid_prefix):
            decoded = self._decode(callid, self.callid_prefix)
            if decoded is None:
                log.error("cannot update Replaces callid")
                return
            new = decoded
        else:
            new = self.mask.encode(callid.encode("latin-1"), self.callid_prefix)
        msg.replace(start, end, new)

    # ------------------------------------------------------------------ Record-Route in replies

    def _uri_type(self, text: str) -> tuple[int, bool, str | None]:
        """th_get_uri_type: (2 decode | 1 encode | 0 skip | -1 error, r2=on, the masked value)."""
        uri = rawmsg.sip_uri(text)
        if uri is None or uri.host is None:
            return -1, False, None
        if uri.host.lower() == self.ip.lower():
            if self.uparam_name in uri.params:
                return 2, False, uri.params.get(self.uparam_name) or ""
            if not self.mask_addr_myself:
                return 0, False, None
        if self.core.is_myself(uri.host, uri.port):
            r2 = uri.params.get("r2")
            return 0, r2 is not None and r2.lower() == "on", None
        return 1, False, None

    def _flip_record_route(self, msg: RawMessage, sending: bool) -> None:
        """th_flip_record_route: a reply's Record-Routes decoded when received; when sent, those
        before kampy's own encoded (the second of a double Record-Route too)."""
        act = 2 if sending else 0
        for part in msg.uris("record-route"):
            text = msg.text[part.start:part.end]
            utype, r2, value = self._uri_type(text)
            if utype == 0 and sending:
                if not r2:
                    return
                act -= 1
                if act == 0:
                    return
                utype = 1
            if utype == 1 and sending and act:
                self._mask_uri(msg, part)
            elif utype == 2 and not sending:
                decoded = self._decode(value or "", self.uparam_prefix)
                if decoded is None:
                    log.error("cannot decode r-r")
                    return
                msg.replace(part.start, part.end, decoded)

    # ------------------------------------------------------------------ cookies and events

    def _prepare(self, data: bytes) -> RawMessage | None:
        """th_prepare_msg and th_skip_msg: None for what topoh leaves alone (not SIP, broken,
        REGISTER, PUBLISH)."""
        try:
            msg = rawmsg.parse(data)
        except rawmsg.RawError:
            return None
        first = msg.first_line.split(" ")
        if msg.is_request and (len(first) != 3 or not first[2].upper().startswith("SIP/2.0")):
            return None
        if not msg.is_request and not msg.first_line.upper().startswith("SIP/2.0 "):
            return None
        if not msg.vias() or not msg.named("call-id") or not msg.named("from") or not msg.named("to"):
            log.error("mandatory headers missing")
            return None
        method = msg.cseq_method()
        if method is None:
            log.warning("Invalid/Unparsed CSeq in message. Skipping.")
            return None
        return None if method in ("REGISTER", "PUBLISH") else msg

    @staticmethod
    def _cookie(msg: RawMessage) -> str:
        """th_get_cookie: the TH header's value, else the top Via's TH parameter, else `xxx`."""
        header = next(iter(msg.named(COOKIE.lower())), None)
        if header is not None:
            return msg.value(header).strip() or "xxx"
        vias = msg.vias()
        if vias:
            value = rawmsg.param(rawmsg.via_sent_by(msg.text[vias[0].start:vias[0].end])[1], COOKIE)
            if value:
                return value
        return "xxx"

    @staticmethod
    def _delete_cookie(msg: RawMessage) -> None:
        header = next(iter(msg.named(COOKIE.lower())), None)
        if header is not None:
            msg.replace(header.start, header.end, "")
        vias = msg.vias()
        if msg.is_request or not vias:
            return
        body = msg.text[vias[0].start:vias[0].end]
        rest_at = len(body) - len(rawmsg.via_sent_by(body)[1])
        for name, _, start, end in rawmsg.params(body[rest_at:]):
            if name.lower() == COOKIE.lower():
                msg.replace(vias[0].start + rest_at + start, vias[0].start + rest_at + end, "")
                return

    @staticmethod
    def _via_cookie_at(msg: RawMessage, via: rawmsg.Part) -> int:
        """Where th_add_via_cookie puts the parameter: before the first one, else after the host."""
        body = msg.text[via.start:via.end]
        rest = rawmsg.via_sent_by(body)[1]
        sent_by_end = via.end - len(rest)
        semi = msg.text.find(";", sent_by_end, via.end)
        return semi if semi >= 0 else sent_by_end

    def _outgoing_dropped(self, out: Outgoing) -> bool:
        """event_route[topoh:msg-outgoing] with Kamailio's faked message, `$snd` telling where
        `out` goes (Kamailio's onsend_info with the faked message's buffer); True on drop."""
        if not self.core.has_route("event", EVENT_OUTGOING):
            return False
        ctx = self.core.faked_context()
        ctx.onsend = Outgoing(out.proto, out.host, out.port, ctx.msg.raw, out.local or self.core.sockets[0],
                              out.conn_id)
        dropped = self.core.run_event_route(EVENT_OUTGOING, ctx) is False
        for item in ctx.outbox:
            self.core.send(item)
        return dropped

    def _sending_dropped(self, msg: RawMessage, out: Outgoing) -> bool:
        """event_route[topoh:msg-sending] with the message; True when it ended with drop."""
        if not self.core.has_route("event", EVENT_SENDING):
            return False
        try:
            parsed = parse_message(out.data)
        except SIPProtocolError:
            return False
        src = Source(out.proto, out.host, out.port, out.local or self.core.sockets[0], out.conn_id)
        ctx = MessageContext(parsed, src, self.core, onsend=out)
        return self.core.run_event_route(EVENT_SENDING, ctx) is False


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in " \t":
        start += 1
    while end > start and text[end - 1] in " \t\r\n":
        end -= 1
    return start, end
