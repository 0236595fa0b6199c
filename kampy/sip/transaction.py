"""RFC 3261 transaction state machines (section 17), sans-IO, with RFC 6026's Accepted state.

No sockets, no asyncio, no clock reads. Every entry point takes the current time `now` (seconds,
float, any epoch) and returns a list of actions for the caller to carry out, in order:

- `Send(data)`: put these bytes on the wire to the transaction's peer (the caller knows where).
- `StartTimer(name, at)`: (re)arm timer `name` to fire at time `at`; an armed timer of that name is replaced.
- `CancelTimer(name)`: disarm it.
- `Deliver(message)`: hand a response (client side) or an ACK for a 2xx (server side) to the TU.
- `Timeout()`: the transaction timed out (timer B, F, H or fr_inv); a client's TU makes a local 408.
- `TransportFailed()`: the caller reported a transport error (`on_transport_error`).
- `Terminated()`: the transaction is over; drop it from the `TransactionTable`.

The order of a list is a promise the caller may build on: first what the transaction does itself
(`Send`, `StartTimer`, `CancelTimer`: the ACK of a non-2xx final response goes out before the TU
hears of the response), then what the TU is told (at most one of `Deliver`, `Timeout`,
`TransportFailed`), then `Terminated()`, always last. A TU that reacts to what it is told by ending
the transaction (`terminate()`) thus finds its timers in their final state.

When a timer fires the caller calls `tx.on_timer(name, now)`. Stale fires (a timer no longer armed)
are ignored, so the caller may skip cancelling if that is easier.

Client side: `ClientTransaction.new(request, reliable=..., now=...)` (INVITE or non-INVITE, picked by
method), then `on_response`, `on_timer`, `on_transport_error`. Server side:
`ServerTransaction.new(request, ...)`, then `send_response` (from the TU), `on_request` (a retransmission
or the ACK), `on_timer`, `on_transport_error`. `TransactionTable` finds the transaction for an
incoming message (17.1.3, 17.2.3, RFC 2543 fallback, CANCEL to its INVITE).

Timer names: client INVITE "A", "B", "D", "M", "fr_inv"; client non-INVITE "E", "F", "K";
server INVITE "trying", "G", "H", "I", "L"; server non-INVITE "J".
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Union

from kampy.sip.message import Message, Request, Response, build_response, parse_message
from kampy.sip.uri import Via

log = logging.getLogger(__name__)

__all__ = [
    "TimerConfig", "State", "TransactionError",
    "Send", "StartTimer", "CancelTimer", "Deliver", "Timeout", "TransportFailed", "Terminated", "Action",
    "ClientTransaction", "InviteClientTransaction", "NonInviteClientTransaction",
    "ServerTransaction", "InviteServerTransaction", "NonInviteServerTransaction",
    "TransactionTable", "Matching", "DEFAULT_MATCHING", "client_key", "server_key", "build_ack",
    "build_cancel",
]


class TransactionError(Exception):
    """The caller misused a transaction (wrong message kind, a response in the wrong state, ...)."""


# --- configuration ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TimerConfig:
    """Timer values in seconds (Kamailio's tm modparams are in ms; see `from_kamailio`).

    RFC 3261 values by default. Mapping to Kamailio tm:

    - `t1` = `retr_timer1` (500 ms): first retransmission interval (timers A, E, G) and the RTT estimate.
    - `t2` = `retr_timer2` (4 s): cap on non-INVITE request and INVITE final response retransmission.
    - `t4` (5 s): how long the network may hold a message (timers I and K over UDP). Kamailio has none.
    - `fr_timer`: final response timeout for a non-INVITE (timer F) and for an INVITE before a provisional
      (timer B). None means RFC 3261's 64*T1 (32 s); Kamailio's default is 30 s.
    - `fr_inv_timer`: after a provisional, how long an INVITE client waits for a final response before
      `Timeout()` (the TU then CANCELs). Kamailio's default is 120 s; None waits forever (RFC 3261 leaves
      this to the TU's timer C).
    - `restart_fr_on_each_reply`: each provisional re-arms fr_inv (Kamailio's default).
    - `timer_d` (32 s): INVITE client wait for final response retransmissions over UDP.
    - `wt_timer`: when set, Kamailio's single wait timer replaces the UDP values of D, I, J and K.
    - `trying_delay` (200 ms): when the INVITE server sends its own 100 Trying (if the TU asked for that).
    - `end_of_life`: the time (same clock as `now`) the whole transaction's life ends (Kamailio's
      `max_inv_lifetime` / `max_noninv_lifetime` from its creation): a client transaction's final
      response timers (B, F, fr_inv) never run past it. None: no limit.
    """

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    fr_timer: float | None = None
    fr_inv_timer: float | None = 120.0
    restart_fr_on_each_reply: bool = True
    timer_d: float = 32.0
    wt_timer: float | None = None
    trying_delay: float = 0.2
    end_of_life: float | None = None

    @classmethod
    def from_kamailio(cls, *, fr_timer: int = 30000, fr_inv_timer: int = 120000, retr_timer1: int = 500,
                      retr_timer2: int = 4000, wt_timer: int | None = 5000,
                      restart_fr_on_each_reply: bool = True) -> TimerConfig:
        """The config from Kamailio tm modparams (milliseconds), Kamailio's defaults if not given."""
        return cls(t1=retr_timer1 / 1000, t2=retr_timer2 / 1000, fr_timer=fr_timer / 1000,
                   fr_inv_timer=fr_inv_timer / 1000, restart_fr_on_each_reply=restart_fr_on_each_reply,
                   wt_timer=None if wt_timer is None else wt_timer / 1000)

    def with_fr(self, fr_inv_timer: float | None, fr_timer: float | None) -> TimerConfig:
        """A copy with other final response timers (Kamailio's `t_set_fr`, in seconds here)."""
        return dataclasses.replace(self, fr_inv_timer=fr_inv_timer, fr_timer=fr_timer)

    def with_retr(self, t1: float, t2: float) -> TimerConfig:
        """A copy with other retransmission intervals (Kamailio's `t_set_retr`, in seconds here)."""
        return dataclasses.replace(self, t1=t1, t2=t2)

    def with_end_of_life(self, end_of_life: float | None) -> TimerConfig:
        """A copy whose transactions end their life at `end_of_life` (Kamailio's `t_set_max_lifetime`)."""
        return dataclasses.replace(self, end_of_life=end_of_life)

    def fr_deadline(self, now: float, value: float) -> float:
        """When a final response timer of `value` seconds armed at `now` fires: not after the end
        of the transaction's life (Kamailio's start_retr_rb_timer/restart_rb_fr), not before `now`."""
        at = now + value
        eol = self.end_of_life
        return at if eol is None or at <= eol else max(eol, now)

    @property
    def retr_timer1(self) -> float:
        return self.t1

    @property
    def retr_timer2(self) -> float:
        return self.t2

    @property
    def timer_b(self) -> float:
        return 64 * self.t1 if self.fr_timer is None else self.fr_timer

    @property
    def timer_f(self) -> float:
        return self.timer_b

    @property
    def timer_h(self) -> float:
        """64*T1: timers H, J, L and M."""
        return 64 * self.t1

    def wait(self, rfc_value: float) -> float:
        """The UDP wait after completion: `wt_timer` if set, else the RFC's value."""
        return rfc_value if self.wt_timer is None else self.wt_timer


DEFAULT_TIMERS = TimerConfig()


# --- states and actions ----------------------------------------------------------------------------

class State(StrEnum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


@dataclass(frozen=True, slots=True)
class Send:
    data: bytes


@dataclass(frozen=True, slots=True)
class StartTimer:
    name: str
    at: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: str


@dataclass(frozen=True, slots=True)
class Deliver:
    message: Message


@dataclass(frozen=True, slots=True)
class Timeout:
    pass


@dataclass(frozen=True, slots=True)
class TransportFailed:
    pass


@dataclass(frozen=True, slots=True)
class Terminated:
    pass


Action = Union[Send, StartTimer, CancelTimer, Deliver, Timeout, TransportFailed, Terminated]


# --- keys ------------------------------------------------------------------------------------------

MAGIC_COOKIE = "z9hG4bK"
_DEFAULT_PORTS = {"TLS": 5061, "WSS": 443, "WS": 80}

ClientKey = tuple[str, str]
ServerKey = tuple[str, ...]


def client_key(msg: Message) -> ClientKey | None:
    """17.1.3: (top Via branch, CSeq method) of a request or response; None if it has neither."""
    via = msg.via
    cseq = msg.cseq
    if via is None or via.branch is None or cseq is None:
        return None
    return (via.branch, cseq.method.upper())


def _sent_by(via: Via) -> str:
    port = via.port if via.port is not None else _DEFAULT_PORTS.get(via.transport, 5060)
    return f"{via.host.lower()}:{port}"


def server_key(request: Request, method: str | None = None) -> ServerKey | None:
    """17.2.3: the key of a server transaction for `request`, as if its method were `method`.

    RFC 3261 requests: ("3261", branch, sent-by, method). Others (RFC 2543): ("2543", Request-URI,
    From tag, Call-ID, CSeq number, method, top Via); the To tag is checked separately because an ACK's
    To tag is the one of the response, not of the INVITE. None when the request lacks a Via or CSeq.
    """
    method = (method or request.method).upper()
    cache = request._cache  # per message: what it was received as never changes (see message.py)
    slot = "tx-key " + method
    if slot in cache:
        return cache[slot]  # type: ignore[no-any-return]
    key = cache[slot] = _server_key(request, method)
    return key


def _server_key(request: Request, method: str) -> ServerKey | None:
    via = request.via
    cseq = request.cseq
    if via is None or cseq is None:
        return None
    branch = via.branch  # has_rfc3261_branch, without reading the parameter twice
    if branch is not None and len(branch) > 7 and branch.startswith("z9hG4bK"):
        return ("3261", branch, _sent_by(via), method)
    from_tag = request.from_.tag if request.from_ is not None else None
    return ("2543", request.uri, from_tag or "", request.call_id or "", str(cseq.num), method,
            request.header("via") or "")


def _to_tag(msg: Message) -> str | None:
    to = msg.to
    return to.tag if to is not None else None


# --- building ACK and CANCEL -----------------------------------------------------------------------

def _hop_headers(request: Request, method: str, to: str) -> list[tuple[str, str]]:
    """The headers an ACK (17.1.1.3) or CANCEL (9.1) shares with its INVITE."""
    cseq = request.cseq
    if cseq is None or request.via is None:
        raise TransactionError("the request has no CSeq or Via")
    headers = [("Via", request.header("via") or "")]
    headers += [("Route", route) for route in request.headers_named("route")]
    headers.append(("Max-Forwards", request.header("max-forwards") or "70"))
    headers += [("From", request.header("from") or ""), ("To", to),
                ("Call-ID", request.call_id or ""), ("CSeq", f"{cseq.num} {method}")]
    return headers


def build_ack(request: Request, response: Response) -> Request:
    """17.1.1.3: the ACK for a non-2xx final `response` to INVITE `request`.

    Request-URI, top Via (so the same branch), From, Call-ID, Route and Max-Forwards of the INVITE;
    the response's To (with its tag); CSeq number of the INVITE with method ACK; no body.
    """
    return Request("ACK", request.uri, _hop_headers(request, "ACK", response.header("to") or ""))


def build_cancel(request: Request) -> Request:
    """9.1: the CANCEL for `request` (same Request-URI, top Via, Route, From, To, Call-ID, CSeq number)."""
    return Request("CANCEL", request.uri, _hop_headers(request, "CANCEL", request.header("to") or ""))


# --- the common machinery --------------------------------------------------------------------------

def _as_request(request: Request | bytes, *, limits: bool = True) -> Request:
    msg = parse_message(request, limits=limits) if isinstance(request, bytes) else request
    if not isinstance(msg, Request):
        raise TransactionError("a transaction needs a request")
    return msg


def _as_response(response: Response | bytes) -> Response:
    msg = parse_message(response) if isinstance(response, bytes) else response
    if not isinstance(msg, Response):
        raise TransactionError("expected a response")
    return msg


class _Transaction:
    __slots__ = ("_request", "method", "reliable", "config", "state", "_timers", "_interval")

    def __init__(self, request: Request | None, method: str, reliable: bool, config: TimerConfig,
                 state: State) -> None:
        self._request = request
        self.method = method.upper()
        self.reliable = reliable
        self.config = config
        self.state = state
        self._timers: dict[str, float] = {}
        self._interval = config.t1

    @property
    def request(self) -> Request:
        """The request the transaction is about."""
        assert self._request is not None
        return self._request

    @property
    def timers(self) -> dict[str, float]:
        """The armed timers: name -> deadline."""
        return dict(self._timers)

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    def on_timer(self, name: str, now: float) -> list[Action]:
        """Timer `name` fired. A timer not armed (cancelled, replaced, terminated) is a no-op."""
        at = self._timers.get(name)
        if at is None:
            return []
        if now < at:
            raise TransactionError(f"timer {name} fired at {now}, before its deadline {at}")
        del self._timers[name]
        out: list[Action] = []
        getattr(self, "_timer_" + name.lower())(now, out)
        return out

    def on_transport_error(self, now: float) -> list[Action]:
        """The transport could not send for this transaction (17.1.4, 17.2.4): inform the TU and end."""
        if self.terminated:
            return []
        out: list[Action] = []
        self._terminate(out, TransportFailed())
        return out

    def terminate(self) -> list[Action]:
        """End the transaction now (the TU gives up on it)."""
        out: list[Action] = []
        if not self.terminated:
            self._terminate(out)
        return out

    def _start(self, name: str, at: float, out: list[Action]) -> None:
        self._timers[name] = at
        out.append(StartTimer(name, at))

    def _cancel(self, out: list[Action], *names: str) -> None:
        for name in names:
            if self._timers.pop(name, None) is not None:
                out.append(CancelTimer(name))

    def _terminate(self, out: list[Action], tell: Deliver | Timeout | TransportFailed | None = None) -> None:
        """Cancel what is armed, tell the TU `tell` if given, end."""
        self._cancel(out, *list(self._timers))
        self.state = State.TERMINATED
        if tell is not None:
            out.append(tell)
        out.append(Terminated())

    def _wait_then_terminate(self, name: str, rfc_value: float, now: float, out: list[Action],
                             tell: Deliver | None = None) -> None:
        """Timers D, I, J, K: zero over a reliable transport, so terminate at once; the TU is told
        `tell` after the timer is armed, before `Terminated()`."""
        if self.reliable:
            self._terminate(out, tell)
            return
        self._start(name, now + self.config.wait(rfc_value), out)
        if tell is not None:
            out.append(tell)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.method} {self.state.value}>"


# --- client transactions ---------------------------------------------------------------------------

class ClientTransaction(_Transaction):
    """A client transaction (17.1). Create with `ClientTransaction.new`."""

    __slots__ = ("key", "data", "last_response")

    def __init__(self, request: Request | bytes, reliable: bool, config: TimerConfig, state: State,
                 key: ClientKey | None = None) -> None:
        if isinstance(request, bytes):  # built by the TU, which knows its key: parsed when needed
            assert key is not None
            super().__init__(None, key[1], reliable, config, state)
            self.key: ClientKey = key
            self.data = request
        else:
            super().__init__(request, request.method, reliable, config, state)
            known = client_key(request)
            if known is None:
                raise TransactionError("a client request needs a top Via with a branch and a CSeq")
            self.key = known
            self.data = request.to_bytes()
        self.last_response: Response | None = None

    @property
    def request(self) -> Request:
        if self._request is None:  # the bytes kampy sent: no receive limits (parse_message)
            self._request = _as_request(self.data, limits=False)
        return self._request

    @classmethod
    def new(cls, request: Request | bytes, *, reliable: bool, now: float,
            timers: TimerConfig = DEFAULT_TIMERS, key: ClientKey | None = None,
            ) -> tuple[ClientTransaction, list[Action]]:
        """Start a client transaction for `request` (with its Via already added): send it, arm timers.
        `key`, (top Via branch, method) of a request given as bytes, spares parsing it: a request
        the TU has just built is parsed only if the transaction needs to read it (an ACK to build)."""
        if key is not None and isinstance(request, bytes):
            req: Request | bytes = request
            method = key[1].upper()
        else:
            req = _as_request(request)
            method = req.method.upper()
            key = None
        if method == "ACK":
            raise TransactionError("ACK has no client transaction (17.1.1.3, 13.2.2.4)")
        tx: ClientTransaction
        if method == "INVITE":
            tx = InviteClientTransaction(req, reliable, timers, State.CALLING, key)
        else:
            tx = NonInviteClientTransaction(req, reliable, timers, State.TRYING, key)
        return tx, tx._begin(now)

    def on_response(self, response: Response | bytes, now: float, *, by_key: bool = True) -> list[Action]:
        """A response matched this transaction (see `TransactionTable.match_response`). `by_key=False`:
        the TU matched it otherwise (Kamailio's callid_cseq_matching), its branch is not checked."""
        resp = _as_response(response)
        if by_key and client_key(resp) != self.key:
            raise TransactionError("the response does not belong to this transaction")
        out: list[Action] = []
        if resp.status < 200:
            self._provisional(resp, now, out)
        else:
            self._final(resp, now, out)
        return out

    def set_end_of_life(self, end_of_life: float | None, now: float) -> list[Action]:
        """The transaction's life now ends at `end_of_life` (Kamailio's change_end_of_life): an armed
        final response timer due later is brought forward to it; none is put off."""
        self.config = self.config.with_end_of_life(end_of_life)
        out: list[Action] = []
        if end_of_life is None:
            return out
        for name in self._fr_timers():
            at = self._timers.get(name)
            if at is not None and at > end_of_life:
                self._start(name, max(end_of_life, now), out)
        return out

    def _fr_timers(self) -> tuple[str, ...]:
        return ()

    def _deliver(self, resp: Response, out: list[Action]) -> None:
        self.last_response = resp
        out.append(Deliver(resp))

    def _begin(self, now: float) -> list[Action]:
        raise NotImplementedError

    def _provisional(self, resp: Response, now: float, out: list[Action]) -> None:
        raise NotImplementedError

    def _final(self, resp: Response, now: float, out: list[Action]) -> None:
        raise NotImplementedError


class InviteClientTransaction(ClientTransaction):
    """17.1.1 with RFC 6026: Calling -> Proceeding -> Completed (non-2xx) or Accepted (2xx) -> Terminated."""

    __slots__ = ("ack", "_timed_out", "ack_builder")

    def __init__(self, request: Request | bytes, reliable: bool, config: TimerConfig, state: State,
                 key: ClientKey | None = None) -> None:
        super().__init__(request, reliable, config, state, key)
        self.ack: bytes | None = None  # sent for a non-2xx final response, resent for its retransmissions
        self._timed_out = False
        # how the TU builds the ACK of a non-2xx final response (tm's reparse_invite, ac_extra_hdrs);
        # None: 17.1.1.3's build_ack from the INVITE sent
        self.ack_builder: Callable[[Request, Response], Request] | None = None

    def _begin(self, now: float) -> list[Action]:
        out: list[Action] = [Send(self.data)]
        if not self.reliable:
            self._start("A", now + self.config.t1, out)
        self._start("B", self.config.fr_deadline(now, self.config.timer_b), out)
        return out

    def _fr_timers(self) -> tuple[str, ...]:
        return ("fr_inv",) if self._timed_out else ("B", "fr_inv")  # B after fr_inv guards the CANCEL

    def _timer_a(self, now: float, out: list[Action]) -> None:
        if self.state is State.CALLING:
            out.append(Send(self.data))
            self._interval *= 2  # no cap for INVITE: 0.5, 1, 2, 4, 8, 16 ...
            self._start("A", now + self._interval, out)

    def _timer_b(self, now: float, out: list[Action]) -> None:
        if self.state in (State.CALLING, State.PROCEEDING):
            self._terminate(out, None if self._timed_out else Timeout())

    def _timer_fr_inv(self, now: float, out: list[Action]) -> None:
        # The TU is told and will CANCEL; stay in Proceeding to ACK the 487, with B as a last guard.
        if self.state is State.PROCEEDING:
            self._timed_out = True
            self._start("B", now + self.config.timer_b, out)
            out.append(Timeout())

    def _timer_d(self, now: float, out: list[Action]) -> None:
        self._terminate(out)

    def _timer_m(self, now: float, out: list[Action]) -> None:
        self._terminate(out)

    def _provisional(self, resp: Response, now: float, out: list[Action]) -> None:
        if self.state is State.CALLING:
            self.state = State.PROCEEDING
            self._cancel(out, "A", "B")
            self._arm_fr_inv(now, out)
        elif self.state is State.PROCEEDING:
            if self.config.restart_fr_on_each_reply and not self._timed_out:
                self._arm_fr_inv(now, out)
        else:
            return
        self._deliver(resp, out)

    def _arm_fr_inv(self, now: float, out: list[Action]) -> None:
        if self.config.fr_inv_timer is not None:
            self._start("fr_inv", self.config.fr_deadline(now, self.config.fr_inv_timer), out)

    def _final(self, resp: Response, now: float, out: list[Action]) -> None:
        if self.state in (State.CALLING, State.PROCEEDING):
            self._cancel(out, "A", "B", "fr_inv")
            if resp.status < 300:
                self.state = State.ACCEPTED
                self._start("M", now + self.config.timer_h, out)
                self._deliver(resp, out)
            else:
                self.state = State.COMPLETED
                self.last_response = resp
                self.ack = (self.ack_builder or build_ack)(self.request, resp).to_bytes()
                out.append(Send(self.ack))  # before the TU hears of the response
                self._wait_then_terminate("D", self.config.timer_d, now, out, Deliver(resp))
        elif self.state is State.COMPLETED and resp.status >= 300 and self.ack is not None:
            out.append(Send(self.ack))  # a retransmitted final response: ACK again, TU not told
        elif self.state is State.ACCEPTED and resp.status < 300:
            self._deliver(resp, out)  # 2xx retransmissions and other forks' 2xx go to the TU


class NonInviteClientTransaction(ClientTransaction):
    """17.1.2: Trying -> Proceeding -> Completed -> Terminated."""

    __slots__ = ()

    def _begin(self, now: float) -> list[Action]:
        out: list[Action] = [Send(self.data)]
        if not self.reliable:
            self._start("E", now + self.config.t1, out)
        self._start("F", self.config.fr_deadline(now, self.config.timer_f), out)
        return out

    def _fr_timers(self) -> tuple[str, ...]:
        return ("F",)

    def _timer_e(self, now: float, out: list[Action]) -> None:
        if self.state is State.TRYING:
            self._interval = min(2 * self._interval, self.config.t2)
        elif self.state is State.PROCEEDING:
            self._interval = self.config.t2
        else:
            return
        out.append(Send(self.data))
        self._start("E", now + self._interval, out)

    def _timer_f(self, now: float, out: list[Action]) -> None:
        if self.state in (State.TRYING, State.PROCEEDING):
            self._terminate(out, Timeout())

    def _timer_k(self, now: float, out: list[Action]) -> None:
        self._terminate(out)

    def _provisional(self, resp: Response, now: float, out: list[Action]) -> None:
        if self.state in (State.TRYING, State.PROCEEDING):
            self.state = State.PROCEEDING
            self._deliver(resp, out)

    def _final(self, resp: Response, now: float, out: list[Action]) -> None:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return  # retransmissions absorbed in Completed
        self.state = State.COMPLETED
        self._cancel(out, "E", "F")
        self.last_response = resp
        self._wait_then_terminate("K", self.config.t4, now, out, Deliver(resp))


# --- server transactions ---------------------------------------------------------------------------

class ServerTransaction(_Transaction):
    """A server transaction (17.2). Create with `ServerTransaction.new`."""

    __slots__ = ("key", "last_response", "status", "to_tag", "trying_via")

    def __init__(self, request: Request, reliable: bool, config: TimerConfig, state: State) -> None:
        super().__init__(request, request.method, reliable, config, state)
        key = server_key(request)
        if key is None:
            raise TransactionError("a server request needs a Via and a CSeq")
        self.key: ServerKey = key
        self.last_response: bytes | None = None
        self.status: int | None = None
        self.to_tag: str | None = None
        self.trying_via: bytes | None = None

    @classmethod
    def new(cls, request: Request | bytes, *, reliable: bool, now: float,
            timers: TimerConfig = DEFAULT_TIMERS, auto_trying: bool = True,
            trying_via: bytes | None = None) -> tuple[ServerTransaction, list[Action]]:
        """Start a server transaction for a new request. For an INVITE with `auto_trying`, the
        transaction sends 100 Trying itself if the TU has not answered within `trying_delay`.
        `trying_via` is the first Via line that 100 carries: pass
        `kampy.api.reply_via_line(request, src_ip, src_port)` so it has `received`/`rport` as every
        locally built reply (this layer knows no source address); the request's own line otherwise."""
        req = _as_request(request)
        method = req.method.upper()
        if method == "ACK":
            raise TransactionError("ACK creates no server transaction")
        tx: ServerTransaction
        out: list[Action] = []
        if method == "INVITE":
            tx = InviteServerTransaction(req, reliable, timers, State.PROCEEDING)
            tx.trying_via = trying_via
            if auto_trying:
                tx._start("trying", now + timers.trying_delay, out)
        else:
            tx = NonInviteServerTransaction(req, reliable, timers, State.TRYING)
        return tx, out

    def send_response(self, response: Response | bytes, now: float) -> list[Action]:
        """The TU's response to the request: send it and move on."""
        resp = _as_response(response)
        return self.send_prepared(resp.to_bytes(), resp.status, _to_tag(resp), now)

    def send_prepared(self, data: bytes, status: int, to_tag: str | None, now: float) -> list[Action]:
        """`send_response` for a response the TU built itself, as bytes with its status code and
        To-tag (nothing to parse again)."""
        out: list[Action] = []
        self._respond(status, now, out)
        self.last_response = data
        self.status = status
        self.to_tag = to_tag
        out.insert(0, Send(data))
        return out

    def on_request(self, request: Request | bytes, now: float) -> list[Action]:
        """A request matched this transaction: a retransmission, or (INVITE) the ACK."""
        req = _as_request(request)
        method = req.method.upper()
        if self.terminated:
            return []
        if method == "ACK" and self.method == "INVITE":
            return self._ack(req, now)
        if method != self.method:
            raise TransactionError(f"a {method} does not belong to a {self.method} transaction")
        return self._retransmission()

    def _retransmission(self) -> list[Action]:
        raise NotImplementedError

    def _ack(self, ack: Request, now: float) -> list[Action]:
        raise NotImplementedError

    def _respond(self, status: int, now: float, out: list[Action]) -> None:
        raise NotImplementedError

    def _resend(self) -> list[Action]:
        return [] if self.last_response is None else [Send(self.last_response)]


class InviteServerTransaction(ServerTransaction):
    """17.2.1 + RFC 6026: Proceeding -> Completed -> Confirmed (non-2xx) / Accepted (2xx) -> Terminated."""

    __slots__ = ()

    def _timer_trying(self, now: float, out: list[Action]) -> None:
        if self.state is State.PROCEEDING and self.last_response is None:
            trying = build_response(self.request, 100, "Trying", extra_headers=self._timestamp(),
                                    first_via=self.trying_via)
            self.last_response = trying.to_bytes()
            self.status = 100
            out.append(Send(self.last_response))

    def _timestamp(self) -> list[tuple[str, str]]:
        value = self.request.header("timestamp")  # 8.2.6.1: a 100 echoes the Timestamp
        return [] if value is None else [("Timestamp", value)]

    def _respond(self, status: int, now: float, out: list[Action]) -> None:
        if self.state is State.ACCEPTED and 200 <= status < 300:
            return  # the TU retransmits its 2xx through us (RFC 6026)
        if self.state is not State.PROCEEDING:
            raise TransactionError(f"cannot send {status} in state {self.state.value}")
        self._cancel(out, "trying")
        if status < 200:
            return
        if status < 300:
            self.state = State.ACCEPTED
            self._start("L", now + self.config.timer_h, out)
            return
        self.state = State.COMPLETED
        if not self.reliable:
            self._interval = self.config.t1
            self._start("G", now + self._interval, out)
        self._start("H", now + self.config.timer_h, out)

    def _retransmission(self) -> list[Action]:
        if self.state in (State.PROCEEDING, State.COMPLETED):
            return self._resend()
        return []  # Confirmed and Accepted absorb it (RFC 6026: not passed to the TU)

    def _ack(self, ack: Request, now: float) -> list[Action]:
        out: list[Action] = []
        if self.state is State.COMPLETED:
            self.state = State.CONFIRMED
            self._cancel(out, "G", "H")
            self._wait_then_terminate("I", self.config.t4, now, out)
        elif self.state is State.ACCEPTED:
            out.append(Deliver(ack))
        return out

    def _timer_g(self, now: float, out: list[Action]) -> None:
        if self.state is State.COMPLETED and self.last_response is not None:
            out.append(Send(self.last_response))
            self._interval = min(2 * self._interval, self.config.t2)
            self._start("G", now + self._interval, out)

    def _timer_h(self, now: float, out: list[Action]) -> None:
        if self.state is State.COMPLETED:
            self._terminate(out, Timeout())  # no ACK came

    def _timer_i(self, now: float, out: list[Action]) -> None:
        self._terminate(out)

    def _timer_l(self, now: float, out: list[Action]) -> None:
        self._terminate(out)


class NonInviteServerTransaction(ServerTransaction):
    """17.2.2: Trying -> Proceeding -> Completed -> Terminated."""

    __slots__ = ()

    def _respond(self, status: int, now: float, out: list[Action]) -> None:
        if self.state not in (State.TRYING, State.PROCEEDING):
            raise TransactionError(f"cannot send {status} in state {self.state.value}")
        if status < 200:
            self.state = State.PROCEEDING
            return
        self.state = State.COMPLETED
        self._wait_then_terminate("J", self.config.timer_h, now, out)

    def _retransmission(self) -> list[Action]:
        return [] if self.state is State.TRYING else self._resend()

    def _ack(self, ack: Request, now: float) -> list[Action]:  # pragma: no cover - never routed here
        return []

    def _timer_j(self, now: float, out: list[Action]) -> None:
        self._terminate(out)


# --- matching --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Matching:
    """What matching compares beyond RFC 3261's keys (Kamailio's tm parameters of the same names):

    - `ruri`, `via1`: an RFC 2543 request (no `z9hG4bK` branch) must have its transaction's
      Request-URI / top Via (on by default; off only for broken old clients);
    - `callid`: an RFC 3261 request, and a response, must also have its transaction's Call-ID;
    - `bucket`: where a request is looked for (Kamailio's hash slot of Call-ID and CSeq number): an
      RFC 3261 request matches only a transaction of its own bucket. None: any.
    """

    ruri: bool = True
    via1: bool = True
    callid: bool = False
    bucket: Callable[[Request], int] | None = None


DEFAULT_MATCHING = Matching()
_URI, _VIA = 1, 6  # where an RFC 2543 key holds the Request-URI and the top Via


def _loose_key(key: ServerKey) -> ServerKey:
    """An RFC 2543 key without the Request-URI and the top Via."""
    return key[:_URI] + key[_URI + 1:_VIA] + key[_VIA + 1:]


class TransactionTable:
    """Transactions by key; finds the one an incoming message belongs to.

    The caller adds each new transaction and removes it on `Terminated()`; terminated transactions
    still in the table never match. RFC 2543 requests that share a key but not the To tag are
    different transactions (Kamailio's old-style matching compares the To header): the later ones
    are kept beside the first; so are RFC 3261 requests with a live transaction's key and another
    Call-ID (in Kamailio's table they are apart: see `Matching`).
    """

    __slots__ = ("_clients", "_servers", "_siblings", "_loose")

    def __init__(self) -> None:
        self._clients: dict[ClientKey, ClientTransaction] = {}
        self._servers: dict[ServerKey, ServerTransaction] = {}
        self._siblings: dict[ServerKey, list[ServerTransaction]] = {}
        # RFC 2543 server transactions by their key without Request-URI and Via (Matching.ruri/via1 off)
        self._loose: dict[ServerKey, list[ServerTransaction]] = {}

    def __len__(self) -> int:
        return len(self._clients) + len(self._servers) + sum(map(len, self._siblings.values()))

    def add(self, tx: ClientTransaction | ServerTransaction) -> None:
        """Index a new transaction; a live one with the same key (and, for RFC 2543, the same To tag)
        is a TransactionError."""
        old = self._get(tx)
        if old is not None and old is not tx and not old.terminated:
            if isinstance(tx, ServerTransaction) and self._add_sibling(tx):
                if tx.key[0] == "2543":
                    self._loose.setdefault(_loose_key(tx.key), []).append(tx)
                return
            raise TransactionError(f"a live transaction already has key {tx.key!r}")
        if isinstance(tx, ClientTransaction):
            self._clients[tx.key] = tx
        else:
            if old is not None and old is not tx and old.key[0] == "2543":
                self._forget_loose(old)
            self._servers[tx.key] = tx
            if tx.key[0] == "2543" and old is not tx:
                self._loose.setdefault(_loose_key(tx.key), []).append(tx)

    def _forget_loose(self, tx: ServerTransaction) -> None:
        loose = _loose_key(tx.key)
        same = self._loose.get(loose)
        if same is not None and tx in same:
            same.remove(tx)
            if not same:
                del self._loose[loose]

    def _add_sibling(self, tx: ServerTransaction) -> bool:
        """RFC 2543: another To tag is another transaction. RFC 3261: another Call-ID or CSeq number
        (Kamailio's table keeps both, in the hash slots of Call-ID and CSeq number; `Matching.callid`
        tells apart those of one slot)."""
        if tx.key[0] == "2543":
            tag = _to_tag(tx.request)
            if any(_to_tag(other.request) == tag and not other.terminated
                   for other in self._candidates(tx.key)):
                return False
        elif any(_same_slot(other.request, tx.request) and not other.terminated
                 for other in self._candidates(tx.key)):
            return False
        self._siblings.setdefault(tx.key, []).append(tx)
        return True

    def remove(self, tx: ClientTransaction | ServerTransaction) -> None:
        if isinstance(tx, ServerTransaction) and tx.key[0] == "2543":
            self._forget_loose(tx)
        if isinstance(tx, ServerTransaction) and tx.key in self._siblings:
            self._remove_server(tx)
        elif self._get(tx) is tx:
            if isinstance(tx, ClientTransaction):
                del self._clients[tx.key]
            else:
                del self._servers[tx.key]

    def _remove_server(self, tx: ServerTransaction) -> None:
        siblings = self._siblings[tx.key]
        if self._servers.get(tx.key) is tx:
            self._servers[tx.key] = siblings.pop(0)
        elif tx in siblings:
            siblings.remove(tx)
        if not siblings:
            del self._siblings[tx.key]

    def _get(self, tx: ClientTransaction | ServerTransaction) -> ClientTransaction | ServerTransaction | None:
        if isinstance(tx, ClientTransaction):
            return self._clients.get(tx.key)
        return self._servers.get(tx.key)

    def _candidates(self, key: ServerKey) -> list[ServerTransaction]:
        first = self._servers.get(key)
        return ([first] if first is not None else []) + self._siblings.get(key, [])

    def has_live_server(self, key: ServerKey) -> bool:
        """Whether a live server transaction has `key` (RFC 2543 siblings included)."""
        return any(not tx.terminated for tx in self._candidates(key))

    def match_response(self, response: Response, matching: Matching = DEFAULT_MATCHING,
                       ) -> ClientTransaction | None:
        """17.1.3: top Via branch and CSeq method (a CANCEL's response finds the CANCEL, not the INVITE);
        with `matching.callid` the Call-ID too."""
        key = client_key(response)
        tx = self._clients.get(key) if key is not None else None
        if tx is None or tx.terminated:
            return None
        if matching.callid and not _same_call_id(response, tx):
            return None
        return tx

    def match_request(self, request: Request, matching: Matching = DEFAULT_MATCHING,
                      ) -> ServerTransaction | None:
        """17.2.3: the server transaction a retransmission or ACK belongs to, or None for a new request.

        An ACK matches its INVITE's transaction only after a non-2xx final response: the ACK for a 2xx
        is end to end, for the TU (None here). A CANCEL matches only an earlier CANCEL; see `match_cancel`.
        """
        is_ack = request.method.upper() == "ACK"
        tx = self._find(request, "INVITE" if is_ack else None, matching)
        if tx is None or not is_ack:
            return tx
        return tx if tx.state in (State.COMPLETED, State.CONFIRMED) else None

    def match_cancel(self, cancel: Request, matching: Matching = DEFAULT_MATCHING,
                     ) -> ServerTransaction | None:
        """9.2: the INVITE server transaction a CANCEL cancels (same rules as 17.2.3, method INVITE)."""
        return self._find(cancel, "INVITE", matching)

    def _find(self, request: Request, method: str | None, matching: Matching) -> ServerTransaction | None:
        key = server_key(request, method)
        if key is None:
            return None
        if key[0] != "2543":
            return self._find_3261(request, key, method, matching)
        if matching.ruri and matching.via1:
            candidates = self._candidates(key)
        else:
            candidates = [tx for tx in self._loose.get(_loose_key(key), ())
                          if (not matching.ruri or tx.key[_URI] == key[_URI])
                          and (not matching.via1 or tx.key[_VIA] == key[_VIA])]
        return next((tx for tx in candidates if not tx.terminated and _tags_match(request, tx)), None)

    def _find_3261(self, request: Request, key: ServerKey, method: str | None,
                   matching: Matching) -> ServerTransaction | None:
        live = [tx for tx in self._candidates(key) if not tx.terminated]
        if live and matching.bucket is not None:
            bucket = matching.bucket
            slot = bucket(request)
            live = [tx for tx in live if bucket(tx.request) == slot]
        if not live:
            return None
        if not matching.callid or method == "INVITE" and request.method.upper() == "CANCEL":
            return live[0]  # (Kamailio's CANCEL lookup compares no Call-ID)
        same = next((tx for tx in live if tx.request.call_id == request.call_id), None)
        if same is None:
            _same_call_id(request, live[0])  # logs the mismatch as Kamailio
        return same


def _same_slot(one: Request, other: Request) -> bool:
    """Same Call-ID and CSeq number: where Kamailio's lookup would have found the other."""
    a, b = one.cseq, other.cseq
    return one.call_id == other.call_id and (a.num if a else None) == (b.num if b else None)


def _same_call_id(msg: Message, tx: ClientTransaction | ServerTransaction) -> bool:
    """Kamailio's callid_matching: "matching transaction found but callids don't match"."""
    if msg.call_id == tx.request.call_id:
        return True
    log.error("matching transaction found but callids don't match (received: %s stored: %s)",
              msg.call_id, tx.request.call_id)
    return False


def _tags_match(request: Request, tx: ServerTransaction) -> bool:
    """RFC 2543 matching: an ACK carries the To tag of the response, anything else the request's."""
    if request.method.upper() == "ACK":
        return tx.to_tag is not None and _to_tag(request) == tx.to_tag
    return _to_tag(request) == _to_tag(tx.request)
