"""kampy started as `kamailio` is: a daemon that says it is up only when it is, its pid file, the
working and runtime directories, giving up root, signals, and what a stop leaves behind (nothing,
also after SIGKILL of the main process)."""
from __future__ import annotations

import os
import pwd
import re
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.cli_binrpc import exchange, parse_address
from kampy import binrpc
from tests.e2e.kampy_process import REPO, free_port, start_server, stop_process
from tests.e2e.sip import UDPClient, register_udp, status_of
from tests.support import shared_files
from tests.support.kamailio_cli import Daemon, kampy_cmd, pid_alive, run, wait_gone

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:{port}
children=2
{extra}
loadmodule "sl.so"
loadmodule "kex.so"
loadmodule "ctl.so"
{ctl}
request_route {{ sl_send_reply("200", "OK"); }}
"""


def write_cfg(tmp: Path, port: int, extra: str = "", ctl: str | None = None) -> Path:
    if ctl is None:
        ctl = f'modparam("ctl", "binrpc", "unix:{tmp}/ctl.sock")'
    cfg = tmp / "kampy.cfg"
    cfg.write_text(CFG.format(port=port, extra=extra, ctl=ctl))
    return cfg


def answers_sip(port: int) -> bool:
    client = UDPClient(timeout=3)
    try:
        return status_of(client.request(("127.0.0.1", port))) == 200
    except OSError:
        return False
    finally:
        client.close()


def ctl_version(address: str) -> str:
    packet = binrpc.build_packet(binrpc.REQUEST, 77, binrpc.encode_request("core.version", []))
    reply = exchange(parse_address(address), packet, 5)
    header = binrpc.parse_header(reply)
    return binrpc.read_values(reply[header.size:])[0]


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    """Every daemon a test starts goes here; what is left of them is killed at the end."""
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.kill_rest()


def start_daemon(tmp: Path, cfg: Path, daemons: list[Daemon], *args: str) -> Daemon:
    pid_file = tmp / "kampy.pid"
    result = run(kampy_cmd("-f", str(cfg), "-P", str(pid_file), "-Y", str(tmp / "run"), *args))
    assert result.returncode == 0, result.stdout + result.stderr
    daemon = Daemon.from_pid_file(pid_file)
    daemons.append(daemon)
    return daemon


def test_kampy_returns_0_only_once_the_server_answers(tmp_path, daemons):
    port = free_port()
    daemon = start_daemon(tmp_path, write_cfg(tmp_path, port), daemons)
    assert answers_sip(port)  # no waiting: the start said it was up
    assert ctl_version(f"unix:{tmp_path}/ctl.sock").startswith("kampy 0.1.0 (")
    assert len(daemon.workers()) == 2
    assert daemon.stop()


def test_the_daemon_is_a_session_of_its_own_on_dev_null_in_the_root_dir(tmp_path, daemons):
    port = free_port()
    daemon = start_daemon(tmp_path, write_cfg(tmp_path, port), daemons)
    assert os.getsid(daemon.pid) != os.getsid(0) and os.getsid(daemon.pid) == daemon.pgid != daemon.pid
    assert [os.readlink(f"/proc/{daemon.pid}/fd/{fd}") for fd in (0, 1, 2)] == ["/dev/null"] * 3
    assert os.readlink(f"/proc/{daemon.pid}/cwd") == "/"
    assert (tmp_path / "kampy.pid").read_text() == f"{daemon.pid}\n"
    assert daemon.stop()


def test_sigterm_stops_every_process_and_leaves_no_pid_file_nor_shared_store(tmp_path, daemons):
    port = free_port()
    daemon = start_daemon(tmp_path, write_cfg(tmp_path, port), daemons)
    stores = daemon.stores()
    assert stores
    assert daemon.stop(signal.SIGTERM)
    assert not (tmp_path / "kampy.pid").exists() and not (tmp_path / "ctl.sock").exists()
    assert not any(shared_files.files_of(s) for s in stores)


def test_sigint_stops_it_as_sigterm(tmp_path, daemons):
    daemon = start_daemon(tmp_path, write_cfg(tmp_path, free_port()), daemons)
    stores = daemon.stores()
    assert daemon.stop(signal.SIGINT)
    assert not any(shared_files.files_of(s) for s in stores)


def test_sigkill_of_the_main_process_ends_the_workers_and_they_delete_the_store(tmp_path, daemons):
    port = free_port()
    daemon = start_daemon(tmp_path, write_cfg(tmp_path, port), daemons)
    workers, stores = daemon.workers(), daemon.stores()
    daemon.send(signal.SIGKILL)
    assert all(wait_gone(pid, 15) for pid in workers)
    assert not any(shared_files.files_of(s) for s in stores)
    assert not (tmp_path / "ctl.sock").exists()


def test_sighup_is_ignored(tmp_path, daemons):
    port = free_port()
    daemon = start_daemon(tmp_path, write_cfg(tmp_path, port), daemons)
    daemon.send(signal.SIGHUP)
    time.sleep(0.3)
    assert pid_alive(daemon.pid) and len(daemon.workers()) == 2 and answers_sip(port)
    assert daemon.stop()


def test_a_failing_start_returns_255_and_leaves_nothing_running(tmp_path):
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", port))
        cfg = write_cfg(tmp_path, port)
        result = run(kampy_cmd("-f", str(cfg), "-P", str(tmp_path / "kampy.pid"), "-Y",
                               str(tmp_path / "run")))
    assert result.returncode == 255
    assert not (tmp_path / "kampy.pid").exists()
    assert all(wait_gone(pid, 10) for pid in _processes_running(cfg))  # the main process is ending


def test_a_pid_file_naming_a_running_process_stops_the_start(tmp_path):
    pid_file = tmp_path / "kampy.pid"
    pid_file.write_text(f"{os.getpid()}\n")
    cfg = write_cfg(tmp_path, free_port())
    result = run(kampy_cmd("-f", str(cfg), "-P", str(pid_file), "-Y", str(tmp_path / "run"), "-E"))
    assert result.returncode == 255
    assert f"running process found in the pid file {pid_file}" in result.stderr
    assert pid_file.read_text() == f"{os.getpid()}\n" and not _processes_running(cfg)


def _processes_running(cfg: Path) -> list[int]:
    """Processes whose command line names `cfg` (what a start that failed could have left)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            if str(cfg).encode() in cmdline and pid_alive(int(name)):
                found.append(int(name))
    return found


def test_w_is_the_working_directory(tmp_path, daemons):
    work = tmp_path / "work"
    work.mkdir()
    daemon = start_daemon(tmp_path, write_cfg(tmp_path, free_port()), daemons, "-w", str(work))
    assert os.readlink(f"/proc/{daemon.pid}/cwd") == str(work)
    assert daemon.stop()


def test_y_is_where_ctl_puts_its_socket_by_default(tmp_path, daemons):
    daemon = start_daemon(tmp_path, write_cfg(tmp_path, free_port(), ctl=""), daemons)
    socket_path = tmp_path / "run" / "kamailio_ctl"
    assert stat.S_ISSOCK(socket_path.stat().st_mode)
    assert ctl_version(f"unix:{socket_path}").startswith("kampy")
    assert stat.S_IMODE((tmp_path / "run").stat().st_mode) == 0o700  # created as Kamailio creates it
    assert daemon.stop()


def test_g_writes_the_process_group_id(tmp_path, daemons):
    pgid_file = tmp_path / "kampy.pgid"
    daemon = start_daemon(tmp_path, write_cfg(tmp_path, free_port()), daemons, "-G", str(pgid_file))
    assert pgid_file.read_text() == f"{daemon.pgid}\n"
    assert daemon.stop() and not pgid_file.exists()


def _ids(pid: int) -> tuple[int, int]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = {line.split(":")[0]: line.split()[1:] for line in lines}
    return int(fields["Uid"][1]), int(fields["Gid"][1])


def test_u_and_g_drop_privileges_after_binding_and_the_sockets_are_theirs(tmp_path, daemons):
    nobody = pwd.getpwnam("nobody")
    port = free_port()
    tmp_path.chmod(0o755)
    daemon = start_daemon(tmp_path, write_cfg(tmp_path, port), daemons, "-u", "nobody", "-g",
                          str(nobody.pw_gid))
    assert {_ids(pid) for pid in daemon.members()} == {(nobody.pw_uid, nobody.pw_gid)}
    ctl = (tmp_path / "ctl.sock").stat()
    assert (ctl.st_uid, ctl.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    for store in daemon.stores():
        assert {f.stat().st_uid for f in shared_files.files_of(store)} == {nobody.pw_uid}
    assert answers_sip(port) and ctl_version(f"unix:{tmp_path}/ctl.sock").startswith("kampy")
    stores = daemon.stores()
    assert daemon.stop()
    assert not any(shared_files.files_of(s) for s in stores)


# ---------------------------------------------------------------- in the foreground


def start_foreground(tmp: Path, cfg: Path, *args: str) -> subprocess.Popen[bytes]:
    log = open(tmp / "stderr.log", "wb")  # noqa: SIM115 (the server writes it while it runs)
    proc = start_server(kampy_cmd("-f", str(cfg), "-Y", str(tmp / "run"), *args), cwd=REPO,
                        stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
    log.close()
    deadline = time.monotonic() + 30
    while "ready: " not in (tmp / "stderr.log").read_text() and proc.poll() is None:
        assert time.monotonic() < deadline, (tmp / "stderr.log").read_text()
        time.sleep(0.05)
    return proc


def test_dd_forks_workers_but_stays_in_the_foreground_with_its_pid_file(tmp_path):
    port = free_port()
    pid_file = tmp_path / "kampy.pid"
    proc = start_foreground(tmp_path, write_cfg(tmp_path, port), "-DD", "-E", "-P", str(pid_file))
    try:
        assert pid_file.read_text() == f"{proc.pid}\n" and answers_sip(port)
        assert os.readlink(f"/proc/{proc.pid}/fd/1") == "/dev/null"
        assert Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    finally:
        assert stop_process(proc) == 0
    assert not pid_file.exists()


def test_d_serves_in_one_process_and_writes_no_pid_file(tmp_path):
    port = free_port()
    pid_file = tmp_path / "kampy.pid"
    proc = start_foreground(tmp_path, write_cfg(tmp_path, port), "-D", "-E", "-P", str(pid_file))
    try:
        assert answers_sip(port) and not pid_file.exists()
        assert not Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    finally:
        assert stop_process(proc) == 0


def test_sigusr1_logs_the_memory_status_when_memlog_is_shown(tmp_path):
    port = free_port()
    cfg = write_cfg(tmp_path, port, extra="debug=2\nmemlog=2\nmem_summary=15")
    proc = start_foreground(tmp_path, cfg, "-DD", "-E")
    try:
        os.kill(proc.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while "Memory still-in-use summary (shm):" not in (tmp_path / "stderr.log").read_text():
            assert time.monotonic() < deadline, (tmp_path / "stderr.log").read_text()
            time.sleep(0.05)
        text = (tmp_path / "stderr.log").read_text()
        assert "Memory status (pkg):" in text and "VmRSS:" in text and "Memory status (shm):" in text
        assert answers_sip(port)
    finally:
        assert stop_process(proc) == 0


def test_e_colours_stderr_lines_as_kamailio(tmp_path):
    proc = start_foreground(tmp_path, write_cfg(tmp_path, free_port()), "-DD", "-E", "-e")
    try:
        assert "\x1b[0;36;49m 0(" in (tmp_path / "stderr.log").read_text()  # INFO in cyan
    finally:
        assert stop_process(proc) == 0


def test_stderr_lines_have_kamailios_layout_and_the_log_prefix_of_the_message(tmp_path):
    port = free_port()
    cfg = tmp_path / "prefix.cfg"
    cfg.write_text(f'#!KAMAILIO\nlisten=udp:127.0.0.1:{port}\nchildren=1\nlog_prefix="{{$mt $ci}} "\n'
                   'loadmodule "sl.so"\nloadmodule "pv.so"\nloadmodule "xlog.so"\n'
                   'request_route { xlog("L_ERR", "seen $rm\\n"); sl_send_reply("200", "OK"); }\n')
    proc = start_foreground(tmp_path, cfg, "-DD", "-E")
    try:
        assert answers_sip(port)
        deadline = time.monotonic() + 5
        while "seen OPTIONS" not in (tmp_path / "stderr.log").read_text():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        line = next(x for x in (tmp_path / "stderr.log").read_text().splitlines() if "seen OPTIONS" in x)
        assert line.startswith(" 1(") and line.split(")", 1)[1].startswith(" ERROR: {1 udp-")
        assert line.endswith("} <script>: seen OPTIONS")  # xlog's line: the prefixes and its text
    finally:
        assert stop_process(proc) == 0


def test_sigterm_writes_usrloc_bindings_kept_in_memory_to_the_database(tmp_path, daemons):
    from kampy.db import connect, create_tables

    db_url = f"sqlite:///{tmp_path}/kampy.sqlite"
    db = connect(db_url)
    create_tables(db, ["version", "location"])
    db.close()
    port = free_port()
    extra = ('loadmodule "db_sqlite.so"\nloadmodule "tm.so"\nloadmodule "usrloc.so"\n'
             f'loadmodule "registrar.so"\nmodparam("usrloc", "db_url", "{db_url}")\n'
             'modparam("usrloc", "db_mode", 2)\nmodparam("usrloc", "timer_interval", 3600)')
    cfg = tmp_path / "kampy.cfg"
    cfg.write_text(CFG.format(port=port, extra=extra, ctl="").replace(
        'request_route {', 'request_route { if (method == "REGISTER") { save("location"); exit; }'))
    daemon = start_daemon(tmp_path, cfg, daemons)
    reply, lport = register_udp(port, "alice", expires=600)
    assert status_of(reply) == 200
    db = connect(db_url)
    assert db.query("location", ["username"]) == []  # write-back: in memory until the timer or the stop
    db.close()
    assert daemon.stop(signal.SIGTERM)
    db = connect(db_url)
    assert [tuple(r) for r in db.query("location", ["username", "contact"])] == [
        ("alice", f"sip:alice@127.0.0.1:{lport}")]
    db.close()


def _usrloc_area_size(daemon: Daemon) -> int:
    (store,) = daemon.stores()
    (area,) = [f for f in shared_files.files_of(store) if ".area-usrloc." in f.name]
    return area.stat().st_size


@pytest.mark.parametrize(("args", "at_most", "at_least"), [(["-m", "8"], 32 << 20, 0), ([], None, 128 << 20)])
def test_m_sizes_the_heap_of_each_shared_table(tmp_path, daemons, args, at_most, at_least):
    extra = 'loadmodule "tm.so"\nloadmodule "usrloc.so"\nloadmodule "registrar.so"'
    cfg = write_cfg(tmp_path, free_port(), extra=extra)
    cfg.write_text(cfg.read_text().replace('request_route {', 'request_route { save("location"); exit;'))
    daemon = start_daemon(tmp_path, cfg, daemons, *args)
    size = _usrloc_area_size(daemon)
    assert size >= at_least and (at_most is None or size <= at_most)
    assert daemon.stop()


def _has_epoll(pid: int) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    return any("eventpoll" in os.readlink(fds / fd) for fd in os.listdir(fds))


@pytest.mark.parametrize(("args", "epoll"), [([], True), (["-W", "select"], False), (["-W", "poll"], False)])
def test_w_chooses_the_workers_poll_method(tmp_path, daemons, args, epoll):
    port = free_port()
    daemon = start_daemon(tmp_path, write_cfg(tmp_path, port), daemons, *args)
    assert all(_has_epoll(pid) == epoll for pid in daemon.workers()) and answers_sip(port)
    assert daemon.stop()


def test_b_sets_the_udp_receive_buffer(tmp_path, daemons):
    port = free_port()
    daemon = start_daemon(tmp_path, write_cfg(tmp_path, port), daemons, "-b", "100000")
    out = subprocess.run(["ss", "-uamn", "sport", "=", f":{port}"], capture_output=True, text=True).stdout
    assert re.search(r"\brb200000\b", out), out  # the kernel doubles what it is asked for
    assert daemon.stop()


def test_server_id_is_the_cores_server_id(tmp_path, daemons):
    port = free_port()
    cfg = write_cfg(tmp_path, port, extra='loadmodule "pv.so"')
    cfg.write_text(cfg.read_text().replace('sl_send_reply("200", "OK")', 'sl_send_reply("200", "sid $sid")'))
    daemon = start_daemon(tmp_path, cfg, daemons, "--server-id=7")
    client = UDPClient()
    try:
        assert client.request(("127.0.0.1", port)).startswith(b"SIP/2.0 200 sid 7\r\n")
    finally:
        client.close()
    assert daemon.stop()


def test_t_chroots_the_server_before_it_serves(tmp_path):
    jail = tmp_path / "jail"
    for sub in ("dev", "tmp", "run"):
        (jail / sub).mkdir(parents=True)
    (jail / "tmp").chmod(0o1777)
    os.mknod(jail / "dev" / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    port = free_port()
    cfg = write_cfg(tmp_path, port, ctl='modparam("ctl", "binrpc", "unix:/run/ctl.sock")')
    proc = start_foreground(tmp_path, cfg, "-DD", "-E", "-t", str(jail), "-P", "/run/kampy.pid")
    try:
        assert answers_sip(port) and os.readlink(f"/proc/{proc.pid}/root") == str(jail)
        assert (jail / "run" / "kampy.pid").read_text() == f"{proc.pid}\n"
        assert ctl_version(f"unix:{jail}/run/ctl.sock").startswith("kampy")  # /run/ctl.sock inside the jail
    finally:
        assert stop_process(proc) == 0
    assert not list((jail / "tmp").iterdir())  # the shared store lived (and went) in the jail's /tmp


def test_log_engine_json_writes_a_json_object_per_line_with_the_call_id(tmp_path):
    import json

    port = free_port()
    cfg = write_cfg(tmp_path, port, extra='loadmodule "pv.so"\nloadmodule "xlog.so"')
    cfg.write_text(cfg.read_text().replace('request_route {', 'request_route { xlog("L_ERR", "got $rm\\n");'))
    proc = start_foreground(tmp_path, cfg, "-DD", "-E", "--log-engine=json:cM")
    try:
        client = UDPClient()
        reply = client.request(("127.0.0.1", port))
        client.close()
        deadline = time.monotonic() + 5
        while "got OPTIONS" not in (tmp_path / "stderr.log").read_text():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        text = (tmp_path / "stderr.log").read_text()
        lines = [json.loads(x) for x in text.splitlines() if x.startswith("{")]
        got = next(x for x in lines if "got OPTIONS" in x["message"])
        assert list(got) == ["idx", "pid", "level", "module", "file", "line", "function", "callid",
                             "logprefix", "message"]
        assert (got["level"], got["message"]) == ("ERROR", "<script>: got OPTIONS")
        assert got["callid"] == reply.split(b"Call-ID: ")[1].split(b"\r\n")[0].decode()
    finally:
        assert stop_process(proc) == 0
