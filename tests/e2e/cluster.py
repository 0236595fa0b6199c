"""Nodes of samples/cluster/ (kampy or Kamailio 5.6) on free loopback ports sharing one MariaDB
database, and the user agents' view of them: who registered where, which node delivered what.

Plain functions (no pytest), shared by tests/e2e/test_cluster.py and bench/cluster.py.
"""
from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from kampy.db import connect
from kampy.testing import mariadb
from tests.e2e import msilo_sample
from tests.e2e.kampy_process import REPO, free_port
from tests.e2e.msilo_ua import UA, header

CLUSTER = REPO / "samples" / "cluster"
Node = msilo_sample.Server


def node_defines(port: int, db_url: str, check_time: int) -> list[str]:
    """The `-A` arguments that put a node of the sample on 127.0.0.1:`port`."""
    defines = ["NODE_IP=127.0.0.1", f"NODE_PORT={port}", f'NODE_URI="sip:127.0.0.1:{port}"',
               f'DBURL="{db_url}"', f"MSILO_CHECK_TIME={check_time}"]
    return [a for d in defines for a in ("-A", d)]


def start_node(name: str, directory: Path, db_url: str, *, cfg: str = "cluster.cfg", check_time: int = 1,
               children: int | None = None) -> Node:
    """Start `name` ("kampy" or "kamailio") running samples/cluster/`cfg` as a node on a free port.
    `check_time` is msilo's: the claims of a node that died lapse after 3 of them."""
    port = free_port()
    directory = directory / f"{name}-{port}"
    directory.mkdir(parents=True)
    args = node_defines(port, db_url, check_time)
    return msilo_sample.start_cfg(name, CLUSTER / cfg, directory, port, args, children=children)


@contextlib.contextmanager
def cluster_database(server: mariadb.MariaDB) -> Iterator[str]:
    """A new database on `server` with Kamailio's tables made by `kampy db create`, as an operator
    makes it; dropped afterwards. Yields its URL."""
    with mariadb.fresh_database(server) as url:
        proc = subprocess.run([sys.executable, "-m", "kampy", "db", "create", "--db-url", url], cwd=REPO,
                              capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"kampy db create failed: {proc.stderr}")
        yield url


def register_everywhere(ua: UA, nodes: Sequence[Node], timeout: float = 10) -> list[int]:
    """REGISTER `ua` at every node at once (one datagram to each, then wait): the status each node
    answered, in the order of `nodes` (0: no answer)."""
    calls = {}
    for node in nodes:
        n = time.monotonic_ns()
        call_id = f"reg-{n}-{os.getpid()}"
        calls[call_id.encode()] = node
        ua.sock.sendto((f"REGISTER sip:example.test SIP/2.0\r\n"
                        f"Via: SIP/2.0/UDP 127.0.0.1:{ua.port};branch=z9hG4bK-r{n};rport\r\n"
                        f"Max-Forwards: 70\r\nFrom: <sip:{ua.user}@example.test>;tag=r{n}\r\n"
                        f"To: <sip:{ua.user}@example.test>\r\nCall-ID: {call_id}\r\nCSeq: 1 REGISTER\r\n"
                        f"Contact: <sip:{ua.user}@127.0.0.1:{ua.port}>\r\nExpires: 600\r\n"
                        "Content-Length: 0\r\n\r\n").encode(), node.addr)
    status = {id(node): 0 for node in nodes}
    deadline = time.monotonic() + timeout
    while any(v == 0 for v in status.values()) and time.monotonic() < deadline:
        try:
            reply = ua.replies.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        node = calls.get(header(reply, b"call-id") or b"")
        if node is not None:
            status[id(node)] = int(reply[8:11])
    return [status[id(node)] for node in nodes]


def delivering_port(request: bytes) -> int:
    """The node that relayed a MESSAGE to the device: the port in its top Via (a node sends its
    stored messages through itself, so that is also the node that sent it)."""
    via = header(request, b"via") or b""
    return int(via.split(b";", 1)[0].rsplit(b":", 1)[1])


def deliveries(uas: Sequence[UA]) -> Counter[bytes]:
    """How many times each body arrived (a retransmission, same Call-ID, counts once)."""
    return Counter(body for ua in uas for body in ua.bodies())


def silo_count(db_url: str) -> int:
    with connect(db_url) as db:
        return int(db.raw_query("SELECT COUNT(*) FROM silo")[0][0])


def claimed_count(db_url: str) -> int:
    """Rows some node has claimed (a delivery in flight, or the claim of a node that died)."""
    with connect(db_url) as db:
        return int(db.raw_query("SELECT COUNT(*) FROM silo WHERE status <> 0")[0][0])


def location_rows(db_url: str) -> dict[str, int]:
    """How many rows of the location table each user has."""
    with connect(db_url) as db:
        return {str(user): int(n) for user, n in
                db.raw_query("SELECT username, COUNT(*) FROM location GROUP BY username")}
