"""Control sockets modules ask for (`core.add_service`, `kampy.rpc.LocalService`): jsonrpcs' FIFO and
unix datagram socket, ctl's binrpc sockets (unix stream and datagram, TCP, UDP) and FIFOs, served
in the event loop of the worker whose rank they name.

* datagram (unix or UDP): one request per datagram, the answer goes back to the sender's address;
* stream (unix or TCP): requests one after another on a connection, framed by the service's
  `frame`, each answered on it; an idle connection is closed after STREAM_IDLE_TIMEOUT s, and at
  most MAX_STREAM_CONNECTIONS are open at once (Kamailio's ctl keeps 128);
* FIFO: requests written one after another (framed by the service's `frame`, or as JSON documents
  by counting braces outside strings, as Kamailio's jsonrpcs does); each answer is written to the
  FIFO the request names, opened without blocking (retried while the client has not opened it
  yet, up to 2 s).
A request larger than the service's `max_request`, or one left unfinished for PARTIAL_TIMEOUT
seconds, is dropped; nothing a client does (or does not do) on these sockets holds the SIP side.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
import os
import socket
import stat
from collections.abc import Callable
from typing import Any

from kampy.rpc import LocalService, Peer, RpcDelayed

log = logging.getLogger("kampy.net.local")

PARTIAL_TIMEOUT = 5.0
REPLY_OPEN_TIMEOUT = 2.0
REPLY_WRITE_TIMEOUT = 5.0
STREAM_IDLE_TIMEOUT = 120.0
MAX_STREAM_CONNECTIONS = 128
UNIX_PEER = "<anonymous unix socket>"


def _prepare_path(path: str) -> None:
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _own(path: str, service: LocalService) -> None:
    os.chmod(path, service.mode)
    uid, gid = service.owner
    if uid != -1 or gid != -1:
        os.chown(path, uid, gid)


def _bound_socket(service: LocalService, kind: int) -> socket.socket:
    """A socket of `kind` (SOCK_DGRAM, SOCK_STREAM) bound where the service says: a host and port
    (UDP, TCP; host "*" or "" for any address) or a unix path, with the service's mode and owner."""
    if service.kind in ("udp", "tcp"):
        host = service.path if service.path not in ("", "*") else "0.0.0.0"
        info = socket.getaddrinfo(host, service.port, type=kind, flags=socket.AI_PASSIVE)[0]
        family, address = info[0], info[4]
        sock = socket.socket(family, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        return sock
    _prepare_path(service.path)
    sock = socket.socket(socket.AF_UNIX, kind)
    sock.bind(service.path)
    _own(service.path, service)
    return sock


def _where(service: LocalService) -> str:
    if service.kind in ("udp", "tcp"):
        return f"{service.kind}:{service.path or '*'}:{service.port}"
    return f"{service.kind}:{service.path}"


class DgramService:
    """A unix datagram or UDP socket."""

    def __init__(self, service: LocalService) -> None:
        self.service = service
        self.sock: socket.socket | None = None

    def open(self) -> None:
        sock = _bound_socket(self.service, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
        sock.setblocking(False)
        self.sock = sock

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self.sock is not None
        loop.add_reader(self.sock.fileno(), self._readable)
        log.info("control socket %s", _where(self.service))

    def _readable(self) -> None:
        assert self.sock is not None
        try:
            data, addr = self.sock.recvfrom(self.service.max_request + 1)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.warning("control socket %s: %s", _where(self.service), exc)
            return
        _when_answered(_safe_handle(self.service.handle, data), lambda reply: self._send(reply, addr))

    def _send(self, reply: bytes | None, addr: Any) -> None:
        if reply is None or not addr or self.sock is None:
            return
        try:
            self.sock.sendto(reply, addr)
        except OSError as exc:
            log.warning("control socket %s: cannot answer %s: %s", _where(self.service), addr, exc)

    def stop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        if self.sock is not None:
            if loop is not None:
                loop.remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None
            if self.service.kind == "dgram":
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.service.path)


class StreamConnection(asyncio.Protocol):
    """One client on a stream service: requests framed by the service's `frame`, answered in order."""

    def __init__(self, owner: StreamService) -> None:
        self.owner = owner
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self._idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if not self.owner.accept(self):
            transport.close()
            return
        self._touch()

    def _touch(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._idle = asyncio.get_running_loop().call_later(STREAM_IDLE_TIMEOUT, self._expire)

    def _expire(self) -> None:
        log.info("control connection on %s idle for %gs: closed", _where(self.owner.service),
                 STREAM_IDLE_TIMEOUT)
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self._touch()
        self.buf += data
        service = self.owner.service
        frame = service.frame or (lambda _: len(self.buf))
        while self.buf and self.transport is not None and not self.transport.is_closing():
            size = frame(bytes(self.buf))
            if size == 0:
                if len(self.buf) > service.max_request:
                    log.warning("control socket %s: request larger than %d bytes; connection closed",
                                _where(service), service.max_request)
                    self.transport.close()
                return
            if size < 0:
                self._answer(bytes(self.buf))
                self.transport.close()
                return
            request = bytes(self.buf[:size])
            del self.buf[:size]
            self._answer(request)

    def _answer(self, request: bytes) -> None:
        _when_answered(_safe_handle(self.owner.service.handle, request), self._write)

    def _write(self, reply: bytes | None) -> None:
        if reply and self.transport is not None and not self.transport.is_closing():
            self.transport.write(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self.owner.forget(self)


class StreamService:
    """A unix stream or TCP listening socket."""

    def __init__(self, service: LocalService) -> None:
        self.service = service
        self.server: asyncio.AbstractServer | None = None
        self.connections: set[StreamConnection] = set()
        self.sock: socket.socket | None = None
        self.task: asyncio.Task[None] | None = None

    def open(self) -> None:
        sock = _bound_socket(self.service, socket.SOCK_STREAM)
        sock.listen(MAX_STREAM_CONNECTIONS)
        sock.setblocking(False)
        self.sock = sock

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self.sock is not None
        self.task = loop.create_task(self._serve(loop, self.sock))
        log.info("control socket %s", _where(self.service))

    async def _serve(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        if sock.family == socket.AF_UNIX:
            self.server = await loop.create_unix_server(lambda: StreamConnection(self), sock=sock)
        else:
            self.server = await loop.create_server(lambda: StreamConnection(self), sock=sock)

    def accept(self, conn: StreamConnection) -> bool:
        if len(self.connections) >= MAX_STREAM_CONNECTIONS:
            log.warning("control socket %s: %d connections open already; one more refused",
                        _where(self.service), MAX_STREAM_CONNECTIONS)
            return False
        self.connections.add(conn)
        if self.service.peers is not None:
            self.service.peers[id(conn)] = self._peer(conn)
        return True

    def _peer(self, conn: StreamConnection) -> Peer:
        assert conn.transport is not None
        name = conn.transport.get_extra_info("peername")
        if isinstance(name, tuple) and len(name) >= 2:
            return Peer(str(name[0]), int(name[1]))
        return Peer(UNIX_PEER)

    def forget(self, conn: StreamConnection) -> None:
        self.connections.discard(conn)
        if self.service.peers is not None:
            self.service.peers.pop(id(conn), None)

    def stop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.server is not None:
            self.server.close()
        elif self.sock is not None:
            self.sock.close()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
        if self.service.kind == "stream":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.service.path)


class _Buffered:
    """What a FIFO's framer keeps of requests not yet whole."""

    def __init__(self) -> None:
        self.buf = bytearray()

    @property
    def pending(self) -> int:
        return len(self.buf)

    def reset(self) -> None:
        self.buf.clear()


class JsonFramer(_Buffered):
    """Splits a byte stream into JSON documents by counting braces outside strings."""

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0
        self._in_string = False
        self._escape = False
        self._pos = 0

    def feed(self, data: bytes) -> list[bytes]:
        self.buf += data
        out = []
        i = self._pos
        while i < len(self.buf):
            c = self.buf[i]
            i += 1
            if self._in_string:
                if self._escape:
                    self._escape = False
                elif c == 0x5C:
                    self._escape = True
                elif c == 0x22:
                    self._in_string = False
            elif c == 0x22:
                self._in_string = True
            elif c == 0x7B:
                self._depth += 1
            elif c == 0x7D and self._depth > 0:
                self._depth -= 1
                if self._depth == 0:
                    out.append(bytes(self.buf[:i]).strip())
                    del self.buf[:i]
                    i = 0
        self._pos = i
        if self._depth == 0 and not self._in_string and self.buf.strip() == b"":
            self.reset()
        return out

    def reset(self) -> None:
        super().reset()
        self._depth, self._in_string, self._escape, self._pos = 0, False, False, 0


class Framed(_Buffered):
    """A FIFO's byte stream cut into requests by a service's `frame`."""

    def __init__(self, frame: Callable[[bytes], int]) -> None:
        super().__init__()
        self.frame = frame

    def feed(self, data: bytes) -> list[bytes]:
        self.buf += data
        out = []
        while self.buf:
            size = self.frame(bytes(self.buf))
            if size == 0:
                break
            if size < 0:
                out.append(bytes(self.buf))
                self.buf.clear()
                break
            out.append(bytes(self.buf[:size]))
            del self.buf[:size]
        return out


class FifoService:
    def __init__(self, service: LocalService) -> None:
        self.service = service
        self.read_fd: int | None = None
        self.keep_fd: int | None = None  # our own writer: no EOF when clients close
        self.framer: JsonFramer | Framed = Framed(service.frame) if service.frame else JsonFramer()
        self._partial: asyncio.TimerHandle | None = None

    def open(self) -> None:
        _prepare_path(self.service.path)
        os.mkfifo(self.service.path, self.service.mode)
        _own(self.service.path, self.service)
        self.read_fd = os.open(self.service.path, os.O_RDONLY | os.O_NONBLOCK)
        self.keep_fd = os.open(self.service.path, os.O_WRONLY | os.O_NONBLOCK)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self.read_fd is not None
        self.loop = loop
        loop.add_reader(self.read_fd, self._readable)
        log.info("control FIFO %s", self.service.path)

    def _readable(self) -> None:
        assert self.read_fd is not None
        try:
            data = os.read(self.read_fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        for doc in self.framer.feed(data):
            self._request(doc)
        if self.framer.pending > self.service.max_request:
            log.warning("FIFO %s: request larger than %d bytes dropped", self.service.path,
                        self.service.max_request)
            self.framer.reset()
        self._watch_partial()

    def _watch_partial(self) -> None:
        if self._partial is not None:
            self._partial.cancel()
            self._partial = None
        if self.framer.pending:
            self._partial = self.loop.call_later(PARTIAL_TIMEOUT, self._drop_partial)

    def _drop_partial(self) -> None:
        log.warning("FIFO %s: unfinished request dropped after %gs", self.service.path, PARTIAL_TIMEOUT)
        self.framer.reset()
        self._partial = None

    def _request(self, doc: bytes) -> None:
        reply_path = self.service.reply_path(doc) if self.service.reply_path else None
        _when_answered(_safe_handle(self.service.handle, doc), lambda reply: self._reply(reply, reply_path))

    def _reply(self, reply: bytes | None, reply_path: str | None) -> None:
        if reply is not None and reply_path is not None:
            self.loop.create_task(write_reply_fifo(reply_path, reply))

    def stop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        if self._partial is not None:
            self._partial.cancel()
        for fd in (self.read_fd, self.keep_fd):
            if fd is not None:
                if fd == self.read_fd and loop is not None:
                    loop.remove_reader(fd)
                os.close(fd)
        self.read_fd = self.keep_fd = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.service.path)


async def write_reply_fifo(path: str, data: bytes) -> None:
    """Write `data` to the client's reply FIFO without ever blocking the worker."""
    loop = asyncio.get_running_loop()
    fd = await _open_reply(path, loop.time() + REPLY_OPEN_TIMEOUT)
    if fd is None:
        return
    try:
        if not _safe_fifo(fd, path):
            return
        view = memoryview(data)
        deadline = loop.time() + REPLY_WRITE_TIMEOUT
        while view and loop.time() < deadline:
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                await asyncio.sleep(0.01)
            except BrokenPipeError:
                log.info("reply FIFO %s: the client went away", path)
                return
    finally:
        os.close(fd)


def _safe_fifo(fd: int, path: str) -> bool:
    """Kamailio's fifo_check(): a FIFO, not hard-linked, not a symbolic link to one."""
    st = os.fstat(fd)
    if not stat.S_ISFIFO(st.st_mode):
        log.error("reply file %s is not a FIFO; not answering", path)
        return False
    if st.st_nlink > 1:
        log.error("reply FIFO %s is hard-linked %d times; not answering", path, st.st_nlink)
        return False
    try:
        lst = os.lstat(path)
    except OSError:
        return False
    if stat.S_ISLNK(lst.st_mode) or (lst.st_dev, lst.st_ino) != (st.st_dev, st.st_ino):
        log.error("reply FIFO %s is a symbolic link or was replaced; not answering", path)
        return False
    return True


async def _open_reply(path: str, deadline: float) -> int | None:
    loop = asyncio.get_running_loop()
    while True:
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO or loop.time() >= deadline:
                log.error("cannot open reply FIFO %s: %s", path, exc.strerror)
                return None
        await asyncio.sleep(0.02)


Answer = bytes | RpcDelayed | None  # RpcDelayed: a method that answers later (tm.t_uac_wait_block)


def _when_answered(reply: Answer, send: Callable[[bytes | None], None]) -> None:
    """Send the reply now, or when a method that answers later (RpcDelayed) has answered."""
    if isinstance(reply, RpcDelayed):
        reply.then(lambda value, _fault: send(value))
    else:
        send(reply)


def _safe_handle(handle: Callable[[bytes], Answer], data: bytes) -> Answer:
    try:
        return handle(data)
    except Exception:
        log.exception("error answering a local request")
        return None


_KINDS: dict[str, type[DgramService] | type[StreamService] | type[FifoService]] = {
    "fifo": FifoService, "dgram": DgramService, "udp": DgramService, "stream": StreamService,
    "tcp": StreamService,
}


def _then(handle: Callable[[bytes], Answer], after: Callable[[], None]) -> Callable[[bytes], Answer]:
    def handled(request: bytes) -> Answer:
        try:
            return handle(request)
        finally:
            try:
                after()
            except Exception:
                log.exception("after a control request")
    return handled


class LocalServiceError(Exception):
    """A control socket that cannot be opened."""


class LocalServices:
    """The local services of one worker."""

    def __init__(self, services: list[LocalService], rank: int,
                 after: Callable[[], None] | None = None) -> None:
        """`after()` runs once each request is answered: what the command made the server send
        (presence.refreshWatchers' NOTIFYs) goes out then, not at the next timer."""
        self._opened = False
        self.items: list[DgramService | StreamService | FifoService] = []
        for service in services:
            if service.rank != rank:
                continue
            kind = _KINDS.get(service.kind)
            if kind is None:
                log.error("control socket %s: unknown kind %r", service.path, service.kind)
                continue
            if after is not None:
                service = dataclasses.replace(service, handle=_then(service.handle, after))
            self.items.append(kind(service))

    def open(self) -> None:
        """Create every socket and FIFO (with the rights the process starts with: before a worker
        gives up root, as Kamailio's mod_init creates them); one that cannot be opened stops the
        start-up, as a module's mod_init failing stops Kamailio's."""
        self._opened = True
        for index, item in enumerate(self.items):
            try:
                item.open()
            except OSError as exc:
                log.error("cannot open control socket %s: %s", _where(item.service), exc)
                del self.items[index:]
                self.stop(None)
                raise LocalServiceError(f"cannot open control socket {_where(item.service)}: "
                                        f"{exc.strerror or exc}") from None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Serve them in the event loop (opening them first unless `open` did)."""
        if not self._opened:
            self.open()
        for item in self.items:
            item.start(loop)

    def stop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        for item in self.items:
            try:
                item.stop(loop)
            except OSError as exc:
                log.warning("closing %s: %s", _where(item.service), exc)
