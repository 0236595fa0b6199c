"""kampy and Kamailio 5.6 share one MariaDB `kamailio` database made by `kampy db create`, both running
samples/msilo.cfg unchanged: what one stores, the other delivers, byte for byte."""
from __future__ import annotations

import email.utils
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from kampy.db import connect
from tests.e2e import msilo_sample
from tests.e2e.kampy_process import REPO
from tests.e2e.msilo_ua import UA, header
from tests.e2e.test_msilo_e2e import wait_for
from kampy.testing import mariadb

pytestmark = pytest.mark.skipif(not msilo_sample.kamailio_has("db_mysql", "msilo"),
                                reason="Kamailio 5.6 with kamailio-mysql-modules is not installed")

# UTF-8, a byte that is not UTF-8, a NUL, CR LF and SQL quoting: all must come back unchanged
BODY = "Grüße from {who}\r\nline 2 'quoted'; -- \\ ".encode() + b"\xff\x00end"


@pytest.fixture(scope="module")
def kamailio_db(mariadb_server: mariadb.MariaDB) -> str:
    """The MariaDB database `kamailio`, emptied, then filled by `kampy db create` (as a user would)."""
    root = mariadb_server.connect(database=None, user="root", password="")
    with root.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {mariadb.DATABASE}")
        cur.execute(f"CREATE DATABASE {mariadb.DATABASE}")
        cur.execute(f"GRANT ALL ON {mariadb.DATABASE}.* TO '{mariadb.USER}'@'%'")
    root.close()
    url = mariadb_server.url
    proc = subprocess.run([sys.executable, "-m", "kampy", "db", "create", "--db-url", url], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return url


@pytest.fixture(scope="module")
def kamailio(kamailio_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[msilo_sample.Server]:
    server = msilo_sample.start("kamailio", tmp_path_factory.mktemp("kamailio"), kamailio_db, children=1)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def kampy(kamailio_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[msilo_sample.Server]:
    server = msilo_sample.start("kampy", tmp_path_factory.mktemp("kampy"), kamailio_db)
    yield server
    server.stop()


@pytest.fixture
def agents() -> Iterator[tuple[UA, UA]]:
    n = time.monotonic_ns()
    sender, owner = UA(f"sender{n}"), UA(f"owner{n}")
    yield sender, owner
    sender.close()
    owner.close()


def send_message(ua: UA, server: msilo_sample.Server, to: str, body: bytes) -> int:
    n = time.monotonic_ns()
    raw = (f"MESSAGE sip:{to}@example.test SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{ua.port};branch=z9hG4bK-i{n};rport\r\n"
           f"Max-Forwards: 70\r\nFrom: <sip:{ua.user}@example.test>;tag=f{n}\r\n"
           f"To: <sip:{to}@example.test>\r\nCall-ID: interop-{n}-{os.getpid()}\r\nCSeq: 1 MESSAGE\r\n"
           f"Contact: <sip:{ua.user}@127.0.0.1:{ua.port}>\r\nContent-Type: text/plain; charset=utf-8\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    return ua.request(server, raw)  # type: ignore[arg-type]


def stored_row(db_url: str, owner: str) -> tuple:
    with connect(db_url) as db:
        rows = db.query("silo", ["inc_time", "body", "ctype"], {"username": owner})
    assert len(rows) == 1, rows
    return rows[0]


def assert_delivered(owner: UA, inc_time: int, body: bytes) -> None:
    assert wait_for(lambda: len(owner.received) == 1, 10)
    delivered = owner.received[0]
    prefix = f"[Offline message - {time.ctime(inc_time)}] ".encode()
    assert delivered.split(b"\r\n\r\n", 1)[1] == prefix + body
    assert header(delivered, b"date") == email.utils.formatdate(inc_time, usegmt=True).encode()
    assert header(delivered, b"content-type") == b"text/plain"


def rows_for(db_url: str, owner: str) -> int:
    with connect(db_url) as db:
        return len(db.query("silo", ["id"], {"username": owner}))


def test_kamailio_starts_on_the_tables_made_by_kampy_db_create(kamailio: msilo_sample.Server) -> None:
    time.sleep(0.5)
    assert kamailio.proc.poll() is None
    assert "ERROR" not in kamailio.output()


def test_a_message_stored_by_kamailio_is_delivered_by_kampy(kamailio: msilo_sample.Server,
                                                           kampy: msilo_sample.Server, kamailio_db: str,
                                                           agents: tuple[UA, UA]) -> None:
    sender, owner = agents
    body = BODY.replace(b"{who}", b"Kamailio")
    assert send_message(sender, kamailio, owner.user, body) == 202
    inc_time, stored, ctype = stored_row(kamailio_db, owner.user)
    assert (stored, ctype) == (body, "text/plain")
    assert owner.register(kampy) == 200  # type: ignore[arg-type]
    assert_delivered(owner, inc_time, body)
    # kampy deletes the row on the 2xx (Kamailio would wait for its next cleanup timer run)
    assert wait_for(lambda: rows_for(kamailio_db, owner.user) == 0, 10)


def test_a_message_stored_by_kampy_is_delivered_by_kamailio(kamailio: msilo_sample.Server,
                                                           kampy: msilo_sample.Server, kamailio_db: str,
                                                           agents: tuple[UA, UA]) -> None:
    sender, owner = agents
    body = BODY.replace(b"{who}", b"kampy")
    assert send_message(sender, kampy, owner.user, body) == 202
    inc_time, stored, ctype = stored_row(kamailio_db, owner.user)
    assert (stored, ctype) == (body, "text/plain")
    assert owner.register(kamailio) == 200  # type: ignore[arg-type]
    assert_delivered(owner, inc_time, body)


def test_both_servers_send_the_same_offline_notice(kamailio: msilo_sample.Server, kampy: msilo_sample.Server,
                                                   agents: tuple[UA, UA]) -> None:
    sender, owner = agents
    for server in (kamailio, kampy):
        assert send_message(sender, server, owner.user, b"are you there?") == 202
    assert wait_for(lambda: len(sender.bodies()) == 2, 10)
    assert sender.bodies() == [f"*** User {owner.user} is offline!".encode()] * 2
