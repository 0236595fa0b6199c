"""Kamailio's tm counters (t_stats.c), published by tmx, and the tm.stats RPC."""
from __future__ import annotations

from collections.abc import Callable

from .base import TmBase


class Stats(TmBase):
    """The transaction counters."""

    def _count(self, name: str, by: int = 1) -> None:
        self.counters[name] += by
        if self.stats_listener is not None:
            self.stats_listener(self.counters)

    def watch_counters(self, listener: Callable[[dict[str, int]], None]) -> None:
        """TmAPI: `listener(counters)` now and on each change of the transaction counters."""
        self.stats_listener = listener
        listener(self.counters)

    def rpc_stats(self) -> dict[str, int]:
        c = self.counters
        return {"current": c["transactions"] - c["deleted"], "waiting": c["waiting"] - c["deleted"],
                "total": c["transactions"], "total_local": c["client_transactions"],
                "rpl_received": c["rpl_received"], "rpl_generated": c["rpl_generated"],
                "rpl_sent": c["rpl_sent"], "6xx": c["completed_6xx"], "5xx": c["completed_5xx"],
                "4xx": c["completed_4xx"], "3xx": c["completed_3xx"], "2xx": c["completed_2xx"],
                "created": c["transactions"], "freed": c["deleted"], "delayed_free": 0}
