"""Shared pieces for the transaction tests: sample messages and a fake-clock driver (no tests here)."""
from __future__ import annotations

from kampy.sip.message import Request, Response, build_response, parse_message
from kampy.sip.transaction import (
    Action,
    CancelTimer,
    Deliver,
    Send,
    StartTimer,
    Terminated,
    Timeout,
    TransportFailed,
)

INVITE = (
    b"INVITE sip:bob@192.0.2.4 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP proxy.atlanta.com;branch=z9hG4bK-px-1\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;received=192.0.2.1\r\n"
    b"Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    b"Max-Forwards: 69\r\n"
    b"To: Bob <sip:bob@biloxi.com>\r\n"
    b"From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.com>\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)

MESSAGE = (
    b"MESSAGE sip:bob@192.0.2.4 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP proxy.atlanta.com;branch=z9hG4bK-px-2\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: <sip:bob@biloxi.com>\r\n"
    b"From: <sip:alice@atlanta.com>;tag=88\r\n"
    b"Call-ID: m1@atlanta.com\r\n"
    b"CSeq: 2 MESSAGE\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: 2\r\n"
    b"\r\n"
    b"hi"
)


def request(data: bytes = INVITE) -> Request:
    msg = parse_message(data)
    assert isinstance(msg, Request)
    return msg


def reply(req: bytes | Request, code: int, reason: str = "Reason", to_tag: str | None = "tt1") -> Response:
    req = request(req) if isinstance(req, bytes) else req
    return build_response(req, code, reason, to_tag=None if code == 100 else to_tag)


# The order every action list keeps: the transaction's own actions, what the TU is told, the end.
_ORDER = {Deliver: 1, Timeout: 1, TransportFailed: 1, Terminated: 2}


class Driver:
    """Runs a transaction against a fake clock: applies its actions and fires its timers in order.

    Checks the action stream too: each list is in the promised order (the transaction's own sends
    and timers, then at most one thing the TU is told, then Terminated), a CancelTimer names an
    armed timer, and Terminated comes last with no timer left armed.
    """

    def __init__(self, tx: object, actions: list[Action], now: float = 0.0) -> None:
        self.tx = tx
        self.now = now
        self.timers: dict[str, float] = {}
        self.log: list[tuple[float, Action]] = []
        self.terminated = False
        self.apply(actions)

    def apply(self, actions: list[Action]) -> list[Action]:
        ranks = [_ORDER.get(type(a), 0) for a in actions]
        assert ranks == sorted(ranks) and ranks.count(1) <= 1, f"out of the promised order: {actions}"
        for action in actions:
            assert not self.terminated, f"{action} after Terminated"
            self.log.append((self.now, action))
            if isinstance(action, StartTimer):
                assert action.at >= self.now
                self.timers[action.name] = action.at
            elif isinstance(action, CancelTimer):
                del self.timers[action.name]
            elif isinstance(action, Terminated):
                assert not self.timers, f"timers left armed: {self.timers}"
                self.terminated = True
        return actions

    def at(self, now: float) -> Driver:
        """Let time pass up to `now`, firing every timer due on the way."""
        while self.timers:
            name, deadline = min(self.timers.items(), key=lambda item: item[1])
            if deadline > now:
                break
            del self.timers[name]
            self.now = deadline
            self.apply(self.tx.on_timer(name, deadline))  # type: ignore[attr-defined]
        self.now = now
        return self

    def send_times(self) -> list[float]:
        return [t for t, a in self.log if isinstance(a, Send)]

    def sent(self) -> list[bytes]:
        return [a.data for _, a in self.log if isinstance(a, Send)]

    def when(self, kind: type) -> list[float]:
        return [t for t, a in self.log if isinstance(a, kind)]
