"""Unit tcfgxx0003 of Kamailio's suite (faulty config - ifdef check): an #!ifndef never closed is
refused by `-c` and by a start, each saying 'different number of preprocessor directives'."""
from __future__ import annotations

import subprocess
from pathlib import Path

from tests.e2e.kampy_process import REPO
from tests.support.kamailio_cli import kampy_cmd

CFG = """#!KAMAILIO

#!define WITH_ME

request_route {
	drop;
}

#!ifndef WITH_ME
request[ME] {
	exit;
}
"""


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(kampy_cmd(*args), capture_output=True, text=True, timeout=60, cwd=cwd,
                          stdin=subprocess.DEVNULL, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def test_tcfgxx0003_the_check_fails_naming_the_unbalanced_directives(tmp_path: Path) -> None:
    (tmp_path / "kamailio-tcfgxx0003.cfg").write_text(CFG)
    done = run("-c", "-f", "./kamailio-tcfgxx0003.cfg", cwd=tmp_path)
    assert done.returncode != 0
    assert "different number of preprocessor directives" in done.stdout + done.stderr


def test_tcfgxx0003_a_start_fails_naming_the_unbalanced_directives(tmp_path: Path) -> None:
    (tmp_path / "kamailio-tcfgxx0003.cfg").write_text(CFG)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    done = run("-P", str(run_dir / "kamailio.pid"), "-w", str(run_dir), "-Y", str(run_dir), "-a", "no",
               "-ddd", "-E", "-f", "./kamailio-tcfgxx0003.cfg", cwd=tmp_path)
    assert done.returncode != 0
    assert "different number of preprocessor directives" in done.stdout + done.stderr
    assert not (run_dir / "kamailio.pid").exists()
