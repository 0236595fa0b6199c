"""The core's `tcp:` and `dns:` statistics (Kamailio's tcp_stats.h and resolve.c counters), counted by
the network layer of each worker.

`tcp:current_opened_connections` is read from the shared table of connections (every worker's);
`tcp:current_write_queue_size` is the bytes kampy had queued for peers when it last wrote to or
closed each connection (asyncio does not report a queue draining below its high-water mark).
`tcp:send_timeout` stays 0: kampy gives a slow peer no send timeout, it closes the connection
when its queue passes `tcp_conn_wq_max` (`tcp:sendq_full`).
"""
from __future__ import annotations

from typing import Any

TCP = ("con_reset", "con_timeout", "connect_failed", "connect_success", "current_opened_connections",
       "current_write_queue_size", "established", "local_reject", "passive_open", "send_timeout",
       "sendq_full")
DNS = ("failed_dns_request", "slow_dns_request")


class NetCounters:
    """What one worker's network layer counts; `stats` is the server's `Stats` (None: no counting)."""

    def __init__(self, stats: Any = None, store: Any = None) -> None:
        self.stats = stats
        if stats is None:
            return
        for name in TCP:
            if name == "current_opened_connections" and store is not None:
                from kampy.runtime.tcp_registry import connections

                stats.register_gauge("tcp:current_opened_connections", lambda: len(connections(store)))
            else:
                stats.register("tcp", name, no_reset=name.startswith("current_"))
        for name in DNS:
            stats.register("dns", name)

    def inc(self, key: str, by: int = 1) -> None:
        if self.stats is not None and by:
            self.stats.inc(key, by)
