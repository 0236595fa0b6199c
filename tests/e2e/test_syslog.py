"""Without -E a daemonized kampy logs to syslog as Kamailio does: `<facility|level>log_name[pid]: ...`
on /dev/log. The test runs kampy in a private mount namespace whose /dev/log is the test's own unix
datagram socket (the machine's /dev is not touched)."""
from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.kampy_process import REPO, free_port
from tests.e2e.sip import UDPClient, status_of
from tests.support.kamailio_cli import Daemon, kampy_cmd

LOCAL3 = 19
LOG_INFO, LOG_ERR = 6, 3

# a private /dev: a tmpfs with the device nodes kampy opens, /dev/shm as it is, /dev/log the test's
NAMESPACE = """set -e
mkdir -p "$T/olddev"
mount --rbind /dev "$T/olddev"
mount -t tmpfs tmpfs /dev
for n in null zero urandom random; do touch /dev/$n; mount --bind "$T/olddev/$n" /dev/$n; done
mkdir /dev/shm && mount --rbind "$T/olddev/shm" /dev/shm
touch /dev/log && mount --bind "$T/log.sock" /dev/log
exec "$@"
"""

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:{port}
children=1
log_name="kampytest"
log_facility=LOG_LOCAL3
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
request_route {{ xlog("L_ERR", "request $rm from $si\\n"); sl_send_reply("200", "OK"); }}
"""


def read_syslog(sock: socket.socket, until: str, timeout: float = 20) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while not any(until in line for line in lines):
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            lines.append(sock.recv(65536).decode())
        except TimeoutError:
            raise AssertionError(f"no {until!r} in syslog:\n" + "\n".join(lines)) from None
    return lines


@contextmanager
def syslog_daemon(tmp_path: Path, cfg_text: str) -> Iterator[tuple[socket.socket, Daemon]]:
    """kampy daemonized with `cfg_text` in a private mount namespace whose /dev/log is the returned
    socket; stopped when the block ends."""
    cfg = tmp_path / "kampy.cfg"
    cfg.write_text(cfg_text)
    pid_file = tmp_path / "kampy.pid"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as syslog:
        syslog.bind(str(tmp_path / "log.sock"))
        start = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", NAMESPACE, "ns",
             *kampy_cmd("-f", str(cfg), "-P", str(pid_file), "-Y", str(tmp_path / "run"))],
            cwd=REPO, env={"T": str(tmp_path), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            capture_output=True, text=True, timeout=60)
        assert start.returncode == 0, start.stderr
        daemon = Daemon.from_pid_file(pid_file)
        try:
            yield syslog, daemon
        finally:
            assert daemon.stop()


def test_a_daemon_logs_to_syslog_with_log_name_and_log_facility(tmp_path: Path):
    port = free_port()
    with syslog_daemon(tmp_path, CFG.format(port=port)) as (syslog, daemon):
        lines = read_syslog(syslog, "listening on")
        assert re.fullmatch(rf"<{LOCAL3 * 8 + LOG_INFO}>\w{{3}} [ \d]\d \d\d:\d\d:\d\d "
                            rf"kampytest\[{daemon.pid}\]: INFO: <core> "
                            rf"\[kampy/net/__init__.py:\d+\]: _log_listening\(\): listening on "
                            rf"udp:127.0.0.1:{port}", next(x for x in lines if "listening on" in x))
        client = UDPClient()
        assert status_of(client.request(("127.0.0.1", port))) == 200
        client.close()
        line = next(x for x in read_syslog(syslog, "request OPTIONS") if "request OPTIONS" in x)
        worker = daemon.workers()[0]
        assert re.fullmatch(rf"<{LOCAL3 * 8 + LOG_ERR}>.{{15}} kampytest\[{worker}\]: ERROR: <script>: "
                            "request OPTIONS from 127.0.0.1", line)


# CFG with xlog's own facility and a call naming another
FACILITY_CFG = CFG.replace(CFG[CFG.index("request_route"):], """modparam("xlog", "log_facility", "LOG_LOCAL5")
request_route {{
  xlog("L_ERR", "module facility $rm\\n");
  xlog("LOG_LOCAL1", "L_ERR", "call facility $rm\\n");
  sl_send_reply("200", "OK");
}}
""")
LOCAL1, LOCAL5 = 17, 21


def test_xlog_logs_to_its_log_facility_and_to_the_facility_a_call_names(tmp_path: Path):
    port = free_port()
    with syslog_daemon(tmp_path, FACILITY_CFG.format(port=port)) as (syslog, _):
        listening = next(x for x in read_syslog(syslog, "listening on") if "listening on" in x)
        assert listening.startswith(f"<{LOCAL3 * 8 + LOG_INFO}>")  # the core's own lines: log_facility
        client = UDPClient()
        assert status_of(client.request(("127.0.0.1", port))) == 200
        client.close()
        lines = read_syslog(syslog, "call facility")
    module_line = next(x for x in lines if "module facility OPTIONS" in x)
    call_line = next(x for x in lines if "call facility OPTIONS" in x)
    assert module_line.startswith(f"<{LOCAL5 * 8 + LOG_ERR}>")
    assert call_line.startswith(f"<{LOCAL1 * 8 + LOG_ERR}>")
