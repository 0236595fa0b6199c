"""samples/msilo.cfg run by kampy and by Kamailio 5.6, on SQLite and on MariaDB, given what issue 19
found dropped or stored in vain: a From URI holding a byte that is not UTF-8 (defect 3) and a
65,000-byte MESSAGE over TCP (defect 4). Each server's answer and what it stored, on the wire.

Kamailio binds strings as bytes: SQLite keeps them (202), MariaDB's utf8mb4 column refuses them
(error 1366, so the sample answers 503). Kamailio reads at most `tcp_rd_buf_size` (16 KiB) of one
message over TCP and drops the connection past that; kampy reads up to 65,535 bytes and refuses at
store time a body that could not be delivered over UDP."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from kampy.db import connect
from kampy.testing import mariadb
from tests.e2e import msilo_sample
from tests.e2e.kampy_process import REPO
from tests.e2e.msilo_ua import UA, header
from tests.e2e.test_msilo_e2e import wait_for

pytestmark = pytest.mark.skipif(not msilo_sample.kamailio_has("db_mysql", "db_sqlite", "msilo"),
                                reason="Kamailio 5.6 with its MySQL and SQLite modules is not installed")

NOT_UTF8_USER = b"al\xffice"
# Kamailio 5.6 with samples/msilo.cfg, measured: the byte is stored as it is on SQLite; MariaDB refuses it
STATUS_FOR_NOT_UTF8 = {"sqlite": 202, "mysql": 503}


def kampy_db_create(url: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "kampy", "db", "create", "--db-url", url], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return url


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory, mariadb_server: mariadb.MariaDB) -> Iterator[dict]:
    """An SQLite file and a MariaDB database, both made by `kampy db create`."""
    sqlite_url = f"sqlite://{tmp_path_factory.mktemp('odd-sqlite')}/silo.sqlite"
    with mariadb.fresh_database(mariadb_server) as mysql_url:
        yield {"sqlite": kampy_db_create(sqlite_url), "mysql": kampy_db_create(mysql_url)}


@pytest.fixture(scope="module", params=[(s, b) for s in ("kampy", "kamailio") for b in ("sqlite", "mysql")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def sample(request: pytest.FixtureRequest, databases: dict,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[msilo_sample.Server, str, str]]:
    name, backend = request.param
    server = msilo_sample.start(name, tmp_path_factory.mktemp(f"{name}-{backend}"), databases[backend],
                                children=1)
    yield server, backend, databases[backend]
    server.stop()


@pytest.fixture
def sender() -> Iterator[UA]:
    ua = UA("sender")
    yield ua
    ua.close()


def owner_name() -> str:
    return f"owner{time.monotonic_ns()}"


def udp_message(ua: UA, to: str, from_user: bytes) -> bytes:
    n = time.monotonic_ns()
    return (f"MESSAGE sip:{to}@example.test SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{ua.port};branch=z9hG4bK-odd{n};rport\r\nMax-Forwards: 70\r\n"
            ).encode() + b"From: <sip:" + from_user + b"@example.test>;tag=odd\r\n" + (
            f"To: <sip:{to}@example.test>\r\nCall-ID: odd-{n}-{os.getpid()}\r\nCSeq: 1 MESSAGE\r\n"
            "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello").encode()


def rows_of(url: str, owner: str, column: str = "id") -> list[tuple]:
    with connect(url) as db:
        return db.query("silo", [column], {"username": owner})


def test_a_from_uri_byte_that_is_not_utf8_gets_the_answer_kamailio_gives(sample: tuple, sender: UA) -> None:
    server, backend, url = sample
    owner = owner_name()
    assert sender.request(server, udp_message(sender, owner, NOT_UTF8_USER)) == STATUS_FOR_NOT_UTF8[backend]
    stored = [(b"sip:" + NOT_UTF8_USER + b"@example.test").decode("utf-8", "surrogateescape")]
    assert [row[0] for row in rows_of(url, owner, "src_addr")] == (stored if backend == "sqlite" else [])


def test_what_was_stored_with_that_byte_is_delivered_from_it(sample: tuple, sender: UA) -> None:
    server, backend, _ = sample
    owner = UA(owner_name())
    try:
        sender.request(server, udp_message(sender, owner.user, NOT_UTF8_USER))
        assert owner.register(server) == 200
        if backend == "sqlite":
            assert wait_for(lambda: len(owner.received) == 1, 10)
            assert header(owner.received[0], b"from").startswith(b"<sip:" + NOT_UTF8_USER + b"@example.test>")
        else:
            time.sleep(1)
            assert owner.received == []
    finally:
        owner.close()


def test_a_retransmission_of_that_message_gets_the_same_answer(sample: tuple, sender: UA) -> None:
    server, backend, _ = sample
    raw = udp_message(sender, owner_name(), NOT_UTF8_USER)
    assert sender.request(server, raw) == STATUS_FOR_NOT_UTF8[backend]
    assert sender.request(server, raw) == STATUS_FOR_NOT_UTF8[backend]


def tcp_message(port: int, to: str, size: int) -> bytes | None:
    """Send a MESSAGE with a body of `size` bytes over a new TCP connection; the final reply, or
    None when the server closed the connection without one."""
    n = time.monotonic_ns()
    raw = (f"MESSAGE sip:{to}@example.test SIP/2.0\r\n"
           f"Via: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-big{n}\r\nMax-Forwards: 70\r\n"
           f"From: <sip:big@example.test>;tag=big\r\nTo: <sip:{to}@example.test>\r\n"
           f"Call-ID: big-{n}-{os.getpid()}\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\n"
           f"Content-Length: {size}\r\n\r\n").encode() + b"x" * size
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(raw)
        data = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            data += chunk
            while b"\r\n\r\n" in data:
                head, _, data = data.partition(b"\r\n\r\n")
                if not head.startswith(b"SIP/2.0 1"):
                    return head


def test_a_65000_byte_message_over_tcp_is_not_stored_to_fail_at_every_register(sample: tuple) -> None:
    server, _, url = sample
    owner = owner_name()
    reply = tcp_message(server.port, owner, 65000)
    if server.name == "kampy":
        assert reply is not None and reply.startswith(b"SIP/2.0 503 ")
    else:  # Kamailio: "tcp_read(): buffer overrun, dropping" past its 16 KiB read buffer
        assert reply is None
    assert rows_of(url, owner) == []


def test_a_message_of_16000_bytes_over_tcp_is_stored_by_both(sample: tuple) -> None:
    server, _, url = sample
    owner = owner_name()
    reply = tcp_message(server.port, owner, 16000)
    assert reply is not None and reply.startswith(b"SIP/2.0 202 ")
    assert len(rows_of(url, owner)) == 1
