"""A config of the tests run by Kamailio 5.6 or by kampy with the same command line (Kamailio's flags,
which kampy takes as they are): listening where `-A LISTEN=...` says, runtime files and ctl's socket
in a directory of its own (kamcmd reaches it), stopped by its PID.

Plain functions (no pytest): the NAT and rtpengine tests and bench/ use them. The differential
tests take `Started` from the `dual_servers` fixture (tests/e2e/conftest.py): what a test starts
through it is stopped when the test ends, whatever it stopped itself.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tests.e2e.kampy_process import REPO, free_port, start_server, stop_process, track
from tests.e2e.stock.sipua import UA
from tests.e2e.stock.transport import UDP

KAMAILIO = "/usr/sbin/kamailio"
KAMCMD = "/usr/sbin/kamcmd"
CONFIGS = Path(__file__).resolve().parent / "configs"
SERVERS = ("kamailio", "kampy")  # the reference first: a differential test compares kampy with it


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path
    run_dir: Path
    stopped: bool = False

    @property
    def addr(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> int:
        code = stop_process(self.proc, timeout=timeout)
        self.stopped = True
        return code

    def kamcmd(self, *args: str, prefix: list[str] | None = None) -> str:
        """kamcmd on the server's ctl socket; the output (AssertionError when it fails). The socket
        may come up a moment after the SIP sockets answer: it is waited for up to 10 s."""
        ctl = self.run_dir / "kamailio_ctl"
        deadline = time.monotonic() + 10
        while not ctl.exists() and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.05)
        proc = subprocess.run([*(prefix or []), KAMCMD, "-s", f"unix:{ctl}", *args],
                              capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            raise AssertionError(f"kamcmd {' '.join(args)}: {proc.stdout}{proc.stderr}")
        return proc.stdout


def command(kind: str, cfg: Path, run_dir: Path, defines: dict[str, str | None],
            args: list[str] | None = None) -> list[str]:
    binary = {"kamailio": [KAMAILIO], "kampy": [sys.executable, "-m", "kampy"]}[kind]
    given = [a for name, value in defines.items()
             for a in ("-A", name if value is None else f"{name}={value}")]
    extra = ["-m", "64", "-M", "8"] if kind == "kamailio" else []
    return [*binary, "-DD", "-E", "-Y", str(run_dir), "-P", str(run_dir / f"{kind}.pid"), *extra,
            *(args or []), "-f", str(cfg), *given]


def start(kind: str, cfg: Path, workdir: Path, defines: dict[str, str | None], *, host: str = "127.0.0.1",
          port: int | None = None, prefix: list[str] | None = None, ready_timeout: float = 30,
          args: list[str] | None = None) -> Server:
    """Start `kind` on `cfg` with `-A LISTEN=udp:<host>:<port>` and `defines`; wait until it answers
    an OPTIONS (`prefix`: run it inside a namespace, e.g. nsenter ...; `args`: more command line
    options of both servers, e.g. `-n 4`)."""
    port = port or free_port(host)
    run_dir = workdir / f"{kind}-{port}"
    run_dir.mkdir(parents=True, exist_ok=True)
    all_defines = {"LISTEN": f"udp:{host}:{port}", **defines}
    log_path = workdir / f"{kind}-{port}.log"
    with open(log_path, "wb") as out:
        proc = start_server([*(prefix or []), *command(kind, cfg, run_dir, all_defines, args)], cwd=REPO,
                            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = track(Server(kind, proc, host, port, log_path, run_dir))
    if prefix is None:
        try:
            wait_answering(server, ready_timeout)
        except BaseException:
            server.stop()
            raise
    return server


def caller_and_callee(server: Server) -> tuple[UA, UA]:
    """alice and bob, each on a UDP port of its own, using `server` as their proxy."""
    caller = UA("alice", "127.0.0.1", UDP(socket.socket, ("127.0.0.1", free_port()), server.addr))
    callee = UA("bob", "127.0.0.1", UDP(socket.socket, ("127.0.0.1", free_port()), server.addr))
    return caller, callee


class Started:
    """The servers started through it, stopped (by their PID) by `stop_all`, the last first."""

    def __init__(self) -> None:
        self.servers: list[Server] = []

    def start(self, kind: str, cfg: Path, workdir: Path, defines: dict[str, str | None] | None = None,
              **options: object) -> Server:
        """`start` (the module's), remembered."""
        server = start(kind, cfg, workdir, defines or {}, **options)  # type: ignore[arg-type]
        self.servers.append(server)
        return server

    def each(self, cfg: Path, workdir: Path, defines: dict[str, str | None] | None = None,
             **options: object) -> Iterator[Server]:
        """Kamailio, then kampy, running `cfg` in `workdir`/<kind>, one at a time: each is given
        once and stopped when the loop asks for the next."""
        for kind in SERVERS:
            server = self.start(kind, cfg, workdir / kind, defines, **options)
            yield server
            server.stop()

    def stop_all(self) -> None:
        while self.servers:
            server = self.servers.pop()
            if not server.stopped:
                server.stop()


Case = TypeVar("Case", bound=tuple)
Seen = TypeVar("Seen")


def relayed_by_each(started: Started, cfg: Path, workdir: Path, cases: Sequence[Case],
                    relay: Callable[[Server, socket.socket, socket.socket, Case], Seen]
                    ) -> dict[str, dict[str, Seen]]:
    """For Kamailio, then kampy: `relay(server, sender, capture, case)` for each case (named by its
    first item), the sender and capture sockets on the same ports for both servers (a config
    relays to the capture): {kind: {case: what `relay` gave}}."""
    port, cport = free_port(), free_port()
    seen: dict[str, dict[str, Seen]] = {}
    for server in started.each(cfg, workdir):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as capture:
            sender.bind(("127.0.0.1", port))
            capture.bind(("127.0.0.1", cport))
            seen[server.name] = {case[0]: relay(server, sender, capture, case) for case in cases}
    return seen


def differences(seen: dict[str, dict[str, Seen]], keys: Sequence[str] = ()) -> list[str]:
    """Each case where kampy saw other than Kamailio (only the `keys` of what was seen, if given),
    with both values."""
    differ = []
    for case, ref in seen["kamailio"].items():
        got = seen["kampy"].get(case)
        pairs = [(f"{case} {key}", ref[key], got[key]) for key in keys] if keys and got is not None \
            else [(case, ref, got)]
        differ += [f"{name}:\n  kamailio {a!r}\n  kampy    {b!r}" for name, a, b in pairs if a != b]
    return differ


def wait_answering(server: Server, timeout: float, make_socket: object = None) -> None:
    """Ready when an OPTIONS gets a reply (`make_socket(family, kind)`: a socket in the server's
    namespace)."""
    maker = make_socket or socket.socket
    sock = maker(socket.AF_INET, socket.SOCK_DGRAM)  # type: ignore[operator]
    try:
        sock.bind((server.host if server.host != "0.0.0.0" else "127.0.0.1", 0))
        sock.settimeout(0.2)
        local = sock.getsockname()[1]
        deadline = time.monotonic() + timeout
        n = 0
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                raise RuntimeError(f"{server.name} exited with {server.proc.returncode}:\n"
                                   f"{server.output()[-4000:]}")
            n += 1
            sock.sendto((f"OPTIONS sip:probe@{server.host}:{server.port} SIP/2.0\r\n"
                         f"Via: SIP/2.0/UDP {server.host}:{local};branch=z9hG4bK-probe-{n}-{os.getpid()}\r\n"
                         f"From: <sip:probe@example.test>;tag=p{n}\r\nTo: <sip:probe@example.test>\r\n"
                         f"Call-ID: probe-{n}-{os.getpid()}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                         "Content-Length: 0\r\n\r\n").encode(), server.addr)
            try:
                if sock.recv(65536).startswith(b"SIP/2.0 "):
                    return
            except (TimeoutError, OSError):
                time.sleep(0.05)
                continue
    finally:
        sock.close()
    raise RuntimeError(f"{server.name} does not answer after {timeout}s:\n{server.output()[-4000:]}")
