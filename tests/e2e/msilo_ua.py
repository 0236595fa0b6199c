"""A SIP user agent on its own UDP port for the msilo end-to-end tests and bench/msilo.py: it answers
every request it gets (200 unless told otherwise), keeps one copy of each, and sends requests and
waits for their final replies."""
from __future__ import annotations

import contextlib
import itertools
import os
import queue
import socket
import threading
import time
from typing import Protocol

_seq = itertools.count(1)


class Server(Protocol):
    """What a request is sent to: anything with the server's address (a `Kampy`, a bench server)."""

    @property
    def addr(self) -> tuple[str, int]: ...


class UA:
    """A user agent on its own UDP port: answers every request it gets (200 unless told otherwise)
    and keeps them; `request()` sends one and waits for its final reply."""

    def __init__(self, user: str, answer: int | None = 200, delay: float = 0.0) -> None:
        self.user = user
        self.answer = answer
        self.delay = delay  # seconds before each answer (a slow device: deliveries stay in flight)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.last_new_at: float | None = None  # monotonic time the latest new request arrived
        self._call_ids: set[bytes | None] = set()  # of `received`: a retransmission is kept once
        self.answered: list[bytes] = []  # Call-IDs answered with a 2xx
        self.replies: queue.Queue[bytes] = queue.Queue()
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(70000)
            except (TimeoutError, OSError):
                continue
            if data.startswith(b"SIP/2.0 "):
                if not data.startswith(b"SIP/2.0 1"):
                    self.replies.put(data)
                continue
            self._on_request(data, addr)

    def _on_request(self, data: bytes, addr: tuple[str, int]) -> None:
        call_id = header(data, b"call-id")
        with self._lock:
            # a set, not a scan of `received`: with 1,000 messages a scan per datagram made this
            # thread fall seconds behind on a loaded machine, past tm's timers (a 408 keeps the row)
            if call_id not in self._call_ids:
                self._call_ids.add(call_id)
                self.received.append(data)
                self.last_new_at = time.monotonic()
            status = self.answer
        if status is None:
            return
        if 200 <= status < 300:
            self.answered.append(call_id)
        if self.delay:
            threading.Timer(self.delay, self._send, (reply_to(data, status), addr)).start()
        else:
            self.sock.sendto(reply_to(data, status), addr)

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        with contextlib.suppress(OSError):  # closed meanwhile
            self.sock.sendto(data, addr)

    def request(self, kampy: Server, raw: bytes, timeout: float = 10) -> int:
        while not self.replies.empty():
            self.replies.get_nowait()
        self.sock.sendto(raw, kampy.addr)
        deadline = time.monotonic() + timeout
        call_id = header(raw, b"call-id")
        while time.monotonic() < deadline:
            try:
                data = self.replies.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if header(data, b"call-id") == call_id:
                return int(data[8:11])
        return 0

    def message(self, kampy: Server, to: str, body: str) -> int:
        n = next(_seq)
        raw = (f"MESSAGE sip:{to}@example.test SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK-m{n};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:{self.user}@example.test>;tag=f{n}\r\n"
               f"To: <sip:{to}@example.test>\r\nCall-ID: msg-{n}-{os.getpid()}\r\nCSeq: 1 MESSAGE\r\n"
               f"Contact: <sip:{self.user}@127.0.0.1:{self.port}>\r\nContent-Type: text/plain\r\n"
               f"Content-Length: {len(body.encode())}\r\n\r\n{body}").encode()
        return self.request(kampy, raw)

    def register(self, kampy: Server) -> int:
        n = next(_seq)
        raw = (f"REGISTER sip:example.test SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK-r{n};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:{self.user}@example.test>;tag=r{n}\r\n"
               f"To: <sip:{self.user}@example.test>\r\nCall-ID: reg-{n}-{os.getpid()}\r\n"
               f"CSeq: {n} REGISTER\r\n"
               f"Contact: <sip:{self.user}@127.0.0.1:{self.port}>\r\nExpires: 600\r\n"
               "Content-Length: 0\r\n\r\n").encode()
        return self.request(kampy, raw)

    def forget(self) -> None:
        """Clear what was received so far."""
        with self._lock:
            self.received.clear()
            self._call_ids.clear()

    def bodies(self) -> list[bytes]:
        with self._lock:
            return [r.split(b"\r\n\r\n", 1)[1] for r in self.received]

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()


def header(data: bytes, name: bytes) -> bytes | None:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def reply_to(request: bytes, status: int) -> bytes:
    head = request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    wanted = (b"via", b"from", b"call-id", b"cseq")
    keep = [h for h in head[1:] if h.split(b":", 1)[0].strip().lower() in wanted]
    to = next(h for h in head if h.lower().startswith(b"to:"))
    return b"\r\n".join([f"SIP/2.0 {status} Answer".encode(), *keep, to + b";tag=ua", b"Content-Length: 0"]) \
        + b"\r\n\r\n"
