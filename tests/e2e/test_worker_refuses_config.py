"""A config that passes the check but that a worker refuses when it builds its routes (a
pseudo-variable kampy lists as not implemented) stops the start with the diagnostics, as a config
error, without a Python traceback."""
from __future__ import annotations

import subprocess
from pathlib import Path

from tests.e2e.kampy_process import REPO, free_port
from tests.support.kamailio_cli import kampy_cmd

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:{port}
children=1
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
request_route {{ xlog("L_INFO", "$ksr(x)\\n"); sl_send_reply("200", "OK"); }}
"""


def test_a_worker_refusing_the_config_logs_its_diagnostics_without_a_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "kampy.cfg"
    cfg.write_text(CFG.format(port=free_port()))
    command = kampy_cmd("-DD", "-E", "-f", str(cfg), "-Y", str(tmp_path), "-P", str(tmp_path / "pid"))
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO,
                          stdin=subprocess.DEVNULL)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "worker 1: " in output and "$ksr of module 'pv' is not available in kampy" in output
    assert "Traceback" not in output
