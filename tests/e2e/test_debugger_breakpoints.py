"""The debugger's breakpoints beside Kamailio 5.6: breakpoints switched on for one receiver over ctl
(`dbg.bp on <pid>`), a request that reaches it stops before the config's first action; `kamcmd
dbg.bp show/next/eval/move` then print the same on both servers, and the request is answered once the
process moves on.

kampy's ctl sockets are served by worker rank 1 (a SIP receiver too), so the breakpoints go to the
second receiver (`child=1`) on both servers."""
from __future__ import annotations

import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.beside import Server, both, start
from tests.e2e.kampy_process import stop_process

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
children=2
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "ctl.so"
loadmodule "debugger.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
modparam("debugger", "step_usleep", 10000)
modparam("debugger", "step_loops", 1000)
request_route {
  $var(n) = 7;
  $var(s) = $rm + "-" + $fU;
  sl_send_reply("200", "OK");
  exit;
}
"""


def receiver_pid(server: Server, child: int) -> str:
    """The pid of SIP receiver `child` (waiting until it is up: ctl may answer before it is)."""
    deadline = time.monotonic() + 20
    while True:
        entries = re.findall(r"PID: (\d+)\n\s*DSC: ([^\n]*)", server.kamcmd("core.psx"))
        pid = next((pid for pid, what in entries if "receiver" in what and f"child={child} " in what), None)
        if pid is not None:
            return pid
        assert time.monotonic() < deadline, f"{server.name}: no receiver child={child} in core.psx"
        time.sleep(0.1)


BURST = 4


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    with both(tmp_path_factory.mktemp("breakpoints"), CFG) as pair:
        yield pair


def options(port: int, n: int) -> bytes:
    return (f"OPTIONS sip:x@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port + 1};branch=z9hG4bK-bp-{n};rport\r\n"
            f"From: <sip:alice@127.0.0.1>;tag=t{n}\r\nTo: <sip:x@127.0.0.1>\r\n"
            f"Call-ID: bp-{n}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n").encode()


def stop_one_request(server: Server, ua: socket.socket, pid: str) -> int:
    """Send requests until one stops at the breakpoints of `pid` (it is not answered and the process
    waits); its number. They go in bursts of BURST: the receivers share one UDP socket, and on a quiet
    machine the first of them may win every request sent alone."""
    for first in range(0, 60 * BURST, BURST):
        waiting = set(range(first, first + BURST))
        for n in waiting:
            ua.sendto(options(server.port, n), ("127.0.0.1", server.port))
        deadline = time.monotonic() + 20
        while waiting and time.monotonic() < deadline:
            ua.settimeout(0.3)
            try:
                waiting.discard(answered(ua.recv(4096)))
            except TimeoutError:
                if len(waiting) == 1 and "state: 1" in server.kamcmd("dbg.ls", pid):
                    return waiting.pop()
        if waiting:
            raise AssertionError(f"{server.name}: requests {sorted(waiting)} neither answered nor stopped")
    raise AssertionError(f"{server.name}: no request stopped at a breakpoint")


def answered(reply: bytes) -> int:
    """The number of the request a reply answers (its Call-ID bp-N@)."""
    found = re.search(rb"Call-ID: bp-(\d+)@", reply)
    assert found is not None, reply
    return int(found.group(1))


def step_through(server: Server) -> list[str]:
    """What kamcmd prints while one request stops, steps and moves on; then its reply's Call-ID."""
    pid = receiver_pid(server, 1)
    printed = [server.kamcmd("dbg.bp", "on", pid)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as ua:
        ua.bind(("127.0.0.1", 0))
        n = stop_one_request(server, ua, pid)
        ls = server.kamcmd("dbg.ls", pid)
        printed.append(re.sub(r"(entry|pid): \d+", r"\1: N", ls))
        for command in (["show", pid], ["eval", pid, "$rm"], ["next", pid], ["show", pid],
                        ["eval", pid, "$var(n)"], ["next", pid], ["eval", pid, "$var(s)"],
                        ["eval", pid, "$avp(none)"], ["eval", pid, "x"], ["move", pid]):
            printed.append(server.kamcmd("dbg.bp", *command))
        ua.settimeout(5)
        reply = ua.recv(4096)
        printed.append(reply.split(b"Call-ID: ", 1)[1].split(b"\r\n", 1)[0].decode())
        assert f"bp-{n}@" in printed[-1]
        printed[-1] = "answered"
    printed.append(re.sub(r"(entry|pid): \d+", r"\1: N", server.kamcmd("dbg.ls", pid)))
    return printed


def test_a_request_stopped_at_a_breakpoint_steps_as_in_kamailio(servers) -> None:
    kamailio, kampy = servers
    expected = step_through(kamailio)
    assert "at bkp [DIR/k.cfg:" in expected[2]
    assert step_through(kampy) == expected


@pytest.mark.parametrize("command", [["dbg.bp"], ["dbg.bp", "next"], ["dbg.bp", "jump"],
                                     ["dbg.bp", "on", "1"], ["dbg.bp", "off"], ["dbg.bp", "release"]])
def test_dbg_bp_prints_the_same_as_for_kamailio(servers, command: list[str]) -> None:
    kamailio, kampy = servers
    assert kampy.kamcmd(*command) == kamailio.kamcmd(*command)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_worker_at_a_breakpoint_ends_when_the_main_process_is_gone(tmp_path: Path) -> None:
    server = start("kampy", tmp_path, CFG)
    try:
        pid = receiver_pid(server, 1)
        server.kamcmd("dbg.bp", "on", pid)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as ua:
            ua.bind(("127.0.0.1", 0))
            stop_one_request(server, ua, pid)
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(10)
        deadline = time.monotonic() + 15
        while _running(int(pid)):
            assert time.monotonic() < deadline, (server.dir / "log").read_text()[-3000:]
            time.sleep(0.1)
    finally:
        stop_process(server.proc)
