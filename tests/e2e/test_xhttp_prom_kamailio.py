"""xhttp_prom's user-defined metrics, differential: Kamailio 5.6 and kampy (2 workers each) run
tests/e2e/configs/xhttp_prom.cfg, get the same requests and RPC commands (kamcmd over ctl), and
must answer /metrics and xhttp_prom.metric_list_print with the same text (timestamps aside)."""
from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e import dualserver
from tests.e2e.dualserver import Server
from tests.e2e.kampy_process import free_port

CFG = dualserver.CONFIGS / "xhttp_prom.cfg"
TIMESTAMP = re.compile(rb" \d{13}$", re.MULTILINE)

# (method, X-T, X-G, X-H): label values, a gauge value, an observed value
REQUESTS = [
    ("OPTIONS", "a", "1.5", "0.25"), ("MESSAGE", "a", "3", "0.75"), ("OPTIONS", "b", "-2e1", "7"),
    ("OPTIONS", "a", "2", "1"), ("INFO", "c", "x", "5"), ("OPTIONS", "reset", "4", "0.5"),
]
RPCS = [
    ("xhttp_prom.counter_inc", "cnt01", "5", "RPC", "y"),
    ("xhttp_prom.counter_inc", "cnt02", "7"),
    ("xhttp_prom.gauge_set", "gg02", "7.5"),
    ("xhttp_prom.gauge_set", "gg01", "0.125", "rpc"),
    ("xhttp_prom.histogram_observe", "h1", "0.75", "rpc"),
    ("xhttp_prom.histogram_observe", "h2", "11"),
    ("xhttp_prom.counter_reset", "cnt01", "OPTIONS", "b"),
    ("xhttp_prom.gauge_reset", "gg01", "a"),
]
FAULTS = [
    ("xhttp_prom.counter_inc", "nosuch", "1"),
    ("xhttp_prom.counter_inc", "cnt01", "1", "only-one"),
    ("xhttp_prom.gauge_set", "cnt02", "1.5"),
    ("xhttp_prom.gauge_reset", "gg02", "extra"),
    ("xhttp_prom.histogram_observe", "h1", "2"),
    ("xhttp_prom.counter_reset",),
]


def request(server: Server, sock: socket.socket, i: int, method: str, tag: str, gauge: str,
            value: str) -> str:
    local = sock.getsockname()[1]
    sock.sendto((f"{method} sip:x@{server.host}:{server.port} SIP/2.0\r\n"
                 f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-prom-{i}-{time.time_ns()}\r\n"
                 f"From: <sip:a@example.test>;tag=f{i}\r\nTo: <sip:x@example.test>\r\n"
                 f"Call-ID: prom-{i}-{time.time_ns()}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n"
                 f"X-T: {tag}\r\nX-G: {gauge}\r\nX-H: {value}\r\nContent-Length: 0\r\n\r\n").encode(),
                server.addr)
    return sock.recv(65536).split(b"\r\n", 1)[0].decode()


def metrics(port: int) -> bytes:
    """The status line and body of GET /metrics (read up to Content-Length: Kamailio keeps the
    connection open)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += s.recv(65536)
        head, _, body = reply.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
        while len(body) < length:
            body += s.recv(65536)
    return head.split(b"\r\n", 1)[0] + b"\n" + body


def kamcmd(server: Server, *args: str) -> str:
    proc = subprocess.run([dualserver.KAMCMD, "-s", f"unix:{server.run_dir / 'kamailio_ctl'}", *args],
                          capture_output=True, text=True, timeout=30)
    return f"{proc.returncode}:{proc.stdout}{proc.stderr}"


def run(kind: str, workdir: Path) -> dict[str, object]:
    http = free_port()
    server = dualserver.start(kind, CFG, workdir, {"HTTP": f"tcp:127.0.0.1:{http}"})
    try:
        seen: dict[str, object] = {"empty": kamcmd(server, "xhttp_prom.metric_list_print")}
        seen["first"] = kamcmd(server, "xhttp_prom.counter_inc", "cnt02", "3")
        # short: Kamailio's ctl answers nothing when the text passes its 1024-byte printf buffer
        seen["list"] = TIMESTAMP.sub(b" TS", kamcmd(server, "xhttp_prom.metric_list_print").encode()).decode()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(5)
            seen["replies"] = [request(server, sock, i, *r) for i, r in enumerate(REQUESTS)]
        seen["rpc"] = [kamcmd(server, *r) for r in RPCS]
        seen["faults"] = [kamcmd(server, *r) for r in FAULTS]
        seen["metrics"] = TIMESTAMP.sub(b" TS", metrics(http)).decode()
        return seen
    finally:
        server.stop()


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    tmp = tmp_path_factory.mktemp("prom")
    return {kind: run(kind, tmp / kind) for kind in ("kamailio", "kampy")}


def test_functions_return_what_kamailio_returns(both):
    assert both["kampy"]["replies"] == both["kamailio"]["replies"]
    assert both["kamailio"]["replies"][0] == "SIP/2.0 200 Eabcdefgh"


def test_rpc_commands_answer_as_kamailio(both):
    assert both["kampy"]["first"] == both["kamailio"]["first"] == "0:"
    assert both["kampy"]["rpc"] == both["kamailio"]["rpc"]


def test_rpc_faults_are_kamailios(both):
    assert both["kampy"]["faults"] == both["kamailio"]["faults"]


def test_metrics_text_is_kamailios_byte_for_byte(both):
    assert both["kampy"]["metrics"] == both["kamailio"]["metrics"]
    assert 'kamailio_h1_bucket{hl="a", le="0.500000"} 1 TS\n' in both["kamailio"]["metrics"]


def test_metric_list_print_is_kamailios(both):
    assert both["kampy"]["empty"] == both["kamailio"]["empty"] == "0:# User defined metrics\n\n"
    short = "0:# User defined metrics\nkamailio_cnt02 3 TS\n\n"
    assert both["kampy"]["list"] == both["kamailio"]["list"] == short
