"""The pike module: counts the requests of each source address and blocks the ones that send too
many, with Kamailio's algorithm (see tree.py), the counts shared by every worker."""
from __future__ import annotations

from typing import Any

from kampy.api import CoreAPI, MessageContext, Module, RpcFault, log_at, module_logger

from .tree import (NEWRED_NODE, RED_NODE, STATUS_ALL, STATUS_HOT, STATUS_NAMES, STATUS_WARM, Node, Tree,
                   ip_text, packed_ip)

log = module_logger("pike")

BLOCKED = "pike:blocked_ips"


def check_positive(value: int) -> None:
    if value <= 0:
        raise ValueError(f"must be greater than 0 (got {value})")


class Pike(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.log_level = int(params["pike_log_level"])
        self.max_hits = int(params["reqs_density_per_unit"])
        self.tree = Tree(core.shared.table("pike", 1 << 12, max_capacity=1 << 22), self.max_hits,
                         int(params["sampling_time_unit"]), int(params["remove_latency"]), self._unblocked)
        self.blocked = core.stats.register("pike", "blocked_ips")
        self.tree.epoch(self.ticks())  # the units count from the server's start, as Kamailio's swap timer

    def ticks(self) -> int:
        """Kamailio's get_ticks(): whole seconds of the monotonic clock."""
        return int(self.core.clock.monotonic())

    def _unblocked(self, node: Node) -> None:
        log_at(log, self.log_level, "PIKE - UNBLOCKing node %s", node.pointer)

    # ------------------------------------------------------------ functions

    def check_ip(self, ip: bytes) -> int:
        """pike_check_ipaddr: 1, or -1 for a source already blocked, -2 for one just blocked."""
        flags, node = self.tree.check(ip, self.ticks())
        if flags & RED_NODE:
            if flags & NEWRED_NODE:
                log_at(log, self.log_level, "PIKE - BLOCKing ip %s, node=%s", ip_text(ip), node.pointer)
                self.core.stats.inc(self.blocked)
                return -2
            return -1
        return 1

    def pike_check_req(self, ctx: MessageContext) -> int:
        ip = packed_ip(ctx.src.ip)
        if ip is None:  # not an address (a test's source): counted as allowed, as Kamailio's error case
            return 1
        return self.check_ip(ip)

    def pike_check_ip(self, ctx: MessageContext, ip_text_: str) -> int:
        if not ip_text_:
            return -1
        ip = packed_ip(ip_text_)
        if ip is None:
            log.error("failed to parse ip address: %s", ip_text_)
            return -1
        return self.check_ip(ip)

    # ------------------------------------------------------------ timers (worker 1)

    def clean(self) -> None:
        """clean_routine, every second: nodes nobody hit for remove_latency seconds go; the red
        ones are brought to the current sampling unit (swap_routine's unblocking)."""
        if self.core.rank != 1:
            return
        ticks = self.ticks()
        self.tree.cool_down(ticks)
        self.tree.clean(ticks)

    # ------------------------------------------------------------ RPC

    def rpc_top(self, options: Any = None) -> dict[str, Any]:
        """pike.top [ALL|HOT|WARM] (pike.list is the same)."""
        text = options if isinstance(options, str) else "HOT"
        wanted = 0
        upper = text.upper()
        if "ALL" in upper:
            wanted = STATUS_ALL
        elif "HOT" in upper:
            wanted = STATUS_HOT
        elif "WARM" in upper:
            wanted = STATUS_WARM
        if wanted == 0:
            raise RpcFault(500, "Bad argument. Select: ALL, HOT or WARM")
        ticks = self.ticks()
        rows = [{"ip_addr": ip_text(node.key), "leaf_hits_prev": node.leaf_hits[0],
                 "leaf_hits_curr": node.leaf_hits[1], "expires": (node.expires - ticks) & 0xFFFFFFFF,
                 "status": STATUS_NAMES[status]}
                for node, status in self.tree.leaves(ticks, wanted)]
        return {"max_hits": self.tree.max_hits, "list": rows, "number_of_rows": len(rows)}
