"""A private network and mount namespace for one server under test.

The stock kamailio.cfg has no `listen=`: a server running it binds every interface on port 5060. Inside
a namespace of its own that is only the namespace's loopback, so each test gets 127.0.0.1:5060 (and
the whole 127.0.0.0/8) to itself, whatever else runs on the machine. In the namespace's private mount
table a directory of the test is mounted over /etc/kamailio: it holds Debian's kamailio.cfg and
tls.cfg, byte for byte, and the TLS certificate and key tls.cfg names, made by the test.

The test process reaches into the namespace without entering it: `socket_in` opens a socket there
(from a short-lived thread that joins the namespace, setns(2)); a socket stays in the namespace it was
made in. `Forwarder` makes the test's MariaDB reachable at 127.0.0.1:3306 inside the namespace.
Programs (the server, sipp) start inside with `run_prefix()` (nsenter).
"""
from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import socket
import subprocess
import threading
from pathlib import Path

from tests.e2e.kampy_process import start_server, stop_process

log = logging.getLogger(__name__)

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class Namespace:
    """A holder process (`sleep`) in new network and mount namespaces, loopback up, `etc_dir`
    mounted over /etc/kamailio. Stop it with `close()` once the servers inside are stopped."""

    def __init__(self, etc_dir: Path, binds: dict[str, Path] | None = None) -> None:
        """`binds`: more files or directories mounted inside, target path -> what is mounted there
        (e.g. {"/etc/resolv.conf": a file of the test})."""
        more = "".join(f" && mount --bind '{source}' '{target}'" for target, source in (binds or {}).items())
        script = (f"ip link set lo up && mount --bind '{etc_dir}' /etc/kamailio{more} && echo ready "
                  "&& exec sleep infinity")
        command = ["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c", script]
        self.proc = start_server(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != b"ready":
            rest = line + self.proc.stdout.read()
            stop_process(self.proc, timeout=5)
            raise RuntimeError(f"cannot make a network namespace: {rest.decode(errors='replace')}")
        self.pid = self.proc.pid
        self.net_path = f"/proc/{self.pid}/ns/net"

    def run_prefix(self) -> list[str]:
        """The command prefix that runs a program inside both namespaces."""
        return ["nsenter", f"--target={self.pid}", "--net", "--mount"]

    def socket(self, family: int = socket.AF_INET, kind: int = socket.SOCK_DGRAM) -> socket.socket:
        return socket_in(self.net_path, family, kind)

    def close(self) -> None:
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        stop_process(self.proc, timeout=5)


def socket_in(net_path: str, family: int, kind: int) -> socket.socket:
    """A new socket in the network namespace `net_path` (/proc/PID/ns/net)."""
    made: list[socket.socket | BaseException] = []

    def enter_and_open() -> None:
        try:
            fd = os.open(net_path, os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({net_path}): {os.strerror(err)}")
            finally:
                os.close(fd)
            made.append(socket.socket(family, kind))
        except BaseException as exc:  # handed to the caller's thread
            made.append(exc)

    thread = threading.Thread(target=enter_and_open, name="netns-socket")
    thread.start()
    thread.join()
    if isinstance(made[0], BaseException):
        raise made[0]
    return made[0]


class Forwarder:
    """TCP from `listen` inside a namespace to `target` outside it, one asyncio loop in a thread."""

    def __init__(self, ns: Namespace, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.target = target
        self._sock = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(listen)
        self._sock.listen(128)
        self._sock.setblocking(False)
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._run, name="netns-forwarder", daemon=True)
        self._thread.start()
        self._started.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, sock=self._sock))
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError as exc:
            log.warning("forwarder: cannot reach %s: %s", self.target, exc)
            writer.close()
            return
        await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))

    def close(self) -> None:
        def stop() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.stop()

        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(stop)
            self._thread.join(10)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            writer.close()
