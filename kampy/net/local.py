"""Local sockets modules ask for (`core.services`, `kampy.rpc.LocalService`): jsonrpcs' FIFO and
unix datagram socket, served in the event loop of the worker whose rank they name.

* datagram: one request per datagram, the answer goes back to the sender's address;
* FIFO: requests are JSON documents written one after another (framed by counting braces outside
  strings, as Kamailio's jsonrpcs does); each answer is written to the FIFO the request names,
  opened without blocking (retried while the client has not opened it yet, up to 2 s).
  A request larger than `MAX_REQUEST`, or one left unfinished for `PARTIAL_TIMEOUT` seconds, is
  dropped; nothing a client does (or does not do) on these sockets holds the SIP side.
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import stat
from collections.abc import Callable

from kampy.rpc import MAX_REQUEST, LocalService

log = logging.getLogger("kampy.net.local")

PARTIAL_TIMEOUT = 5.0
REPLY_OPEN_TIMEOUT = 2.0
REPLY_WRITE_TIMEOUT = 5.0


def _prepare_path(path: str) -> None:
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class DgramService:
    def __init__(self, service: LocalService) -> None:
        self.service = service
        self.sock: socket.socket | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        _prepare_path(self.service.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(self.service.path)
        os.chmod(self.service.path, self.service.mode)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
        sock.setblocking(False)
        self.sock = sock
        loop.add_reader(sock.fileno(), self._readable)
        log.info("jsonrpc datagram socket on %s", self.service.path)

    def _readable(self) -> None:
        assert self.sock is not None
        try:
            data, addr = self.sock.recvfrom(MAX_REQUEST + 1)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.warning("datagram socket %s: %s", self.service.path, exc)
            return
        reply = _safe_handle(self.service.handle, data)
        if reply is None or not addr:
            return
        try:
            self.sock.sendto(reply, addr)
        except OSError as exc:
            log.warning("datagram socket %s: cannot answer %s: %s", self.service.path, addr, exc)

    def stop(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.sock is not None:
            loop.remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.service.path)


class JsonFramer:
    """Splits a byte stream into JSON documents by counting braces outside strings."""

    def __init__(self) -> None:
        self.buf = bytearray()
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

    @property
    def pending(self) -> int:
        return len(self.buf)

    def reset(self) -> None:
        self.buf.clear()
        self._depth, self._in_string, self._escape, self._pos = 0, False, False, 0


class FifoService:
    def __init__(self, service: LocalService) -> None:
        self.service = service
        self.read_fd: int | None = None
        self.keep_fd: int | None = None  # our own writer: no EOF when clients close
        self.framer = JsonFramer()
        self._partial: asyncio.TimerHandle | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        _prepare_path(self.service.path)
        os.mkfifo(self.service.path, self.service.mode)
        os.chmod(self.service.path, self.service.mode)
        self.read_fd = os.open(self.service.path, os.O_RDONLY | os.O_NONBLOCK)
        self.keep_fd = os.open(self.service.path, os.O_WRONLY | os.O_NONBLOCK)
        self.loop = loop
        loop.add_reader(self.read_fd, self._readable)
        log.info("jsonrpc FIFO on %s", self.service.path)

    def _readable(self) -> None:
        assert self.read_fd is not None
        try:
            data = os.read(self.read_fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        for doc in self.framer.feed(data):
            self._request(doc)
        if self.framer.pending > MAX_REQUEST:
            log.warning("FIFO %s: request larger than %d bytes dropped", self.service.path, MAX_REQUEST)
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
        reply = _safe_handle(self.service.handle, doc)
        if reply is not None and reply_path is not None:
            self.loop.create_task(write_reply_fifo(reply_path, reply))

    def stop(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._partial is not None:
            self._partial.cancel()
        for fd in (self.read_fd, self.keep_fd):
            if fd is not None:
                if fd == self.read_fd:
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
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            log.error("reply file %s is not a FIFO; not answering", path)
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


def _safe_handle(handle: Callable[[bytes], bytes | None], data: bytes) -> bytes | None:
    try:
        return handle(data)
    except Exception:
        log.exception("error answering a local request")
        return None


class LocalServices:
    """The local services of one worker."""

    def __init__(self, services: list[LocalService], rank: int) -> None:
        self.items: list[DgramService | FifoService] = []
        for service in services:
            if service.rank != rank:
                continue
            self.items.append(FifoService(service) if service.kind == "fifo" else DgramService(service))

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        for item in list(self.items):
            try:
                item.start(loop)
            except OSError as exc:
                log.error("cannot open %s %s: %s", item.service.kind, item.service.path, exc)
                self.items.remove(item)

    def stop(self, loop: asyncio.AbstractEventLoop) -> None:
        for item in self.items:
            try:
                item.stop(loop)
            except OSError as exc:
                log.warning("closing %s: %s", item.service.path, exc)
