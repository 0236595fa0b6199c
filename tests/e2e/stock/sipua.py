"""SIP user agents for the stock-config scenarios: REGISTER, INVITE/CANCEL/ACK/BYE, MESSAGE and OPTIONS
as a caller, and answering as a callee, with digest authentication (401/407; MD5 or SHA-256, qop=auth
and nonce counts when the challenge offers them).

Everything a user agent writes is numbered, not random (Call-IDs, tags, branches, cnonces), so the
same scenario sends the same bytes to either server, and the rows the servers write can be compared.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kampy.testing.digest import Challenge, Credentials
from tests.e2e.proxy import Msg
from tests.e2e.stock.transport import Transport

CHALLENGES = {401: ("www-authenticate", "Authorization"), 407: ("proxy-authenticate", "Proxy-Authorization")}


@dataclass
class Request:
    """A request a user agent sent, with what it needs to resend, ACK or CANCEL it."""

    method: str
    ruri: str
    to: str
    call_id: str
    cseq: int
    branch: str
    from_tag: str
    headers: list[str]
    body: bytes = b""
    content_type: str | None = None
    to_tag: str | None = None
    data: bytes = b""


@dataclass
class Call:
    """An INVITE a user agent sent: its replies, and once answered, the dialog."""

    ua: UA
    invite: Request
    replies: list[Msg] = field(default_factory=list)
    to_tag: str | None = None
    remote_target: str | None = None
    route: list[str] = field(default_factory=list)

    def wait(self, status: int, timeout: float = 5) -> Msg:
        """The reply `status` to the INVITE (provisional or final)."""
        inv = self.invite
        msg = self.ua.wait_for(lambda m: not m.is_request and m.call_id == inv.call_id
                               and m.cseq == (inv.cseq, "INVITE") and m.status == status, timeout,
                               f"{status} to INVITE")
        self.replies.append(msg)
        return msg

    def final(self, timeout: float = 5) -> Msg:
        """The final reply to the INVITE; a non-2xx one is ACKed (as the client transaction does)."""
        msg = self.ua.final(self.invite, timeout)
        self.replies.append(msg)
        if msg.status >= 300:
            self.ua.ack_failure(self.invite, msg)
        elif msg.status >= 200:
            self.to_tag = msg.to_tag
            self.remote_target = _uri(msg.header("contact") or "")
            self.route = [r for value in reversed(msg.all("record-route")) for r in _split_list(value)[::-1]]
        return msg

    def ack(self) -> None:
        """ACK the 2xx: a new transaction to the remote target along the route set."""
        assert self.remote_target, "no 2xx to ACK"
        self.ua.send_request("ACK", self.remote_target, to=self.invite.to, call_id=self.invite.call_id,
                             cseq=self.invite.cseq, from_tag=self.invite.from_tag, to_tag=self.to_tag,
                             headers=[f"Route: {r}" for r in self.route])

    def send_bye(self) -> Request:
        """Send the BYE (along the route set); `ua.final(request)` waits for its reply."""
        assert self.remote_target, "no dialog"
        inv = self.invite
        return self.ua.send_request("BYE", self.remote_target, to=inv.to, call_id=inv.call_id,
                                    cseq=inv.cseq + 1, from_tag=inv.from_tag, to_tag=self.to_tag,
                                    headers=[f"Route: {r}" for r in self.route])

    def cancel(self, timeout: float = 5) -> Msg:
        """CANCEL the INVITE (same R-URI, Call-ID, From, To, CSeq number and branch); the 200 to it."""
        inv = self.invite
        req = self.ua.send_request("CANCEL", inv.ruri, to=inv.to, call_id=inv.call_id, cseq=inv.cseq,
                                   from_tag=inv.from_tag, branch=inv.branch,
                                   headers=[h for h in inv.headers
                                            if h.lower().startswith("proxy-authorization")])
        return self.ua.final(req, timeout)


class UA:
    """A user `user@domain` (password `password` for challenges) on a transport to the server."""

    def __init__(self, user: str, domain: str, transport: Transport, password: str | None = None,
                 user_agent: str = "kampy-stock-ua") -> None:
        self.user = user
        self.domain = domain
        self.transport = transport
        self.credentials = Credentials(user, password) if password is not None else None
        self.user_agent = user_agent
        self.aor = f"sip:{user}@{domain}"
        host, port = transport.local
        suffix = "" if transport.proto == "UDP" else f";transport={transport.proto.lower()}"
        self.contact = f"sip:{user}@{host}:{port}{suffix}"
        self.seen: list[Msg] = []
        self._pending: list[Msg] = []
        self._requests_seen: set[tuple[str, str, str]] = set()
        self._counters: dict[str, int] = {}

    def close(self) -> None:
        self.transport.close()

    def _next(self, what: str) -> int:
        self._counters[what] = self._counters.get(what, 0) + 1
        return self._counters[what]

    # -- building and sending --
    def build(self, req: Request) -> bytes:
        host, port = self.transport.local
        lines = [f"{req.method} {req.ruri} SIP/2.0",
                 f"Via: SIP/2.0/{self.transport.proto} {host}:{port};branch={req.branch};rport",
                 "Max-Forwards: 70",
                 f"From: <{self.aor}>;tag={req.from_tag}",
                 f"To: <{req.to}>" + (f";tag={req.to_tag}" if req.to_tag else ""),
                 f"Call-ID: {req.call_id}",
                 f"CSeq: {req.cseq} {req.method}"]
        if req.method not in ("ACK", "CANCEL", "BYE"):
            lines.append(f"Contact: <{self.contact}>")
        lines += [f"User-Agent: {self.user_agent}", *req.headers]
        if req.body:
            lines.append(f"Content-Type: {req.content_type or 'text/plain'}")
        lines.append(f"Content-Length: {len(req.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + req.body

    def send_request(self, method: str, ruri: str, *, to: str | None = None, call_id: str | None = None,
                     cseq: int = 1, from_tag: str | None = None, to_tag: str | None = None,
                     branch: str | None = None, headers: Sequence[str] = (), body: bytes = b"",
                     content_type: str | None = None) -> Request:
        n = self._next("call") if call_id is None else 0
        host = self.transport.local[0]
        req = Request(method, ruri, to or ruri, call_id or f"{self.user}-{n}@{host}", cseq,
                      branch or f"z9hG4bK-{self.user}-{self._next('branch')}", from_tag or f"{self.user}-{n}",
                      list(headers), body, content_type, to_tag)
        req.data = self.build(req)
        self.transport.send(req.data)
        return req

    def resend_with_credentials(self, req: Request, challenge_reply: Msg) -> Request:
        """The request again (CSeq + 1, a new branch) answering the reply's challenge."""
        if self.credentials is None:
            raise AssertionError(f"{self.aor} has no password for {challenge_reply.first}")
        header, answer_header = CHALLENGES[challenge_reply.status]
        challenges = [Challenge.parse(v) for v in challenge_reply.all(header)]
        challenge = next((c for c in challenges if c.algorithm == "SHA-256"), challenges[0])
        cnonce = f"{self.user}-cn{self._next('cnonce')}"
        answer = self.credentials.answer(challenge, req.method, req.ruri, cnonce=cnonce)
        headers = [h for h in req.headers if not h.lower().startswith(answer_header.lower() + ":")]
        return self.send_request(req.method, req.ruri, to=req.to, call_id=req.call_id, cseq=req.cseq + 1,
                                 from_tag=req.from_tag, headers=[*headers, f"{answer_header}: {answer}"],
                                 body=req.body, content_type=req.content_type)

    # -- receiving --
    def recv(self, timeout: float) -> Msg | None:
        """The next message, skipping retransmitted requests."""
        if self._pending:
            return self._pending.pop(0)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self.transport.recv(left)
            if msg is None:
                return None
            self.seen.append(msg)
            if msg.is_request:
                key = (msg.call_id, msg.header("cseq") or "", msg.branch)
                if key in self._requests_seen:
                    continue
                self._requests_seen.add(key)
            return msg
        return None

    def wait_for(self, accept: Callable[[Msg], bool], timeout: float = 5, what: str = "a message") -> Msg:
        """The first message `accept`ed within `timeout`; others received meanwhile stay for later."""
        deadline = time.monotonic() + timeout
        kept = [m for m in self._pending if not accept(m)]
        found = next((m for m in self._pending if accept(m)), None)
        if found is not None:
            self._pending = [m for m in self._pending if m is not found]
            return found
        self._pending = []
        try:
            while (left := deadline - time.monotonic()) > 0:
                msg = self.recv(left)
                if msg is None:
                    break
                if accept(msg):
                    return msg
                kept.append(msg)
        finally:
            self._pending = kept + self._pending
        raise AssertionError(f"{self.aor}: no {what} within {timeout}s; got instead: "
                             f"{[(m.first, m.call_id, m.header('cseq')) for m in kept] or 'nothing'}")

    def final(self, req: Request, timeout: float = 5) -> Msg:
        return self.wait_for(lambda m: not m.is_request and m.call_id == req.call_id and m.status >= 200
                             and m.cseq == (req.cseq, req.method), timeout, f"final reply to {req.method}")

    def wait_request(self, method: str, timeout: float = 5) -> Msg:
        return self.wait_for(lambda m: m.is_request and m.method == method, timeout, f"{method} request")

    def no_request(self, within: float) -> None:
        """Assert that no new request arrives within `within` seconds."""
        try:
            msg = self.wait_for(lambda m: m.is_request, within, "request")
        except AssertionError:
            return
        raise AssertionError(f"{self.aor}: unexpected {msg.first}")

    # -- as a caller --
    def send_authenticated(self, method: str, ruri: str, timeout: float = 5,
                           **kw: object) -> tuple[list[Msg], Request | None]:
        """Send a request; answer a 401/407 once with the credentials. Returns the final replies so
        far and, when the request was sent again, the request whose final reply is still to come."""
        req = self.send_request(method, ruri, **kw)  # type: ignore[arg-type]
        first = self.final(req, timeout)
        if first.status in CHALLENGES and self.credentials is not None:
            return [first], self.resend_with_credentials(req, first)
        return [first], None

    def authenticated(self, method: str, ruri: str, timeout: float = 5, **kw: object) -> list[Msg]:
        """Send a request; answer a 401/407 once with the credentials. Returns the final replies."""
        replies, again = self.send_authenticated(method, ruri, timeout, **kw)
        if again is not None:
            replies.append(self.final(again, timeout))
        return replies

    def register(self, expires: int = 600, timeout: float = 5) -> list[Msg]:
        return self.authenticated("REGISTER", f"sip:{self.domain}", timeout, to=self.aor,
                                  headers=[f"Expires: {expires}"])

    def message(self, to: str, text: str = "hello", timeout: float = 5) -> list[Msg]:
        return self.authenticated("MESSAGE", to, timeout, body=text.encode(), content_type="text/plain")

    def options(self, ruri: str, timeout: float = 5) -> Msg:
        return self.final(self.send_request("OPTIONS", ruri), timeout)

    def invite(self, to: str, *, authenticate: bool = True, timeout: float = 5) -> Call:
        """INVITE `to`; a 407 is ACKed and answered with the credentials (when `authenticate`).
        Returns the call, its challenge (if any) in `replies`, waiting for the next reply."""
        host = self.transport.local[0]
        sdp = (f"v=0\r\no={self.user} 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
               f"m=audio 40000 RTP/AVP 0\r\n").encode()
        req = self.send_request("INVITE", to, body=sdp, content_type="application/sdp")
        call = Call(self, req)
        if not authenticate:
            return call
        first = self.wait_for(lambda m: not m.is_request and m.call_id == req.call_id
                              and m.cseq == (req.cseq, "INVITE") and m.status >= 180, timeout,
                              "a reply to INVITE")
        if first.status in CHALLENGES and self.credentials is not None:
            call.replies.append(first)
            self.ack_failure(req, first)
            call.invite = self.resend_with_credentials(req, first)
        else:
            self._pending.insert(0, first)
        return call

    def ack_failure(self, req: Request, reply: Msg) -> None:
        """ACK a non-2xx final reply to INVITE (same branch and R-URI, RFC 3261 17.1.1.3)."""
        self.send_request("ACK", req.ruri, to=req.to, call_id=req.call_id, cseq=req.cseq,
                          from_tag=req.from_tag, to_tag=reply.to_tag, branch=req.branch)

    # -- as a callee --
    def reply(self, req: Msg, status: int, reason: str, *, tag: str | None = None, sdp: bool = False) -> None:
        """Answer `req` where it came from; a To-tag (`tag`, else the user's) on all but 100."""
        lines = [f"SIP/2.0 {status} {reason}", *(f"Via: {v}" for v in req.all("via")),
                 f"From: {req.header('from')}"]
        to = req.header("to") or ""
        if status > 100 and req.to_tag is None:
            to += f";tag={tag or self.user + '-callee'}"
        lines += [f"To: {to}", f"Call-ID: {req.call_id}", f"CSeq: {req.header('cseq')}"]
        if req.method == "INVITE" and 100 < status < 300:
            lines += [f"Record-Route: {r}" for r in req.all("record-route")]
            lines.append(f"Contact: <{self.contact}>")
        body = b""
        if sdp:
            host = self.transport.local[0]
            body = (f"v=0\r\no={self.user} 2 2 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
                    f"m=audio 40002 RTP/AVP 0\r\n").encode()
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body)}")
        self.transport.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body, req.src)


def _uri(value: str) -> str | None:
    m = re.search(r"<([^>]+)>", value)
    return m.group(1) if m else (value.split(";", 1)[0].strip() or None)


def _split_list(value: str) -> list[str]:
    """The entries of a comma-separated header value (commas inside <...> kept)."""
    return [p.strip() for p in re.findall(r'(?:<[^>]*>|"[^"]*"|[^,])+', value) if p.strip()]
