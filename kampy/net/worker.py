"""One worker: an asyncio loop serving the inherited listening sockets with its own `Server`.

What the server returns is sent here: `Outgoing` over UDP or TCP, `Handoff` to the worker that owns
the message's transaction (over that worker's channel, see channel.py), and replies on a TCP
connection that another worker owns to that worker.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import math
import os
import selectors
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kampy.net.binding import Listener
from kampy.net.channel import (
    CALL,
    MESSAGE,
    Channels,
    Packet,
    conn_id_base,
    conn_owner,
    encode_call,
    encode_handoff,
    encode_send,
)
from kampy.runtime.http import HttpRequest
from kampy.net.local import LocalServices
from kampy.net.malloc import Heap
from kampy.net.counters import NetCounters
from kampy.net.dns import DnsQueries
from kampy.runtime.params import NetParams
from kampy.runtime.values import as_number
from kampy.net.tcp import TCPManager
from kampy.runtime.tcp_registry import TcpRegistry
from kampy.net.udp import UDPListener
from kampy.runtime.context import Handoff, Outgoing, Socket, Source
from kampy.runtime.sipdns import SipDest, SipTarget
from kampy.runtime.memstatus import log_memory_status
from kampy.runtime.shared import SharedStore

if TYPE_CHECKING:
    from kampy.runtime.server import Server

log = logging.getLogger("kampy.net")


Deliver = Callable[[list[Outgoing | Handoff]], None]


class Timers:
    """Calls `server.run_timers()` when `server.next_timer()` (a time on the server's clock) is due."""

    def __init__(self, server: Server, deliver: Deliver) -> None:
        self._server = server
        self._clock = server.core.clock
        self._deliver = deliver
        self._at = math.inf
        self._handle: asyncio.TimerHandle | None = None

    def poke(self) -> None:
        """Look at the next timer (after a message was handled); schedule it if it is earlier."""
        due = self._server.next_timer()
        if due is not None and due < self._at:
            if self._handle is not None:
                self._handle.cancel()
            self._at = due
            delay = max(0.0, due - self._clock.monotonic())
            self._handle = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._at = math.inf
        try:
            outs = self._server.run_timers()
        except Exception:
            log.exception("error running timers")
            outs = []
        if outs:
            self._deliver(outs)
        self.poke()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


class Worker:
    """The sockets of one process and how what the server returns is sent."""

    def __init__(self, server: Server, listeners: list[Listener], params: NetParams, rank: int,
                 channels: Channels | None = None) -> None:
        self.server = server
        self.params = params
        self.rank = rank
        self.channels = channels
        # every worker can send over UDP, also one that does not read the UDP sockets (rank > children)
        self._udp_raw = {x.socket: x.sock for x in listeners if x.socket.proto == "udp"}
        self.udp_listeners = [x for x in listeners if x.socket.proto == "udp"] \
            if rank <= params.udp_workers else []
        self.tcp_listeners = [x for x in listeners if x.socket.proto in ("tcp", "tls")] \
            if rank <= params.tcp_workers else []
        self.udp: dict[Socket, UDPListener] = {}
        self._udp_default: dict[bool, UDPListener] = {}   # by "is IPv6"
        self.timers = Timers(server, self.deliver)
        server.core.wake = self._wake  # a DNS lookup finished: its due call runs now
        if server.core.dns.queries is None:
            server.core.dns.queries = DnsQueries()
        tcp_sockets = [x.socket for x in listeners if x.socket.proto in ("tcp", "tls")]
        self.tls = server.core.tls if params.tls_on else None  # the tls module's engine (serve_tls)
        self.counters = NetCounters(server.core.stats, server.core.shared)
        self._slow_dns_ms = int(as_number(server.core.core_params.get("dns_slow_query_ms"), 0))
        self.tcp = TCPManager(params, server.handle, self.deliver, self.timers.poke, tcp_sockets,
                              first_id=conn_id_base(rank), handle_http=_http_handler(server),
                              registry=None if params.disable_tcp else TcpRegistry(server.core.shared),
                              counters=self.counters, tls=self.tls, failed=self._send_failed)
        server.core.tls_sessions = self.tcp.session
        # jsonrpcs' FIFO/datagram socket, ctl's: what a command sends goes out when it is answered
        self.local = LocalServices(server.core.services, rank, after=self._after_control)
        self._servers: list[asyncio.AbstractServer] = []
        self.started = False

    def _after_control(self) -> None:
        outs = self.server.core.take_outbox()
        if outs:
            self.deliver(outs)
        self.timers.poke()

    # -- sending --
    def deliver(self, outs: list[Outgoing | Handoff], handed_off: bool = False) -> None:
        """Send what the server returned. `handed_off`: `outs` answer a message another worker
        handed to this one, which must not be handed on again."""
        for out in outs:
            if isinstance(out, Handoff):
                self._hand_off(out, handed_off)
                continue
            if out.conn_id is None and not _is_address(out.host):
                self._send_named(out)
                continue
            self._send(out)

    def _send(self, out: Outgoing) -> None:
        """Send to the address; on an error to the next of `out.fallbacks` (DNS failover), and
        when none is left tell `out.on_error`."""
        while True:
            try:
                if out.proto == "udp":
                    self._send_udp(out)
                elif out.proto in ("tcp", "tls"):
                    self._send_tcp(out)
                else:
                    log.warning("cannot send over %s to %s:%d", out.proto, out.host, out.port)
                return
            except OSError as exc:
                log.warning("sending to %s:%s:%d failed: %s", out.proto, out.host, out.port, exc)
            if not out.fallbacks:
                break
            out = self._next_fallback(out)
        self._tell_error(out)

    @staticmethod
    def _next_fallback(out: Outgoing) -> Outgoing:
        (host, port), rest = out.fallbacks[0], out.fallbacks[1:]
        log.info("dns failover: sending to %s:%s:%d instead", out.proto, host, port)
        return replace(out, host=host, port=port, fallbacks=rest)

    def _send_failed(self, out: Outgoing) -> None:
        """A TCP/TLS connect failed after `out` was written to it: its next fallback, or its
        `on_error` (as a due call)."""
        if out.fallbacks:
            self._send(self._next_fallback(out))
            return
        self._tell_error(out)

    def _tell_error(self, out: Outgoing) -> None:
        if out.on_error is not None:
            self.server.core.call_at(self.server.core.clock.monotonic(), out.on_error)
            self._wake()

    def _send_named(self, out: Outgoing) -> None:
        """A host name (a module sending to one): its first address, looked up without blocking
        (A/AAAA: the port is the one given)."""
        core = self.server.core
        dest = SipDest(out.host, out.port, out.proto)
        known = core.sip_targets(dest)
        if known is not None:
            self._send_first(out, known, self._send)
            return
        started = time.monotonic()

        def resolved(targets: list[SipTarget]) -> None:
            if self._slow_dns_ms > 0 and (time.monotonic() - started) * 1000 > self._slow_dns_ms:
                self.counters.inc("dns:slow_dns_request")
            self._send_first(out, targets, core.send)

        core.resolve_sip(dest, resolved)

    def _send_first(self, out: Outgoing, targets: list[SipTarget], send: Callable[[Outgoing], None]) -> None:
        v6 = None if out.local is None else ":" in out.local.host
        found = next((t for t in targets if v6 is None or (":" in t.ip) == v6), None)
        if found is None:
            self.counters.inc("dns:failed_dns_request")
            log.warning("sending to %s:%s:%d failed: the name does not resolve", out.proto, out.host,
                        out.port)
            self._tell_error(out)
            return
        send(replace(out, host=found.ip))

    def _wake(self) -> None:
        self.timers.poke()

    def _send_udp(self, out: Outgoing) -> None:
        listener = self.udp.get(out.local) if out.local is not None else None
        if listener is None:
            listener = self._udp_default.get(":" in out.host)
        if listener is not None:
            listener.send(out.data, out.host, out.port)
            return
        raw = self._udp_raw.get(out.local) if out.local is not None else None  # type: ignore[arg-type]
        if raw is None:
            raw = next((sock for s, sock in self._udp_raw.items() if (":" in s.host) == (":" in out.host)),
                       None)
        if raw is None:
            log.warning("no UDP socket to send to %s:%d", out.host, out.port)
            return
        try:
            raw.sendto(out.data, (out.host, out.port))
        except BlockingIOError:
            log.warning("udp send buffer full; dropped a message to %s:%d", out.host, out.port)

    def _send_tcp(self, out: Outgoing) -> None:
        """On the connection `out.conn_id` names: another worker's connection is written by it.
        Without one, on an open connection to the destination, this worker's or another's (as
        Kamailio's workers share their connections), else on a new one."""
        if out.conn_id is None and self.channels is not None and not self.tcp.connected(out):
            conn_id = self.tcp.registry.find(out.proto, out.host, out.port) if self.tcp.registry else None
            if conn_id is not None:
                out = replace(out, conn_id=conn_id)
        if out.conn_id is not None and self.channels is not None:
            owner = conn_owner(out.conn_id)
            if owner != self.rank and self.channels.send(owner, encode_send(out)):
                return
        self.tcp.send(out)

    def _hand_off(self, handoff: Handoff, handed_off: bool) -> None:
        if handoff.call is not None:
            self._call(handoff)
            return
        if handed_off:
            log.error("worker %d: a handed-off message asked to be handed off again (to %d); dropped",
                      self.rank, handoff.rank)
            return
        if handoff.rank != self.rank and self.channels is not None:
            if self.channels.send(handoff.rank, encode_handoff(handoff)):
                log.debug("worker %d: handed a message from %s:%d to worker %d", self.rank, handoff.src.ip,
                          handoff.src.port, handoff.rank)
                return
            log.error("worker %d: no worker %d to hand a message to; handling it here", self.rank,
                      handoff.rank)
        self.handle_handed_off(handoff.data, handoff.src)  # our own: handled directly

    def _call(self, handoff: Handoff) -> None:
        """A module's work for worker `handoff.rank` (CoreAPI.call_worker)."""
        if handoff.rank != self.rank and self.channels is not None:
            if self.channels.send(handoff.rank, encode_call(handoff)):
                return
            log.error("worker %d: no worker %d to call %s in; running it here", self.rank, handoff.rank,
                      handoff.call)
        self.run_call(handoff.call or "", handoff.data)

    def run_call(self, name: str, data: bytes) -> None:
        try:
            outs = self.server.handle_call(name, data)
        except Exception:
            log.exception("worker %d: error running %s for another worker", self.rank, name)
            return
        if outs:
            self.deliver(outs)
        self.timers.poke()

    def handle_handed_off(self, data: bytes, src: Source) -> None:
        try:
            outs = self.server.handle(data, src, handed_off=True)
        except Exception:
            log.exception("worker %d: error handling a handed-off message", self.rank)
            return
        if outs:
            self.deliver(outs, handed_off=True)

    def _on_packet(self, packet: Packet) -> None:
        """A packet from another worker on this worker's channel."""
        if packet.kind == MESSAGE:
            self.handle_handed_off(packet.data, packet.source())
            self.timers.poke()
        elif packet.kind == CALL:
            self.run_call(packet.proto, packet.data)
        else:
            self.tcp.send(packet.outgoing())

    # -- running --
    async def start(self) -> None:
        self.started = True
        loop = asyncio.get_running_loop()
        for x in self.udp_listeners:
            proto = UDPListener(x.socket, self.server.handle, self.deliver, self.timers.poke)
            proto.start(loop, x.sock)
            self.udp[x.socket] = proto
            self._udp_default.setdefault(":" in x.socket.host, proto)
        for x in self.tcp_listeners:
            tls = self._tls_server_options(x.socket)
            if tls is None:
                continue
            srv = await loop.create_server(self.tcp.accepted(x.socket), sock=x.sock,
                                           backlog=self.params.tcp_listen_backlog, **tls)
            self._servers.append(srv)
        self.tcp.start_sweeping()  # also outgoing connections of UDP-only workers
        if self.channels is not None:
            self.channels.start(self._on_packet)
        self.local.start(loop)
        self.timers.poke()

    def _tls_server_options(self, local: Socket) -> dict[str, object] | None:
        """asyncio's TLS options for a listener (empty for TCP); None: not served."""
        if local.proto != "tls":
            return {}
        context = self.tls.server_context(local) if self.tls is not None else None
        if context is None:
            log.error("%s: no TLS server context (tls module not loaded?); not serving it", local)
            return None
        return {"ssl": context, "ssl_handshake_timeout": self.tls.handshake_timeout()}

    def stop(self) -> None:
        self.local.stop(asyncio.get_running_loop())
        if self.channels is not None:
            self.channels.close()
        for srv in self._servers:
            srv.close()
        self.tcp.close_all()
        self.timers.cancel()
        for proto in self.udp.values():
            proto.close()


def _is_address(host: str) -> bool:
    """An IP address, not a name to resolve (a cheap test: a name's last label is not numeric)."""
    return ":" in host or host.rpartition(".")[2].isdigit()


def _http_handler(server: Server) -> Callable[[HttpRequest, Source], bytes] | None:
    """HTTP on the TCP listeners when the config handles it (xhttp with its event route)."""
    from kampy.runtime.xhttp import handle_http, http_enabled

    if not http_enabled(server):
        return None
    return lambda request, src: handle_http(server, request, src)


@dataclass(frozen=True)
class WorkerSignals:
    """What a worker does on signals: `stop_on` stops it gracefully, `parent_gone_fd` is a pipe
    that closes when the first process is gone (it stops then too), `memory_status` runs on SIGUSR1
    and SIGHUP is ignored (`fork=no`, where the one process is also Kamailio's main process)."""

    stop_on: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)
    parent_gone_fd: int | None = None
    memory_status: Callable[[], None] | None = None

    @classmethod
    def alone(cls, params: NetParams, store: SharedStore) -> WorkerSignals:
        return cls(memory_status=lambda: log_memory_status(params, store))


async def _serve(worker: Worker, ready: Callable[[], None] | None, signals: WorkerSignals) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in signals.stop_on:
        loop.add_signal_handler(sig, stop.set)
    if signals.memory_status is not None:
        loop.add_signal_handler(signal.SIGUSR1, signals.memory_status)
        loop.add_signal_handler(signal.SIGHUP, lambda: log.debug("SIGHUP received, ignoring it"))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, signals.stop_on)  # blocked while the worker started
    if signals.parent_gone_fd is not None:
        loop.add_reader(signals.parent_gone_fd, _parent_gone, signals.parent_gone_fd, stop, worker.rank)
    await worker.start()
    collect_periodically(loop, heap=Heap.tuned())
    if ready is not None:
        ready()
    await stop.wait()
    log.debug("worker %d stopping", worker.rank)
    worker.stop()
    await asyncio.sleep(0)  # let transports flush and close


def _parent_gone(fd: int, stop: asyncio.Event, rank: int) -> None:
    try:
        if os.read(fd, 1):
            return
    except BlockingIOError:
        return
    asyncio.get_running_loop().remove_reader(fd)
    log.warning("worker %d: the main process is gone; stopping", rank)
    stop.set()


# Python's default (700, 10, 10) collects every few hundred allocations; with thousands of live
# transactions (each kept for timer J/K) that took over a quarter of a worker's time (the msilo
# sample in-process: 1.6 ms per stored message, 1.15 ms with these thresholds). Objects made at start
# (config, routes, modules) are frozen out of the collections altogether.
GC_THRESHOLDS = (20000, 20, 100)
# What a message leaves behind in reference cycles (a transaction's cell and its timers, a context
# and its message) dies only in a collection, and with those thresholds the older generations are
# collected after hundreds of thousands of allocations: a worker at 50 MESSAGE/s grew 0.3-0.5 MB/s
# (bench/db_outage.py, 2026-12-07), and the free memory a late collection leaves stays with the
# allocator. A full collection every GC_PERIOD seconds of a busy worker keeps it flat: with the
# frozen start-up objects left out it walks only the live transactions and the garbage (a few ms).
GC_PERIOD = 1.0
GC_BUSY = 1000  # new container objects since the last collection that make a worker busy


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def collect_periodically(loop: asyncio.AbstractEventLoop, period: float = GC_PERIOD,
                         heap: Heap | None = None) -> None:
    """A full collection now when objects were made since the last one, and again in `period` s;
    then the C heap's free pages go back to the system now and then (`Heap.trim_now_and_then`)."""
    young, collections, _ = gc.get_count()
    if young >= GC_BUSY or collections:
        gc.collect()
        if heap is not None:
            heap.trim_now_and_then()
    loop.call_later(period, collect_periodically, loop, period, heap)


def _loop_factory(poll_method: str | None) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop for `-W`/`tcp_poll_method` (poll, epoll_lt, select); None: asyncio's default
    (epoll, level triggered), also for a method kampy cannot use, as Kamailio falls back to epoll_lt."""
    if not poll_method:
        return None
    selector = _SELECTORS.get(poll_method)
    if selector is None:
        log.error("%s not supported by kampy, using epoll_lt instead", poll_method)
        return None
    return lambda: asyncio.SelectorEventLoop(selector())


_SELECTORS: dict[str, Callable[[], selectors.BaseSelector]] = {
    "poll": selectors.PollSelector, "epoll_lt": selectors.EpollSelector, "select": selectors.SelectSelector,
}


def run_worker(server_factory: Callable[[int], Server], listeners: list[Listener], params: NetParams,
               rank: int, ready: Callable[[], None] | None = None, signals: WorkerSignals | None = None,
               channels: Channels | None = None, drop_privileges: Callable[[], None] | None = None,
               opened: Callable[[], None] | None = None) -> int:
    """Build the server (in this process) for `rank` and open its control sockets, give up root
    (`drop_privileges`, the command line's -u/-g), call child_init(rank), serve until one of
    `signals.stop_on` (or the first process is gone); `channels` (after `attach(rank)`) connect it
    to the other workers. `opened` runs once the control sockets are open and child_init ran, before
    any SIP is read."""
    server = server_factory(rank)
    worker = Worker(server, listeners, params, rank, channels)
    try:
        worker.local.open()
        if drop_privileges is not None:
            drop_privileges()
        server.child_init(rank)
        if opened is not None:
            opened()
        tune_gc()
        with asyncio.Runner(loop_factory=_loop_factory(params.poll_method)) as runner:
            runner.run(_serve(worker, ready, signals or WorkerSignals()))
    finally:
        if not worker.started:
            worker.local.stop(None)  # opened, never served
        server.shutdown()
    return 0
