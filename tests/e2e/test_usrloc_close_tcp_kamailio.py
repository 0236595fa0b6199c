"""usrloc's close_expired_tcp beside Kamailio 5.6, the same config in both servers: a contact
registered over TCP expires and the server closes that connection; with the parameter off the
connection stays open."""
from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.kampy_process import REPO, free_port, start_server, stop_process
from tests.support.kamailio_cli import KAMAILIO, KAMAILIO_MODULES, kampy_cmd

CFG = """#!KAMAILIO
listen=tcp:127.0.0.1:PORT
listen=udp:127.0.0.1:PORT
children=1
tcp_children=1
auto_aliases=no
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("usrloc", "timer_interval", 1)
modparam("usrloc", "close_expired_tcp", CLOSE)
modparam("registrar", "min_expires", 1)
request_route {
  if (method == "REGISTER") { save("location"); exit; }
  sl_send_reply("404", "Not here");
}
"""


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]


def start(name: str, tmp: Path, close: int) -> Server:
    directory = tmp / f"{name}{close}"
    directory.mkdir()
    port = free_port()
    cfg = directory / "k.cfg"
    cfg.write_text(CFG.replace("PORT", str(port)).replace("CLOSE", str(close))
                   .replace("MODULES", KAMAILIO_MODULES))
    args = ["-f", str(cfg), "-DD", "-E", "-Y", str(directory)]
    cmd = [KAMAILIO, *args, "-A", "KAMAILIO"] if name == "kamailio" else kampy_cmd(*args)
    log = directory / "log"
    with open(log, "wb") as out:
        proc = start_server(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=out, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.3):
                return Server(name, port, proc)
        except OSError:
            time.sleep(0.1)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, int], Server]]:
    tmp = tmp_path_factory.mktemp("ulclose")
    started: dict[tuple[str, int], Server] = {}
    try:
        for name in ("kamailio", "kampy"):
            for close in (0, 1):
                started[(name, close)] = start(name, tmp, close)
        yield started
    finally:
        for server in started.values():
            stop_process(server.proc)


def register_and_wait(server: Server, wait: float = 6.0) -> tuple[str, bool]:
    """REGISTER over TCP for 2 seconds; the reply, and whether the server closed the connection
    within `wait` seconds."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        lport = s.getsockname()[1]
        s.sendall((f"REGISTER sip:127.0.0.1 SIP/2.0\r\n"
                   f"Via: SIP/2.0/TCP 127.0.0.1:{lport};rport;branch=z9hG4bK-{time.time_ns()}\r\n"
                   "From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:alice@127.0.0.1>\r\n"
                   f"Call-ID: ul-{time.time_ns()}\r\nCSeq: 1 REGISTER\r\n"
                   f"Contact: <sip:alice@127.0.0.1:{lport};transport=tcp>\r\nExpires: 2\r\n"
                   "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65535)
        s.settimeout(wait)
        try:
            closed = s.recv(1) == b""
        except (TimeoutError, ConnectionResetError):
            closed = False
    return data.split(b"\r\n", 1)[0].decode(), closed


@pytest.mark.parametrize("close", [1, 0])
def test_an_expired_tcp_contact_closes_its_connection_as_kamailio_does(servers, close):
    kamailio = register_and_wait(servers[("kamailio", close)])
    kampy = register_and_wait(servers[("kampy", close)])
    assert kamailio == ("SIP/2.0 200 OK", bool(close))
    assert kampy == kamailio
