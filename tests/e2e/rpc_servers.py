"""Kamailio 5.6 and kampy started side by side with the same config, each with ctl's binrpc sockets
and jsonrpcs' FIFO and datagram socket in a directory of its own: what Kamailio's clients (kamcmd,
kamctl, kamcli) are driven against in tests/e2e/test_kamcmd.py and test_kamctl.py."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.beside import launch
from tests.e2e.kampy_process import free_port, stop_process
from tests.e2e.sip import register_udp, status_of

KAMCMD = "/usr/sbin/kamcmd"

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
listen=tcp:127.0.0.1:PORT
alias=example.test
children=2
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "kex.so"
loadmodule "ctl.so"
loadmodule "jsonrpcs.so"
modparam("jsonrpcs", "dgram_socket", "DIR/rpc.sock")
modparam("jsonrpcs", "fifo_name", "DIR/rpc.fifo")
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
modparam("ctl", "binrpc", "unixd:DIR/ctld.sock")
modparam("ctl", "binrpc", "tcp:127.0.0.1:TCP")
modparam("ctl", "binrpc", "udp:127.0.0.1:UDP")
modparam("ctl", "fifo", "fifo:DIR/ctl.fifo")
request_route {
  if (is_method("REGISTER")) {
    if ($rU == "alias") { save("aliases"); exit; }
    save("location");
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
    tcp: int
    udp: int
    proc: subprocess.Popen[bytes]

    def kamcmd(self, *args: str, transport: str = "unix") -> str:
        result = subprocess.run([KAMCMD, "-s", self.ctl_address(transport), *args], capture_output=True,
                                text=True, timeout=20)
        return result.stdout + result.stderr

    def ctl_address(self, transport: str = "unix") -> str:
        return {"unix": f"unix:{self.dir}/ctl.sock", "unixd": f"unixd:{self.dir}/ctld.sock",
                "tcp": f"tcp:127.0.0.1:{self.tcp}", "udp": f"udp:127.0.0.1:{self.udp}"}[transport]

    def mask(self, text: str) -> str:
        """`text` with what differs between the two servers by nature named instead: their
        directory, ports and name."""
        return (text.replace(str(self.dir), "DIR").replace(str(self.tcp), "TCP").replace(str(self.udp), "UDP")
                .replace(str(self.port), "PORT"))


def start(name: str, tmp: Path, cfg: str = CFG) -> Server:
    """Kamailio ("kamailio") or kampy with `cfg` in `tmp`/`name`, alice registered."""
    directory = tmp / name
    directory.mkdir()
    tcp, udp = free_port(), free_port()
    port, proc = launch(name, directory, cfg, values={"TCP": str(tcp), "UDP": str(udp)})
    assert status_of(register_udp(port, "alice")[0]) == 200
    return Server(name, directory, port, tcp, udp, proc)


def stop(server: Server) -> None:
    stop_process(server.proc)
