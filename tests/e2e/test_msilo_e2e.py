"""`kampy run samples/msilo.cfg` over UDP with Python user agents: store and dump on SQLite and
MariaDB, the database stopped under traffic, and SIGKILL in the middle of a dump of 1,000 messages."""
from __future__ import annotations

import itertools
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.db import connect, create_tables
from tests.e2e.kampy_process import REPO, Kampy, free_port, start_kampy

SAMPLE = REPO / "samples" / "msilo.cfg"
_seq = itertools.count(1)


class UA:
    """A user agent on its own UDP port: answers every request it gets (200 unless told otherwise)
    and keeps them; `request()` sends one and waits for its final reply."""

    def __init__(self, user: str, answer: int | None = 200) -> None:
        self.user = user
        self.answer = answer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self._call_ids: set[bytes | None] = set()  # of `received`: a retransmission is kept once
        self.answered: list[bytes] = []  # Call-IDs answered with a 2xx
        self.replies: queue.Queue[bytes] = queue.Queue()
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(70000)
            except (TimeoutError, OSError):
                continue
            if data.startswith(b"SIP/2.0 "):
                if not data.startswith(b"SIP/2.0 1"):
                    self.replies.put(data)
                continue
            self._on_request(data, addr)

    def _on_request(self, data: bytes, addr: tuple[str, int]) -> None:
        call_id = header(data, b"call-id")
        with self._lock:
            # a set, not a scan of `received`: with 1,000 messages a scan per datagram made this
            # thread fall seconds behind on a loaded machine, past tm's timers (a 408 keeps the row)
            if call_id not in self._call_ids:
                self._call_ids.add(call_id)
                self.received.append(data)
            status = self.answer
        if status is None:
            return
        if 200 <= status < 300:
            self.answered.append(call_id)
        self.sock.sendto(reply_to(data, status), addr)

    def request(self, kampy: Kampy, raw: bytes, timeout: float = 10) -> int:
        while not self.replies.empty():
            self.replies.get_nowait()
        self.sock.sendto(raw, kampy.addr)
        deadline = time.monotonic() + timeout
        call_id = header(raw, b"call-id")
        while time.monotonic() < deadline:
            try:
                data = self.replies.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if header(data, b"call-id") == call_id:
                return int(data[8:11])
        return 0

    def message(self, kampy: Kampy, to: str, body: str) -> int:
        n = next(_seq)
        raw = (f"MESSAGE sip:{to}@example.test SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK-m{n};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:{self.user}@example.test>;tag=f{n}\r\n"
               f"To: <sip:{to}@example.test>\r\nCall-ID: msg-{n}-{os.getpid()}\r\nCSeq: 1 MESSAGE\r\n"
               f"Contact: <sip:{self.user}@127.0.0.1:{self.port}>\r\nContent-Type: text/plain\r\n"
               f"Content-Length: {len(body.encode())}\r\n\r\n{body}").encode()
        return self.request(kampy, raw)

    def register(self, kampy: Kampy) -> int:
        n = next(_seq)
        raw = (f"REGISTER sip:example.test SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK-r{n};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:{self.user}@example.test>;tag=r{n}\r\n"
               f"To: <sip:{self.user}@example.test>\r\nCall-ID: reg-{n}-{os.getpid()}\r\n"
               f"CSeq: {n} REGISTER\r\n"
               f"Contact: <sip:{self.user}@127.0.0.1:{self.port}>\r\nExpires: 600\r\n"
               "Content-Length: 0\r\n\r\n").encode()
        return self.request(kampy, raw)

    def forget(self) -> None:
        """Clear what was received so far."""
        with self._lock:
            self.received.clear()
            self._call_ids.clear()

    def bodies(self) -> list[bytes]:
        with self._lock:
            return [r.split(b"\r\n\r\n", 1)[1] for r in self.received]

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()


def header(data: bytes, name: bytes) -> bytes | None:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def reply_to(request: bytes, status: int) -> bytes:
    head = request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    wanted = (b"via", b"from", b"call-id", b"cseq")
    keep = [h for h in head[1:] if h.split(b":", 1)[0].strip().lower() in wanted]
    to = next(h for h in head if h.lower().startswith(b"to:"))
    return b"\r\n".join([f"SIP/2.0 {status} Answer".encode(), *keep, to + b";tag=ua", b"Content-Length: 0"]) \
        + b"\r\n\r\n"


def start_sample(tmp_path: Path, db_url: str, port: int | None = None) -> Kampy:
    port = port or free_port()
    defines = {"DBURL": f'"{db_url}"', "LISTEN_UDP": f"udp:127.0.0.1:{port}",
               "LISTEN_TCP": f"tcp:127.0.0.1:{port}", "MSILO_PROXY": f'"sip:127.0.0.1:{port}"',
               "MSILO_CONTACT": f'"Contact: <sip:registrar@127.0.0.1:{port}>;msilo=yes\\r\\n"'}
    args = [a for name, value in defines.items() for a in ("-A", f"{name}={value}")]
    return start_kampy(SAMPLE, tmp_path, port=port, args=args)


def wait_for(check, timeout: float = 20, step: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return bool(check())


def silo_rows(db_url: str) -> list[tuple]:
    with connect(db_url) as db:
        return db.query("silo", ["id", "body"], order_by="id")


def kill_all(kampy: Kampy) -> None:
    """SIGKILL the supervisor and every worker (its process group): the server dies at once, as in
    a crash. stop_process waits until the group is gone and deletes the shared store left behind."""
    kampy.stop(signal.SIGKILL)


@pytest.fixture
def uas() -> Iterator[dict[str, UA]]:
    agents = {"alice": UA("alice"), "bob": UA("bob")}
    yield agents
    for ua in agents.values():
        ua.close()


@pytest.fixture(params=["sqlite", "mysql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/msilo.sqlite"
    return request.getfixturevalue("mysql_url_with_tables")


def test_message_for_an_offline_user_is_stored_and_delivered_on_register(tmp_path: Path, db_url: str,
                                                                         uas: dict[str, UA]) -> None:
    alice, bob = uas["alice"], uas["bob"]
    kampy = start_sample(tmp_path, db_url)
    try:
        assert alice.register(kampy) == 200
        assert alice.message(kampy, "bob", "Hello Bob, ünïcode") == 202
        assert wait_for(lambda: alice.bodies() == [b"*** User bob is offline!"])
        assert len(silo_rows(db_url)) == 1
        assert bob.register(kampy) == 200
        assert wait_for(lambda: len(bob.bodies()) == 1)
        assert bob.bodies()[0].endswith("] Hello Bob, ünïcode".encode())
        assert bob.bodies()[0].startswith(b"[Offline message - ")
        assert wait_for(lambda: silo_rows(db_url) == [])
        assert bob.message(kampy, "alice", "online now") == 200  # delivered directly, not stored
    finally:
        kampy.stop()


def test_a_refused_dump_stays_stored_and_is_sent_again(tmp_path: Path, uas: dict[str, UA]) -> None:
    db_url = f"sqlite://{tmp_path}/msilo.sqlite"
    alice, bob = uas["alice"], uas["bob"]
    kampy = start_sample(tmp_path, db_url)
    try:
        assert alice.message(kampy, "bob", "try twice") == 202
        bob.answer = 480
        assert bob.register(kampy) == 200
        assert wait_for(lambda: len(bob.received) == 1)
        time.sleep(0.5)
        assert len(silo_rows(db_url)) == 1  # not deleted, and not stored a second time
        bob.answer = 200
        assert bob.register(kampy) == 200
        assert wait_for(lambda: silo_rows(db_url) == [])
    finally:
        kampy.stop()


@pytest.fixture
def mysql_url_with_tables(mysql_url: str) -> str:
    with connect(mysql_url) as db:
        create_tables(db)
    return mysql_url


def test_database_stopped_under_traffic_gives_503_then_storing_resumes(tmp_path: Path, mariadb_server,  # type: ignore[no-untyped-def]
                                                                      mysql_url_with_tables: str,
                                                                      uas: dict[str, UA]) -> None:
    mysql_url = mysql_url_with_tables
    alice, carol = uas["alice"], UA("carol")
    kampy = start_sample(tmp_path, mysql_url)
    try:
        assert alice.message(kampy, "bob", "before") == 202
        mariadb_server.stop()
        try:
            started = time.monotonic()
            assert alice.message(kampy, "bob", "during", ) == 503
            assert time.monotonic() - started < 10
            assert carol.register(kampy) == 200  # SIP is still answered
            assert alice.message(kampy, "bob", "during 2") == 503
        finally:
            mariadb_server.restart()
        assert wait_for(lambda: alice.message(kampy, "bob", "after") == 202, 30, 0.5)
        assert [r[1] for r in silo_rows(mysql_url)][:1] == [b"before"]
        assert b"after" in [r[1] for r in silo_rows(mysql_url)]
    finally:
        carol.close()
        kampy.stop()


def test_sigkill_during_a_dump_of_1000_messages_loses_and_duplicates_nothing_unacknowledged(
        tmp_path: Path, uas: dict[str, UA]) -> None:
    db_url = f"sqlite://{tmp_path}/msilo.sqlite"
    with connect(db_url, create_missing=True) as db:
        now = int(time.time())
        db.execute("BEGIN")
        for i in range(1000):
            db.insert("silo", {"src_addr": "sip:alice@example.test", "dst_addr": "sip:bob@example.test",
                               "username": "bob", "domain": "example.test", "inc_time": now,
                               "exp_time": now + 3600, "snd_time": 0, "ctype": "application/x-n",
                               "body": f"n{i:04d}".encode(), "extra_hdrs": ""})
        db.execute("COMMIT")
    bob = uas["bob"]
    port = free_port()
    kampy = start_sample(tmp_path, db_url, port)
    try:
        assert bob.register(kampy) == 200
        assert wait_for(lambda: len(silo_rows(db_url)) <= 900, 60, 0.05)
        bob.answer = None  # stop acknowledging, then crash the server mid-dump
        kill_all(kampy)
    finally:
        if not kampy.stopped:
            kampy.stop()
    acked = {b[:5] for b in bob.bodies()[:len(bob.answered)]}
    left = {r[1] for r in silo_rows(db_url)}
    deleted = {f"n{i:04d}".encode() for i in range(1000)} - left
    assert deleted <= acked, "a row was deleted without a 2xx"
    assert len(left) < 1000
    bob.answer = 200
    bob.forget()
    kampy = start_sample(tmp_path, db_url, free_port())
    try:
        assert bob.register(kampy) == 200
        assert wait_for(lambda: silo_rows(db_url) == [], 120, 0.2), \
            f"{len(silo_rows(db_url))} message(s) still stored; bob got {len(bob.received)}"
        assert left <= set(bob.bodies())
    finally:
        kampy.stop()
