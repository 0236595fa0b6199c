"""Presence as user agents do it: PUBLISH of a PIDF document (RFC 3903), a SUBSCRIBE dialog (RFC 6665)
refreshed and ended, the NOTIFYs the server sends in it, answered 200."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from tests.e2e.proxy import Msg
from tests.e2e.stock.sipua import CHALLENGES, UA, Request

PIDF = "application/pidf+xml"


def pidf(entity: str, basic: str, tuple_id: str, note: str | None = None, person: str = "") -> bytes:
    """A PIDF document (RFC 3863) with one tuple (and `person`, a data-model element), as phones
    publish it."""
    note_line = f"    <note>{note}</note>\n" if note else ""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="{entity}">\n'
            f'  <tuple id="{tuple_id}">\n'
            f'    <status>\n      <basic>{basic}</basic>\n    </status>\n'
            f'{note_line}'
            '  </tuple>\n'
            f'{person}</presence>\n').encode()


def publish(ua: UA, body: bytes | None, expires: int = 3600, etag: str | None = None,
            event: str = "presence") -> list[Msg]:
    """PUBLISH the user's own presence (a 407 answered); the final replies."""
    headers = [f"Event: {event}", f"Expires: {expires}"]
    if etag is not None:
        headers.append(f"SIP-If-Match: {etag}")
    return ua.authenticated("PUBLISH", ua.aor, to=ua.aor, headers=headers, body=body or b"",
                            content_type=PIDF if body else None)


@dataclass
class Subscription:
    """A SUBSCRIBE dialog of a watcher: the request that made it and, once accepted, its peer."""

    ua: UA
    request: Request
    event: str
    replies: list[Msg] = field(default_factory=list)
    to_tag: str | None = None
    remote_target: str | None = None
    route: list[str] = field(default_factory=list)
    cseq: int = 1
    notify_cseq: int = 0  # the CSeq of the last NOTIFY taken: a later one is the next

    def refresh(self, expires: int) -> list[Msg]:
        """SUBSCRIBE again within the dialog (Expires 0 ends it); the final replies."""
        assert self.remote_target and self.to_tag, "no accepted subscription"
        self.cseq = self.request.cseq + 1
        req = self.ua.send_request("SUBSCRIBE", self.remote_target, to=self.request.to,
                                   call_id=self.request.call_id, cseq=self.cseq,
                                   from_tag=self.request.from_tag, to_tag=self.to_tag,
                                   headers=[f"Event: {self.event}", f"Expires: {expires}",
                                            *(f"Route: {r}" for r in self.route)])
        self.request = req
        replies = [self.ua.final(req)]
        self.replies += replies
        return replies

    def notified(self, timeout: float = 5) -> Msg:
        """The next NOTIFY of this dialog (CSeq above the last one's), answered 200."""
        call_id = self.request.call_id
        notify = self.ua.wait_for(lambda m: m.is_request and m.method == "NOTIFY" and m.call_id == call_id
                                  and m.cseq[0] > self.notify_cseq, timeout,
                                  f"NOTIFY of {call_id} after CSeq {self.notify_cseq}")
        self.notify_cseq = notify.cseq[0]
        self.ua.reply(notify, 200, "OK")
        return notify


def subscribe(ua: UA, target: str, expires: int = 3600, event: str = "presence") -> Subscription:
    """SUBSCRIBE to `target` (a 407 answered); the dialog, with its final replies."""
    req = ua.send_request("SUBSCRIBE", target, to=target, headers=[f"Event: {event}", f"Expires: {expires}"])
    sub = Subscription(ua, req, event)
    reply = ua.final(req)
    if reply.status in CHALLENGES and ua.credentials is not None:
        sub.replies.append(reply)
        sub.request = ua.resend_with_credentials(req, reply)
        reply = ua.final(sub.request)
    return accepted(sub, reply)


def accepted(sub: Subscription, reply: Msg) -> Subscription:
    """Record the dialog a 2xx to the SUBSCRIBE made."""
    sub.replies.append(reply)
    if 200 <= reply.status < 300:
        sub.to_tag = reply.to_tag
        contact = reply.header("contact") or ""
        m = re.search(r"<([^>]+)>", contact)
        sub.remote_target = m.group(1) if m else contact.split(";", 1)[0].strip()
        sub.route = [r.strip() for value in reply.all("record-route") for r in value.split(",")]
    return sub
