"""Process-wide services that routes and modules use: the clock, sockets, `myself`, replies, $var.

Modules reach the rest of kampy only through a `Core` (and the context of the message at hand):
`core.clock`, `core.stats`, `core.api(name)`, `core.send_reply(ctx, response)`, `core.is_myself(...)`.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from kampy.runtime.context import Handoff, MessageContext, Outgoing, Socket
from kampy.runtime.shared import SharedStore
from kampy.sip.message import Request, Response
from kampy.sip.uri import Params, Via
from kampy.stats import Stats

if TYPE_CHECKING:
    from kampy.config.compile import CompiledConfig

log = logging.getLogger("kampy.core")

SERVER_HEADER = "kampy (0.1.0)"


class Clock(Protocol):
    def time(self) -> float: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class Core:
    """One per process. Built by the runtime from a compiled config."""

    def __init__(self, config: CompiledConfig | None = None, clock: Clock | None = None,
                 sockets: list[Socket] | None = None, aliases: list[tuple[str, int | None]] | None = None):
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.sockets: list[Socket] = sockets or []
        self.aliases: list[tuple[str, int | None]] = aliases or []
        self.vars: dict[str, Any] = {}      # $var(...): per process, kept across messages
        self.shvars: dict[str, Any] = {}    # $shv(...)
        self.stats = Stats()
        self.modules: dict[str, Any] = {}   # module name -> instance
        self.run_route: Callable[[str, str | None, MessageContext], int] | None = None
        self.server_header = SERVER_HEADER
        self.rank = 1          # this worker's rank (1..workers), as Kamailio's child rank
        self.workers = 1
        self._shared: SharedStore | None = None
        self._private_shared: weakref.finalize | None = None
        self.outbox: list[Outgoing | Handoff] = []  # sent from timers and callbacks, outside a message
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_seq = itertools.count()
        self._cancelled: set[int] = set()

    # ------------------------------------------------------------ shared state

    @property
    def shared(self) -> SharedStore:
        """The store every worker of this server sees. A server running alone (tests, `fork=no`
        without a supervisor) gets a private one on first use, deleted when the core goes away."""
        if self._shared is None:
            self._shared = SharedStore.create()
            self._private_shared = weakref.finalize(self, self._shared.remove)
        return self._shared

    @shared.setter
    def shared(self, store: SharedStore) -> None:
        self._shared = store

    def close_shared(self) -> None:
        if self._private_shared is not None:
            self._private_shared()
        elif self._shared is not None:
            self._shared.close()
        self._shared = None

    # ------------------------------------------------------------ one-shot timers

    def call_at(self, when: float, fn: Callable[[], None]) -> int:
        """Run `fn()` at `when` (on `clock.monotonic()`); returns a handle for `cancel_timer`.
        What `fn` sends goes through `core.send`."""
        handle = next(self._timer_seq)
        heapq.heappush(self._timers, (when, handle, fn))
        return handle

    def cancel_timer(self, handle: int) -> None:
        self._cancelled.add(handle)

    def next_call(self) -> float | None:
        while self._timers and self._timers[0][1] in self._cancelled:
            self._cancelled.discard(heapq.heappop(self._timers)[1])
        return self._timers[0][0] if self._timers else None

    def run_due_calls(self) -> None:
        now = self.clock.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, handle, fn = heapq.heappop(self._timers)
            if handle in self._cancelled:
                self._cancelled.discard(handle)
                continue
            try:
                fn()
            except Exception:
                log.exception("timer callback %r failed", fn)

    def send(self, out: Outgoing | Handoff) -> None:
        """Send outside of a message's route (timers, transaction callbacks)."""
        self.outbox.append(out)

    def take_outbox(self) -> list[Outgoing | Handoff]:
        out, self.outbox = self.outbox, []
        return out

    # ------------------------------------------------------------ modules

    def api(self, name: str) -> Any:
        """The instance of a loaded module, for the API it declares (msilo binds tm this way)."""
        try:
            return self.modules[name]
        except KeyError:
            raise LookupError(f"module '{name}' is not loaded") from None

    # ------------------------------------------------------------ addresses

    def is_myself(self, host: str, port: int | None = None, proto: str | None = None) -> bool:
        """Kamailio's `myself` check: a local socket address or an alias (port 0/None = any)."""
        host = host.lower().strip("[]")
        for sock in self.sockets:
            if sock.host.lower().strip("[]") == host or (sock.advertise_host or "").lower() == host:
                if port in (None, 0) or port == (sock.advertise_port or sock.port):
                    if proto is None or proto == sock.proto:
                        return True
        for alias_host, alias_port in self.aliases:
            if alias_host.lower() == host and (alias_port in (None, 0) or port in (None, 0)
                                               or alias_port == port):
                return True
        return False

    def socket_for(self, proto: str) -> Socket | None:
        return next((s for s in self.sockets if s.proto == proto), None)

    # ------------------------------------------------------------ replies

    def send_reply(self, ctx: MessageContext, response: Response | bytes) -> None:
        """Send a response to the request of `ctx`, per RFC 3261 18.2.2 and RFC 3581."""
        data = bytes(response) if isinstance(response, Response) else response
        src = ctx.src
        if src.proto != "udp":
            ctx.send(Outgoing(src.proto, src.ip, src.port, data, src.local, src.conn_id))
            return
        host, port = reply_destination(ctx.msg, src.ip, src.port)
        ctx.send(Outgoing("udp", host, port, data, src.local))


def received_params(via: Via, src_ip: str, src_port: int) -> Via:
    """The top Via as the server records it: `received` when the sent-by differs from the source
    address or when `rport` was asked for (as Kamailio does), and `rport` filled in."""
    params = Params(via.params.items())
    if via.has_rport:
        params["rport"] = str(src_port)
        params["received"] = src_ip
    elif via.host.strip("[]") != src_ip:
        params["received"] = src_ip
    return Via(via.sent_protocol, via.host, via.port, params)


def reply_destination(msg: Request | Response, src_ip: str, src_port: int) -> tuple[str, int]:
    via = msg.via
    if via is None:
        return src_ip, src_port
    if via.maddr:
        return via.maddr, via.port or 5060
    if via.has_rport:
        return src_ip, src_port
    return src_ip, via.port or 5060
