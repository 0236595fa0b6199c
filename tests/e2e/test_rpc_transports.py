"""RPC over jsonrpcs' FIFO, datagram socket and HTTP (xhttp) with `kampy rpc`, kampy with 2 workers;
bad input; the same requests answered by Kamailio 5.6 with the same shapes."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.kampy_process import REPO, start_server, stop_process

CFG = """#!KAMAILIO
children=2
loadmodule "kex"
loadmodule "sl"
loadmodule "jsonrpcs"
loadmodule "xhttp"
loadmodule "xhttp_prom"
loadmodule "statistics"
modparam("jsonrpcs", "fifo_name", "{dir}/rpc.fifo")
modparam("jsonrpcs", "dgram_socket", "{dir}/rpc.sock")
modparam("jsonrpcs", "transport", 7)
modparam("statistics", "variable", "my_stat")
modparam("xhttp_prom", "xhttp_prom_stats", "all")
request_route {{
  update_stat("my_stat", "+1");
  sl_send_reply("404", "Not here");
}}
event_route[xhttp:request] {{
  if (prom_check_uri()) {{ prom_dispatch(); exit; }}
  if ($hu =~ "^/RPC") {{ jsonrpc_dispatch(); exit; }}
  xhttp_reply("404", "Not Found", "text/plain", "nope");
}}
"""
N = 10


def options(port: int, i: int, local_port: int) -> bytes:
    return (f"OPTIONS sip:x@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{local_port};"
            f"branch=z9hG4bK-{i}-{time.time_ns()}\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:x@y>\r\n"
            f"Call-ID: c{i}-{time.time_ns()}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n").encode()


def send_options(port: int, count: int) -> int:
    answered = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(3)
        for i in range(count):
            s.sendto(options(port, i, s.getsockname()[1]), ("127.0.0.1", port))
            if s.recv(4096).startswith(b"SIP/2.0 404"):
                answered += 1
    return answered


def kampy_rpc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kampy", "rpc", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    from tests.e2e.kampy_process import start_kampy

    tmp = tmp_path_factory.mktemp("rpc")
    kampy = start_kampy(CFG.format(dir=tmp), tmp)
    assert send_options(kampy.port, N) == N
    yield kampy, tmp
    kampy.stop()


def transports(server) -> dict[str, list[str]]:
    kampy, tmp = server
    return {"dgram": ["--socket", str(tmp / "rpc.sock")], "fifo": ["--fifo", str(tmp / "rpc.fifo")],
            "http": ["--url", f"http://127.0.0.1:{kampy.port}/RPC"]}


@pytest.mark.parametrize("transport", ["dgram", "fifo", "http"])
def test_counters_of_both_workers_are_read_over_each_transport(server, transport):
    proc = kampy_rpc(*transports(server)[transport], "--json", "stats.fetchn", "404_replies", "my_stat",
                     "rcv_requests")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["result"] == {"sl.404_replies": N, "script.my_stat": N,
                                                 "core.rcv_requests": N}


def test_core_psx_lists_the_main_process_and_both_workers(server):
    proc = kampy_rpc(*transports(server)["dgram"], "--json", "core.psx")
    processes = json.loads(proc.stdout)["result"]
    assert len(processes) == 3 and processes[0]["DSC"] == "main process - attendant"


def test_kampy_rpc_prints_kamcmd_like_lines(server):
    proc = kampy_rpc(*transports(server)["dgram"], "stats.get_statistics", "my_stat")
    assert proc.stdout.strip() == f"script:my_stat = {N}"


def test_kampy_rpc_exits_1_on_an_unknown_method(server):
    proc = kampy_rpc(*transports(server)["http"], "no.such")
    assert proc.returncode == 1 and "500 - Method Not Found" in proc.stderr


def test_kampy_rpc_says_when_the_server_is_not_reachable(tmp_path):
    proc = kampy_rpc("--socket", str(tmp_path / "none.sock"), "core.version")
    assert proc.returncode == 3 and "not reachable" in proc.stderr


def test_metrics_use_kamailio_names(server):
    kampy, _ = server
    body = http(kampy.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"200 OK" in body.split(b"\r\n")[0]
    assert b"\n# Kamailio whole internal statistics\n" in body and b"\nkamailio_sl_404_replies " in body


def http(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_malformed_json_over_the_datagram_socket_is_a_parse_error(server):
    _, tmp = server
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(str(tmp / "client.sock"))
        s.settimeout(5)
        s.sendto(b'{"jsonrpc":', str(tmp / "rpc.sock"))
        assert json.loads(s.recv(65536))["error"]["code"] == -32700


def test_malformed_json_over_http_is_a_parse_error(server):
    kampy, _ = server
    body = b'{"jsonrpc":'
    reply = http(kampy.port, b"POST /RPC HTTP/1.1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
                 % (len(body), body))
    assert json.loads(reply.partition(b"\r\n\r\n")[2])["error"]["code"] == -32700


def test_a_huge_http_request_is_refused_and_sip_keeps_serving(server):
    kampy, _ = server
    reply = http(kampy.port, b"POST /RPC HTTP/1.1\r\nContent-Length: 50000000\r\n\r\n{")
    assert reply.startswith(b"HTTP/1.1 413")
    assert send_options(kampy.port, 1) == 1


def test_a_silent_http_client_does_not_stop_the_sip_side(server):
    kampy, _ = server
    with socket.create_connection(("127.0.0.1", kampy.port)) as silent:
        silent.sendall(b"POST /RPC HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")  # and nothing more
        assert send_options(kampy.port, 2) == 2
        proc = kampy_rpc(*transports(server)["http"], "core.version")
        assert proc.returncode == 0


def test_a_silent_fifo_writer_does_not_stop_rpc(server):
    _, tmp = server
    with open(tmp / "rpc.fifo", "wb", buffering=0) as fifo:
        fifo.write(b'{"jsonrpc": "2.0", ')  # an unfinished request
        time.sleep(0.2)
        assert kampy_rpc(*transports(server)["dgram"], "core.version").returncode == 0


# ---------------------------------------------------------------- same shapes as Kamailio 5.6

KAMAILIO_CFG = """#!KAMAILIO
children=1
listen=udp:127.0.0.1:{port}
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "kex.so"
loadmodule "sl.so"
loadmodule "jsonrpcs.so"
loadmodule "statistics.so"
modparam("jsonrpcs", "fifo_name", "")
modparam("jsonrpcs", "dgram_socket", "{dir}/kam.sock")
modparam("jsonrpcs", "transport", 4)
modparam("statistics", "variable", "my_stat")
request_route {{ update_stat("my_stat", "+1"); sl_send_reply("404", "Not here"); }}
"""

SHAPE_REQUESTS = [
    ("stats.get_statistics", ["404_replies", "my_stat"]),
    ("stats.get_statistics", ["sl:"]),
    ("stats.get_statistics", []),
    ("stats.fetch", ["404_replies"]),
    ("stats.fetchn", ["my_stat"]),
    ("stats.reset_statistics", ["nosuch"]),
    ("stats.clear_statistics", ["my_stat"]),
    ("stats.clear_statistics", []),
    ("core.uptime", []),
    ("core.psx", []),
    ("core.ps", []),
    ("core.echo", ["a", 1]),
    ("core.version", []),
    ("core.info", []),
    ("system.methodHelp", ["nosuch"]),
    ("system.methodHelp", []),
    ("no.such.method", []),
]


def shape(value: object) -> object:
    """Names, nesting and types, without the values that differ between servers."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def ask(path: Path, me: Path, method: str, params: list[object]) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(str(me))
        s.settimeout(5)
        s.sendto(json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": 1}).encode(),
                 str(path))
        answer = json.loads(s.recv(1 << 20))
    me.unlink()
    return answer


@pytest.fixture(scope="module")
def kamailio(tmp_path_factory: pytest.TempPathFactory):
    binary = shutil.which("kamailio")
    if binary is None or not Path("/usr/lib/x86_64-linux-gnu/kamailio/modules/jsonrpcs.so").exists():
        pytest.skip("Kamailio 5.6 with jsonrpcs is not installed")
    from tests.e2e.kampy_process import free_port

    tmp = tmp_path_factory.mktemp("kamailio")
    port = free_port()
    cfg = tmp / "kamailio.cfg"
    cfg.write_text(KAMAILIO_CFG.format(port=port, dir=tmp))
    proc = start_server([binary, "-f", str(cfg), "-E", "-DD", "-n", "1", "-Y", str(tmp)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not (tmp / "kam.sock").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        send_options(port, 3)
        yield tmp
    finally:
        stop_process(proc, timeout=10)


SHAPE_IDS = ["-".join([m, *map(str, p)]) for m, p in SHAPE_REQUESTS]


@pytest.mark.parametrize("method,params", SHAPE_REQUESTS, ids=SHAPE_IDS)
def test_kampy_answers_with_kamailios_shape(server, kamailio, method, params):
    _, tmp = server
    theirs = ask(kamailio / "kam.sock", kamailio / "c.sock", method, params)
    ours = ask(tmp / "rpc.sock", tmp / "c.sock", method, params)
    assert shape(ours) == shape(theirs)
    if "error" in theirs:
        assert ours["error"] == theirs["error"]


PROM_CFG = """
loadmodule "sl"
loadmodule "xhttp"
loadmodule "xhttp_prom"
modparam("xhttp_prom", "xhttp_prom_stats", "all")
modparam("xhttp_prom", "xhttp_prom_buf_size", {size})
request_route {{ sl_send_reply("404", "Not here"); }}
event_route[xhttp:request] {{
  if (prom_check_uri()) {{ prom_dispatch(); exit; }}
  xhttp_reply("404", "Not Found", "text/plain", "nope");
}}
"""


@pytest.mark.parametrize(("size", "status"), [(200, b"500 Internal Server Error"), (1 << 20, b"200 OK")])
def test_metrics_larger_than_xhttp_prom_buf_size_are_a_500(tmp_path, size, status):
    from tests.e2e.kampy_process import running_kampy

    with running_kampy(PROM_CFG.format(size=size), tmp_path) as kampy:
        reply = http(kampy.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert reply.split(b"\r\n")[0] == b"HTTP/1.1 " + status
