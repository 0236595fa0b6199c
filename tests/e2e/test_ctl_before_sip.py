"""Kamailio opens ctl's control socket before it forks, so once it answers SIP, `kamcmd` works.
kampy opens it in worker 1, after building the modules there: every worker waits until all have
opened their control sockets before it reads SIP, so the first answer means the socket is there,
however slowly worker 1 starts."""
from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.e2e.kampy_process import free_port, start_server, stop_process
from tests.support.kamailio_cli import kampy_cmd

SLOW_MODULE = '''
import time
from kampy.api import Exports, Module


class Slow(Module):
    def __init__(self, params, core) -> None:
        super().__init__(params, core)
        if core.rank == 1:  # kampy builds the modules in each worker: this one, before its ctl socket
            time.sleep(3)


EXPORTS = Exports(name="slowstart", doc="worker 1 starts slowly", factory=Slow)
'''

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:{port}
children=2
disable_tcp=yes
loadmodule "sl.so"
loadmodule "ctl.so"
loadmodule "{module}"
modparam("ctl", "binrpc", "unix:{ctl}")
request_route {{ sl_send_reply("200", "OK"); }}
"""


def first_answer(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as ua:
        ua.bind(("127.0.0.1", 0))
        ua.settimeout(0.1)
        n = 0
        while time.monotonic() < deadline:
            n += 1
            ua.sendto((f"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{ua.getsockname()[1]};"
                       f"branch=z9hG4bK-{n}\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
                       f"Call-ID: ctl-{n}\r\nCSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n").encode(),
                      ("127.0.0.1", port))
            try:
                ua.recv(65536)
                return
            except TimeoutError:
                continue
    raise AssertionError("no answer")


def test_the_ctl_socket_exists_once_sip_is_answered_even_when_worker_one_starts_late(tmp_path: Path) -> None:
    module = tmp_path / "slowstart.py"
    module.write_text(SLOW_MODULE)
    ctl = tmp_path / "ctl.sock"
    port = free_port()
    cfg = tmp_path / "kampy.cfg"
    cfg.write_text(CFG.format(port=port, module=module, ctl=ctl))
    with open(tmp_path / "kampy.log", "wb") as out:
        proc = start_server(kampy_cmd("-DD", "-E", "-f", str(cfg), "-Y", str(tmp_path)),
                            stdout=out, stderr=out, stdin=None)
    try:
        first_answer(port)
        assert ctl.exists(), (tmp_path / "kampy.log").read_text()
    finally:
        assert stop_process(proc) == 0
