"""The sample configs are Kamailio configs too: `kamailio -c` (Kamailio 5.6) accepts each of them,
with each of their defines."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
KAMAILIO = shutil.which("kamailio") or ("/usr/sbin/kamailio" if Path("/usr/sbin/kamailio").exists() else None)

CASES = [
    ("samples/msilo.cfg", []),
    ("samples/msilo.cfg", ["WITH_MYSQL"]),
    ("samples/msilo.cfg", ["WITH_JSONRPC"]),
    ("samples/msilo.cfg", ["WITH_REMINDERS"]),
    ("samples/msilo.cfg", ["WITH_MYSQL", "WITH_JSONRPC", "WITH_REMINDERS"]),
    ("samples/proxy.cfg", []),
    ("samples/loadbalancer.cfg", []),
    ("samples/cluster/node1.cfg", []),
    ("samples/cluster/node2.cfg", []),
    ("samples/cluster/cluster.cfg", []),
    ("samples/cluster/dmq.cfg", []),
    ("samples/cluster/dmq.cfg", ['NOTIFY_URI="sip:127.0.0.1:5072"']),
    ("tests/e2e/configs/proxy.cfg", []),
]


@pytest.mark.skipif(KAMAILIO is None, reason="Kamailio is not installed (apt-get install kamailio)")
@pytest.mark.parametrize(("cfg", "defines"), CASES, ids=lambda v: "+".join(v) if isinstance(v, list) else v)
def test_kamailio_accepts_the_config(cfg: str, defines: list[str], tmp_path: Path) -> None:
    args = [KAMAILIO, "-c", "-f", str(REPO / cfg)]
    for name in defines:
        args += ["-A", name]
    result = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
