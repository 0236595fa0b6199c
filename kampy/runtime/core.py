"""Process-wide services that routes and modules use: the clock, sockets, `myself`, replies, $var.

`Core` implements `kampy.apis.CoreAPI`; modules get a view of it narrowed to that interface.
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from kampy.config.ast import PVar
from kampy.config.pvparse import parse_pv
from kampy.module import RouteType
from kampy.runtime import loglevels
from kampy.runtime.params import NetParams
from kampy.runtime.actionhooks import ActionHook
from kampy.runtime.context import Handoff, MessageContext, Outgoing, Socket, Source
from kampy.runtime.cfgframework import CfgFramework
from kampy.runtime.dnscache import DnsCache, SrvRecord
from kampy.runtime.resolver import Resolver
from kampy.runtime.shared import SharedStore
from kampy.runtime.sipdns import ResolveOptions, SipDest, SipTarget
from kampy.runtime.tcp_registry import connection_state
from kampy.runtime.values import as_bool
from kampy.sip.message import Response, parse_message
from kampy.sip.via import reply_destination
from kampy.rpc import LocalService, RpcRegistry
from kampy.rpc_core import register_core_methods
from kampy.runtime import memory, procs
from kampy.stats import Stats
from kampy.version import SERVER_HEADER

if TYPE_CHECKING:
    from kampy.config.compile import CompiledConfig

log = logging.getLogger("kampy.core")

RUN_DIR = "/run/kamailio"  # Kamailio's default runtime directory (control sockets, pid files)



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


class Routes(Protocol):
    """What the core asks of the route engine once it is attached (`Core.attach_routes`)."""

    def resolve_pv(self, spec: PVar) -> Any: ...

    def resolve_format(self, text: str) -> Callable[[MessageContext], str]: ...

    def has_route(self, kind: str, name: str | None) -> bool: ...

    def run_route(self, kind: str, name: str | None, ctx: MessageContext) -> int: ...

    def run_event_route(self, name: str, ctx: MessageContext) -> bool: ...

    def pvars(self) -> list[PVar]: ...
    def resolve_select(self, text: str) -> Callable[[MessageContext], str | None]: ...

    def building_route(self) -> str | None: ...


@dataclass(frozen=True)
class HttpRoute:
    """Where HTTP requests on the TCP listeners go (`CoreAPI.serve_http`)."""

    event_route: str
    accepts: Callable[[str], bool]


# Kamailio's faked message (src/core/fmsg.c), from 127.0.0.1:5060 over UDP
FAKED_MESSAGE = (b"OPTIONS sip:you@kamailio.org SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1\r\n"
                 b"From: <sip:you@kamailio.org>;tag=123\r\nTo: <sip:you@kamailio.org>\r\n"
                 b"Call-ID: 123\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
FAKED_SOCKET = Socket("udp", "127.0.0.1", 5060)
FAKED_SOURCE = Source("udp", "127.0.0.1", 5060, FAKED_SOCKET)


class Core:
    """One per process. Built by the runtime from a compiled config; it implements `CoreAPI`, and
    each module is handed a view of it narrowed to `CoreAPI` (`kampy.runtime.modules`)."""

    def __init__(self, config: CompiledConfig | None = None, clock: Clock | None = None,
                 sockets: list[Socket] | None = None, aliases: list[tuple[str, int | None]] | None = None,
                 *, rank: int = 1, workers: int = 1, shared: SharedStore | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.sockets: list[Socket] = sockets or []
        self.aliases: list[tuple[str, int | None]] = aliases or []
        self.rank = rank          # this worker's rank (1..workers), as Kamailio's child rank
        self.workers = workers
        self._shared: SharedStore | None = shared
        self._private_shared: weakref.finalize | None = None
        self.stats = Stats(lambda: (self.shared, self.rank, self.workers))
        self.started = self.clock.time()  # core.uptime
        self.rpc = RpcRegistry()            # filled by module declarations and the core
        register_core_methods(self, self.rpc)
        self.services: list[LocalService] = []  # local sockets the network layer serves (add_service)
        self.http: HttpRoute | None = None      # serve_http
        self.tls: Any = None                    # serve_tls: the TLS engine (TlsEngine)
        # the network layer's lookup of a TLS session by connection id (this process's connections)
        self.tls_sessions: Callable[[int], Any] = lambda conn_id: None
        self.modules: dict[str, Any] = {}   # module name -> instance, in loadmodule order
        self.offers: dict[str, Any] = {}    # API name -> the object a module offers (Offer)
        self._routes: Routes | None = None  # the route engine, once attached
        # Kamailio's server_signature=no drops both the Server header of local replies and the
        # User-Agent header of local requests; server_header / user_agent_header set their text
        signed = as_bool(self.core_params.get("server_signature"), True)
        params = self.core_params
        self.sip_warning = as_bool(params.get("sip_warning"), False)  # a Warning line in local replies
        self.server_header = header_text(params, "server_header", "Server") if signed else ""
        self.user_agent_header = header_text(params, "user_agent_header", "User-Agent") if signed else ""
        self._aor_case_sensitive = False
        self.myself_checks: list[Callable[[str, int | None, str | None], bool]] = []
        self.dns_records: dict[str, list[str]] = {}  # name -> addresses (corex's dns_cache)
        self.dns_srv_records: dict[str, list[SrvRecord]] = {}  # SRV name -> records (likewise)
        self.outbox: list[Outgoing | Handoff] = []  # sent from timers and callbacks, outside a message
        self.cfg = CfgFramework(lambda: self.shared.table("cfg", capacity=64))
        dns_cache = DnsCache(lambda: self.shared.table("dns_cache", capacity=1 << 12, max_capacity=1 << 16),
                             self.clock.monotonic)
        self.dns = Resolver(self.cfg, self.clock.monotonic, self.dns_records, self._dns_protocols,
                            self.dns_srv_records, dns_cache, lambda: any(":" in s.host for s in self.sockets),
                            lambda: self.core_params)
        self.wake: Callable[[], None] = lambda: None  # the network layer: run the due calls now
        self._dns_tasks: set[asyncio.Task[list[SipTarget]]] = set()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_seq = itertools.count()
        self._cancelled: set[int] = set()
        self.action_hooks: list[tuple[ActionHook, ActionHook | None]] = []  # trace_actions
        self.worker_calls: dict[str, Callable[[bytes], None]] = {}  # on_worker_call

    @property
    def core_params(self) -> dict[str, Any]:
        return self.config.core_params if self.config is not None else {}

    @property
    def cfg_file(self) -> str:
        """The main config file (Kamailio's cfg_file): where relative file names of modules point."""
        return self.config.ast.pos.file if self.config is not None else ""

    @property
    def runtime_dir(self) -> str:
        params = self.core_params
        self.sip_warning = as_bool(params.get("sip_warning"), False)  # a Warning line in local replies
        return next((str(params[n]) for n in ("runtime_dir", "rundir", "run_dir") if params.get(n)), RUN_DIR)

    @property
    def server_id(self) -> int:
        try:
            return int(self.core_params.get("server_id") or 0)
        except (TypeError, ValueError):
            return 0

    # ------------------------------------------------------------ shared state

    @property
    def shared(self) -> SharedStore:
        """The store every worker of this server sees. A server running alone (tests, `fork=no`
        without a supervisor) gets a private one on first use, deleted when the core goes away."""
        if self._shared is None:
            self._shared = SharedStore.create()
            self._private_shared = weakref.finalize(self, self._shared.remove)
        return self._shared

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

    def on_worker_call(self, name: str, handler: Callable[[bytes], None]) -> None:
        self.worker_calls[name] = handler

    def call_worker(self, rank: int, name: str, data: bytes) -> None:
        self.send(Handoff(rank, data, None, call=name))

    def run_worker_call(self, name: str, data: bytes) -> None:
        """Run what another worker asked of this one (the network layer, the test harness)."""
        handler = self.worker_calls.get(name)
        if handler is None:
            log.error("no handler for the worker call %s", name)
            return
        try:
            handler(data)
        except Exception:
            log.exception("the worker call %s failed", name)

    def take_outbox(self) -> list[Outgoing | Handoff]:
        out, self.outbox = self.outbox, []
        return out

    # ------------------------------------------------------------ modules

    def api(self, name: str) -> Any:
        """Refused: a module asks the core it was given (`self.core`), which answers the APIs the
        module declared; the runtime and tests use `offered(name)`."""
        raise LookupError(f"api('{name}'): a module asks its own core (self.core) for the APIs it "
                          "declared in Exports.needs")

    def offered(self, name: str) -> Any:
        """The object a loaded module offers as API `name` (for the runtime and tests)."""
        try:
            return self.offers[name]
        except KeyError:
            raise LookupError(f"no loaded module offers the API '{name}'") from None

    def add_service(self, service: LocalService) -> None:
        self.services.append(service)

    def serve_http(self, event_route: str, accepts: Callable[[str], bool]) -> None:
        self.http = HttpRoute(event_route, accepts)

    @property
    def aor_case_sensitive(self) -> bool:
        return self._aor_case_sensitive

    def set_aor_case_sensitive(self, value: bool) -> None:
        self._aor_case_sensitive = bool(value)

    def processes(self) -> list[tuple[int, int, int, str]]:
        return procs.processes(self)

    def module_memory(self, name: str) -> tuple[list[tuple[str, int, int]], ...] | None:
        if name != "core" and name not in self.modules:
            return None
        others = {id(m) for m in self.modules.values()} | {id(self)}
        owner = self if name == "core" else self.modules[name]
        pkg = memory.object_sizes(owner, others - {id(owner)})
        return pkg, memory.shared_items(self.shared, name)

    def divert_logs(self, write: Callable[[str], None]) -> bool:
        return loglevels.divert_logs(write)

    def log_memory_status(self, parts: int) -> None:
        from kampy.runtime.memstatus import log_memory_status

        params = NetParams.from_core_params(self.core_params)
        # the level `memlog`; whether it shows is the config's `debug` (the logger's level) to say
        log_memory_status(replace(params, mem_summary=parts, debug=params.memlog), self.shared)

    # ------------------------------------------------------------ routes and pseudo-variables

    def attach_routes(self, routes: Routes) -> None:
        """The route engine of this process: pseudo-variables, formats and routes resolve through it."""
        self._routes = routes

    def _engine(self) -> Routes:
        if self._routes is None:
            raise LookupError("pseudo-variables and routes are known once the routes are built "
                              "(this core has no route engine)")
        return self._routes

    def pv_accessor(self, spec: str | PVar) -> Any:
        return self._engine().resolve_pv(parse_pv(spec) if isinstance(spec, str) else spec)

    def formatter(self, text: str) -> Callable[[MessageContext], str]:
        return self._engine().resolve_format(text)

    def select(self, text: str) -> Callable[[MessageContext], str | None]:
        return self._engine().resolve_select(text)

    def has_route(self, kind: str, name: str | None) -> bool:
        return self._routes is not None and self._routes.has_route(kind, name)

    def building_route(self) -> str | None:
        return self._routes.building_route() if self._routes is not None else None

    def run_route(self, kind: str, name: str | None, ctx: MessageContext) -> int:
        return self._engine().run_route(kind, name, ctx)

    def run_event_route(self, name: str, ctx: MessageContext | None = None) -> bool | None:
        if not self.has_route("event", name):
            return None
        if ctx is not None:
            return self._engine().run_event_route(name, ctx)
        faked = self.faked_context()
        done = self._engine().run_event_route(name, faked)
        self.outbox.extend(faked.outbox)
        return done

    def trace_actions(self, before: ActionHook, after: ActionHook | None = None) -> None:
        self.action_hooks.append((before, after))

    def config_pvars(self) -> list[PVar]:
        return self._engine().pvars()

    def faked_context(self) -> MessageContext:
        return MessageContext(parse_message(FAKED_MESSAGE), FAKED_SOURCE, self, route_type=RouteType.EVENT,
                              faked=True)

    def tcp_connection_ok(self, conn_id: int) -> bool:
        return connection_state(self.shared, conn_id) == "CONN_OK"

    def serve_tls(self, engine: Any) -> None:
        self.tls = engine

    def tls_connection(self, conn_id: int) -> Any:
        return self.tls_sessions(conn_id)

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
        return any(check(host, port, proto) for check in self.myself_checks)

    def add_myself_check(self, check: Callable[[str, int | None, str | None], bool]) -> None:
        self.myself_checks.append(check)

    def add_dns_record(self, name: str, address: str) -> None:
        self.dns_records.setdefault(name.lower().rstrip("."), []).append(address)

    def _dns_protocols(self) -> frozenset[str]:
        return frozenset(s.proto for s in self.sockets if s.proto in ("udp", "tcp", "tls", "sctp"))

    def dns_options(self) -> ResolveOptions:
        return self.dns.options()

    def sip_targets(self, dest: SipDest) -> list[SipTarget] | None:
        return self.dns.targets_now(dest)

    def resolve_sip(self, dest: SipDest, done: Callable[[list[SipTarget]], None], ttl: int = 0) -> None:
        """`done(targets)` now when they are known (an address, the cache; with no event loop
        running, a name as it is), else once the lookups ran on the worker's event loop (as a due
        call, its sends through `send`)."""
        found = self.dns.targets_now(dest)
        if found is not None:
            done(found)
            return
        task = asyncio.get_running_loop().create_task(self.dns.targets(dest, ttl))
        self._dns_tasks.add(task)

        def finished(task: asyncio.Task[list[SipTarget]]) -> None:
            self._dns_tasks.discard(task)
            try:
                result = task.result()
            except Exception:
                log.exception("dns: resolving %s failed", dest.host)
                result = []
            self.call_at(self.clock.monotonic(), lambda: done(result))
            self.wake()

        task.add_done_callback(finished)

    def resolve_sip_wait(self, dest: SipDest, ttl: int = 0) -> list[SipTarget]:
        return self.dns.wait_targets(dest, ttl)

    def add_dns_srv_record(self, name: str, target: str, port: int, priority: int = 0,
                           weight: int = 0) -> None:
        self.dns_srv_records.setdefault(name.lower().rstrip("."), []).append(
            SrvRecord(priority, weight, port, target.lower().rstrip(".")))

    def resolve_static(self, host: str) -> str:
        """`host` as the static DNS records (corex's dns_cache) give it, else unchanged."""
        found = self.dns_records.get(host.lower().rstrip(".")) if self.dns_records else None
        return found[0] if found else host

    def socket_for(self, proto: str) -> Socket | None:
        return next((s for s in self.sockets if s.proto == proto), None)

    # ------------------------------------------------------------ replies

    def send_reply(self, ctx: MessageContext, response: Response | bytes) -> None:
        """Send a response to the request of `ctx`, per RFC 3261 18.2.2 and RFC 3581."""
        data = bytes(response) if isinstance(response, Response) else response
        src = ctx.src
        if src.proto != "udp":
            ctx.send(Outgoing(src.proto, src.ip, src.port, data, src.local, src.conn_id,
                              ctx.reply_send_flags))
            return
        host, port = reply_destination(ctx.msg, src.ip, src.port)
        ctx.send(Outgoing("udp", host, port, data, src.local))


def header_text(core_params: dict[str, Any], param: str, name: str) -> str:
    """The value of the header line the core parameter `param` sets (Kamailio's server_header /
    user_agent_header hold the whole line, `Server: text`); kampy's own text when it is not set."""
    line = core_params.get(param)
    if line is None:
        return SERVER_HEADER
    line = str(line).strip()
    head, colon, rest = line.partition(":")
    if colon and head.strip().lower() == name.lower():
        return rest.strip()
    log.warning("core parameter '%s' should be a whole '%s: ...' header line; using '%s' as its text",
                param, name, line)
    return line
