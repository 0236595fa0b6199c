"""The open TCP connections of every worker, in one shared table (Kamailio's tcpconn hash, which
`core.tcp_list` and `core.tcp_info` read from any process).

Each worker writes its own connections: one entry when a connection opens, its deletion when it
closes, and its last activity at most once a second (what `timeout` is computed from). A reader
sees every worker's connections at once, without asking the workers.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("kampy.net.tcp")

TABLE = "core.tcp_connections"
CAPACITY = 1 << 12
MAX_CAPACITY = 1 << 20
REFRESH = 1.0  # seconds between two writes of a connection's last activity


@dataclass(frozen=True)
class ConnectionInfo:
    """One connection as `core.tcp_list` shows it (Kamailio's `rcv`: src is the peer, dst the local
    socket)."""

    id: int
    type: str
    state: str
    lifetime: float
    last_activity: float  # time.monotonic() of the worker (one clock for every process)
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int

    def timeout(self, now: float) -> int:
        """Seconds left before the connection is closed for idleness (Kamailio's `timeout`)."""
        return int(self.last_activity + self.lifetime - now)


class TcpRegistry:
    """A worker's view of the shared table of connections (`store` is the server's shared store)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._table = store.table(TABLE, CAPACITY, max_capacity=MAX_CAPACITY)
        self._written: dict[int, float] = {}

    def opened(self, conn_id: int, proto: str, peer: tuple[str, int], local: tuple[str, int],
               lifetime: float) -> None:
        self._write(conn_id, {"type": proto.upper(), "state": "CONN_OK", "lifetime": lifetime,
                              "src": list(peer), "dst": list(local)}, time.monotonic())

    def active(self, conn_id: int, when: float) -> None:
        """The connection carried data at `when`; written when the last write is a second old."""
        last = self._written.get(conn_id)
        if last is None or when - last < REFRESH:
            return
        found = self._table.get(_key(conn_id))
        if found is not None:
            record = json.loads(found[0])
            self._write(conn_id, record, when)

    def find(self, proto: str, host: str, port: int) -> int | None:
        """An open connection of any worker with the peer `host:port` over `proto` (tcp, tls)."""
        for c in connections(self._store):
            if c.type == proto.upper() and c.src_port == port and c.src_ip == host and c.state == "CONN_OK":
                return c.id
        return None

    def closed(self, conn_id: int) -> None:
        if self._written.pop(conn_id, None) is not None:
            self._guard(lambda: self._table.delete(_key(conn_id)))

    def _write(self, conn_id: int, record: dict[str, Any], when: float) -> None:
        record["at"] = when
        self._written[conn_id] = when
        self._guard(lambda: self._table.put(_key(conn_id), json.dumps(record).encode()))

    @staticmethod
    def _guard(write: Any) -> None:
        try:
            write()
        except Exception as exc:  # a full table must never break a connection
            log.warning("cannot record a tcp connection for core.tcp_list: %s", exc)


def connections(store: Any) -> list[ConnectionInfo]:
    """Every open connection of every worker, by id."""
    table = store.table(TABLE, CAPACITY, max_capacity=MAX_CAPACITY)
    out = []
    for item in table.items():
        try:
            r = json.loads(item.value)
            out.append(ConnectionInfo(int.from_bytes(item.key, "big"), r["type"], r["state"],
                                      float(r["lifetime"]), float(r["at"]), r["src"][0], int(r["src"][1]),
                                      r["dst"][0], int(r["dst"][1])))
        except (ValueError, KeyError, IndexError, TypeError):
            continue
    return sorted(out, key=lambda c: c.id)


def connection_state(store: Any, conn_id: int) -> str | None:
    """The state of the open connection `conn_id` (Kamailio's `CONN_OK`...), None when there is none."""
    found = store.table(TABLE, CAPACITY, max_capacity=MAX_CAPACITY).get(_key(conn_id))
    if found is None:
        return None
    try:
        return str(json.loads(found[0])["state"])
    except (ValueError, KeyError, TypeError):
        return None


def _key(conn_id: int) -> bytes:
    return conn_id.to_bytes(8, "big")
