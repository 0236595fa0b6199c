"""`kampy run` with core parameter values Kamailio 5.6 treats specially: a port above 65535 is
used modulo 65536 (Kamailio listens there too: kampy does not die of it), and a value of the
wrong type stops the start with `file:line:col: error:`, before anything is bound."""
from __future__ import annotations

import subprocess
import time

from tests.e2e.kampy_process import READY_MARK, REPO, free_port, kampy_command, start_server, stop_process
from tests.e2e.sip import UDPClient, status_of

ROUTE = 'loadmodule "sl.so"\nrequest_route {\n    sl_send_reply("200", "OK");\n}\n'


def test_listen_port_above_65535_listens_modulo_65536(tmp_path):
    port = free_port()
    cfg = tmp_path / "wrap.cfg"
    cfg.write_text(f"listen=udp:127.0.0.1:{port + 65536}\nchildren=1\ndisable_tcp=yes\n" + ROUTE)
    log_path = tmp_path / "kampy.log"
    with open(log_path, "wb") as log:
        proc = start_server(kampy_command(cfg), cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    client = UDPClient()
    try:
        for _ in range(600):
            if READY_MARK in log_path.read_text() or proc.poll() is not None:
                break
            time.sleep(0.05)
        output = log_path.read_text()
        assert READY_MARK in output, output
        assert f"port {port + 65536} is above 65535" in output
        assert status_of(client.request(("127.0.0.1", port))) == 200
    finally:
        client.close()
        stop_process(proc)
    assert "Traceback" not in log_path.read_text()


def test_children_of_the_wrong_type_stops_the_start(tmp_path):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text("children=abc\n" + ROUTE)
    result = subprocess.run(kampy_command(cfg, "-l", f"udp:127.0.0.1:{free_port()}"), cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"{cfg}:1:10: error: children: number expected, not abc" in result.stderr
    assert "Traceback" not in result.stderr and "listening on" not in result.stderr
