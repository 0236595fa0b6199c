"""`kampy run` as a user runs it: config errors, what it logs, signals and exit codes."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

from tests.e2e.kampy_process import REPO, Kampy, free_port, kampy_command, start_server, track
from tests.e2e.sip import UDPClient, status_of

BAD_CFG = """#!KAMAILIO
loadmodule "sl.so"
request_route {
    sl_send_reply("200", "OK")
}
"""


def _port_is_free(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def test_config_error_exits_1_with_file_line_col_before_binding(tmp_path):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(BAD_CFG)
    port = free_port()
    result = subprocess.run(kampy_command(cfg, "-l", f"udp:127.0.0.1:{port}", "-l", f"tcp:127.0.0.1:{port}"),
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert re.search(rf"{re.escape(str(cfg))}:4:\d+: error: ", result.stderr), result.stderr
    assert "listening on" not in result.stderr
    assert _port_is_free(port)


def test_config_error_messages_are_the_same_as_kampy_check(tmp_path):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(BAD_CFG)
    run = subprocess.run(kampy_command(cfg), cwd=REPO, capture_output=True, text=True, timeout=60)
    check = subprocess.run([sys.executable, "-m", "kampy", "check", str(cfg)], cwd=REPO,
                           capture_output=True, text=True, timeout=60)
    assert run.stderr == check.stderr
    assert check.returncode == run.returncode == 1


def test_run_logs_every_socket_it_listens_on(running_kampy):
    kampy = running_kampy()
    out = kampy.output()
    assert f"listening on udp:127.0.0.1:{kampy.port}" in out
    assert f"listening on tcp:127.0.0.1:{kampy.port}" in out


def test_sigterm_stops_kampy_with_exit_0(running_kampy):
    kampy = running_kampy()
    workers = kampy.worker_pids()
    assert status_of(UDPClient().request(kampy.addr)) == 200
    assert kampy.stop(signal.SIGTERM) == 0
    assert all(not _alive(pid) for pid in workers)


STARTING_CFG = """#!KAMAILIO
debug=3
children=4
loadmodule "sl.so"
request_route {
    sl_send_reply("200", "OK");
}
"""


def test_sigterm_while_the_workers_start_stops_each_in_order(tmp_path):
    """Not killed by the signal: each worker stops its loop and runs the modules' destroy (where
    usrloc writes its contacts back) even when the SIGTERM comes before it serves."""
    cfg = tmp_path / "starting.cfg"
    cfg.write_text(STARTING_CFG)
    log_path = tmp_path / "kampy.log"
    with open(log_path, "wb") as out:
        proc = start_server(kampy_command(cfg, "-l", f"udp:127.0.0.1:{free_port()}"), cwd=REPO, stdout=out,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    kampy = track(Kampy(proc, "127.0.0.1", 0, log_path))
    deadline = time.monotonic() + 30
    while len(kampy.worker_pids()) < 4 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    assert len(kampy.worker_pids()) == 4, kampy.output()
    assert "ready: " not in kampy.output(), "the workers were to be signalled while they start"

    assert kampy.stop(signal.SIGTERM) == 0

    stopped = sorted(int(n) for n in re.findall(r"worker (\d+) stopping", kampy.output()))
    assert stopped == [1, 2, 3, 4], kampy.output()


def test_sigint_stops_kampy_with_exit_0(running_kampy):
    kampy = running_kampy()
    assert kampy.stop(signal.SIGINT) == 0


def test_sigterm_stops_kampy_without_fork_with_exit_0(running_kampy):
    kampy = running_kampy(args=("-D",))
    assert kampy.stop(signal.SIGTERM) == 0


def test_port_already_in_use_exits_1(running_kampy, tmp_path):
    kampy = running_kampy()
    result = subprocess.run(kampy_command(REPO / "tests/e2e/configs/options.cfg", "-l",
                                          f"udp:127.0.0.1:{kampy.port}"),
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"cannot listen on udp:127.0.0.1:{kampy.port}" in result.stderr


def test_a_worker_killed_stops_kampy_with_a_nonzero_exit(running_kampy):
    kampy = running_kampy()
    os.kill(kampy.worker_pids()[0], signal.SIGKILL)
    assert kampy.proc.wait(15) != 0
    kampy.stopped = True


def test_python_dash_m_kampy_run_help_lists_kamailio_flags():
    result = subprocess.run([sys.executable, "-m", "kampy", "run", "-h"], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    for flag in ("-f", "-A", "-l", "-E", "-d", "-D", "-n", "-N", "-T", "-P"):
        assert f" {flag} " in result.stdout or f" {flag}," in result.stdout or f"[{flag}" in result.stdout


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "State:\tZ" not in f.read()
    except OSError:
        return False
