"""Whole calls: a dialog between two simulated phones through the config under test.

    call = sip.invite("sip:bob@example.test", body=SDP)   # alice's phone sends the INVITE
    call.ringing()                                       # bob's phone answers 180
    call.answer(body=SDP)                                # ... and 200
    call.ack()                                           # alice acknowledges the 200
    call.bye()                                           # and hangs up (call.bye(by="callee"): bob)

Each end keeps its view of the dialog as RFC 3261 section 12 says (`DialogState`): the tags, the
route set (the Record-Route of the 2xx, reversed, at the caller; of the INVITE, in order, at the
callee), the remote target (the other end's Contact) and the CSeq numbers. Requests within the
dialog are built from that view (section 12.2.1.1), so a test sees the config's Record-Route and
loose routing at work. Each step returns the `Result` of what the config did with it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kampy.sip.message import Request, Response
from kampy.sip.transaction import build_cancel
from kampy.sip.uri import parse_name_addr
from kampy.testing.messages import Answer, RequestSpec, Sent

if TYPE_CHECKING:
    from kampy.testing.result import Result
    from kampy.testing.ua import UserAgent, Incoming

TARGET_REFRESH = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})


class DialogError(Exception):
    """A dialog step that cannot be taken in the call's state (an ACK with no 2xx to acknowledge,
    a BYE before the call exists, an answer when the callee's phone already answered)."""


@dataclass
class DialogState:
    """One end's view of a dialog (RFC 3261 section 12.1): `local_uri`/`remote_uri` are the From/To
    name-addrs without tags, `remote_target` the other end's Contact URI, `route_set` the Route
    values for requests within the dialog, `local_cseq`/`remote_cseq` the last CSeq numbers."""

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str
    remote_uri: str
    remote_target: str
    route_set: list[str] = field(default_factory=list)
    local_cseq: int = 0
    remote_cseq: int | None = None
    confirmed: bool = False
    terminated: bool = False
    body: bytes = b""  # the session description this end sent last (answered again on a re-INVITE)
    ack_cseq: int | None = None  # the CSeq of an INVITE of ours answered 2xx and not acknowledged yet

    def matches(self, call_id: str | None, local_tag: str | None, remote_tag: str | None) -> bool:
        return (call_id, local_tag, remote_tag) == (self.call_id, self.local_tag, self.remote_tag)

    def request(self, method: str, *, cseq: int, contact: str | None, body: bytes = b"",
                content_type: str | None = None,
                headers: Mapping[str, str] | list[tuple[str, str]] | None = None) -> RequestSpec:
        """A request within the dialog (section 12.2.1.1): Request-URI and Route from the route
        set and the remote target (loose routing when the first route has `lr`, strict otherwise)."""
        ruri, routes = self.remote_target, list(self.route_set)
        if routes and "lr" not in parse_name_addr(routes[0]).uri.params:
            ruri, routes = str(parse_name_addr(routes[0]).uri), [*routes[1:], f"<{self.remote_target}>"]
        given = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
        return RequestSpec(method, ruri, self.local_uri, self.remote_uri, body,
                           [("Route", r) for r in routes] + given, call_id=self.call_id, cseq=cseq,
                           from_tag=self.local_tag, to_tag=self.remote_tag,
                           contact=contact if method in TARGET_REFRESH else None, content_type=content_type)


def uac_state(invite: Request, response: Response) -> DialogState:
    """The caller's view from a dialog-creating response (section 12.1.2): route set from the
    response's Record-Route reversed, remote target from its Contact."""
    contacts = response.contacts
    target = str(contacts[0].uri) if len(contacts) else str(invite.ruri)
    return DialogState(
        call_id=invite.call_id or "", local_tag=(invite.from_.tag if invite.from_ else None) or "",
        remote_tag=response.to.tag if response.to and response.to.tag else "",
        local_uri=_without_tag(invite.header("From")), remote_uri=_without_tag(invite.header("To")),
        remote_target=target, route_set=list(reversed(response.headers_named("Record-Route"))),
        local_cseq=invite.cseq.num if invite.cseq else 1)


def uas_state(request: Request, local_tag: str) -> DialogState:
    """The callee's view from the request it answers with a dialog-creating response (section
    12.1.1): route set from the request's Record-Route in order, remote target from its Contact."""
    contacts = request.contacts
    return DialogState(
        call_id=request.call_id or "", local_tag=local_tag,
        remote_tag=(request.from_.tag if request.from_ else None) or "",
        local_uri=_without_tag(request.header("To")), remote_uri=_without_tag(request.header("From")),
        remote_target=str(contacts[0].uri) if len(contacts) else "",
        route_set=list(request.headers_named("Record-Route")),
        remote_cseq=request.cseq.num if request.cseq else None)


def _without_tag(value: str | None) -> str:
    addr = parse_name_addr(value or "")
    if "tag" in addr.params:
        del addr.params["tag"]
    return str(addr)


class Dialog:
    """A call the test places from a simulated phone (`sip.invite(...)`, `ua.invite(...)`).

    `result` is the step of the INVITE; `invite` the INVITE as the caller sent it (after a 401/407
    the authenticated one); `status` the INVITE's final status so far; `replies` every response to it
    the caller got. `caller`/`callee` are the phones, `caller_view`/`callee_view` their
    `DialogState` once the callee answered with a tag. Steps (each returns a `Result`):
    `ringing()`, `answer()`, `reject()` on the callee's phone; `ack()`, `cancel()`, `bye()`,
    `reinvite()`, `request()` by the caller, or by the callee with `by="callee"`.
    """

    def __init__(self, caller: UserAgent, result: Result) -> None:
        self.caller = caller
        self.harness = caller.harness
        self.result = result
        request = result.request
        if not isinstance(request, Request):
            raise DialogError("a dialog starts with an INVITE")
        self.invite = request
        self.call_id = request.call_id or ""
        self.local_tag = (request.from_.tag if request.from_ else None) or ""

    # ------------------------------------------------------------ state

    @property
    def replies(self) -> list[Sent]:
        """Every response to the INVITE that reached the caller, in order."""
        branch = self.invite.via.branch if self.invite.via else None
        return [s for s in self.caller.responses if s.call_id == self.call_id and s.method == "INVITE"
                and s.branch == branch]

    @property
    def status(self) -> int | None:
        """The INVITE's final status (487 after a CANCEL), else the last provisional one, else None."""
        replies = self.replies
        finals = [r.status for r in replies if (r.status or 0) >= 200]
        if finals:
            return finals[0]
        return replies[-1].status if replies else None

    @property
    def caller_view(self) -> DialogState | None:
        """The caller's dialog state: the confirmed one, else the latest early one."""
        return self.caller.dialog_state(self.call_id, self.local_tag)

    @property
    def callee(self) -> UserAgent | None:
        """The phone that answered the INVITE with a tag (the one that took the call when it went
        to several), else the last one that got it."""
        legs = self.harness.incoming_invites(self.call_id, self.local_tag)
        view = self.caller_view
        answered = [ua for ua, incoming in legs if view is not None and incoming.tag == view.remote_tag]
        return (answered or [ua for ua, _ in legs] or [None])[-1]

    @property
    def callee_view(self) -> DialogState | None:
        callee = self.callee
        view = self.caller_view
        if callee is None:
            return None
        return callee.dialog_state(self.call_id, view.remote_tag if view else None, remote=self.local_tag)

    @property
    def state(self) -> str:
        """"trying", "early", "confirmed", "terminated" or "failed" (a final reply >= 300)."""
        view = self.caller_view
        if view is not None and view.terminated:
            return "terminated"
        status = self.status
        if status is not None and status >= 300:
            return "failed"
        if view is None:
            return "trying"
        return "confirmed" if view.confirmed else "early"

    # ------------------------------------------------------------ the callee's phone

    def ringing(self, status: int = 180, reason: str | None = None, *, by: UserAgent | None = None,
                headers: Mapping[str, str] | None = None, body: bytes = b"") -> Result:
        """The callee's phone sends a provisional reply (180, or 183 with `body`)."""
        return self._respond(status, reason, by, headers, body)

    def answer(self, status: int = 200, reason: str | None = None, *, by: UserAgent | None = None,
               headers: Mapping[str, str] | None = None, body: bytes = b"") -> Result:
        """The callee's phone accepts the call (200 with its Contact and the Record-Route)."""
        return self._respond(status, reason, by, headers, body)

    def reject(self, status: int = 486, reason: str | None = None, *, by: UserAgent | None = None,
               headers: Mapping[str, str] | None = None) -> Result:
        """The callee's phone refuses the call (486 Busy Here unless told otherwise)."""
        return self._respond(status, reason, by, headers, b"")

    def _respond(self, status: int, reason: str | None, by: UserAgent | None,
                 headers: Mapping[str, str] | None, body: bytes) -> Result:
        leg = self._leg(by, pending_only=True)
        if leg is None:
            raise DialogError(f"no phone has the INVITE of this call unanswered (its status: {self.status})")
        ua, incoming = leg
        data = ua.respond(incoming, Answer(status, reason, dict(headers or {}), body))
        return self.harness.send_from(ua, data, f"{status} from {ua.aor}")

    def _leg(self, by: UserAgent | None, *, pending_only: bool) -> tuple[UserAgent, Incoming] | None:
        found = [(ua, inc) for ua, inc in self.harness.incoming_invites(self.call_id, self.local_tag)
                 if (by is None or ua is by) and not (pending_only and inc.final)]
        return found[-1] if found else None

    # ------------------------------------------------------------ requests

    def ack(self, *, by: str = "caller", body: bytes = b"", content_type: str | None = None) -> Result:
        """The ACK for the last 2xx to an INVITE (or re-INVITE) sent by `by` ("caller"/"callee");
        the ACK for a failure reply is sent by the phone itself, as a transaction does."""
        status = self.status
        if by == "caller" and status is not None and status >= 300 and self.caller_view is None:
            raise DialogError(f"no 2xx to acknowledge: the call got {status}, which the caller's phone "
                              "acknowledged itself")
        ua, view = self._side(by)
        if view.ack_cseq is None:
            raise DialogError(f"the {by} has no 2xx to acknowledge (the call's status: {self.status})")
        spec = view.request("ACK", cseq=view.ack_cseq, contact=None, body=body,
                            content_type=content_type or ("application/sdp" if body else None))
        view.ack_cseq = None
        return ua.send_spec(spec)

    def bye(self, *, by: str = "caller", headers: Mapping[str, str] | None = None) -> Result:
        """Hang up: a BYE within the dialog from `by` ("caller" or "callee")."""
        result = self.request("BYE", by=by, headers=headers)
        self._side(by)[1].terminated = True
        return result

    def reinvite(self, *, by: str = "caller", body: bytes = b"", content_type: str | None = None,
                 headers: Mapping[str, str] | None = None) -> Result:
        """A re-INVITE within the dialog (new CSeq, the phone's Contact); the other phone answers
        200 with its last session description; acknowledge with `ack(by=...)`."""
        return self.request("INVITE", by=by, body=body, headers=headers,
                            content_type=content_type or ("application/sdp" if body else None))

    def request(self, method: str, *, by: str = "caller", body: bytes = b"", content_type: str | None = None,
                headers: Mapping[str, str] | None = None) -> Result:
        """Any request within the dialog (INFO, UPDATE, MESSAGE, ...) from `by`."""
        ua, view = self._side(by)
        view.local_cseq += 1
        if method.upper() == "INVITE" and body:
            view.body = body
        spec = view.request(method.upper(), cseq=view.local_cseq, contact=f"<{ua.contact}>", body=body,
                            content_type=content_type, headers=headers)
        return ua.send_spec(spec)

    def cancel(self) -> Result:
        """The caller gives up before the call is answered: a CANCEL for the INVITE (RFC 3261 9.1).
        `result.status` is the CANCEL's own reply (200); the INVITE's 487 is `call.status` (and
        `result.replies_for("INVITE")`); the caller's phone acknowledges the 487 itself."""
        cancel = build_cancel(self.invite)
        return self.harness.send_from(self.caller, bytes(cancel), f"CANCEL {self.invite.uri}")

    def _side(self, by: str) -> tuple[UserAgent, DialogState]:
        if by not in ("caller", "callee"):
            raise ValueError(f'by is "caller" or "callee", not {by!r}')
        if by == "caller":
            ua, view = self.caller, self.caller_view
        else:
            ua, view = self.callee, self.callee_view  # type: ignore[assignment]
        if ua is None or view is None:
            raise DialogError(f"the {by} has no dialog yet (the call's status: {self.status}): "
                              "a request within a dialog needs the callee's 1xx/2xx with a To tag")
        if view.terminated:
            raise DialogError(f"the {by}'s dialog has ended")
        return ua, view

    def __repr__(self) -> str:
        return f"<Dialog {self.call_id} {self.state}, status {self.status}>"
