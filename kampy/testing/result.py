"""What one step of a test did (a message sent in, or time advanced), as plain objects."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kampy.runtime.context import MessageContext
from kampy.sip.message import Request, Response
from kampy.testing.messages import Sent


class Status(int):
    """A reply's status code that remembers its step: a failing `assert result.status == 202`
    shows the request, the routes taken and the reply (the plugin's assertrepr hook)."""

    result: Result | None = None

    def __new__(cls, value: int, result: Result | None = None) -> Status:
        obj = super().__new__(cls, value)
        obj.result = result
        return obj


@dataclass(frozen=True)
class Call:
    """A function called by the script: in which route, its name and its return code
    (0: it ended the script; None: it raised)."""

    route: str
    function: str
    code: int | None

    def __str__(self) -> str:
        return f"{self.function}() -> {self.code if self.code is not None else 'raised'}"


@dataclass(frozen=True)
class RouteRun:
    """A route entered, with the context it ran on (the same object for nested `route(X)` calls)."""

    route: str
    ctx: MessageContext


@dataclass(repr=False)
class Result:
    """Everything that happened while the harness processed one step.

    `request` is the message the test sent (None for `advance()`); `sent` every message the server
    sent, in order, wherever it went; `from_phones` what the simulated phones sent back on their
    own (their answers, their ACKs, addressed to the server's socket); `replies` the responses to
    the test's request; `forwarded` every request the server sent; `routes` the routes entered, in
    order; `calls` each function called with its return code; `ru`, `du`, `flags`, `avps` the
    request route's final values.
    """

    request: Request | Response | None = None
    data: bytes = b""
    source: str = ""
    sent: list[Sent] = field(default_factory=list)
    trace: list[Call] = field(default_factory=list)  # route entries have function ""
    runs: list[RouteRun] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    challenge: Result | None = None  # the step answered 401/407 before a phone sent credentials
    from_phones: list[Sent] = field(default_factory=list)  # what simulated phones sent on their own

    # ------------------------------------------------------------ messages

    @property
    def replies(self) -> list[Sent]:
        """Responses to the request the test sent (same Call-ID, top Via branch and CSeq method: for
        a CANCEL its own 200, not the INVITE's 487, which `replies_for("INVITE")` gives)."""
        req = self.request
        if req is None or not isinstance(req, Request):
            return []
        return self.replies_for(req.method)

    def replies_for(self, method: str) -> list[Sent]:
        """Responses in this step to a request of `method` in the test request's transaction (same
        Call-ID and top Via branch): `replies_for("INVITE")` after sending a CANCEL."""
        req = self.request
        if req is None or not isinstance(req, Request):
            return []
        via = req.via
        branch = via.branch if via is not None else None
        return [s for s in self.responses if s.call_id == req.call_id and s.branch == branch
                and s.method == method.upper()]

    @property
    def responses(self) -> list[Sent]:
        """Every response the server sent in this step."""
        return [s for s in self.sent if s.is_response]

    @property
    def forwarded(self) -> list[Sent]:
        """Every request the server sent in this step (relayed, or its own, as msilo's)."""
        return [s for s in self.sent if s.is_request]

    @property
    def reply(self) -> Sent | None:
        """The final reply to the test's request (the last one when several), else the last
        provisional one, else None."""
        replies = self.replies
        finals = [r for r in replies if (r.status or 0) >= 200]
        if finals:
            return finals[-1]
        return replies[-1] if replies else None

    @property
    def status(self) -> int | None:
        """The final reply's status (see `reply`), None without a reply."""
        reply = self.reply
        if reply is None or reply.status is None:
            return None
        return Status(reply.status, self)

    def requests(self, method: str | None = None, to: str | None = None) -> list[Sent]:
        """Requests sent, optionally only of `method` and to an address (`"192.0.2.20:5062"`)."""
        found = self.forwarded
        if method is not None:
            found = [s for s in found if s.method == method.upper()]
        if to is not None:
            found = [s for s in found if _same_address(s, to)]
        return found

    # ------------------------------------------------------------ routes

    @property
    def routes(self) -> list[str]:
        """Routes entered, in order: `request_route`, `route[AUTH]`, `failure_route[1]`, ..."""
        return [c.route for c in self.trace if c.function == ""]

    @property
    def calls(self) -> list[Call]:
        return [c for c in self.trace if c.function]

    def codes(self, function: str) -> list[int | None]:
        """The return code of each call of `function`, in order."""
        return [c.code for c in self.calls if c.function == function]

    def called(self, function: str) -> bool:
        return any(c.function == function for c in self.calls)

    @property
    def ctx(self) -> MessageContext | None:
        """The context request_route ran on for the test's request (None when it did not run)."""
        return self.final.get("ctx")

    @property
    def ru(self) -> str | None:
        return self.final.get("ru")

    @property
    def du(self) -> str | None:
        return self.final.get("du")

    @property
    def flags(self) -> int:
        return self.final.get("flags", 0)

    @property
    def avps(self) -> dict[str, list[Any]]:
        return self.final.get("avps", {})

    def flag(self, number: int) -> bool:
        return bool(self.flags & (1 << number))

    def avp(self, name: str) -> Any:
        """The newest value of AVP `name`, or None."""
        values = self.avps.get(name)
        return values[0] if values else None

    # ------------------------------------------------------------ assertions

    def assert_reply(self, status: int, reason: str | None = None) -> Sent:
        """Assert the final reply's status (and reason); returns the reply."""
        reply = self.reply
        if reply is None or reply.status != status or (reason is not None and reply.reason != reason):
            want = f"{status} {reason}" if reason else str(status)
            got = reply.first_line if reply is not None else "no reply"
            raise AssertionError(f"expected a {want} reply, got {got}\n\n{self.describe()}")
        return reply

    def assert_no_reply(self) -> None:
        if self.replies:
            raise AssertionError(f"expected no reply, got {self.replies[-1].first_line}\n\n{self.describe()}")

    def assert_forwarded(self, method: str | None = None, to: str | None = None) -> Sent:
        """Assert a request was sent (of `method`, to an address); returns the last one."""
        found = self.requests(method, to)
        if not found:
            what = " ".join(x for x in (method or "a request", f"to {to}" if to else "") if x)
            raise AssertionError(f"expected {what} to be sent, none was\n\n{self.describe()}")
        return found[-1]

    def assert_route(self, route: str) -> None:
        if route not in self.routes:
            raise AssertionError(f"expected the script to enter {route}\n\n{self.describe()}")

    def assert_called(self, function: str, code: int | None = None) -> None:
        codes = self.codes(function)
        if not codes or (code is not None and code not in codes):
            what = f"{function}() returning {code}" if code is not None else f"{function}()"
            raise AssertionError(f"expected a call of {what}\n\n{self.describe()}")

    # ------------------------------------------------------------ display

    def summary(self) -> list[str]:
        """A few lines: the request, the routes with each call's code, the reply."""
        first = _head(self.data)[0] if self.data else self.title
        calls = ", ".join(f"{c.function}={c.code}" for c in self.calls)
        reply = self.reply
        return [f"request: {first}", f"routes: {' > '.join(self.routes) or 'none'}", f"calls: {calls}",
                f"reply: {reply.first_line if reply else 'none'}; sent: {len(self.sent)} message(s)"]

    def describe(self) -> str:
        """The request, the routes taken with each function's code, and what was sent."""
        out: list[str] = []
        if self.title:
            out.append(self.title)
        if self.request is not None:
            out.append(f"request from {self.source}:")
            out += ["    " + line for line in _head(self.data)]
        out.append("routes:" if self.trace else "routes: none entered")
        current = None
        for item in self.trace:
            if item.function == "":
                out.append(f"    {item.route}")
            elif item.route != current:
                out.append(f"    (back in {item.route})")
            current = item.route
            if item.function:
                out.append(f"        {item}")
        if self.final:
            out.append(f"final: $ru={self.ru} $du={self.du} flags={self.flags:#x} avps={self.avps}")
        out.append("sent:" if self.sent else "sent: nothing")
        for s in self.sent:
            out.append(f"    {s}")
        reply = self.reply
        if reply is not None:
            out.append("reply:")
            out += ["    " + line for line in _head(reply.data)]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.describe()

    def __repr__(self) -> str:
        reply = self.reply
        return f"<Result {self.title!r}: {reply.first_line if reply else 'no reply'}, {len(self.sent)} sent>"


def _head(data: bytes) -> list[str]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", "replace").split("\r\n")
    if body:
        shown = body[:200].decode("utf-8", "replace")
        lines += ["", shown + ("..." if len(body) > 200 else "")]
    return lines


def _same_address(s: Sent, addr: str) -> bool:
    from kampy.testing.address import parse_address

    proto, host, port = parse_address(addr, s.proto)
    return (proto, host, port) == (s.proto, s.host, s.port)
