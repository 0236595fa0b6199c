"""Simulated user agents: an address behind (or in front of) the proxy that answers what it gets.

How a UA answers a request (`answer`):
  * a status code: `200`, `405` ...
  * an `Answer(status, reason, headers, body, after=seconds)`, or a list of them (`[180, 200]`)
  * `None` (or `NEVER`): never answers, as a device that is gone
  * a callable `fn(request: Sent) -> any of the above`, to decide per request

ACKs are absorbed, a retransmitted request gets the same answer again, and a CANCEL is answered
200 with a 487 for the pending INVITE.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from kampy.sip.message import Request
from kampy.testing.address import format_address
from kampy.testing.messages import RequestSpec, Sent, response_to, unique

if TYPE_CHECKING:
    from kampy.testing.harness import Harness
    from kampy.testing.result import Result


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    after: float = 0.0  # seconds on the fake clock before the answer is sent


AnswerSpec = Union[int, Answer, None, list[Union[int, Answer]], Callable[[Sent], Any]]
NEVER = None


def answers_of(spec: Any, request: Sent) -> list[Answer]:
    """Turn an answer spec into the answers to send, in order."""
    if callable(spec) and not isinstance(spec, Answer):
        spec = spec(request)
    if spec is None:
        return []
    if isinstance(spec, int):
        return [Answer(spec)]
    if isinstance(spec, Answer):
        return [spec]
    return [a for item in spec for a in answers_of(item, request)]


@dataclass
class _Pending:
    request: Request
    answered: list[bytes] = field(default_factory=list)
    final: bool = False


class UserAgent:
    """A SIP endpoint at `host:port` over `transport`, registered (or not) as `aor`.

    `received` lists what the server sent to it; `requests` only the requests (`messages` the
    MESSAGE requests); `answers(...)` changes how it answers."""

    def __init__(self, harness: Harness, aor: str, proto: str, host: str, port: int,
                 answer: AnswerSpec = 200) -> None:
        self.harness = harness
        self.aor = aor
        self.proto, self.host, self.port = proto, host, port
        self.answer: AnswerSpec = answer
        self.received: list[Sent] = []
        self.tag = unique("ua")
        self._pending: dict[str, _Pending] = {}

    # ------------------------------------------------------------ identity

    @property
    def address(self) -> str:
        return format_address(self.proto, self.host, self.port)

    @property
    def contact(self) -> str:
        user = self.aor.split(":", 1)[-1].split("@", 1)[0] if "@" in self.aor else ""
        at = f"{user}@" if user else ""
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

    # ------------------------------------------------------------ sending

    def send_request(self, method: str, ruri: str, **kwargs: Any) -> Result:
        """Send a request from this UA (From: its AOR); see `Harness.send_request`."""
        kwargs.setdefault("from_", self.aor)
        return self.harness.send_request(method, ruri, src=(self.host, self.port), transport=self.proto,
                                         **kwargs)

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

    # ------------------------------------------------------------ receiving

    def receive(self, sent: Sent) -> list[tuple[float, bytes]]:
        """Take a message the server sent here; returns the answers to send back, each after a
        delay in seconds."""
        self.received.append(sent)
        if sent.is_response:
            return []
        msg = sent.msg
        assert isinstance(msg, Request)
        if msg.method == "ACK":
            return []
        key = f"{sent.branch}|{msg.method}"
        pending = self._pending.get(key)
        if pending is not None:  # a retransmission: answer as before (nothing if never answered)
            return [(0.0, data) for data in pending.answered[-1:]]
        pending = self._pending[key] = _Pending(msg)
        if msg.method == "CANCEL":
            return self._cancel(sent, msg)
        return [self._answer(pending, a) for a in answers_of(self.answer, sent)]

    def _answer(self, pending: _Pending, answer: Answer) -> tuple[float, bytes]:
        headers = dict(answer.headers)
        if pending.request.method == "INVITE" and 200 <= answer.status < 300:
            headers.setdefault("Contact", f"<{self.contact}>")
        data = response_to(pending.request, answer.status, answer.reason, to_tag=self.tag,
                           headers=headers, body=answer.body)
        pending.answered.append(data)
        pending.final = pending.final or answer.status >= 200
        return (answer.after, data)

    def _cancel(self, sent: Sent, cancel: Request) -> list[tuple[float, bytes]]:
        out = [(0.0, response_to(cancel, 200, to_tag=self.tag))]
        invite = self._pending.get(f"{sent.branch}|INVITE")
        if invite is not None and not invite.final:
            out.append(self._answer(invite, Answer(487)))
        return out

    def __repr__(self) -> str:
        return f"UserAgent({self.aor!r} at {self.address})"


def request_spec(method: str, ruri: str, **kwargs: Any) -> RequestSpec:
    return RequestSpec(method.upper(), ruri, **kwargs)
