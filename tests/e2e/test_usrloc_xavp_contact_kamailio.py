"""usrloc's xavp_contact beside Kamailio 5.6, the same config in both servers: the fields of the
XAVP set before save() come back after lookup(), item 0 for the R-URI's contact and item 1 for the
first branch, and after registered() with match_action 1."""
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
listen=udp:127.0.0.1:PORT
children=1
auto_aliases=no
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("usrloc", "xavp_contact", "ulattrs")
request_route {
  if (method == "REGISTER") {
    if (is_present_hf("X-Tenant")) {
      $xavp(ulattrs=>tenant) = $hdr(X-Tenant);
      $xavp(ulattrs[0]=>level) = 3;
    }
    save("location");
    exit;
  }
  if ($rU == "reg") {
    $ru = "sip:alice@127.0.0.1";
    registered("location", "$ru", 0, 1);
  } else {
    lookup("location");
  }
  sl_send_reply("200", "REASON");
}
""".replace("REASON", "r: $xavp(ulattrs[0]=>tenant) $xavp(ulattrs[0]=>level) "
                       "$xavp(ulattrs[1]=>tenant) $cnt($xavp(ulattrs))")


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]

    def ask(self, data: str) -> str:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(5)
            lport = s.getsockname()[1]
            s.sendto(data.replace("LPORT", str(lport)).encode(), ("127.0.0.1", self.port))
            return s.recv(65535).split(b"\r\n", 1)[0].decode()


def start(name: str, tmp: Path) -> Server:
    directory = tmp / name
    directory.mkdir()
    port = free_port()
    cfg = directory / "k.cfg"
    cfg.write_text(CFG.replace("PORT", str(port)).replace("MODULES", KAMAILIO_MODULES))
    args = ["-f", str(cfg), "-DD", "-E", "-Y", str(directory)]
    cmd = [KAMAILIO, *args, "-A", "KAMAILIO"] if name == "kamailio" else kampy_cmd(*args)
    log = directory / "log"
    with open(log, "wb") as out:
        proc = start_server(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=out, stdin=subprocess.DEVNULL)
    server = Server(name, port, proc)
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        try:
            server.ask(request("OPTIONS", "ping"))
            return server
        except OSError:
            time.sleep(0.1)


def request(method: str, user: str, contact: str = "", tenant: str = "", cseq: int = 1,
            callid: str = "") -> str:
    extra = (f"Contact: {contact}\r\nExpires: 600\r\n" if contact else "") + \
        (f"X-Tenant: {tenant}\r\n" if tenant else "")
    return (f"{method} sip:{user}@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:LPORT;rport;branch=z9hG4bK-{time.time_ns()}\r\n"
            f"From: <sip:{user}@127.0.0.1>;tag=a1\r\nTo: <sip:{user}@127.0.0.1>\r\n"
            f"Call-ID: {callid or f'x-{time.time_ns()}'}\r\nCSeq: {cseq} {method}\r\n{extra}"
            "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    tmp = tmp_path_factory.mktemp("ulattrs")
    started: list[Server] = []
    try:
        for name in ("kamailio", "kampy"):
            started.append(start(name, tmp))
        for server in started:
            server.ask(request("REGISTER", "alice", "<sip:alice@10.0.0.1:5070>;q=0.9", "first",
                               callid="reg-1"))
            server.ask(request("REGISTER", "alice", "<sip:alice@10.0.0.2:5070>;q=0.5", "second",
                               callid="reg-2"))
            server.ask(request("REGISTER", "bob", "<sip:bob@10.0.0.3:5070>", callid="reg-3"))
        yield started
    finally:
        for server in started:
            stop_process(server.proc)


@pytest.mark.parametrize("user, expected", [
    ("alice", "first 3 second 2"),        # lookup(): the R-URI's contact, then branch 1
    ("reg", "first 3 <null> 1"),          # registered(..., 1): the first matching contact's
    ("bob", "<null> <null> <null> 0"),    # saved without the XAVP
    ("nobody", "<null> <null> <null> 0"),
])
def test_the_stored_fields_come_back_as_kamailio_gives_them(servers, user, expected):
    kamailio, kampy = servers
    assert kamailio.ask(request("OPTIONS", user)) == f"SIP/2.0 200 r: {expected}"
    assert kampy.ask(request("OPTIONS", user)) == f"SIP/2.0 200 r: {expected}"
