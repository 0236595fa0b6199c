"""Nodes of samples/cluster/dmq.cfg (kampy or Kamailio 5.6) on free loopback ports, sharing their
registrations and their htable over DMQ, and one-shot SIP requests to them.

Plain functions (no pytest), for tests/e2e/test_dmq_cluster.py (and `eventually` for
tests/e2e/test_dialog_dmq.py)."""
from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import TypeVar

from tests.e2e import msilo_sample
from tests.e2e.kampy_process import REPO, free_port

DMQ_CFG = REPO / "samples" / "cluster" / "dmq.cfg"
Node = msilo_sample.Server
_seq = count(1)
T = TypeVar("T")


def start_node(name: str, directory: Path, notify: Node | None = None) -> Node:
    """Start `name` ("kampy" or "kamailio") as a node; with `notify`, it joins that node's bus."""
    port = free_port()
    defines = [f"NODE_PORT={port}", f'NODE_URI="sip:127.0.0.1:{port}"']
    if notify is not None:
        defines.append(f'NOTIFY_URI="sip:127.0.0.1:{notify.port}"')
    directory = directory / f"{name}-{port}"
    directory.mkdir(parents=True)
    return msilo_sample.start_cfg(name, DMQ_CFG, directory, port, [a for d in defines for a in ("-A", d)])


def ask(node: Node, method: str, user: str, *, headers: str = "", body: str = "", timeout: float = 3) -> str:
    """Send one request for `user` to `node`: its final reply's status and reason ("" when none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        port = sock.getsockname()[1]
        n = next(_seq)
        sock.sendto((f"{method} sip:{user}@example.test SIP/2.0\r\n"
                     f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-d{n}-{os.getpid()};rport\r\n"
                     f"Max-Forwards: 70\r\nFrom: <sip:{user}@example.test>;tag=d{n}\r\n"
                     f"To: <sip:{user}@example.test>\r\nCall-ID: dmq-{n}-{os.getpid()}@test\r\n"
                     f"CSeq: {n} {method}\r\n{headers}"
                     f"Content-Length: {len(body.encode())}\r\n\r\n{body}").encode(),
                    node.addr)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65535)
            except TimeoutError:
                break
            if not data.startswith(b"SIP/2.0 1"):
                return data.split(b"\r\n", 1)[0][8:].decode()
    return ""


def register(node: Node, user: str, expires: int = 600) -> str:
    return ask(node, "REGISTER", user,
               headers=f"Contact: <sip:{user}@127.0.0.1:9999>\r\nExpires: {expires}\r\n")


def lookup(node: Node, user: str) -> str:
    """What the node's lookup("location") found for `user`: "200 Found <contact>" or "404 Not Found"."""
    return ask(node, "OPTIONS", user)


def eventually(fn: Callable[[], T], expected: T, timeout: float = 10) -> T:
    """`fn()` until it gives `expected` (replication is asynchronous), at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    got = fn()
    while got != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        got = fn()
    return got
