"""Kamailio's tm counters (t_stats.c), published by tmx, and the tm.stats RPC."""
from __future__ import annotations

from .base import TmBase


class Stats(TmBase):
    """The transaction counters."""

    def _count(self, name: str, by: int = 1) -> None:
        self.core.stats.inc(self.counter_keys[name], by)

    def total_counters(self) -> dict[str, int]:
        """TmAPI: the transaction counters summed over every process (tmx's statistics, tm.stats)."""
        stats = self.core.stats
        return {name: stats.value(key) for name, key in self.counter_keys.items()}

    def rpc_stats(self) -> dict[str, int]:
        c = self.total_counters()
        return {"current": c["transactions"] - c["deleted"], "waiting": c["waiting"] - c["deleted"],
                "total": c["transactions"], "total_local": c["client_transactions"],
                "rpl_received": c["rpl_received"], "rpl_generated": c["rpl_generated"],
                "rpl_sent": c["rpl_sent"], "6xx": c["completed_6xx"], "5xx": c["completed_5xx"],
                "4xx": c["completed_4xx"], "3xx": c["completed_3xx"], "2xx": c["completed_2xx"],
                "created": c["transactions"], "freed": c["deleted"], "delayed_free": 0}
