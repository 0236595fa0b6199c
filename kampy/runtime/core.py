"""Process-wide services that routes and modules use: the clock, sockets, `myself`, replies, $var.

Modules reach the rest of kampy only through a `Core` (and the context of the message at hand):
`core.clock`, `core.stats`, `core.api(name)`, `core.send_reply(ctx, response)`, `core.is_myself(...)`.
"""
from __future__ import annotations

import heapq
import ipaddress
import itertools
import logging
import re
import socket
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from kampy.runtime.context import Handoff, MessageContext, Outgoing, Socket
from kampy.runtime.shared import SharedStore
from kampy.sip.message import Request, Response
from kampy.sip.uri import Via
from kampy.rpc import RpcRegistry, register_core_methods
from kampy.stats import Stats
from kampy.version import SERVER_HEADER

if TYPE_CHECKING:
    from kampy.config.compile import CompiledConfig

log = logging.getLogger("kampy.core")



class Clock(Protocol):
    """The one clock of a process (`core.clock`), replaced by a fake one in tests: modules read the
    time here, never with `time.time()`. `time()` is wall-clock seconds (timestamps stored in a DB),
    `monotonic()` the timer base (`core.call_at(when, fn)` takes a monotonic `when`)."""

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
        self.stats = Stats(lambda: (self.shared, self.rank, self.workers))
        self.started = self.clock.time()  # core.uptime
        self.rpc = RpcRegistry()            # filled by module declarations and the core
        register_core_methods(self, self.rpc)
        self.services: list[Any] = []       # LocalService values the network layer serves
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
        self.stats.close()
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
        """The API module `name` declares for other modules (Kamailio's load_xxx_api): what its
        `api()` method returns, by default its instance (msilo binds tm this way). LookupError when
        the config does not load it (or it is not built yet: modules are built in loadmodule order)."""
        try:
            instance = self.modules[name]
        except KeyError:
            raise LookupError(f"module '{name}' is not loaded") from None
        offer = getattr(instance, "api", None)
        return offer() if callable(offer) else instance

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


FORCE_RPORT = "force_rport"  # ctx.local key: Kamailio's FL_FORCE_RPORT (force_rport(), add_rport())


def received_params(via: Via, src_ip: str, src_port: int, force_rport: bool = False,
                    ) -> tuple[str | None, str | None]:
    """(received, rport) values to record in the top Via of a request from src_ip:src_port, None
    for those not wanted (Kamailio's received_test and its rport rule, RFC 3261 18.2.1, RFC 3581):
    `received` when the Via already has one, asks for rport, or names another address; `rport`
    when asked for or forced."""
    has_rport = via.has_rport
    rport = str(src_port) if force_rport or has_rport else None
    wanted = has_rport or via.received is not None or not _same_address(via.host, src_ip)
    return (src_ip if wanted else None), rport


# Kamailio's received_dns (`dns=yes`/-r: DO_DNS, `rev_dns=yes`/-R: DO_REV_DNS): a Via host that is
# a name matches the source address when it resolves to it, or the address resolves back to it
DO_DNS, DO_REV_DNS = 1, 2
_received_dns = 0


def set_received_dns(mode: int) -> None:
    global _received_dns
    _received_dns = mode


def _same_address(host: str, ip: str) -> bool:
    """check_via_address(): the Via host is the source address (or, with received_dns, names it)."""
    host = host.strip("[]")
    if host == ip:
        return True
    try:
        return ipaddress.ip_address(host) == ipaddress.ip_address(ip)
    except ValueError:
        pass
    if _received_dns & DO_DNS:
        try:
            if ip in {info[4][0] for info in socket.getaddrinfo(host, None)}:
                return True
        except OSError:
            pass
    if _received_dns & DO_REV_DNS:
        try:
            name, aliases, _ = socket.gethostbyaddr(ip)
        except OSError:
            return False
        return host in (name, *aliases)
    return False


def reply_via_line(msg: Request, src_ip: str, src_port: int, force_rport: bool = False) -> bytes:
    """The request's first Via line as a locally built reply carries it (Kamailio's
    build_res_buf_from_sip_req): `rport=` filled in where it stands (else appended), `received=`
    appended. sl and tm both build replies with this.

    Two deliberate differences from Kamailio: the params go into the first Via of the line, not
    after its last one when the line holds several, and a `received` the client sent is replaced
    rather than repeated."""
    via = msg.via
    line = msg.get_all_raw("via")[0]
    if via is None:
        return line
    received, rport = received_params(via, src_ip, src_port, force_rport)
    if received is None and rport is None:
        return line
    name, colon, rest = line.partition(b":")
    first, comma, others = split_first_via(rest)
    if rport is not None:
        first = _set_via_param(first, b"rport", _enc(rport))
    if received is not None:
        first = _set_via_param(first, b"received", _enc(received))
    return name + colon + first + comma + others


def split_first_via(value: bytes) -> tuple[bytes, bytes, bytes]:
    """A Via line's value split at the first comma outside quotes: (first, comma, the rest)."""
    comma = value.find(b",")
    if comma < 0:
        return value.rstrip(), b"", b""
    if b'"' not in value[:comma]:  # no quote before it: the first comma is outside quotes
        return value[:comma].rstrip(), b",", value[comma + 1:]
    quoted = False
    for i, ch in enumerate(value):
        if ch == 0x22:
            quoted = not quoted
        elif ch == 0x2C and not quoted:
            return value[:i].rstrip(), b",", value[i + 1:]
    return value.rstrip(), b"", b""


def _set_via_param(via_value: bytes, name: bytes, value: bytes) -> bytes:
    """`;name=value` in place of the value's first `name` parameter (any case, spaces around the name,
    with or without a value), else appended. `name` is lower-case."""
    at = via_value.lower().find(name)
    if at < 0:  # nowhere, in any case: not a parameter either
        return via_value + b";" + name + b"=" + value
    end = at + len(name)
    if via_value[at - 1:at] == b";" and via_value[end:end + 1] in (b"", b";", b"="):
        # the name's first appearance is the usual `;name` or `;name=...`: no earlier one can match
        start, stop = at - 1, via_value.find(b";", end)
    else:
        found = _via_param_re(name).search(via_value)
        if found is None:
            return via_value + b";" + name + b"=" + value
        start, stop = found.span()
    return via_value[:start] + b";" + name + b"=" + value + (via_value[stop:] if stop >= 0 else b"")


def _via_param_re(name: bytes) -> re.Pattern[bytes]:
    """A parameter called `name`: what lies between a `;` and the next one (or the end) when, stripped,
    its part before any `=` is `name` once stripped too."""
    pattern = _VIA_PARAM_RES.get(name)
    if pattern is None:
        pattern = re.compile(rb";\s*" + re.escape(name) + rb"\s*(?:=[^;]*)?(?=;|\Z)", re.I)
        _VIA_PARAM_RES[name] = pattern
    return pattern


_VIA_PARAM_RES: dict[bytes, re.Pattern[bytes]] = {}  # (only rport and received)


def _enc(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def reply_destination(msg: Request | Response, src_ip: str, src_port: int) -> tuple[str, int]:
    via = msg.via
    if via is None:
        return src_ip, src_port
    if via.maddr:
        return via.maddr, via.port or 5060
    if via.has_rport:
        return src_ip, src_port
    return src_ip, via.port or 5060
