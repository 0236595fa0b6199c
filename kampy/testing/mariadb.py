"""A private MariaDB server for tests: its own data directory, 127.0.0.1 and a free port.

Ships with kampy (the `kampy_mariadb` fixture, and kampy's own test suite); needs the MariaDB server
binaries (Debian: mariadb-server) but no running service and no root password."""
from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pymysql

log = logging.getLogger(__name__)

DATABASE = "kamailio"
USER = "kamailio"
PASSWORD = "kamailiorw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class MariaDB:
    port: int
    datadir: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"mysql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def connect(self, database: str | None = DATABASE, user: str = USER,
                password: str = PASSWORD) -> pymysql.connections.Connection:
        return pymysql.connect(host="127.0.0.1", port=self.port, user=user, password=password,
                               database=database, autocommit=True, connect_timeout=5)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> None:
        """Start the stopped server again on the same port and data directory."""
        self.stop()
        binary = server_binary()
        assert binary
        self.process = _launch(binary, self.datadir, self.port)
        _wait_ready(self, self.datadir.parent)


    def as_root(self, *statements: str) -> None:
        """Run statements on a root connection of their own (one kept open would not survive a
        restart of the server)."""
        root = self.connect(database=None, user="root", password="")
        try:
            with root.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            root.close()


@contextmanager
def fresh_database(server: MariaDB) -> Iterator[str]:
    """A new, empty database owned by the kamailio account, dropped afterwards (the server may
    have been stopped and restarted in between); yields its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.as_root(f"CREATE DATABASE {name} CHARACTER SET utf8mb4",
                   f"GRANT ALL ON {name}.* TO '{USER}'@'%'")
    try:
        yield server.url.rsplit("/", 1)[0] + "/" + name
    finally:
        server.as_root(f"DROP DATABASE IF EXISTS {name}")


def server_binary() -> str | None:
    return shutil.which("mariadbd") or shutil.which("mysqld") or (
        "/usr/sbin/mariadbd" if os.path.exists("/usr/sbin/mariadbd") else None)


def start(base: Path) -> MariaDB:
    binary = server_binary()
    installer = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    if not binary or not installer:
        raise RuntimeError("MariaDB is not installed (Debian package mariadb-server)")
    datadir = base / "data"
    datadir.mkdir(parents=True)
    (base / "tmp").mkdir()  # a private tmpdir: servers of parallel test runs must not share /tmp
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run([installer, "--no-defaults", f"--datadir={datadir}", f"--tmpdir={base / 'tmp'}",
                    "--auth-root-authentication-method=normal", "--skip-test-db", *user],
                   check=True, capture_output=True, timeout=180)
    port = free_port()
    db = MariaDB(port, datadir, _launch(binary, datadir, port))
    _wait_ready(db, base)
    _create_account(db)
    return db


def _launch(binary: str, datadir: Path, port: int) -> subprocess.Popen:
    base = datadir.parent
    user = ["--user=root"] if os.geteuid() == 0 else []
    return subprocess.Popen(
        [binary, "--no-defaults", f"--datadir={datadir}", f"--port={port}", "--bind-address=127.0.0.1",
         f"--socket={base / 'mysqld.sock'}", f"--pid-file={base / 'mysqld.pid'}", "--skip-log-bin",
         f"--tmpdir={base / 'tmp'}",
         "--innodb-buffer-pool-size=64M", f"--log-error={base / 'error.log'}",
         # the log reaches the OS at each commit (a killed server loses nothing) but is not synced to
         # disk: creating Kamailio's 70 tables takes half the time
         "--innodb-flush-log-at-trx-commit=2", *user],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_ready(db: MariaDB, base: Path, timeout: float = 60) -> None:
    """Wait until *this* server answers on its port. Another MariaDB may be listening there: a
    restart reuses the port, which anyone may take while ours is stopped, and then ours fails to
    bind and exits; a test must never be handed that stranger (SIGSTOP would stop the wrong one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.process.poll() is not None:
            raise RuntimeError(f"mariadbd exited: {(base / 'error.log').read_text()[-2000:]}")
        try:
            conn = db.connect(database=None, user="root", password="")
        except pymysql.err.MySQLError:
            time.sleep(0.2)
            continue
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT @@pid_file")
                (pid_file,) = cur.fetchone()
        finally:
            conn.close()
        if os.path.realpath(pid_file) == os.path.realpath(base / "mysqld.pid"):
            return
        log.warning("another MariaDB answers on port %d; waiting for ours", db.port)
        time.sleep(0.2)
    db.stop()
    raise RuntimeError("mariadbd did not become ready in time")


def _create_account(db: MariaDB) -> None:
    conn = db.connect(database=None, user="root", password="")
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE} CHARACTER SET utf8mb4")
        cur.execute(f"CREATE USER IF NOT EXISTS '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'")
        cur.execute(f"CREATE USER IF NOT EXISTS '{USER}'@'localhost' IDENTIFIED BY '{PASSWORD}'")
        cur.execute(f"GRANT ALL ON {DATABASE}.* TO '{USER}'@'%'")
        cur.execute(f"GRANT ALL ON {DATABASE}.* TO '{USER}'@'localhost'")
    conn.close()
