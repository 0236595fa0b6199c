"""tm's transactions against Kamailio 5.6 on the wire, the same config on both servers: tm.list and
tm.cancel (kamcmd) on a ringing call, a call whose t_set_max_lifetime() ends it with a 408 although
its callee keeps ringing, and t_write_unix()'s datagram answered with tm.reply."""
from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.beside import ctl, launch, pair
from tests.e2e.kampy_process import stop_process

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
children=1
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "ctl.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
modparam("tm", "fr_inv_timer", 10000)
modparam("tm", "fr_timer", 4000)
request_route {
  if ($rU == "short") { t_set_max_lifetime(1500, 0); }
  if ($rU == "vm") { t_newtran(); t_write_unix("DIR/vm.sock", "voicemail"); exit; }
  t_relay();
}
"""


@dataclass
class Server:
    name: str
    dir: Path
    port: int
    proc: subprocess.Popen[bytes]
    vm: socket.socket

    def kamcmd(self, *args: str) -> str:
        return ctl(self.dir, *args)


def _start(name: str, tmp: Path) -> Server:
    directory = tmp / name
    directory.mkdir()
    vm = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    vm.bind(str(directory / "vm.sock"))
    vm.settimeout(5)
    return Server(name, directory, *launch(name, directory, CFG), vm)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    tmp = tmp_path_factory.mktemp("tm-transactions")
    for kamailio, kampy in pair(lambda name: _start(name, tmp), _stop):
        yield {"kamailio": kamailio, "kampy": kampy}


def _stop(server: Server) -> None:
    stop_process(server.proc)
    server.vm.close()


class Peer:
    """A UDP user agent: the caller or the callee."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]
        self.last_from: tuple[str, int] = ("127.0.0.1", 0)

    def send(self, data: bytes, dest: tuple[str, int]) -> None:
        self.sock.sendto(data, dest)

    def receive(self, skip_100: bool = True) -> bytes:
        while True:
            data, self.last_from = self.sock.recvfrom(65535)
            if not (skip_100 and data.startswith(b"SIP/2.0 100 ")):
                return data

    def close(self) -> None:
        self.sock.close()


def invite(user: str, callee: int, caller: int, call_id: str) -> bytes:
    return (f"INVITE sip:{user}@127.0.0.1:{callee} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{caller};branch=z9hG4bK-{call_id};rport\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=al1\r\n"
            f"To: <sip:{user}@example.test>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
            f"Contact: <sip:alice@127.0.0.1:{caller}>\r\nContent-Length: 0\r\n\r\n").encode()


def reply(request: bytes, code: int, reason: str, method: str = "") -> bytes:
    head = request.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
    keep = [h for h in head[1:] if h.split(":")[0].lower() in ("via", "from", "call-id", "cseq")]
    to = next(h for h in head[1:] if h.lower().startswith("to:"))
    to += "" if ";tag=" in to else ";tag=callee1"
    return ("\r\n".join([f"SIP/2.0 {code} {reason}", *keep, to]) + "\r\nContent-Length: 0\r\n\r\n").encode()


def first_line(data: bytes) -> str:
    return data.split(b"\r\n", 1)[0].decode()


def _ringing(server: Server, user: str, call_id: str) -> tuple[Peer, Peer, bytes]:
    caller, callee = Peer(), Peer()
    caller.send(invite(user, callee.port, caller.port, call_id), ("127.0.0.1", server.port))
    relayed = callee.receive()
    callee.send(reply(relayed, 180, "Ringing"), callee.last_from)
    assert first_line(caller.receive()) == "SIP/2.0 180 Ringing"
    return caller, callee, relayed


def _port_masked(line: str) -> str:
    return re.sub(r":\d+ ", ":PORT ", line)


def _masked_list(text: str) -> str:
    text = re.sub(r"cell: 0x[0-9a-f]+", "cell: CELL", text)
    text = re.sub(r"tlabel: \d+", "tlabel: LABEL", text)
    return re.sub(r"lifetime: \d+", "lifetime: LIFETIME", text)


def _list_and_cancel(server: Server) -> dict[str, object]:
    caller, callee, relayed = _ringing(server, "bob", "tm-list-1")
    try:
        listed = _masked_list(server.kamcmd("tm.list"))
        cancelled = server.kamcmd("tm.cancel", "tm-list-1", "s:1")
        cancel = callee.receive()
        callee.send(reply(cancel, 200, "OK"), callee.last_from)
        callee.send(reply(relayed, 487, "Request Terminated"), callee.last_from)
        ack = callee.receive()
        final = first_line(caller.receive())
        return {"list": listed, "cancel": cancelled, "cancel_sent": _port_masked(first_line(cancel)),
                "ack": _port_masked(first_line(ack)), "final": final}
    finally:
        caller.close()
        callee.close()


def test_tm_list_and_tm_cancel_on_a_ringing_call_answer_as_kamailios(servers: dict[str, Server]) -> None:
    kamailio = _list_and_cancel(servers["kamailio"])
    assert "tindex:" in str(kamailio["list"]) and kamailio["final"] == "SIP/2.0 487 Request Terminated"
    assert kamailio["cancel"] == "1\nbranches remaining (waiting for timeout)\n"
    assert _list_and_cancel(servers["kampy"]) == kamailio


def _lifetime(server: Server) -> tuple[str, str, float]:
    caller, callee, relayed = _ringing(server, "short", "tm-life-1")
    start = time.monotonic()
    try:
        cancel = callee.receive()  # fr_inv_timer is 10 s: the 1.5 s lifetime ends the branch
        final = caller.receive()
        elapsed = time.monotonic() - start
        callee.send(reply(cancel, 200, "OK"), callee.last_from)
        callee.send(reply(relayed, 487, "Request Terminated"), callee.last_from)
        return _port_masked(first_line(cancel)), first_line(final), elapsed
    finally:
        caller.close()
        callee.close()


def test_t_set_max_lifetime_ends_a_ringing_call_as_kamailio(servers: dict[str, Server]) -> None:
    kamailio = _lifetime(servers["kamailio"])
    kampy = _lifetime(servers["kampy"])
    assert kamailio[:2] == kampy[:2] == (kamailio[0], "SIP/2.0 408 Request Timeout")
    assert kamailio[0].startswith("CANCEL sip:short@")
    assert 1.0 < kamailio[2] < 4.0 and 1.0 < kampy[2] < 4.0  # (fr_inv_timer alone: 10 s)


def _voicemail(server: Server) -> tuple[list[str], str, bytes]:
    caller = Peer()
    try:
        caller.send(invite("vm", 9, caller.port, "tm-vm-1"), ("127.0.0.1", server.port))
        written = server.vm.recv(65536).decode().split("\n")
        answer = server.kamcmd("tm.reply", "486", "Busy Here", written[15], "vmtag",
                               "X-VM: 1\r\nContent-Type: text/plain\r\n", "s:leave a message")
        final = caller.receive()
        written[6] = "PORT" if written[6] == str(server.port) else written[6]
        written[15] = written[15].split(":")[0] + ":LABEL"
        written[8] = re.sub(r":\d+$", ":CALLER", written[8])
        return written, answer, final
    finally:
        caller.close()


def _masked_reply(data: bytes) -> bytes:
    data = re.sub(rb"127\.0\.0\.1:\d+", b"127.0.0.1:PORT", data)
    data = re.sub(rb"rport=\d+", b"rport=PORT", data)
    return re.sub(rb"\r\nServer: [^\r]*", b"\r\nServer: SERVER", data)


def test_t_write_unix_and_tm_reply_work_as_kamailios(servers: dict[str, Server]) -> None:
    kamailio = _voicemail(servers["kamailio"])
    kampy = _voicemail(servers["kampy"])
    assert kampy[0] == kamailio[0] and kampy[1] == kamailio[1] == ""
    assert _masked_reply(kampy[2]) == _masked_reply(kamailio[2])
    final = kamailio[2]
    assert first_line(final) == "SIP/2.0 486 Busy Here"
    assert b"\r\nX-VM: 1\r\nContent-Type: text/plain\r\n" in final
    assert b"To: <sip:vm@example.test>;tag=vmtag\r\n" in final and final.endswith(b"\r\n\r\nleave a message")
