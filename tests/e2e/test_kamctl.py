"""Debian's kamctl against kampy, beside Kamailio 5.6 running the same config (tests/e2e/rpc_servers.py):
kamctl talks to each through jsonrpcs' FIFO (its default RPCFIFO engine), through kamcmd for its
`kamcmd` passthrough, and to a SQLite database of its own for the subscriber commands. The same
command prints the same text from both servers once the values that differ by nature are masked
(process ids, times, versions, Call-IDs, ports and paths)."""
from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.beside import pair as started_pair
from tests.e2e.kampy_process import REPO, free_port
from tests.e2e.rpc_servers import Server, start, stop
from tests.support import kamctl as kamctl_support
from tests.support.kamailio_cli import Daemon, wait_gone

# JSON members whose values differ by nature, masked by name wherever kamctl prints them
MASKED = ("PID", "pid", "DSC", "description", "now", "up_since", "uptime", "Expires", "Ruid", "Last-Modified",
          "Last-Keepalive", "Call-ID", "Socket", "id", "result",
          "User-Agent")
# statistics whose values are memory sizes of different servers
SIZES = re.compile(r'("shmem:[a-z_]+ = )\d+')


class Kamctl:
    """kamctl pointed at one server (its FIFO, its ctl socket) and at a SQLite database."""

    def __init__(self, server: Server, db: Path) -> None:
        self.server = server
        self.db = db
        kamcmd = server.dir / "kamcmd"  # kamctl runs SERCMD without arguments of its own
        kamcmd.write_text(f'#!/bin/sh\nexec /usr/sbin/kamcmd -s {server.ctl_address()} "$@"\n')
        kamcmd.chmod(0o755)
        self.env = kamctl_support.rc_env(server.dir / "home", {
            "RPCFIFOPATH": f"{server.dir}/rpc.fifo", "SIP_DOMAIN": "example.test", "SERCMD": str(kamcmd),
            **kamctl_support.sqlite_settings(db)})
        self.env["TERM"] = "dumb"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["kamctl", *args], env=self.env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=60)

    def out(self, *args: str) -> str:
        """kamctl's output (and exit status), masked."""
        proc = self.run(*args)
        return mask(self.server.mask(proc.stdout + proc.stderr)) + f"\n[exit {proc.returncode}]"


def mask(text: str, names: tuple[str, ...] = MASKED) -> str:
    pattern = r'("(' + "|".join(re.escape(n) for n in names) + r')":\s+)("[^"]*"|-?[\d.]+)'
    text = re.sub(r"@127\.0\.0\.1:\d+", "@127.0.0.1:PORT", text)  # the test's user agents' ports
    return SIZES.sub(r"\1N", re.sub(pattern, r"\1<masked>", text))


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kamctl, Kamctl]]:
    tmp = tmp_path_factory.mktemp("kamctl")
    databases = []
    for name in ("kamailio", "kampy"):
        db = tmp / f"{name}.sqlite"
        subprocess.run([sys.executable, "-m", "kampy", "db", "create", "--db-url", f"sqlite:///{db}"],
                       check=True, capture_output=True, cwd=REPO, timeout=60)
        databases.append(db)
    for kamailio, kampy in started_pair(lambda name: start(name, tmp), stop):
        yield Kamctl(kamailio, databases[0]), Kamctl(kampy, databases[1])


def both(pair: tuple[Kamctl, Kamctl], *args: str) -> tuple[str, str]:
    kamailio, kampy = pair
    return kamailio.out(*args), kampy.out(*args)


@pytest.mark.parametrize("command", [
    ["uptime"], ["stats", "tm"], ["stats", "sl"], ["stats", "usrloc"], ["stats", "registrar"],
    ["stats", "shmem"], ["ul", "show"], ["ul", "show", "--brief"], ["ul", "show", "alice"],
    ["ul", "show", "nobody"], ["online"], ["srv", "modules"], ["rpc", "core.echo", "a", "1"],
    ["rpc", "no.such"], ["rpc", "ul.lookup", "location", "alice@example.test"], ["alias", "show"],
    ["rpc", "core.tcp_info"], ["rpc", "core.udp4_raw_info"], ["rpc", "stats.fetch", "usrloc:"],
])
def test_kamctl_prints_the_same_from_kampy_as_from_kamailio(pair, command):
    theirs, ours = both(pair, *command)
    assert ours == theirs
    assert ('"jsonrpc":  "2.0"' in ours or command == ["online"]) and "ERROR" not in ours


def test_kamctl_ps_lists_the_main_process_then_the_workers_with_kamailios_fields(pair):
    _, kampy = pair
    text = kampy.run("ps").stdout
    records = re.findall(r'"IDX":\s+(\d+),\s+"PID":\s+(\d+),\s+"DSC":\s+"([^"]*)"', text)
    assert [int(i) for i, _, _ in records] == [0, 1, 2]
    assert int(records[0][1]) == kampy.server.proc.pid and records[0][2] == "main process - attendant"


def test_kamctl_psa_gives_kamailios_fields_for_each_process(pair):
    kamailio, kampy = pair

    def first_record(ctl: Kamctl) -> str:
        text = ctl.out("psa")
        return text[:text.index("}")]

    assert first_record(kampy) == first_record(kamailio)


def test_kamctl_stats_lists_kamailios_statistic_names(pair):
    kamailio, kampy = pair

    def names(ctl: Kamctl) -> set[str]:
        return set(re.findall(r'"([a-z_]+:[A-Za-z0-9_]+) = ', ctl.run("stats").stdout))

    ours, theirs = names(kampy), names(kamailio)
    assert theirs - ours == set()
    assert ours - theirs == {"core:err_internal"}  # kampy's count of its own errors (docs/statistics.md)


def test_kamctl_srv_version_names_kampy_in_kamailios_format(pair):
    _, kampy = pair
    assert re.search(r'"result":\s+"kampy \d+\.\d+\.\d+ \(\w+/\w+\) \w*"', kampy.run("srv", "version").stdout)


def test_kamctl_monitor_shows_the_same_sections(pair):
    theirs, ours = both(pair, "monitor", "1")

    def shape(text: str) -> list[str]:
        return [re.sub(r"shmem:(\w+) = \d+\s*", r"shmem:\1 = N ", line) for line in text.splitlines()
                if not re.search(r"\(\w+/\w+\)|\d{2}:\d{2}:\d{2}|uptime", line)]

    assert shape(ours) == shape(theirs)


def test_kamctl_kamcmd_passes_commands_to_kamcmd(pair):
    theirs, ours = both(pair, "kamcmd", "core.echo", "x")
    assert ours == theirs == "x\n\n[exit 0]"


def test_kamctl_ul_add_show_and_rm_a_contact(pair):
    for ctl in pair:
        assert ctl.run("ul", "add", "carol", "sip:carol@192.0.2.7:5060", "3600").returncode == 0
    theirs, ours = both(pair, "ul", "show", "carol")
    assert ours == theirs and "sip:carol@192.0.2.7:5060" in ours
    theirs, ours = both(pair, "ul", "rm", "carol", "sip:carol@192.0.2.7:5060")
    assert ours == theirs
    theirs, ours = both(pair, "ul", "show", "carol")
    assert ours == theirs and "AOR not found" in ours


def test_kamctl_ul_rm_removes_every_contact_of_an_aor(pair):
    for ctl in pair:
        ctl.run("ul", "add", "dave", "sip:dave@192.0.2.8", "0")
        ctl.run("ul", "add", "dave", "sip:dave@192.0.2.11", "0")
    theirs, ours = both(pair, "ul", "rm", "dave")
    assert ours == theirs
    theirs, ours = both(pair, "ul", "show", "dave")
    assert ours == theirs and "AOR not found" in ours


def test_kamctl_alias_add_show_and_rm(pair):
    theirs, ours = both(pair, "alias", "add", "frank", "sip:frank@192.0.2.9")
    assert ours == theirs
    theirs, ours = both(pair, "alias", "show", "frank")
    assert ours == theirs and "sip:frank@192.0.2.9" in ours
    theirs, ours = both(pair, "alias", "rm", "frank")
    assert ours == theirs


def test_kamctl_add_and_rm_a_subscriber_clear_its_location_too(pair):
    for ctl in pair:
        assert ctl.run("add", "erin@example.test", "secret").returncode == 0
        ctl.run("ul", "add", "erin", "sip:erin@192.0.2.10", "0")
    theirs, ours = both(pair, "rm", "erin@example.test")
    assert ours == theirs
    for ctl in pair:
        rows = sqlite3.connect(ctl.db).execute(
            "SELECT COUNT(*) FROM subscriber WHERE username = 'erin'").fetchone()
        assert rows == (0,)
    theirs, ours = both(pair, "ul", "show", "erin")
    assert ours == theirs and "AOR not found" in ours


def test_kamctl_start_and_stop_run_kampy_as_kambin(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    cfg = START_CFG.replace("DIR", str(tmp_path)).replace("PORT", str(free_port()))
    (etc / "kamailio.cfg").write_text(cfg)
    kambin = tmp_path / "kampy"
    kambin.write_text(f"#!/bin/sh\nexec {sys.executable} -m kampy \"$@\"\n")
    kambin.chmod(0o755)
    pid_file = tmp_path / "kampy.pid"
    env = kamctl_support.rc_env(tmp_path / "home", {
        "KAMBIN": str(kambin), "ETCDIR": str(etc), "PID_FILE": str(pid_file), "SYSLOG": "1",
        "RPCFIFOPATH": f"{tmp_path}/rpc.fifo", "STARTOPTIONS": f"-Y {tmp_path}"})
    env["PYTHONPATH"] = str(REPO)
    started = subprocess.run(["kamctl", "start"], env=env, capture_output=True, text=True, timeout=60,
                             cwd=tmp_path)
    assert started.returncode == 0, started.stdout + started.stderr
    daemon = Daemon.from_pid_file(pid_file)
    try:
        assert f"started (pid: {daemon.pid})" in started.stdout
        uptime = subprocess.run(["kamctl", "uptime"], env=env, capture_output=True, text=True, timeout=30)
        assert '"up_since"' in uptime.stdout
        stopped = subprocess.run(["kamctl", "stop"], env=env, capture_output=True, text=True, timeout=30)
        assert stopped.returncode == 0 and "stopped" in stopped.stdout
        assert wait_gone(daemon.pid, 20)
    finally:
        daemon.stop()


START_CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
children=1
loadmodule "sl.so"
loadmodule "kex.so"
loadmodule "jsonrpcs.so"
modparam("jsonrpcs", "fifo_name", "DIR/rpc.fifo")
modparam("jsonrpcs", "transport", 2)
request_route {
  sl_send_reply("404", "Not here");
}
"""


def test_kamctl_ping_prints_the_final_reply_from_kampy_as_from_kamailio(pair):
    # each server pings itself: its request_route answers the OPTIONS 404 "Not here"
    theirs, ours = (ctl.out("ping", f"sip:nobody@127.0.0.1:{ctl.server.port}") for ctl in pair)
    assert ours == theirs
    assert '"code": 404' in ours and '"text": "Not here"' in ours
