"""One run of Debian's stock kamailio.cfg, unchanged, by one server (Kamailio 5.6 or kampy): its own
network and mount namespace (see netns.py), its own database in the test's MariaDB (tables made by
`kampy db create`, users added by `kampy db add` as `kamctl add` would), user agents inside the
namespace, `kamcmd` on its control socket, and what the run leaves behind: the database's rows and the
observations the scenario recorded.
"""
from __future__ import annotations

import contextlib
import re
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kampy.cli import main as kampy_main
from kampy.db import connect
from kampy.testing import mariadb
from tests.e2e.kampy_process import start_server, track
from tests.e2e.msilo_sample import Server
from tests.e2e.proxy import Msg
from tests.e2e.stock import rows
from tests.e2e.stock.certs import Certificates
from tests.e2e.stock.netns import Forwarder, Namespace
from tests.e2e.stock.sipua import UA
from tests.e2e.stock.transport import UDP, Stream

STOCK_DIR = Path("/etc/kamailio")  # installed by Debian's kamailio package
CONFIG_FILES = ("kamailio.cfg", "tls.cfg")
SERVERS = ("kamailio", "kampy")
REFERENCE = "kamailio"
# What every scenario runs with: users in MariaDB, digest authentication, location kept in the
# database, accounting to the database
BASE_DEFINES = ("WITH_MYSQL", "WITH_AUTH", "WITH_USRLOCDB", "WITH_ACCDB")
DOMAIN = "127.0.0.1"          # the users' domain: the server's own address (no alias in the stock config)
SIP = ("127.0.0.1", 5060)     # where the stock config listens (every interface, port 5060)
SIPS = ("127.0.0.1", 5061)    # and with WITH_TLS
DB_IN_NAMESPACE = ("127.0.0.1", 3306)
READY_TIMEOUT = 30.0


def accdb_statements(config: str) -> list[str]:
    """The ALTER TABLEs the stock config asks for with WITH_ACCDB (its `ACCDB_COMMENT` block): the
    columns its `db_extra` writes, added to acc and missed_calls."""
    if "#!ifdef ACCDB_COMMENT" not in config:
        return []
    block = config.split("#!ifdef ACCDB_COMMENT", 1)[1].split("#!endif", 1)[0]
    return [s.strip() for s in block.split(";") if s.strip().upper().startswith("ALTER TABLE")]


def server_command(kind: str, run_dir: Path, defines: list[str]) -> list[str]:
    """The command line that starts `kind` in the foreground, logging to stderr, with its control
    socket and pid file in `run_dir`: Kamailio's flags, which kampy takes as they are."""
    binary = {"kamailio": ["kamailio"], "kampy": [sys.executable, "-m", "kampy"]}[kind]
    return [*binary, "-DD", "-E", "-Y", str(run_dir), "-P", str(run_dir / f"{kind}.pid"),
            "-f", str(STOCK_DIR / "kamailio.cfg"), *(a for d in defines for a in ("-A", d))]


@dataclass
class Outcome:
    """What one run left: the rows of its database and what the scenario observed."""

    server: str
    rows: rows.Rows
    observations: dict[str, Any]
    exit_code: int | None = None
    log_tail: str = ""

    @property
    def clean(self) -> bool:
        """The server stopped by itself on SIGTERM: its shutdown work (usrloc's write-back) ran."""
        return self.exit_code == 0


@dataclass
class Account:
    user: str
    domain: str
    password: str


class Stock:
    """The world of one scenario on one server. Seed it (`add_user`, `insert`), `start` the server
    with defines, play with `ua`s, read `statistics`; `observe` what must be the same on both
    servers. The rows are read after the server stopped (usrloc writes back at shutdown)."""

    def __init__(self, kind: str, workdir: Path, server: mariadb.MariaDB, certs: Certificates,
                 config: str | None = None) -> None:
        """`config` replaces the stock kamailio.cfg: for testing the harness itself, and for the
        scenarios `@on(..., config=...)` names (scenario.py)."""
        if kind not in SERVERS:
            raise ValueError(f"unknown server {kind!r}; known: {SERVERS}")
        self.kind = kind
        self.workdir = workdir
        self.observations: dict[str, Any] = {}
        self.exit_code: int | None = None
        self.accounts: dict[str, Account] = {}
        self.server: Server | None = None
        self.defines: list[str] = []
        self._uas: list[UA] = []
        self._hosts = 0
        self._stack = contextlib.ExitStack()
        self.config = (STOCK_DIR / "kamailio.cfg").read_text()
        try:
            self.db_url = self._stack.enter_context(mariadb.fresh_database(server))
            self.etc = workdir / "etc"
            self.etc.mkdir(parents=True)
            for name in CONFIG_FILES:
                (self.etc / name).write_bytes((STOCK_DIR / name).read_bytes())
            if config is not None:
                self.config = config
                (self.etc / "kamailio.cfg").write_text(config)
            certs.install(self.etc)
            self.certs = certs
            self.run_dir = workdir / "run"
            self.run_dir.mkdir()
            # the tables of what the stock config loads: kamdbctl's standard and presence sets
            assert kampy_main(["db", "create", "--db-url", self.db_url, "--sets", "standard,presence"]) == 0
            self.ns = Namespace(self.etc)
            self._stack.callback(self.ns.close)
            forwarder = Forwarder(self.ns, DB_IN_NAMESPACE, ("127.0.0.1", server.port))
            self._stack.callback(forwarder.close)
            self.server_db_url = (f"mysql://{mariadb.USER}:{mariadb.PASSWORD}@{DB_IN_NAMESPACE[0]}:"
                                  f"{DB_IN_NAMESPACE[1]}/{self.db_url.rsplit('/', 1)[1]}")
        except BaseException:
            self._stack.close()
            raise

    # -- the database --
    def add_user(self, user: str, password: str, domain: str = DOMAIN) -> Account:
        """A subscriber, added as `kamctl add user@domain password` adds it."""
        assert kampy_main(["db", "add", "--db-url", self.db_url, f"{user}@{domain}", password]) == 0
        account = Account(user, domain, password)
        self.accounts[f"{user}@{domain}"] = account
        return account

    def insert(self, table: str, **row: Any) -> None:
        with connect(self.db_url) as db:
            db.insert(table, row)

    def rows(self) -> rows.Rows:
        with connect(self.db_url) as db:
            return rows.snapshot(db)

    # -- the server --
    def start(self, *defines: str) -> None:
        """Start the server on the stock config with BASE_DEFINES and `defines`; wait until it answers."""
        assert self.server is None, "started already"
        self.defines = [*BASE_DEFINES, *defines, f'DBURL="{self.server_db_url}"']
        if "WITH_ACCDB" in self.defines:
            with connect(self.db_url) as db:
                for statement in accdb_statements(self.config):
                    db.execute(statement)
        log_path = self.workdir / f"{self.kind}.log"
        with open(log_path, "wb") as out:
            command = [*self.ns.run_prefix(), *server_command(self.kind, self.run_dir, self.defines)]
            proc = start_server(command, cwd=self.run_dir, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        self.server = track(Server(self.kind, proc, SIP[1], log_path))
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Ready when an OPTIONS to the server itself gets the stock config's `200 Keepalive` (sent
        from 127.0.0.1, the server's own address, which the stock config exempts from pike)."""
        assert self.server is not None
        probe = self.ns.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        deadline = time.monotonic() + READY_TIMEOUT
        try:
            for n in range(1, 10000):
                if self.server.proc.poll() is not None:
                    raise RuntimeError(f"{self.kind} exited with {self.server.proc.returncode}:\n"
                                       f"{self.server.output()[-4000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.kind} does not answer after {READY_TIMEOUT}s:\n"
                                       f"{self.server.output()[-4000:]}")
                probe.sendto(_options_probe(port, n), SIP)
                probe.settimeout(0.2)
                with contextlib.suppress(TimeoutError):
                    if Msg.parse(probe.recv(65536)).status == 200:
                        return
        finally:
            probe.close()

    def stop(self) -> None:
        for ua in self._uas:
            ua.close()
        self._uas.clear()
        if self.server is not None and not self.server.stopped:
            self.exit_code = self.server.stop(timeout=20)

    def output(self) -> str:
        return self.server.output() if self.server else ""

    def kamcmd(self, *args: str) -> str:
        """kamcmd on the server's control socket (ctl's default socket, in the runtime dir -Y)."""
        proc = subprocess.run(["kamcmd", "-s", f"unix:{self.run_dir}/kamailio_ctl", *args],
                              capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            raise AssertionError(f"kamcmd {' '.join(args)} exited {proc.returncode}: "
                                 f"{proc.stdout}{proc.stderr}")
        return proc.stdout

    def statistics(self, group: str = "all") -> dict[str, int]:
        """`kamcmd stats.get_statistics GROUP` as {"group:name": value}."""
        out = {}
        for line in self.kamcmd("stats.get_statistics", group).splitlines():
            m = re.match(r"\s*([\w.-]+:[\w.-]+)\s*=\s*(-?\d+)\s*$", line)
            if m:
                out[m.group(1)] = int(m.group(2))
        return out

    # -- user agents --
    def ua(self, user: str, domain: str = DOMAIN, *, transport: str = "udp", host: str | None = None,
           password: str | None = None, server: tuple[str, int] = SIP, sockets: Any = None) -> UA:
        """A user agent on a host address of its own (127.0.0.10, .11, ... in creation order), with the
        password the account was added with (or `password`). `sockets(family, kind)` makes its
        socket somewhere else than the server's namespace (a phone behind a NAT, with its `host`),
        `server` is where it sends (UDP)."""
        if host is None:
            self._hosts += 1
            host = f"127.0.0.{9 + self._hosts}"
        account = self.accounts.get(f"{user}@{domain}")
        if password is None and account is not None:
            password = account.password
        if transport == "udp":
            link: Any = UDP(sockets or self.ns.socket, (host, 5070), server)
        elif transport == "tcp":
            link = Stream(self.ns.socket, (host, 5071), SIP)
        elif transport == "tls":
            context = ssl.create_default_context(cafile=str(self.certs.ca))
            link = Stream(self.ns.socket, (host, 5072), SIPS, tls=context, server_name="127.0.0.1")
        else:
            raise ValueError(f"unknown transport {transport!r}")
        ua = UA(user, domain, link, password)
        self._uas.append(ua)
        return ua

    def on_close(self, callback: Any) -> None:
        """Run `callback()` when the run is closed (after the server stopped): what a scenario
        started beside the server (a NAT, a media relay)."""
        self._stack.callback(callback)

    # -- what the scenario saw --
    def observe(self, key: str, value: Any) -> Any:
        """Record something both servers must show alike (reply codes, statistics); returns `value`."""
        assert key not in self.observations, f"observed {key!r} twice"
        self.observations[key] = value
        return value

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self._stack.close()


def _options_probe(port: int, n: int) -> bytes:
    return (f"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-probe-{n}\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=probe\r\nTo: <sip:127.0.0.1>\r\n"
            f"Call-ID: probe-{n}\r\nCSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()


@dataclass
class Play:
    """Runs scenario bodies: `play(server, body)` gives a Stock to `body`, then stops the server and
    returns the Outcome; every Stock is closed at the end of the test."""

    workdir: Path
    mariadb: mariadb.MariaDB
    certs: Certificates
    stocks: list[Stock] = field(default_factory=list)

    def play(self, server: str, body: Any, config: str | None = None) -> Outcome:
        stock = Stock(server, self.workdir / f"{server}-{len(self.stocks)}", self.mariadb, self.certs, config)
        self.stocks.append(stock)
        try:
            body(stock)
            stock.stop()
            return Outcome(server, stock.rows(), stock.observations, stock.exit_code, stock.output()[-3000:])
        finally:
            stock.close()
