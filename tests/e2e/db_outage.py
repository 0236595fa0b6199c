"""A database outage under load: MESSAGEs for an offline user at a steady rate against samples/msilo.cfg
on MariaDB, the server stopped for a while and started again. Plain functions (no pytest), shared by
tests/e2e/test_db_outage.py (a few seconds) and bench/db_outage.py (30 s, kampy beside Kamailio).

What is measured: every MESSAGE sent and the reply it got (status, time); replies by phase (before,
down, back), the latency of the 503s while the database is down, how long after the server answered
again the first 202 came, the RSS of the server's processes each second, and the messages lost: a
202 whose row is not in the silo table.
"""
from __future__ import annotations

import itertools
import os
import socket
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kampy.db import connect
from tests.e2e.kampy_process import rss_kib
from tests.e2e.msilo_sample import Server
from tests.e2e.sip import call_id_of, status_of

USER = "offline"
_SERIALS = itertools.count(1)  # one Call-ID and branch per MESSAGE of this process, across senders


@dataclass
class Sent:
    at: float
    status: int = 0
    answered_at: float = 0.0

    @property
    def ms(self) -> float:
        return (self.answered_at - self.at) * 1000


@dataclass
class Outage:
    """What one run saw; times are time.monotonic()."""

    sent: dict[str, Sent] = field(default_factory=dict)
    stopped_at: float = 0.0      # the database stopped (the stop returned)
    restarted_at: float = 0.0    # the database answers again (the restart returned)
    rss_kib: list[int] = field(default_factory=list)
    rss_at_stop_kib: int = 0
    rows: int = 0

    def phase(self, sent: Sent) -> str:
        if sent.at < self.stopped_at:
            return "before"
        return "down" if sent.at < self.restarted_at else "back"

    def figures(self) -> dict[str, object]:
        by_phase: dict[str, list[Sent]] = {"before": [], "down": [], "back": []}
        for s in self.sent.values():
            by_phase[self.phase(s)].append(s)
        down_503 = sorted(s.ms for s in by_phase["down"] if s.status == 503)
        first_202 = min((s.answered_at for s in by_phase["back"] if s.status == 202), default=None)
        last_503 = max((s.answered_at for s in by_phase["back"] if s.status == 503), default=None)
        accepted = sum(1 for s in self.sent.values() if s.status == 202)
        return {
            "sent": len(self.sent),
            "unanswered": sum(1 for s in self.sent.values() if not s.status),
            "statuses": {p: _count(ss) for p, ss in by_phase.items()},
            "down_503_ms": {"median": _round(statistics.median(down_503)) if down_503 else None,
                            "p99": _round(_pct(down_503, 0.99)),
                            "max": _round(down_503[-1] if down_503 else None)},
            "first_202_after_s": _round(first_202 - self.restarted_at if first_202 else None, 3),
            "last_503_after_s": _round(last_503 - self.restarted_at if last_503 else 0.0, 3),
            "accepted": accepted, "rows": self.rows, "lost": max(0, accepted - self.rows),
            "rss_mib": {"start": _mib(self.rss_kib[:1]), "at_stop": _mib([self.rss_at_stop_kib]),
                        "max": _mib([max(self.rss_kib, default=0)]), "end": _mib(self.rss_kib[-1:])},
        }


def _count(sents: list[Sent]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in sents:
        key = str(s.status or "none")
        out[key] = out.get(key, 0) + 1
    return out


def _pct(values: list[float], q: float) -> float | None:
    return values[min(len(values) - 1, int(len(values) * q))] if values else None


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _mib(values: list[int]) -> float | None:
    return round(values[0] / 1024, 1) if values else None


class Sender:
    """MESSAGEs at `rate` per second from one UDP socket; a thread reads the replies."""

    def __init__(self, server: Server, outage: Outage) -> None:
        self.server, self.outage = server, outage
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.serial = 0

    def send_one(self) -> None:
        self.serial = next(_SERIALS)
        call_id = f"outage-{self.serial}-{os.getpid()}"
        body = f"message {self.serial}"
        data = (f"MESSAGE sip:{USER}@example.test SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK-o{self.serial};rport\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:sender@example.test>;tag=s{self.serial}\r\n"
                f"To: <sip:{USER}@example.test>\r\nCall-ID: {call_id}\r\nCSeq: 1 MESSAGE\r\n"
                f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode()
        self.outage.sent[call_id] = Sent(time.monotonic())
        self.sock.sendto(data, self.server.addr)

    def _read(self) -> None:
        while self.running:
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, OSError):
                continue
            sent = self.outage.sent.get(call_id_of(data) or "")
            status = status_of(data)
            if sent is not None and status >= 200 and not sent.status:
                sent.status, sent.answered_at = status, time.monotonic()

    def close(self) -> None:
        self.running = False
        self.reader.join()
        self.sock.close()


def stored(url: str) -> int:
    """The rows of the silo table for the offline user."""
    with connect(url) as db:
        return db.raw_query("SELECT COUNT(*) FROM silo WHERE username = %s", (USER,))[0][0]


def burst(server: Server, count: int, *, rate: float, settle: float = 2.0) -> list[int]:
    """Send `count` MESSAGEs at `rate` per second; the final status of each (0: none within `settle` s
    after the last was sent)."""
    outage = Outage()
    sender = Sender(server, outage)
    started = time.monotonic()
    try:
        for i in range(1, count + 1):
            sender.send_one()
            ahead = started + i / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline and any(not s.status for s in outage.sent.values()):
            time.sleep(0.01)
    finally:
        sender.close()
    return [s.status for s in outage.sent.values()]


def worker_pids(server: Server) -> list[int]:
    """The server's first process and its children (kampy's workers)."""
    try:
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    except OSError:
        return [server.pid]
    return [server.pid, *map(int, children)]


def run(server: Server, stop_db: Callable[[], None], start_db: Callable[[], None],
        count_rows: Callable[[], int], *, rate: float, before: float, down: float, after: float,
        settle: float = 3.0) -> Outage:
    """Send at `rate` for before + down + after seconds (plus the restart's own time); the database is
    stopped after `before` s and started again `down` s later."""
    outage = Outage()
    sender = Sender(server, outage)
    started = base = time.monotonic()
    events = [(before, "stop"), (before + down, "start")]
    next_rss = started
    try:
        i = 0
        while True:
            now = time.monotonic()
            if events and now - started >= events[0][0]:
                _, what = events.pop(0)
                if what == "stop":
                    outage.rss_at_stop_kib = sum(rss_kib(p) for p in worker_pids(server))
                    stop_db()
                    outage.stopped_at = time.monotonic()
                else:
                    _start_while_sending(start_db, sender, rate)
                    outage.restarted_at = base = time.monotonic()
                    i = 0
                continue
            if not events and now - outage.restarted_at >= after:
                break
            if now >= next_rss:
                outage.rss_kib.append(sum(rss_kib(p) for p in worker_pids(server)))
                next_rss += 1.0
            i += 1
            sender.send_one()
            ahead = base + i / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        time.sleep(settle)  # the last replies
    finally:
        sender.close()
    outage.rows = count_rows()
    return outage


def _start_while_sending(start_db: Callable[[], None], sender: Sender, rate: float) -> None:
    """Start the database in a thread and keep sending meanwhile (those MESSAGEs count as 'down')."""
    done = threading.Event()
    thread = threading.Thread(target=lambda: (start_db(), done.set()), daemon=True)
    thread.start()
    t0, i = time.monotonic(), 0
    while not done.is_set():
        i += 1
        sender.send_one()
        ahead = t0 + i / rate - time.monotonic()
        if ahead > 0:
            done.wait(ahead)
    thread.join()
