"""corex beside Kamailio 5.6: the same config in both servers; kamcmd prints the same for corex's RPC
commands, and requests get the same answers from its functions, pseudo-variables and transformation."""
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
from tests.e2e.kampy_process import free_port, stop_process

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT name "main"
listen=udp:127.0.0.1:PORT2 advertise 192.0.2.1:5080 name "second"
auto_aliases=no
alias=sip.example.org:5060
alias=other.example.org
children=1
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "ctl.so"
loadmodule "corex.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
modparam("corex", "alias_subdomains", "example.net")
request_route {
  if ($rU == "flags") {
    setxflag(3); isxflagset(3); $var(a) = $rc; resetxflag(3); isxflagset(3); $var(b) = $rc;
    setxflag(70); $var(c) = $rc;
    msg_iflag_set("USE_UAC_FROM"); msg_iflag_is_set("USE_UAC_FROM"); $var(d) = $rc;
    msg_iflag_is_set("UAC_AUTH"); $var(e) = $rc; msg_iflag_reset("BOGUS"); $var(f) = $rc;
    is_faked_msg(); $var(g) = $rc; is_socket_name("second"); $var(h) = $rc;
    is_socket_name("nope"); $var(i) = $rc;
    sl_send_reply("200", "r: $var(a) $var(b) $var(c) $var(d) $var(e) $var(f) $var(g) $var(h) $var(i)");
    exit;
  }
  if ($rU == "sock") {
    $var(s) = "tcp:10.0.0.1:5070";
    $var(t) = "10.0.0.2";
    sl_send_reply("200", "r: $lsock(n/second/listen) $lsock(l/udp:127.0.0.1:PORT/name) "
      "$lsock(n/second/adv) $(var(s){sock.host}) $(var(s){sock.port}) $(var(s){sock.proto}) "
      "$(var(s){sock.touri}) $(var(t){sock.touri})");
    exit;
  }
  if ($rU == "myself") {
    if (uri == myself) { sl_send_reply("200", "me"); exit; }
    sl_send_reply("404", "not me");
    exit;
  }
  if ($rU == "branch") {
    $du = "sip:proxy.example.com";
    append_branch("sip:carol@example.com", "0.5");
    append_branch();
    sl_send_reply("200", "r: $(branch(uri)[0]) $(branch(q)[0]) $(branch(dst_uri)[0]) "
      "$(branch(uri)[1]) $(branch(dst_uri)[1]) $du");
    exit;
  }
  if ($rU == "recv") {
    set_recv_socket("udp:127.0.0.1:PORT2");
    sl_send_reply("200", "r: $Rp");
    exit;
  }
  sl_send_reply("404", "Not here");
}
"""


@dataclass
class Server:
    name: str
    dir: Path
    port: int
    port2: int
    proc: subprocess.Popen[bytes]

    def kamcmd(self, *args: str) -> str:
        return ctl(self.dir, *args).replace(str(self.port2), "PORT2").replace(str(self.port), "PORT")

    def reason(self, user: str, host: str = "127.0.0.1") -> str:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(5)
            lport = s.getsockname()[1]
            s.sendto((f"OPTIONS sip:{user}@{host} SIP/2.0\r\n"
                      f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK-{time.time_ns()}\r\n"
                      f"From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:{user}@{host}>\r\n"
                      f"Call-ID: corex-{time.time_ns()}\r\nCSeq: 1 OPTIONS\r\n"
                      "Content-Length: 0\r\n\r\n").encode(),
                     ("127.0.0.1", self.port))
            line = s.recv(4096).split(b"\r\n")[0].decode()
        return line.replace(str(self.port2), "PORT2").replace(str(self.port), "PORT")


def start(name: str, tmp: Path) -> Server:
    port2 = free_port()
    directory = tmp / name
    directory.mkdir()
    port, proc = launch(name, directory, CFG, values={"PORT2": str(port2)})
    return Server(name, directory, port, port2, proc)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    tmp = tmp_path_factory.mktemp("corex")
    yield from pair(lambda name: start(name, tmp), lambda server: stop_process(server.proc))


@pytest.mark.parametrize("command", """
corex.list_sockets
corex.list_aliases
corex.debug
corex.debug 1
corex.debug
corex.debug 0
corex.pkg_summary
corex.pkg_summary idx 99
corex.pkg_summary xxx 1
corex.pkg_summary xxxx 1
corex.shm_status
corex.shm_summary
system.methodHelp corex.list_sockets
system.methodHelp shm.stats
""".strip().splitlines())
def test_rpc_prints_what_kamailio_prints(servers, command):
    kamailio, kampy = servers
    assert kampy.kamcmd(*command.split()) == kamailio.kamcmd(*command.split())


@pytest.mark.parametrize("command", ["shm.info", "shm.stats"])
def test_shm_rpc_has_kamailios_fields(servers, command):
    kamailio, kampy = servers

    def names(text: str) -> list[str]:
        return re.findall(r"^\t(\w+):", text, re.M)
    assert names(kampy.kamcmd(command)) == names(kamailio.kamcmd(command))


@pytest.mark.parametrize("user, host", [
    ("flags", "127.0.0.1"), ("sock", "127.0.0.1"), ("branch", "127.0.0.1"), ("recv", "127.0.0.1"),
    ("myself", "a.example.net"), ("myself", "example.net"), ("myself", "badexample.net"),
    ("myself", "sip.example.org"), ("myself", "other.example.org"),
])
def test_functions_answer_as_kamailio_does(servers, user, host):
    kamailio, kampy = servers
    assert kampy.reason(user, host) == kamailio.reason(user, host)
