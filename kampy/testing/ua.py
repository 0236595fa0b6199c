"""Simulated phones: an address behind (or in front of) the proxy that answers what it gets.

How a phone answers a request that starts something (no To tag) (`answer`):
  * a status code: `200`, `405` ...
  * an `Answer(status, reason, headers, body, after=seconds)`, or a list of them (`[180, 200]`)
  * `None` (or `NEVER`): never answers, as a device that is gone, or leaves an INVITE to the
    test's `call.ringing()` / `call.answer()` / `call.reject()` (see `kampy.testing.dialog`)
  * a callable `fn(request: Sent) -> any of the above`, to decide per request

As RFC 3261 says: its 1xx/2xx to an INVITE carry a To tag of its own, its Contact and the request's
Record-Route; requests within one of its dialogs are answered 200 (a re-INVITE with its last session
description), those of a dialog it does not know 481; ACKs are absorbed; a retransmission gets the
same answer again; a CANCEL is answered 200 with a 487 for the pending INVITE. When an INVITE it sent
is refused it sends the ACK itself; with a `password` it answers a 401/407 once with digest
credentials. A NOTIFY within a subscription it made (RFC 6665: the SUBSCRIBE's Call-ID, its From tag
as the NOTIFY's To tag) is answered as `answer` says, as a subscriber's device decides; one of a
subscription it does not know gets 481.
"""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kampy.sip.message import Request, Response
from kampy.sip.transaction import build_ack
from kampy.testing.address import format_address
from kampy.testing.dialog import Dialog, DialogState, uac_state, uas_state
from kampy.testing.digest import Credentials, pick
from kampy.testing.messages import Answer, AnswerSpec, RequestSpec, Sent, answers_of, response_to, unique

if TYPE_CHECKING:
    from kampy.testing.harness import Harness
    from kampy.testing.result import Result

DIALOG_METHODS = frozenset({"INVITE", "SUBSCRIBE", "REFER"})
_ORDER = itertools.count()


@dataclass
class Incoming:
    """A request this phone got (its server transaction): the To tag of its answers, what it sent."""

    sent: Sent
    request: Request
    tag: str
    answered: list[bytes] = field(default_factory=list)
    final: bool = False
    order: int = field(default_factory=lambda: next(_ORDER))


class UserAgent:
    """A SIP phone at `host:port` over `transport`, registered (or not) as `aor`.

    `received` lists what the server sent to it; `requests` only the requests (`messages` the
    MESSAGE requests); `answers(...)` changes how it answers; `dialogs` its dialog states."""

    def __init__(self, harness: Harness, aor: str, proto: str, host: str, port: int,
                 answer: AnswerSpec = 200, *, password: str | None = None,
                 username: str | None = None) -> None:
        self.harness = harness
        self.aor = aor
        self.proto, self.host, self.port = proto, host, port
        self.answer: AnswerSpec = answer
        self.received: list[Sent] = []
        self.dialogs: list[DialogState] = []
        self.credentials = Credentials(username or self.user, password) if password is not None else None
        self._incoming: dict[str, Incoming] = {}
        self._invites: dict[str | None, Request] = {}  # INVITEs it sent, by Via branch
        self._subscriptions: set[tuple[str, str]] = set()  # (Call-ID, From tag) of its SUBSCRIBEs

    # ------------------------------------------------------------ identity

    @property
    def address(self) -> str:
        return format_address(self.proto, self.host, self.port)

    @property
    def user(self) -> str:
        return self.aor.split(":", 1)[-1].split("@", 1)[0] if "@" in self.aor else ""

    @property
    def contact(self) -> str:
        at = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        transport = f";transport={self.proto}" if self.proto != "udp" else ""
        return f"sip:{at}{host}:{self.port}{transport}"

    @property
    def domain(self) -> str:
        return self.aor.split("@", 1)[-1] if "@" in self.aor else self.aor.split(":", 1)[-1]

    def answers(self, answer: AnswerSpec) -> UserAgent:
        """How this UA answers from now on (see the module doc); returns the UA."""
        self.answer = answer
        return self

    @property
    def requests(self) -> list[Sent]:
        return [s for s in self.received if s.is_request]

    @property
    def responses(self) -> list[Sent]:
        return [s for s in self.received if s.is_response]

    @property
    def messages(self) -> list[Sent]:
        """MESSAGE requests received (retransmissions included)."""
        return [s for s in self.requests if s.method == "MESSAGE"]

    def dialog_state(self, call_id: str, local_tag: str | None, *,
                     remote: str | None = None) -> DialogState | None:
        """This phone's view of a dialog: the confirmed one of those matching, else the latest."""
        found = [d for d in self.dialogs if d.call_id == call_id
                 and (local_tag is None or d.local_tag == local_tag)
                 and (remote is None or d.remote_tag == remote)]
        confirmed = [d for d in found if d.confirmed]
        return (confirmed or found or [None])[-1]

    # ------------------------------------------------------------ sending

    def send_request(self, method: str, ruri: str, **kwargs: Any) -> Result:
        """Send a request from this UA (From: its AOR); keyword arguments as `Harness.send_request`
        (without `src`/`transport`). With a password, a 401/407 is answered once with credentials
        (the returned step is the second request's; `result.challenge` the first)."""
        kwargs.setdefault("from_", self.aor)
        body = kwargs.pop("body", b"")
        data = body.encode() if isinstance(body, str) else body
        spec = RequestSpec(method.upper(), ruri, kwargs.pop("from_"), kwargs.pop("to", None), data,
                           kwargs.pop("headers", None) or {}, **kwargs)
        return self.send_spec(spec)

    def send_spec(self, spec: RequestSpec) -> Result:
        spec = spec.completed()
        result = self.harness.send_from(self, spec.build(self.host, self.port, self.proto),
                                        f"{spec.method} {spec.ruri} from {self.aor}")
        retry = self._authenticated(spec, result)
        if retry is None:
            return result
        second = self.harness.send_from(self, retry.build(self.host, self.port, self.proto),
                                        f"{spec.method} {spec.ruri} from {self.aor}, with credentials")
        second.challenge = result
        return second

    def _authenticated(self, spec: RequestSpec, result: Result) -> RequestSpec | None:
        """The request again with digest credentials for the 401/407 it got, or None."""
        reply = result.reply
        if self.credentials is None or reply is None or reply.status not in (401, 407):
            return None
        asked, answer = (("WWW-Authenticate", "Authorization") if reply.status == 401
                         else ("Proxy-Authenticate", "Proxy-Authorization"))
        challenge = pick(reply.headers(asked))
        if challenge is None:
            return None
        value = self.credentials.answer(challenge, spec.method, spec.ruri, spec.body)
        given = list(spec.headers.items()) if isinstance(spec.headers, Mapping) else list(spec.headers)
        return dataclasses.replace(spec, cseq=spec.cseq + 1, branch=None, headers=[*given, (answer, value)])

    def register(self, expires: int | None = 3600, *, registrar: str | None = None,
                 contact: str | None = None, **kwargs: Any) -> Result:
        """REGISTER this UA's contact for its AOR (`expires=0` unregisters)."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if expires is not None:
            headers.setdefault("Expires", str(expires))
        return self.send_request("REGISTER", registrar or f"sip:{self.domain}", to=self.aor,
                                 contact=contact or self.contact, headers=headers, **kwargs)

    def message(self, to: str, body: bytes | str, **kwargs: Any) -> Result:
        """Send a MESSAGE with a text body."""
        data = body.encode() if isinstance(body, str) else body
        return self.send_request("MESSAGE", to, body=data, **kwargs)

    def invite(self, ruri: str, *, body: bytes = b"", content_type: str | None = None,
               **kwargs: Any) -> Dialog:
        """Call `ruri`: send an INVITE (with this phone's Contact; `body` is SDP unless
        `content_type` says otherwise) and return the call as a `Dialog`."""
        kwargs.setdefault("contact", self.contact)
        ctype = content_type or ("application/sdp" if body else None)
        result = self.send_request("INVITE", ruri, body=body, content_type=ctype, **kwargs)
        return Dialog(self, result)

    def sent_request(self, request: Request) -> None:
        """The harness tells the phone of each request sent from its address: it remembers its INVITEs
        to acknowledge their failure replies and to follow the dialogs they make."""
        if request.method == "INVITE":
            via = request.via
            self._invites[via.branch if via else None] = request
        if request.method == "SUBSCRIBE" and request.from_ is not None and request.from_.tag:
            self._subscriptions.add((request.call_id or "", request.from_.tag))
        if request.method == "INVITE" and request.body:
            view = self._view_of(request, ours=True)
            if view is not None:
                view.body = request.body

    # ------------------------------------------------------------ receiving

    def receive(self, sent: Sent) -> list[tuple[float, bytes]]:
        """Take a message the server sent here; returns the answers to send back, each after a
        delay in seconds."""
        self.received.append(sent)
        msg = sent.msg
        if isinstance(msg, Response):
            return self._on_response(sent, msg)
        assert isinstance(msg, Request)
        if msg.method == "ACK":
            return []
        key = f"{sent.branch}|{msg.method}"
        pending = self._incoming.get(key)
        if pending is not None:  # a retransmission: answer as before (nothing if never answered)
            return [(0.0, data) for data in pending.answered[-1:]]
        to_tag = msg.to.tag if msg.to else None
        pending = self._incoming[key] = Incoming(sent, msg, to_tag or unique("ua"))
        if msg.method == "CANCEL":
            return self._cancel(sent, msg)
        if to_tag and msg.method == "NOTIFY" and (msg.call_id or "", to_tag) in self._subscriptions:
            return [(a.after, self.respond(pending, a)) for a in answers_of(self.answer, sent)]
        if to_tag:
            return [(0.0, self._in_dialog(pending))]
        return [(a.after, self.respond(pending, a)) for a in answers_of(self.answer, sent)]

    def respond(self, pending: Incoming, answer: Answer) -> bytes:
        """The phone's response to a request it got (To tag, and for a 1xx/2xx that makes a dialog
        its Contact and the request's Record-Route); remembers the dialog it makes."""
        request = pending.request
        headers = dict(answer.headers)
        in_dialog = bool(request.to and request.to.tag)
        makes_dialog = request.method in DIALOG_METHODS and 100 < answer.status < 300 and not in_dialog
        if makes_dialog:
            headers.setdefault("Contact", f"<{self.contact}>")
            routes = request.headers_named("Record-Route")
            if routes and not any(n.lower() == "record-route" for n in headers):
                headers = {"Record-Route": ", ".join(routes), **headers}
            self._uas_dialog(pending, answer)
        elif answer.status >= 300:
            self.dialogs = [d for d in self.dialogs if not (d.call_id == request.call_id and d.local_tag
                                                            == pending.tag and not d.confirmed)]
        data = response_to(request, answer.status, answer.reason, headers=headers, body=answer.body,
                           to_tag=pending.tag if answer.status > 100 else None)
        pending.answered.append(data)
        pending.final = pending.final or answer.status >= 200
        return data

    def _uas_dialog(self, pending: Incoming, answer: Answer) -> None:
        request = pending.request
        view = next((d for d in self.dialogs
                     if d.call_id == request.call_id and d.local_tag == pending.tag), None)
        if view is None:
            view = uas_state(request, pending.tag)
            self.dialogs.append(view)
        view.confirmed = view.confirmed or answer.status >= 200
        if answer.body:
            view.body = answer.body

    def _in_dialog(self, pending: Incoming) -> bytes:
        """A request within a dialog (RFC 3261 12.2.2): 481 when the dialog is unknown, 500 for a
        CSeq lower than the last, else 200 (a re-INVITE with this phone's last session description)."""
        request = pending.request
        view = self._view_of(request)
        if view is None or view.terminated:
            return self.respond(pending, Answer(481))
        cseq = request.cseq.num if request.cseq else 0
        if view.remote_cseq is not None and cseq <= view.remote_cseq:
            return self.respond(pending, Answer(500, "Server Internal Error - CSeq Lower"))
        view.remote_cseq = cseq
        if request.method == "BYE":
            view.terminated = True
        if request.method != "INVITE":
            return self.respond(pending, Answer(200))
        if len(request.contacts):
            view.remote_target = str(request.contacts[0].uri)
        headers = {"Contact": f"<{self.contact}>"}
        if view.body:
            headers["Content-Type"] = "application/sdp"
        return self.respond(pending, Answer(200, headers=headers, body=view.body))

    def _view_of(self, request: Request, *, ours: bool = False) -> DialogState | None:
        """The dialog a request belongs to: one this phone got (its To tag is ours), or one it sent
        (`ours`: its From tag is ours)."""
        to_tag = request.to.tag if request.to else None
        from_tag = request.from_.tag if request.from_ else None
        local, remote = (from_tag, to_tag) if ours else (to_tag, from_tag)
        if local is None or remote is None:
            return None
        return self.dialog_state(request.call_id or "", local, remote=remote)

    def _on_response(self, sent: Sent, msg: Response) -> list[tuple[float, bytes]]:
        """A response to a request of ours: follow the dialog an INVITE makes; acknowledge a
        failure reply to an INVITE as its client transaction does (RFC 3261 17.1.1.3)."""
        invite = self._invites.get(sent.branch)
        if invite is None or sent.method != "INVITE" or msg.status < 101:
            return []
        initial = not (invite.to and invite.to.tag)
        if msg.status >= 300:
            if initial:
                self.dialogs = [d for d in self.dialogs if d.confirmed or d.call_id != invite.call_id]
            return [(0.0, bytes(build_ack(invite, msg)))]
        view = self._uac_dialog(invite, msg) if initial else self._view_of(invite, ours=True)
        if view is None:
            return []
        if not initial and len(msg.contacts):
            view.remote_target = str(msg.contacts[0].uri)
        if msg.status >= 200:
            view.ack_cseq = invite.cseq.num if invite.cseq else None
        return []

    def _uac_dialog(self, invite: Request, msg: Response) -> DialogState | None:
        if msg.to is None or not msg.to.tag:
            return None
        fresh = uac_state(invite, msg)
        view = next((d for d in self.dialogs
                     if d.matches(fresh.call_id, fresh.local_tag, fresh.remote_tag)), None)
        if view is None:
            view = fresh
            view.body = invite.body
            self.dialogs.append(view)
        elif msg.status >= 200 and not view.confirmed:  # 13.2.2.4: the 2xx sets route set and target
            view.route_set, view.remote_target = fresh.route_set, fresh.remote_target
        view.confirmed = view.confirmed or msg.status >= 200
        return view

    def _cancel(self, sent: Sent, cancel: Request) -> list[tuple[float, bytes]]:
        pending = self._incoming[f"{sent.branch}|CANCEL"]
        out = [(0.0, self.respond(pending, Answer(200)))]
        invite = self._incoming.get(f"{sent.branch}|INVITE")
        if invite is not None and not invite.final:
            out.append((0.0, self.respond(invite, Answer(487))))
        return out

    def incoming_invites(self, call_id: str, from_tag: str) -> Iterator[Incoming]:
        """The initial INVITEs of a call this phone got, in order."""
        for pending in self._incoming.values():
            req = pending.request
            if (req.method == "INVITE" and req.call_id == call_id and not (req.to and req.to.tag)
                    and req.from_ is not None and req.from_.tag == from_tag):
                yield pending

    def __repr__(self) -> str:
        return f"UserAgent({self.aor!r} at {self.address})"
