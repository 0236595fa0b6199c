"""samples/msilo.cfg with -A WITH_JSONRPC -A WITH_REMINDERS: offline messages are stored, refused,
dumped, and reminders delivered and failed; then every msilo counter is read over jsonrpcs' FIFO,
datagram socket and HTTP transports, and with `kampy rpc` on each."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.db import connect
from tests.e2e import msilo_sample
from tests.e2e.kampy_process import REPO
from tests.e2e.msilo_ua import UA
from tests.e2e.test_msilo_e2e import wait_for

COUNTERS = ("stored_messages", "dumped_messages", "failed_messages", "dumped_reminders", "failed_reminders")
# what the flows of the `flows` fixture leave behind (see there)
EXPECTED = {"stored_messages": 4, "dumped_messages": 3, "failed_messages": 2, "dumped_reminders": 1,
            "failed_reminders": 1}


def message(ua: UA, server: msilo_sample.Server, to: str, body: str, remind_at: float | None = None) -> int:
    n = time.monotonic_ns()
    remind = "" if remind_at is None else \
        f"X-Remind-At: {time.strftime('%Y%m%d%H%M%S', time.localtime(remind_at))}\r\n"
    raw = (f"MESSAGE sip:{to}@example.test SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{ua.port};branch=z9hG4bK-r{n};rport\r\n"
           f"Max-Forwards: 70\r\nFrom: <sip:{ua.user}@example.test>;tag=f{n}\r\n"
           f"To: <sip:{to}@example.test>\r\nCall-ID: rpc-{n}-{os.getpid()}\r\nCSeq: 1 MESSAGE\r\n"
           f"Contact: <sip:{ua.user}@127.0.0.1:{ua.port}>\r\nContent-Type: text/plain\r\n{remind}"
           f"Content-Length: {len(body)}\r\n\r\n{body}").encode()
    return ua.request(server, raw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[msilo_sample.Server, Path]]:
    tmp = tmp_path_factory.mktemp("rpc-msilo")
    server = msilo_sample.start(
        "kampy", tmp, f"sqlite://{tmp}/msilo.sqlite",
        defines=("WITH_JSONRPC", "WITH_REMINDERS", "MSILO_SEND_TIME=1", f'RPC_FIFO="{tmp}/rpc.fifo"',
                 f'RPC_DGRAM="{tmp}/rpc.sock"'))
    yield server, tmp
    server.stop()


@pytest.fixture(scope="module")
def flows(sample: tuple[msilo_sample.Server, Path]) -> tuple[msilo_sample.Server, Path]:
    """Store, failure, dump and reminder flows; the counters they leave are EXPECTED."""
    server, tmp = sample
    alice, bob, dave, erin = (UA(name) for name in ("alice", "bob", "dave", "erin"))
    try:
        # two offline messages stored for bob (stored 2)
        assert message(alice, server, "bob", "one") == 202
        assert message(alice, server, "bob", "two") == 202
        # bob's device refuses them (failed_messages 2), then takes them (dumped_messages 2)
        bob.answer = 480
        assert bob.register(server) == 200  # type: ignore[arg-type]
        assert wait_for(lambda: len(bob.received) == 2)
        # the server has taken both 480s before bob registers again (under load that takes a while)
        assert wait_for(lambda: failed_messages(tmp, server) == 2, 10)
        bob.received.clear()
        bob.answer = 200
        assert bob.register(server) == 200  # type: ignore[arg-type]
        assert wait_for(lambda: len(bob.received) == 2)
        # a reminder due now for dave, who is offline: it fails (failed_reminders 1, stored 3) and
        # becomes an ordinary offline message, dumped when dave registers (dumped_messages 3)
        assert message(alice, server, "dave", "call mum", remind_at=time.time()) == 202
        assert wait_for(lambda: snd_times(tmp, "dave") == [0], 10)
        assert dave.register(server) == 200  # type: ignore[arg-type]
        assert wait_for(lambda: len(dave.received) == 1)
        assert dave.bodies()[0].startswith(b"[Offline message - ")
        # a reminder for erin in 2 s, erin online by then: delivered (dumped_reminders 1, stored 4)
        assert message(alice, server, "erin", "meeting", remind_at=time.time() + 2) == 202
        assert erin.register(server) == 200  # type: ignore[arg-type]
        assert wait_for(lambda: len(erin.received) == 1)
        assert erin.bodies()[0].startswith(b"[Reminder message - ")
        time.sleep(0.5)  # the last 200 reaches the server
    finally:
        for ua in (alice, bob, dave, erin):
            ua.close()
    return sample


def failed_messages(tmp: Path, server: msilo_sample.Server) -> int:
    answer = json.loads(over_dgram(tmp, server, request("stats.fetchn", "failed_messages")))
    return int(answer["result"]["msilo.failed_messages"])


def snd_times(tmp: Path, owner: str) -> list[int]:
    with connect(f"sqlite://{tmp}/msilo.sqlite") as db:
        return [row[0] for row in db.query("silo", ["snd_time"], {"username": owner})]


# ------------------------------------------------------------------ the transports, spoken directly

def request(method: str, *params: object, reply_name: str | None = None) -> bytes:
    body: dict[str, object] = {"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1}
    if reply_name:
        body["reply_name"] = reply_name
    return json.dumps(body).encode()


def over_dgram(tmp: Path, server: msilo_sample.Server, data: bytes) -> bytes:
    me = tmp / f"client-{time.monotonic_ns()}.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(me))
        sock.settimeout(5)
        sock.sendto(data, str(tmp / "rpc.sock"))
        answer = sock.recv(1 << 20)
    me.unlink()
    return answer


def over_fifo(tmp: Path, server: msilo_sample.Server, data: bytes) -> bytes:
    """Kamailio's FIFO protocol: the request names a reply FIFO (in /tmp) that the client created."""
    name = f"kampy_test_reply_{os.getpid()}_{time.monotonic_ns()}"
    reply = Path("/tmp") / name
    os.mkfifo(reply)
    try:
        body = json.loads(data)
        body["reply_name"] = name
        answer: list[bytes] = []
        reader = threading.Thread(target=lambda: answer.append(reply.read_bytes()), daemon=True)
        reader.start()
        with open(tmp / "rpc.fifo", "wb") as fifo:
            fifo.write(json.dumps(body).encode() + b"\n")
        reader.join(5)
        assert answer, "no reply on the reply FIFO"
        return answer[0]
    finally:
        reply.unlink()


def over_http(tmp: Path, server: msilo_sample.Server, data: bytes) -> bytes:
    with socket.create_connection(server.addr, timeout=5) as sock:
        sock.sendall(b"POST /RPC HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return body


TRANSPORTS = {"fifo": over_fifo, "dgram": over_dgram, "http": over_http}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_msilo_counter_is_read_over_each_transport(flows: tuple[msilo_sample.Server, Path],
                                                        transport: str) -> None:
    server, tmp = flows
    answer = json.loads(TRANSPORTS[transport](tmp, server, request("stats.get_statistics", "msilo:")))
    assert sorted(answer["result"]) == sorted(f"msilo:{name} = {EXPECTED[name]}" for name in COUNTERS)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_each_msilo_counter_is_read_by_name_over_each_transport(flows: tuple[msilo_sample.Server, Path],
                                                               transport: str) -> None:
    server, tmp = flows
    answer = json.loads(TRANSPORTS[transport](tmp, server, request("stats.fetchn", *COUNTERS)))
    assert answer["result"] == {f"msilo.{name}": EXPECTED[name] for name in COUNTERS}


# ------------------------------------------------------------------ kampy rpc

def kampy_rpc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kampy", "rpc", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=30)


def kampy_rpc_target(transport: str, server: msilo_sample.Server, tmp: Path) -> list[str]:
    return {"fifo": ["--fifo", str(tmp / "rpc.fifo")], "dgram": ["--socket", str(tmp / "rpc.sock")],
            "http": ["--url", f"http://127.0.0.1:{server.port}/RPC"]}[transport]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_kampy_rpc_prints_every_msilo_counter_over_each_transport(flows: tuple[msilo_sample.Server, Path],
                                                                 transport: str) -> None:
    server, tmp = flows
    proc = kampy_rpc(*kampy_rpc_target(transport, server, tmp), "stats.get_statistics", "msilo:")
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.split("\n")[:-1]) == sorted(f"msilo:{n} = {EXPECTED[n]}" for n in COUNTERS)


@pytest.mark.parametrize("name", COUNTERS)
def test_kampy_rpc_reads_each_msilo_counter_by_name(flows: tuple[msilo_sample.Server, Path],
                                                    name: str) -> None:
    server, tmp = flows
    proc = kampy_rpc(*kampy_rpc_target("dgram", server, tmp), "--json", "stats.get_statistics",
                     f"msilo:{name}")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["result"] == [f"msilo:{name} = {EXPECTED[name]}"]
