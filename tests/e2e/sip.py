"""Tiny SIP user agents over plain sockets, for end-to-end tests."""
from __future__ import annotations

import itertools
import socket
import time

_counter = itertools.count(1)


def options(host: str, port: int, *, transport: str = "UDP", local: tuple[str, int] = ("127.0.0.1", 5999),
            max_forwards: int = 70, call_id: str | None = None, method: str = "OPTIONS") -> bytes:
    n = next(_counter)
    call_id = call_id or f"e2e-{n}-{time.monotonic_ns()}"
    lhost = f"[{local[0]}]" if ":" in local[0] else local[0]
    rhost = f"[{host}]" if ":" in host else host
    return (f"{method} sip:ping@{rhost}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} {lhost}:{local[1]};branch=z9hG4bK-e2e-{n};rport\r\n"
            f"From: <sip:tester@{lhost}>;tag=t{n}\r\n"
            f"To: <sip:ping@{rhost}>\r\n"
            f"Call-ID: {call_id}\r\n"
            f"CSeq: {n} {method}\r\n"
            f"Max-Forwards: {max_forwards}\r\n"
            "Content-Length: 0\r\n\r\n").encode()


def register_udp(port: int, user: str, *, expires: int = 3600, host: str = "127.0.0.1") -> tuple[bytes, int]:
    """REGISTER `user`@host from a fresh UDP socket; (the reply, the port of the registered Contact)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        s.settimeout(5)
        lport = s.getsockname()[1]
        s.sendto((f"REGISTER sip:{host}:{port} SIP/2.0\r\n"
                  f"Via: SIP/2.0/UDP {host}:{lport};branch=z9hG4bK-{user}-{time.time_ns()}\r\n"
                  f"From: <sip:{user}@{host}>;tag=r1\r\nTo: <sip:{user}@{host}>\r\n"
                  f"Call-ID: reg-{user}-{time.time_ns()}@test\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n"
                  f"Contact: <sip:{user}@{host}:{lport}>;expires={expires}\r\nUser-Agent: kampy-tests\r\n"
                  "Content-Length: 0\r\n\r\n").encode(), (host, port))
        return s.recv(4096), lport


def header(msg: str, name: str) -> str:
    """The value of the first `name` header line of `msg` ("" when there is none)."""
    for line in msg.split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.partition(":")[2].strip()
    return ""


def reply_to(request: str, code: int, reason: str, tag: str = "b1", extra: str = "") -> str:
    """A callee's reply to `request`: its Vias, From, To (given `tag` unless it has one), Call-ID,
    CSeq, then the `extra` header lines."""
    heads = [line for line in request.split("\r\n\r\n")[0].split("\r\n")[1:]
             if line.lower().split(":")[0] in ("via", "from", "to", "call-id", "cseq")]
    heads = [f"{h};tag={tag}" if h.lower().startswith("to:") and ";tag=" not in h else h for h in heads]
    return f"SIP/2.0 {code} {reason}\r\n" + "\r\n".join(heads) + f"\r\n{extra}Content-Length: 0\r\n\r\n"


def status_of(reply: bytes) -> int:
    parts = reply.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[0] == b"SIP/2.0" else 0


def call_id_of(reply: bytes) -> str | None:
    for line in reply.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"call-id", b"i"):
            return value.strip().decode()
    return None


class UDPClient:
    def __init__(self, host: str = "127.0.0.1", timeout: float = 5) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(timeout)
        self.local = self.sock.getsockname()[:2]

    def request(self, dest: tuple[str, int], **kw: object) -> bytes:
        """Send an OPTIONS (or `method=`) and return the reply with the same Call-ID."""
        call_id = f"udp-{next(_counter)}-{time.monotonic_ns()}"
        self.sock.sendto(options(*dest, local=self.local, call_id=call_id, **kw), dest)  # type: ignore[arg-type]
        while True:
            data, _ = self.sock.recvfrom(70000)
            if call_id_of(data) == call_id:
                return data

    def close(self) -> None:
        self.sock.close()


class UDPPeer:
    """A user agent of a test on a UDP port of 127.0.0.1, sending SIP text."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.port = port

    def send(self, text: str, addr: tuple[str, int]) -> None:
        self.sock.sendto(text.encode(), addr)

    def close(self) -> None:
        self.sock.close()


class TCPClient:
    """A TCP connection that reads replies framed by Content-Length."""

    def __init__(self, dest: tuple[str, int], timeout: float = 5) -> None:
        self.sock = socket.create_connection(dest, timeout=timeout)
        self.local = self.sock.getsockname()[:2]
        self.dest = dest
        self.buf = b""

    def message(self, **kw: object) -> bytes:
        return options(*self.dest, transport="TCP", local=self.local, **kw)  # type: ignore[arg-type]

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_reply(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head = self.buf[:end + 4]
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() in (b"content-length", b"l"):
                        length = int(value.strip())
                if len(self.buf) >= end + 4 + length:
                    reply, self.buf = self.buf[:end + 4 + length], self.buf[end + 4 + length:]
                    return reply
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by kampy")
            self.buf += chunk

    def closed_by_peer(self, within: float) -> bool:
        """True if kampy closes the connection within `within` seconds (reads until EOF)."""
        self.sock.settimeout(within)
        try:
            while self.sock.recv(65536):
                pass
            return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()
