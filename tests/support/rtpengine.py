"""The real media relay for the rtpengine tests: Debian's `rtpengine` daemon (package
rtpengine-daemon) in user space (`--table=-1`: no kernel module), its ng control protocol on a free
loopback port (optionally also WebSocket on an HTTP port), media ports in a window of their own; and
`NgTap`, a UDP relay between a SIP server and the daemon that records every ng command it passes on.

Plain classes (no pytest) so that bench/ can use them too. The daemon is started with start_server
and stopped by its PID.
"""
from __future__ import annotations

import random
import re
import select
import socket
import subprocess
import threading
import time
from pathlib import Path

from tests.e2e.kampy_process import free_port, start_server, stop_process

BINARY = "/usr/bin/rtpengine"  # installed by rtpengine-daemon (scripts/test.sh)
READY_TIMEOUT = 15.0


def bdecode(data: bytes) -> object:
    """A bencoded value (strings as bytes); for looking at what went over the wire."""
    value, end = _decode(data, 0)
    if end != len(data):
        raise ValueError("trailing data")
    return value


def _decode(data: bytes, pos: int) -> tuple[object, int]:
    kind = data[pos:pos + 1]
    if kind == b"i":
        end = data.index(b"e", pos)
        return int(data[pos + 1:end]), end + 1
    if kind in (b"l", b"d"):
        items, pos = [], pos + 1
        while data[pos:pos + 1] != b"e":
            item, pos = _decode(data, pos)
            items.append(item)
        if kind == b"l":
            return items, pos + 1
        return dict(zip(items[0::2], items[1::2], strict=True)), pos + 1
    colon = data.index(b":", pos)
    end = colon + 1 + int(data[pos:colon])
    return data[colon + 1:end], end


def ng_command(data: bytes) -> tuple[bytes, dict]:
    """(cookie, command dictionary) of an ng request datagram."""
    cookie, _, rest = data.partition(b" ")
    value = bdecode(rest)
    assert isinstance(value, dict)
    return cookie, value


class Rtpengine:
    """One rtpengine daemon: ng on 127.0.0.1:`ng_port` (or `address`), media on `interface`."""

    def __init__(self, workdir: Path, *, interface: str = "127.0.0.1", address: str = "127.0.0.1",
                 ng_port: int | None = None, http_port: int | None = None,
                 prefix: list[str] | None = None, make_socket: object = None, ports: int = 200,
                 log_level: int = 6) -> None:
        """`prefix` runs the daemon inside a namespace (nsenter ...); `make_socket(family, kind)`
        makes the test's sockets there; `ports`: the size of the media port window (four a call)."""
        self.workdir = workdir
        self.interface = interface
        self.address = address
        self.ng_port = ng_port or free_port(address)
        self.http_port = http_port
        self.prefix = prefix or []
        self.make_socket = make_socket or socket.socket
        self.port_min = random.randrange(20000, 60000 - ports, 200)
        self.port_max = self.port_min + ports - 1
        self.log_level = log_level
        self.cli_port = free_port(address)
        self.log_path = workdir / f"rtpengine-{self.ng_port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"udp:{self.address}:{self.ng_port}"

    def command(self) -> list[str]:
        # --config-file=none: not Debian's /etc/rtpengine/rtpengine.conf (its fixed ports 2223-2225)
        cmd = [*self.prefix, BINARY, "--config-file=none", "--table=-1", "--foreground", "--log-stderr",
               f"--interface={self.interface}", f"--listen-ng={self.address}:{self.ng_port}",
               f"--listen-cli={self.address}:{self.cli_port}",
               f"--port-min={self.port_min}", f"--port-max={self.port_max}", "--no-redis-required",
               f"--log-level={self.log_level}", "--delete-delay=0",
               f"--pidfile={self.workdir / f'rtpengine-{self.ng_port}.pid'}"]
        if self.http_port:
            cmd.append(f"--listen-http={self.address}:{self.http_port}")
        return cmd

    def start(self) -> Rtpengine:
        with open(self.log_path, "ab") as out:
            self.proc = start_server(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"rtpengine exited: {self.output()[-3000:]}")
            if self.ping(0.3):
                return
        raise RuntimeError(f"rtpengine does not answer: {self.output()[-3000:]}")

    def ping(self, timeout: float = 1.0) -> bool:
        with self.make_socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # type: ignore[operator]
            sock.settimeout(timeout)
            try:
                sock.sendto(b"probe d7:command4:pinge", (self.address, self.ng_port))
                return sock.recv(4096) == b"probe d6:result4:ponge"
            except OSError:
                time.sleep(0.1)
                return False

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=10)
            self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def commands(self, pings: bool = False) -> list[tuple[str, str]]:
        """(command, call-id) of every ng command the daemon received, from its log; pings (which
        a server's workers send when they start, at any time) only when asked."""
        found = []
        for line in self.output().splitlines():
            m = re.search(r"(?:\[([^\]]*)\]: )?\[control\] Received command '([^']+)'", line)
            if m and (pings or m.group(2) != "ping"):
                found.append((m.group(2), m.group(1) or ""))
        return found


class NgTap:
    """A UDP relay on 127.0.0.1 in front of an rtpengine: each datagram from a client goes on to
    the daemon and its reply back to that client; every request is recorded."""

    def __init__(self, target: tuple[str, int], address: str = "127.0.0.1") -> None:
        self.target = target
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"udp:{address}:{self.port}"
        self.requests: list[bytes] = []
        self.replies: list[bytes] = []
        self.paused = False  # while set, requests are recorded and dropped (a dead daemon)
        self._upstream: dict[tuple[str, int], socket.socket] = {}
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="ng-tap", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            socks = [self.sock, *self._upstream.values()]
            readable, _, _ = select.select(socks, [], [], 0.1)
            for sock in readable:
                try:
                    data, src = sock.recvfrom(0x40000)
                except OSError:
                    continue
                if sock is self.sock:
                    with self._lock:
                        self.requests.append(data)
                    if not self.paused:
                        self._up(src).send(data)
                else:
                    client = next(c for c, s in self._upstream.items() if s is sock)
                    with self._lock:
                        self.replies.append(data)
                    self.sock.sendto(data, client)

    def _up(self, client: tuple[str, int]) -> socket.socket:
        sock = self._upstream.get(client)
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.connect(self.target)
            self._upstream[client] = sock
        return sock

    def commands(self) -> list[dict]:
        """The command dictionaries received so far, cookies dropped, pings left out."""
        with self._lock:
            found = [ng_command(d)[1] for d in self.requests]
        return [c for c in found if c.get(b"command") != b"ping"]

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()
        for sock in self._upstream.values():
            sock.close()
