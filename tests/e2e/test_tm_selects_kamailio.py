"""tm's selects beside Kamailio 5.6: the same config forks an INVITE to two branches of a small user
agent server (bob rings then is busy, carol is not found) and shows the value of every `@tm...`
select in the headers of the relayed 180 (onreply_route) and of the 500 failure_route sends;
kampy's values are Kamailio's."""
from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.beside import pair
from tests.e2e.kampy_process import REPO, free_port, start_server, stop_process
from tests.support.kamailio_cli import KAMAILIO, KAMAILIO_MODULES, kampy_cmd

SELECTS = ["tm", "tm.method", "tm.uas.status", "tm.uas.local_to_tag", "tm.uac.count", "tm.uac.relayed",
           "tm.uac[0].status", "tm.uac[1].status", "tm.uac[0].uri", "tm.uac[1].uri", "tm.uac[2].status",
           "tm.uac[2].uri"]
REPLY_SELECTS = [*SELECTS, "tm.uac.last_status", "tm.uac.response_retransmission"]

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
children=1
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "corex.so"
modparam("pv", "shvset", "seen=s:")
request_route {
  if (is_method("OPTIONS")) {
    append_to_reply("X-Seen: $shv(seen)\\r\\n");
    sl_send_reply("200", "Ready");
    exit;
  }
  if ($rU == "local") {
    $shv(seen) = $shv(seen) + "[" + $rm + " " + @tm + " " + @tm.uas.status + " " + @tm.uas.local_to_tag + " "
                 + @tm.uas.request.neg_ack_retransmission + "]";
    if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
    if (!t_newtran()) { exit; }
    t_reply("486", "Busy Here");
    exit;
  }
  if (is_method("ACK")) { t_relay(); exit; }
  $avp(before) = @tm;
  $ru = "sip:bob@127.0.0.1:UAS";
  append_branch("sip:carol@127.0.0.1:UAS");
  t_on_reply("R");
  t_on_failure("F");
  t_relay();
}
onreply_route[R] {
  if (status == "180") {
REPLY_HEADERS
  }
}
failure_route[F] {
  append_to_reply("X-Before: $avp(before)\\r\\n");
FAILURE_HEADERS
  if (@tm.uas.request == $mb) { append_to_reply("X-Uas-Request: the request\\r\\n"); }
  if (@tm.uas.response =~ "^SIP/2.0 180 Ringing") { append_to_reply("X-Uas-Response: the 180\\r\\n"); }
  if (@tm.uac[0].response =~ "^SIP/2.0 486 Busy") { append_to_reply("X-Uac0-Response: the 486\\r\\n"); }
  if (@tm.uac[1].request =~ "^INVITE sip:carol@127") { append_to_reply("X-Uac1-Request: to carol\\r\\n"); }
  if (!defined @tm.uac[2].response) { append_to_reply("X-Uac2-Response: undefined\\r\\n"); }
  t_reply("500", "Both Failed");
}
"""


@dataclass
class Server:
    name: str
    port: int
    uas: socket.socket
    proc: subprocess.Popen[bytes]


def headers(selects: list[str], add: str) -> str:
    return "\n".join(f'    {add}("X-S{i}: $sel({s})\\r\\n");' for i, s in enumerate(selects))


def reply_to(request: str, status: str, tag: str) -> bytes:
    lines = request.split("\r\n")
    keep = [line for line in lines if line.split(":")[0].lower() in ("via", "from", "to", "call-id", "cseq")]
    keep = [f"{line};tag={tag}" if line.lower().startswith("to:") else line for line in keep]
    return (f"SIP/2.0 {status}\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode()


def answer(uas: socket.socket, stop: threading.Event) -> None:
    """bob: 180 then, once carol answered, 486; carol: 404; ACKs are taken in silence."""
    bob: tuple[str, tuple[str, int]] | None = None
    while not stop.is_set():
        try:
            data, peer = uas.recvfrom(65536)
        except TimeoutError:
            continue
        text = data.decode()
        if text.startswith("INVITE sip:bob@"):
            bob = (text, peer)
            uas.sendto(reply_to(text, "180 Ringing", "b1"), peer)
        elif text.startswith("INVITE sip:carol@"):
            time.sleep(0.3)  # after bob's 180
            uas.sendto(reply_to(text, "404 Not Found", "c1"), peer)
            time.sleep(0.2)
            if bob is not None:
                uas.sendto(reply_to(bob[0], "486 Busy Here", "b1"), bob[1])


def start(name: str, tmp: Path) -> Server:
    directory = tmp / name
    directory.mkdir()
    port = free_port()
    uas = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    uas.bind(("127.0.0.1", 0))
    uas.settimeout(0.2)
    cfg = (CFG.replace("PORT", str(port)).replace("MODULES", KAMAILIO_MODULES)
           .replace("UAS", str(uas.getsockname()[1]))
           .replace("REPLY_HEADERS", headers(REPLY_SELECTS, "append_hf"))
           .replace("FAILURE_HEADERS", headers(SELECTS, "append_to_reply")))
    (directory / "k.cfg").write_text(cfg)
    args = ["-f", str(directory / "k.cfg"), "-DD", "-E", "-Y", str(directory)]
    cmd = [KAMAILIO, *args, "-A", "KAMAILIO"] if name == "kamailio" else kampy_cmd(*args)
    log = open(directory / "log", "wb")  # noqa: SIM115
    proc = start_server(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
    log.close()
    deadline = time.monotonic() + 30
    while not ready(port):
        assert proc.poll() is None and time.monotonic() < deadline, (directory / "log").read_text()
    return Server(name, port, uas, proc)


def ready(port: int) -> bool:
    """The server answers an OPTIONS."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.5)
        s.sendto(b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-r;rport\r\n"
                 b"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: ready\r\nCSeq: 1 OPTIONS\r\n"
                 b"Max-Forwards: 0\r\nContent-Length: 0\r\n\r\n", ("127.0.0.1", port))
        try:
            s.recv(65536)
            return True
        except OSError:
            return False


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    tmp = tmp_path_factory.mktemp("tmselects")
    yield from pair(lambda name: start(name, tmp),
                    lambda server: (stop_process(server.proc), server.uas.close()))


def call(server: Server) -> dict[str, dict[str, str]]:
    """The X- headers of the 180 and of the final reply the caller gets, by status."""
    stop = threading.Event()
    uas = threading.Thread(target=answer, args=(server.uas, stop), daemon=True)
    uas.start()
    got: dict[str, dict[str, str]] = {}
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(5)
            lport = s.getsockname()[1]
            s.sendto((f"INVITE sip:alice@127.0.0.1:{server.port} SIP/2.0\r\n"
                      f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK-tmsel{time.time_ns()}\r\n"
                      "From: <sip:caller@example.com>;tag=ct\r\nTo: <sip:alice@example.com>\r\n"
                      f"Call-ID: tmsel-{time.time_ns()}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
                      "Contact: <sip:caller@127.0.0.1>\r\nContent-Length: 0\r\n\r\n").encode(),
                     ("127.0.0.1", server.port))
            while "500" not in got:
                reply = s.recv(65536).decode()
                status = reply.split(" ", 2)[1]
                got[status] = {name: value.strip().replace(str(server.uas.getsockname()[1]), "UAS")
                               for name, _, value in (line.partition(":") for line in reply.split("\r\n")[1:])
                               if name.startswith("X-")}
    finally:
        stop.set()
        uas.join()
    return {status: named(found, REPLY_SELECTS if status == "180" else SELECTS)
            for status, found in got.items() if status in ("180", "500")}


def named(found: dict[str, str], selects: list[str]) -> dict[str, str]:
    return {(selects[int(k[3:])] if k.startswith("X-S") and k[3:].isdigit() else k): v
            for k, v in found.items()}


def local(server: Server) -> str:
    """An INVITE tm answers itself, sent twice, and its ACK, sent twice: what the selects were each time."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        lport = s.getsockname()[1]
        common = (f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK-loc{time.time_ns()}\r\n"
                  "From: <sip:caller@example.com>;tag=ct\r\n"
                  f"Call-ID: tmloc-{time.time_ns()}\r\nMax-Forwards: 70\r\n")
        invite = (f"INVITE sip:local@127.0.0.1:{server.port} SIP/2.0\r\n{common}"
                  "To: <sip:local@example.com>\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@127.0.0.1>\r\n"
                  "Content-Length: 0\r\n\r\n")
        for _ in range(2):
            s.sendto(invite.encode(), ("127.0.0.1", server.port))
            busy = s.recv(65536).decode()
            assert busy.startswith("SIP/2.0 486")
        to = next(line for line in busy.split("\r\n") if line.startswith("To:"))
        ack = (f"ACK sip:local@127.0.0.1:{server.port} SIP/2.0\r\n{common}{to}\r\n"
               "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n")
        for _ in range(2):
            s.sendto(ack.encode(), ("127.0.0.1", server.port))
            time.sleep(0.2)
        tag = to.partition(";tag=")[2]
    seen = ask_seen(server)
    return seen.replace(tag, "TAG") if tag else seen


def ask_seen(server: Server) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        s.sendto(b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-q;rport\r\n"
                 b"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: seen\r\nCSeq: 1 OPTIONS\r\n"
                 b"Max-Forwards: 0\r\nContent-Length: 0\r\n\r\n", ("127.0.0.1", server.port))
        reply = s.recv(65536).decode()
    return next(line for line in reply.split("\r\n") if line.startswith("X-Seen:"))[7:].strip()


def test_tm_selects_of_a_local_reply_its_retransmission_and_its_acks_are_kamailios(servers):
    kamailio, kampy = servers
    theirs = local(kamailio)
    assert theirs.count("[") == 4  # the scenario ran as meant
    assert local(kampy) == theirs


def test_every_tm_select_gives_kamailios_value(servers):
    kamailio, kampy = servers
    theirs = call(kamailio)
    assert theirs["500"]["tm.uac.count"] == "2"  # the scenario ran as meant
    assert call(kampy) == theirs
