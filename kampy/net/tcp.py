"""TCP: accepted and outgoing connections, each with a sans-IO `StreamParser`.

One `TCPManager` per worker keeps the open connections (by id and by peer address), opens new
connections for requests and replies that need one, and sweeps timeouts once in a while instead of
holding a timer per connection:

* a connection idle for `tcp_connection_lifetime` seconds is closed;
* a connection that started a message and has not completed it within `tcp_msg_read_timeout`
  seconds (20; Kamailio 5.6 has no such parameter, 5.7's name is kept internally) or within
  `tcp_connection_lifetime`, whichever is shorter, is closed: bytes trickling in without ever
  completing a message do not keep a connection alive beyond its lifetime (a half message never
  holds anything: reads are asynchronous, nothing waits).
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

from kampy.net.binding import set_tcp_options, set_tos
from kampy.net.channel import CONN_LOCAL_MASK
from kampy.net.counters import NetCounters
from kampy.runtime.tcp_registry import TcpRegistry
from kampy.runtime.http import HttpError, HttpParser, HttpRequest, looks_like_http
from kampy.runtime.http import build_response as build_http_response
from kampy.runtime.params import NetParams
from kampy.runtime.context import SND_F_CON_CLOSE, SND_F_FORCE_CON_REUSE, Outgoing, Socket, Source
from kampy.sip.errors import SIPProtocolError
from kampy.sip.message import MAX_MESSAGE_SIZE, error_response
from kampy.sip.stream import StreamParser

log = logging.getLogger("kampy.net.tcp")

Handle = Callable[[bytes, Source], list[Outgoing]]

_PONG = b"\r\n"


class TCPConnection(asyncio.Protocol):
    """One TCP connection, accepted on a listener or opened by kampy."""

    def __init__(self, manager: TCPManager, local: Socket) -> None:
        self.manager = manager
        self.local = local
        self.proto = local.proto  # "tcp" or "tls" (TLS: asyncio's SSL transport under this protocol)
        self.session: ssl.SSLObject | None = None
        self.conn_id = manager.new_id()
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)
        self.target: tuple[str, int] = ("", 0)  # the address kampy connected to, if it did
        self.parser = StreamParser(accept_no_cl=manager.params.tcp_accept_no_cl)
        self.last_activity = time.monotonic()
        self.partial_since: float | None = None
        self._head = b""          # bytes of the message being received (for a 400 if it is bad)
        self._pings = 0
        self._queued: list[bytes] = []  # written before an outgoing connection is up
        self.awaiting: list[Outgoing] = []  # sent while connecting, whose failure is to be told
        self.closing = False
        self.http: HttpParser | None = None  # an HTTP connection (xhttp), see _http_data
        self._sniff: bytes | None = None     # first bytes of an accepted connection, until known
        self.queued_bytes = 0  # what the transport had queued after our last write (tcp: statistics)

    # -- asyncio callbacks --
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            set_tos(sock, self.manager.params.tos)
            if self.target != ("", 0):  # opened by kampy (an accepted one has its listener's options)
                set_tcp_options(sock, self.manager.params, listening=False)
        peer = transport.get_extra_info("peername")
        self.peer = (peer[0], peer[1])
        if self.proto == "tls":
            self.session = transport.get_extra_info("ssl_object")
            log.debug("TLS %s successful", "connect" if self.target != ("", 0) else "accept")
        self.awaiting.clear()
        self.manager.opened(self)
        if self.closing:  # refused (too many connections) or dropped by the tls module
            self._queued.clear()
            return
        if self.manager.handle_http is not None and self.target == ("", 0):
            self._sniff = b""
        for data in self._queued:
            transport.write(data)
        self._queued.clear()
        if self.closing:  # asked to close (SND_F_CON_CLOSE) while it was connecting
            transport.close()

    def data_received(self, data: bytes) -> None:
        self.last_activity = time.monotonic()
        if self.manager.registry is not None:
            self.manager.registry.active(self.conn_id, self.last_activity)
        if self._sniff is not None or self.http is not None:
            data = self._http_data(data)
            if not data:
                return
        head = self._head + data if self._head else data
        try:
            messages = self.parser.feed(data)
        except SIPProtocolError as exc:
            self._protocol_error(head, exc)
            return
        self._answer_pings()
        self._track_partial(head)
        for msg in messages:
            if self.closing:
                return
            self.manager.dispatch(msg.raw, Source(self.proto, self.peer[0], self.peer[1], self.local,
                                                  self.conn_id))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if isinstance(exc, ConnectionResetError):
            self.manager.counters.inc("tcp:con_reset")
        self.manager.closed(self)

    # -- HTTP on a SIP port (xhttp) --
    def _http_data(self, data: bytes) -> bytes:
        """Feed HTTP bytes; returns what is SIP instead (the connection turned out not HTTP)."""
        if self.http is None:
            head = (self._sniff or b"") + data
            verdict = looks_like_http(head)
            if verdict is None:
                self._sniff = head
                return b""
            self._sniff = None
            if not verdict:
                return head
            self.http = HttpParser()
            data = head
        try:
            requests = self.http.feed(data)
        except HttpError as exc:
            log.info("http %s:%d: %s; closing", self.peer[0], self.peer[1], exc)
            self.write(build_http_response(exc.status, exc.reason, close=True))
            self.close()
            return b""
        self.partial_since = (self.partial_since or self.last_activity) if self.http.buffered else None
        for request in requests:
            if self.closing:
                break
            self._answer_http(request)
        return b""

    def _answer_http(self, request: HttpRequest) -> None:
        src = Source(self.proto, self.peer[0], self.peer[1], self.local, self.conn_id)
        try:
            response = self.manager.handle_http(request, src)  # type: ignore[misc]
        except Exception:
            log.exception("error handling an http request from %s:%d", *self.peer)
            response = build_http_response(500, "Internal Server Error", close=True)
        self.write(response)
        if not request.keep_alive:
            self.close()

    # -- helpers --
    def _answer_pings(self) -> None:
        pings = self.parser.pings
        if pings != self._pings:
            if self.manager.params.tcp_crlf_ping:  # Kamailio's tcp_crlf_ping (on by default)
                self.write(_PONG * (pings - self._pings))
            self._pings = pings

    def _track_partial(self, head: bytes) -> None:
        buffered = self.parser.buffered
        if buffered:
            self._head = head[-buffered:] if buffered <= len(head) else head
            if self.partial_since is None:
                self.partial_since = self.last_activity
        else:
            self._head = b""
            self.partial_since = None

    def _protocol_error(self, head: bytes, exc: SIPProtocolError) -> None:
        log.info("tcp %s:%d: %s; closing the connection", self.peer[0], self.peer[1], exc.message)
        reply = error_response(head[:MAX_MESSAGE_SIZE], exc)
        if reply is not None:
            self.write(reply)
        self.close()

    def write(self, data: bytes) -> None:
        if self.closing:
            return
        self.last_activity = time.monotonic()
        if self.transport is None:
            self._queued.append(data)
            return
        self.transport.write(data)
        queued = self.transport.get_write_buffer_size()
        self.manager.counters.inc("tcp:current_write_queue_size", queued - self.queued_bytes)
        self.queued_bytes = queued
        if queued > self.manager.params.tcp_conn_wq_max:
            log.info("tcp %s:%d: peer does not read; closing", self.peer[0], self.peer[1])
            self.manager.counters.inc("tcp:sendq_full")
            self.transport.abort()

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            if self.transport is not None:
                self.transport.close()


class TCPManager:
    """The TCP connections of one worker."""

    def __init__(self, params: NetParams, handle: Handle, deliver: Callable[[list[Outgoing]], None],
                 after: Callable[[], None], sockets: list[Socket], first_id: int = 1,
                 handle_http: Callable[[HttpRequest, Source], bytes] | None = None,
                 registry: TcpRegistry | None = None, counters: NetCounters | None = None,
                 tls: Any = None, failed: Callable[[Outgoing], None] | None = None) -> None:
        self.params = params
        # told of each message (with an `on_error` or fallbacks) whose connection was refused
        self.failed = failed
        self.tls = tls  # the TLS engine (kampy.apis.TlsEngine) when TLS is served
        self.registry = registry  # the connections every worker can list (core.tcp_list)
        self.counters = counters or NetCounters()
        self.handle_http = handle_http  # set: HTTP requests on accepted connections go there (xhttp)
        self._handle = handle
        self._deliver = deliver
        self._after = after
        self._sockets = sockets
        self._id_base = first_id & ~CONN_LOCAL_MASK
        self._ids = itertools.count(first_id & CONN_LOCAL_MASK)
        self.by_id: dict[int, TCPConnection] = {}
        self.by_addr: dict[tuple[str, str, int], TCPConnection] = {}  # (proto, host, port)
        self._sweeper: asyncio.TimerHandle | None = None

    def new_id(self) -> int:
        """The next id: the worker's rank bits stay, the counter wraps (skipping 0)."""
        n = next(self._ids)
        return self._id_base | ((n - 1) % CONN_LOCAL_MASK + 1)

    # -- connection bookkeeping --
    def accepted(self, local: Socket) -> Callable[[], TCPConnection]:
        return lambda: TCPConnection(self, local)

    def session(self, conn_id: int) -> ssl.SSLObject | None:
        """The TLS session of one of this worker's connections."""
        conn = self.by_id.get(conn_id)
        return conn.session if conn is not None else None

    def _over_limit(self, conn: TCPConnection) -> str | None:
        tls = conn.proto == "tls"
        limit = self.params.tls_max_connections if tls else self.params.tcp_max_connections
        if sum(1 for c in self.by_id.values() if (c.proto == "tls") == tls) >= limit:
            return f"{'tls' if tls else 'tcp'}_max_connections ({limit})"
        return None

    def opened(self, conn: TCPConnection) -> None:
        limit = self._over_limit(conn)
        if limit is not None:
            self.counters.inc("tcp:local_reject")
            log.warning("%s reached; refusing %s:%d", limit, *conn.peer)
            conn.close()
            return
        self.by_id[conn.conn_id] = conn
        self.by_addr[(conn.proto, *conn.peer)] = conn
        self.counters.inc("tcp:established")
        self.counters.inc("tcp:connect_success" if conn.target != ("", 0) else "tcp:passive_open")
        if self.registry is not None:
            local = conn.transport.get_extra_info("sockname") if conn.transport is not None else None
            self.registry.opened(conn.conn_id, conn.local.proto, conn.peer,
                                 (local[0], local[1]) if local else (conn.local.host, conn.local.port),
                                 self.lifetime(conn))
        if conn.session is not None and self.tls is not None:
            sockname = conn.transport.get_extra_info("sockname") if conn.transport is not None else None
            here = (sockname[0], sockname[1]) if sockname else (conn.local.host, conn.local.port)
            if not self.tls.opened(conn.conn_id, conn.session, conn.target == ("", 0), here, conn.peer):
                log.debug("tls connection %d with %s:%d dropped by the tls module", conn.conn_id, *conn.peer)
                conn.close()
                return
        log.debug("tcp connection %d with %s:%d", conn.conn_id, *conn.peer)

    def lifetime(self, conn: TCPConnection) -> float:
        """How long an idle connection is kept: TLS ones as the tls module says."""
        if conn.proto == "tls" and self.tls is not None:
            return self.tls.connection_lifetime()
        return self.params.tcp_connection_lifetime

    def closed(self, conn: TCPConnection) -> None:
        self.by_id.pop(conn.conn_id, None)
        self.counters.inc("tcp:current_write_queue_size", -conn.queued_bytes)
        conn.queued_bytes = 0
        if self.registry is not None:
            self.registry.closed(conn.conn_id)
        if conn.session is not None and self.tls is not None:
            self.tls.closed(conn.conn_id)
        for key in ((conn.proto, *conn.peer), (conn.proto, *conn.target)):
            if self.by_addr.get(key) is conn:
                del self.by_addr[key]
        log.debug("tcp connection %d with %s:%d closed", conn.conn_id, *conn.peer)

    # -- messages in --
    def dispatch(self, data: bytes, src: Source) -> None:
        try:
            outs = self._handle(data, src)
        except Exception:
            log.exception("error handling a message from tcp:%s:%d", src.ip, src.port)
            return
        if outs:
            self._deliver(outs)
        self._after()

    # -- messages out --
    def connected(self, out: Outgoing) -> bool:
        """Whether this worker has an open connection to `out`'s destination."""
        conn = self.by_addr.get((out.proto, out.host, out.port))
        return conn is not None and not conn.closing

    def send(self, out: Outgoing) -> None:
        conn = self.by_id.get(out.conn_id) if out.conn_id is not None else None
        if conn is None:
            conn = self.by_addr.get((out.proto, out.host, out.port))
        if conn is None or conn.closing:
            if out.send_flags & SND_F_FORCE_CON_REUSE or self.params.tcp_no_connect:
                log.debug("no open tcp connection to %s:%d and no new one allowed: not sent",
                          out.host, out.port)
                return
            conn = self._connect(out)
        if conn.transport is None and (out.on_error is not None or out.fallbacks):
            conn.awaiting.append(out)
        if out.data:
            conn.write(out.data)
        if out.send_flags & SND_F_CON_CLOSE:
            conn.close()  # once what is queued is written

    def _connect(self, out: Outgoing) -> TCPConnection:
        v6 = ":" in out.host
        proto = "tls" if out.proto == "tls" else "tcp"
        local = out.local if out.local is not None and out.local.proto == proto else None
        if local is None or (":" in local.host) != v6:
            local = next((s for s in self._sockets if (":" in s.host) == v6 and s.proto == proto), None)
        conn = TCPConnection(self, local or Socket(proto, "::" if v6 else "0.0.0.0", 0))
        conn.peer = conn.target = (out.host, out.port)
        self.by_addr[(proto, *conn.target)] = conn
        try:  # now: the tls module's choice of profile may depend on what the route just set
            options = self._tls_options(conn, out.host, out.port)
        except (OSError, ValueError) as exc:
            options = exc
        asyncio.get_running_loop().create_task(self._open(conn, out.host, out.port, options))
        return conn

    def _tls_options(self, conn: TCPConnection, host: str, port: int) -> dict[str, Any]:
        if conn.proto != "tls":
            return {}
        if self.tls is None:
            raise OSError("TLS is not enabled (no tls module or enable_tls=no)")
        context, server_name = self.tls.client_context(conn.local if conn.local.port else None, host, port)
        # no server name: no SNI ("" keeps asyncio from sending the host), as Kamailio
        return {"ssl": context, "server_hostname": server_name or "",
                "ssl_handshake_timeout": self.tls.handshake_timeout()}

    async def _open(self, conn: TCPConnection, host: str, port: int,
                    options: dict[str, Any] | Exception) -> None:
        loop = asyncio.get_running_loop()
        source = (conn.local.host.strip("[]"), 0) if conn.local.port else None
        try:
            if isinstance(options, Exception):
                raise options
            await asyncio.wait_for(loop.create_connection(lambda: conn, host, port, local_addr=source,
                                                          **options),
                                   timeout=self.params.tcp_connect_timeout)
        except (TimeoutError, OSError, UnicodeError, ValueError) as exc:
            # UnicodeError: a name the resolver cannot even encode (an empty or too long label)
            why = "not a valid host name (an empty or too long label)" if isinstance(exc, UnicodeError) \
                else exc
            log.warning("%s connect to %s:%d failed: %s", conn.proto, host, port, why)
            self.counters.inc("dns:failed_dns_request" if isinstance(exc, socket.gaierror | UnicodeError)
                              else "tcp:connect_failed")
            conn.closing = True
            if self.by_addr.get((conn.proto, host, port)) is conn:
                del self.by_addr[(conn.proto, host, port)]
            self._tell_failed(conn, exc)

    def _tell_failed(self, conn: TCPConnection, exc: BaseException) -> None:
        """A connect the kernel refused (or whose host is unreachable) fails the send of what was
        written meanwhile, as Kamailio's tcpconn_1st_send; a connect that timed out or a TLS
        handshake that failed does not (Kamailio's async connect has reported success then)."""
        awaiting, conn.awaiting = conn.awaiting, []
        if self.failed is None or isinstance(exc, TimeoutError | ssl.SSLError):
            return
        for out in awaiting:
            self.failed(out)

    # -- timeouts --
    def start_sweeping(self) -> None:
        p = self.params
        interval = max(0.05, min(1.0, p.tcp_connection_lifetime / 4, p.tcp_msg_read_timeout / 4))
        loop = asyncio.get_running_loop()

        def sweep() -> None:
            self.sweep(time.monotonic())
            self._sweeper = loop.call_later(interval, sweep)

        self._sweeper = loop.call_later(interval, sweep)

    def sweep(self, now: float) -> None:
        p = self.params
        read_timeout = min(p.tcp_msg_read_timeout, p.tcp_connection_lifetime)
        for conn in list(self.by_id.values()):
            if conn.partial_since is not None and now - conn.partial_since > read_timeout:
                log.info("tcp %s:%d: message not completed within %gs; closing",
                         conn.peer[0], conn.peer[1], read_timeout)
                conn.close()
            elif now - conn.last_activity > self.lifetime(conn):
                log.debug("%s %s:%d: idle for %gs; closing", conn.proto, conn.peer[0], conn.peer[1],
                          self.lifetime(conn))
                self.counters.inc("tcp:con_timeout")
                conn.close()

    def close_all(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for conn in list(self.by_id.values()):
            conn.close()
