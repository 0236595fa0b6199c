"""samples/systemd/kampy.service started as systemd starts it (tests/support/systemd_unit.py): as user
kamailio with the unit's environment and /etc/default/kampy, /run/kamailio as its runtime directory,
Type=forking with its PIDFile. It runs in private mount and network namespaces, so that /run,
/etc/default and port 5060 are its own."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.kampy_process import REPO
from tests.support.systemd_unit import Unit

UNIT = REPO / "samples" / "systemd" / "kampy.service"
DEFAULTS = REPO / "samples" / "systemd" / "kampy.default"

CFG = """#!KAMAILIO
children=2
loadmodule "sl.so"
loadmodule "kex.so"
loadmodule "ctl.so"
request_route { sl_send_reply("200", "OK"); }
"""

# /run and /etc/default of its own; the test's Python (under root's home, private on this machine)
# reachable by the service's user; the loopback interface up
NAMESPACE = """set -e
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=0755 tmpfs /etc/default
cp "$T/kampy.default" /etc/default/kampy
cp "$T/kampy.cfg" /etc/default/kampy-test.cfg
if [ -d /root/.pyenv ]; then
    mkdir -p "$T/root" && mount --rbind /root "$T/root"
    mount -t tmpfs -o mode=0755 tmpfs /root && mkdir /root/.pyenv
    mount --rbind "$T/root/.pyenv" /root/.pyenv
fi
ip link set lo up
exec "$@"
"""


def test_the_unit_file_reads_as_debians_kamailio_service():
    unit = Unit.parse(UNIT)
    kamailio = Unit.parse(Path("/lib/systemd/system/kamailio.service"))
    for key in ("Type", "User", "Group", "PIDFile", "RuntimeDirectory", "RuntimeDirectoryMode", "Restart",
                "Environment"):
        assert unit.service[key] == kamailio.service[key]
    assert unit.one("ExecStart").split()[1:] == kamailio.one("ExecStart").split()[1:]


def test_kampy_starts_serves_and_stops_as_the_unit_says(tmp_path: Path):
    (tmp_path / "kampy.cfg").write_text(CFG)
    # the config where the service's user can read it (the test's directory is root's)
    defaults = DEFAULTS.read_text() + "CFGFILE=/etc/default/kampy-test.cfg\nSHM_MEMORY=32\n"
    (tmp_path / "kampy.default").write_text(defaults)
    result = tmp_path / "result.json"
    kampy = Path(sys.executable).parent / "kampy"
    run = subprocess.run(
        ["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", NAMESPACE, "ns",
         sys.executable, "-m", "tests.support.systemd_unit", str(UNIT), str(result), str(kampy)],
        cwd=REPO, env={"T": str(tmp_path), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, capture_output=True,
        text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    seen = json.loads(result.read_text())
    log = (tmp_path / "result.log").read_text() if (tmp_path / "result.log").exists() else ""
    assert seen["start_status"] == 0, log
    assert seen["argv"][1:] == ["-P", "/run/kamailio/kamailio.pid", "-f", "/etc/default/kampy-test.cfg",
                                "-m", "32", "-M", "8"]
    assert seen["main_pid"] and seen["main_parent"] != 0 and seen["processes"] == 3
    assert seen["users"] == ["kamailio"]
    assert seen["options"] == "SIP/2.0 200 OK"
    assert seen["kamcmd"].startswith("kampy 0.1.0 ")  # on kamcmd's default socket
    assert {"kamailio.pid", "kamailio_ctl"} <= set(seen["run_files"])
    assert seen["stopped"] and seen["left"] == []
    assert not {"kamailio.pid", "kamailio_ctl"} & set(seen["run_files_after"])
