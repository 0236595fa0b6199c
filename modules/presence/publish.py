"""PUBLISH handling (publish.c): the request checked (Event, Expires, the presentity, the body, the
sender), the entity tag, the 200 with Expires and SIP-ETag; storing the document is presentity.py's."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from kampy.api import MessageContext, Request

from .common import PRES_PRIORITY_TBASE, uri_user_host
from .events import parse_event
from .presentity import Presentity

if TYPE_CHECKING:
    from .presence import PresenceModule

log = logging.getLogger("kampy.presence")


class PublishError(Exception):
    def __init__(self, code: int = 500, reason: str = "Server Internal Error") -> None:
        super().__init__(code, reason)
        self.code, self.reason = code, reason


class PublishMixin:
    """The PUBLISH side of PresenceModule."""

    def generate_etag(self: PresenceModule, publ_count: int) -> str:
        """generate_ETag(): `a.<startup time>.<pid>.<request counter>.<publication count>`."""
        return f"a.{self.startup_time}.{os.getpid()}.{self.pres_counter}.{publ_count}"

    def next_ruid(self: PresenceModule) -> str:
        """sruid_next() of `pres`."""
        self.ruid_counter += 1
        return f"pres-{self.startup_time:x}-{os.getpid():x}-{self.ruid_counter:x}"

    def priority(self: PresenceModule, ctx: MessageContext | None) -> int:
        """pres_get_priority(): $xavp(<xavp_cfg>=>priority), else the seconds since 2015."""
        if not self.xavp_cfg:
            return 0
        value = self.xavp_cfg_int(ctx, "priority") if ctx is not None else None
        return value if value is not None else self.now() - PRES_PRIORITY_TBASE

    def publ_send200ok(self: PresenceModule, ctx: MessageContext | None, lexpire: int, etag: str) -> int:
        if ctx is None:
            return 0
        expires = 0 if lexpire == 0 else lexpire - self.expires_offset
        ctx.reply_lumps.append(f"Expires: {expires}\r\n")
        ctx.reply_lumps.append(f"SIP-ETag: {etag}\r\n")
        if self.sl.send_reply(ctx, 200, "OK") < 0:
            log.error("sending reply")
            return -1
        return 0

    def handle_publish(self: PresenceModule, ctx: MessageContext, sender_uri: str | None = None) -> int:
        """handle_publish([sender_uri])."""
        self.pres_counter += 1
        sent = [False]
        try:
            self._publish(ctx, sender_uri, sent)
        except PublishError as exc:
            if not sent[0]:
                self.send_error_reply(ctx, exc.code, exc.reason)
            return -1
        return 1

    def _publish(self: PresenceModule, ctx: MessageContext, sender_uri: str | None, sent: list[bool]) -> None:
        msg = ctx.msg
        assert isinstance(msg, Request)
        value = msg.header("event")
        if not value or not value.strip():
            self._unsupported(None)
        try:
            parsed = parse_event(value)
        except ValueError:
            log.error("cannot parse Event header")
            raise PublishError(400, "Bad request") from None
        package = self.events.search(parsed)
        if package is None:
            self._unsupported(value)
        event = package.event
        if_match = msg.header("sip-if-match")
        etag_gen = if_match is None
        etag = self.generate_etag(0) if etag_gen else if_match
        lexpire = event.default_expires
        expires = msg.header("expires")
        if expires is not None and expires.strip():
            try:
                lexpire = int(expires.strip())
            except ValueError:
                log.error("cannot parse Expires header")
                raise PublishError() from None
        lexpire = min(lexpire, self.max_expires)
        parts = uri_user_host(ctx.ruri)
        if parts is None:
            log.error("parsing Request URI")
            raise PublishError(400, "Bad request")
        pres_user, pres_domain = parts
        if msg.header("content-length") is None:
            log.error("no Content-Length header found!")
            raise PublishError(400, "Bad request")
        body: bytes | None = msg.body or None
        if body is None and etag_gen:
            log.error("No E-Tag and no body found")
            raise PublishError(400, "Invalid request")
        # Kamailio 5.6 means to read the RPID sphere of a PIDF body here, but compares the whole
        # content type (type << 16 | subtype) with the subtype alone: a PUBLISH never gives one. A
        # refresh's body, the database (publ_cache 0) and update_presentity() do.
        sphere = None
        sender = None
        if sender_uri is not None:
            if len(sender_uri) >= 254:
                log.error("cannot use sender uri -- too long value")
                raise PublishError()
            if uri_user_host(sender_uri) is None:
                log.error("bad sender SIP address!")
                raise PublishError(400, "Bad request")
            sender = sender_uri
        if event.evs_publ_handl and event.evs_publ_handl(ctx) < 0:
            log.error("in event specific publish handling")
            raise PublishError()
        presentity = Presentity(
            pres_domain, pres_user, lexpire, event, etag, sender, self.now(), self.priority(ctx)
        )
        if self.update_presentity(ctx, presentity, body, etag_gen, sent, sphere) < 0:
            log.error("when updating presentity")
            raise PublishError()

    def _unsupported(self: PresenceModule, value: str | None) -> None:
        log.warning("Missing or unsupported event header field value")
        if value:
            log.error("    event=[%s]", value)
        raise PublishError(489, "Bad Event")
