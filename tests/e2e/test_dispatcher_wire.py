"""dispatcher on the wire, beside Kamailio 5.6: three sipp gateways, the same config and list in both
servers. An INVITE fails over from the gateway answering 503 to the next one; ds_mark_dst() takes
the first down (dst-down) and its keepalive brings it up again (dst-up); a gateway that stops
answering keepalives goes down (dst-down with $dsv(code) 408) and comes back when it answers again.
Both servers log the same events in the same order and list the same states."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.beside import Server, both
from tests.e2e.kampy_process import SCENARIOS, free_port, start_server, stop_process

SIPP = shutil.which("sipp") or "/usr/bin/sipp"

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
children=2
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "ctl.so"
loadmodule "dispatcher.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
modparam("tm", "fr_timer", 1000)
modparam("dispatcher", "list_file", "LISTFILE")
modparam("dispatcher", "flags", 2)
modparam("dispatcher", "ds_ping_interval", 1)
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_ping_from", "sip:keepalive@127.0.0.1")
request_route {
  if (!ds_select_dst("1", "8")) { sl_send_reply("503", "no gateway"); exit; }
  t_on_failure("NEXT");
  t_relay();
}
failure_route[NEXT] {
  if (t_check_status("503")) {
    ds_mark_dst("ip");
    if (ds_next_dst()) { t_on_failure("NEXT"); t_relay(); }
  }
}
event_route[dispatcher:dst-down] {
  xlog("L_ERR", "DSEVENT down $ru $dsv(code)\\n");
}
event_route[dispatcher:dst-up] {
  xlog("L_ERR", "DSEVENT up $ru $dsv(code)\\n");
}
"""


class Gateway:
    """A sipp UAS answering keepalives 200 and INVITEs `status`."""

    def __init__(self, workdir: Path, status: int, reason: str) -> None:
        self.workdir, self.status, self.reason = workdir, status, reason
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        scenario = self.workdir / f"gateway_{self.status}.xml"
        scenario.write_text(
            (SCENARIOS / "dispatcher_gateway.xml")
            .read_text()
            .replace("STATUS REASON", f"{self.status} {self.reason}")
        )
        self.proc = start_server(
            [
                SIPP,
                "-sf",
                str(scenario),
                "-i",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-t",
                "u1",
                "-nostdin",
                "-bind_local",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.workdir,
        )

    def wait_ready(self) -> None:
        """Until the gateway answers: a keepalive sent before sipp listens times out (408) and the
        gateway goes down and up again, events the test does not expect (under load sipp may take
        seconds to start)."""
        wait_for(self.answers_options, timeout=20)

    def answers_options(self) -> bool:
        """Whether the gateway answers an OPTIONS 200 within half a second."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(0.5)
            lport = s.getsockname()[1]
            s.sendto((f"OPTIONS {self.uri} SIP/2.0\r\n"
                      f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK-ready-{time.time_ns()}\r\n"
                      f"Max-Forwards: 70\r\nFrom: <sip:ready@127.0.0.1>;tag=1\r\nTo: <{self.uri}>\r\n"
                      f"Call-ID: ready-{time.time_ns()}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
                      ).encode(), ("127.0.0.1", self.port))
            try:
                return s.recv(65535).startswith(b"SIP/2.0 200 ")
            except OSError:  # no answer yet, or ICMP port unreachable (nothing listens)
                return False

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=5)
            self.proc = None

    @property
    def uri(self) -> str:
        return f"sip:127.0.0.1:{self.port}"


def invite(server: Server) -> int:
    """Send an INVITE through the server; the final status it answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(10)
        lport = s.getsockname()[1]
        branch = f"z9hG4bK-{time.time_ns()}"
        call_id = f"ds-wire-{time.time_ns()}"

        def request(method: str) -> bytes:
            return (f"{method} sip:bob@example.net SIP/2.0\r\n"
                    f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch={branch}\r\nMax-Forwards: 70\r\n"
                    f"From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.net>\r\n"
                    f"Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n").encode()

        s.sendto(request("INVITE"), ("127.0.0.1", server.port))
        while True:
            status = int(s.recv(65535).split(b" ", 2)[1])
            if status >= 200:
                s.sendto(request("ACK"), ("127.0.0.1", server.port))
                return status


def events(server: Server, names: dict[str, str]) -> list[str]:
    found = re.findall(r"DSEVENT (\w+) (\S+) (\S+)", (server.dir / "log").read_text(errors="replace"))
    return [f"{kind} {names.get(uri, uri)} {code}" for kind, uri, code in found]


def states(server: Server, names: dict[str, str]) -> dict[str, str]:
    text = server.kamcmd("dispatcher.list")
    pairs = re.findall(r"URI: (\S+)\s+FLAGS: (\w+)", text)
    return {names.get(uri, uri): flags for uri, flags in pairs}


def wait_for(check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.fixture
def gateways(tmp_path: Path) -> Iterator[list[Gateway]]:
    gws = [
        Gateway(tmp_path, 503, "Unavailable"),
        Gateway(tmp_path, 486, "Busy"),
        Gateway(tmp_path, 486, "Busy"),
    ]
    for gw in gws:
        gw.start()
    for gw in gws:
        gw.wait_ready()
    try:
        yield gws
    finally:
        for gw in gws:
            gw.stop()


def test_failover_keepalives_and_the_events_match_kamailio(tmp_path: Path, gateways: list[Gateway]) -> None:
    first, second, third = gateways
    names = {first.uri: "gw503", second.uri: "gw486a", third.uri: "gw486b"}
    listfile = tmp_path / "dispatcher.list"
    listfile.write_text(f"1 {first.uri} 0 30\n1 {second.uri} 0 20\n1 {third.uri} 0 10\n")
    with both(tmp_path, CFG.replace("LISTFILE", str(listfile))) as servers:
        for server in servers:
            wait_for(lambda s=server: set(states(s, names).values()) == {"AP"})
        # the first gateway answers 503: the call goes on to the second one, which is busy; dst-down runs
        # with the request (its R-URI), as from failure_route
        assert [invite(server) for server in servers] == [486, 486]
        for server in servers:
            assert events(server, names)[:1] == ["down sip:bob@example.net 820"]
            # its next keepalive is answered: up again
            wait_for(lambda s=server: len(events(s, names)) >= 2)
        third.stop()
        for server in servers:
            wait_for(lambda s=server: states(s, names)["gw486b"] == "IP")
        third.start()
        third.wait_ready()
        for server in servers:
            wait_for(lambda s=server: states(s, names)["gw486b"] == "AP")
        kamailio, kampy = servers
        assert (
            events(kampy, names)
            == events(kamailio, names)
            == ["down sip:bob@example.net 820", "up gw503 200", "down gw486b 408", "up gw486b 200"]
        )
        assert states(kampy, names) == states(kamailio, names)
