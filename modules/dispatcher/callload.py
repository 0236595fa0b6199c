"""dispatcher's call load (algorithm 10): the calls each destination carries, kept in a shared
table (Kamailio's ds_ht.c), and ds_load_update()/ds_load_unset()."""

from __future__ import annotations

from typing import Any

from kampy.api import MessageContext, Request, module_logger

from .dslist import skip_dst

log = module_logger("dispatcher")

LOAD_INIT, LOAD_CONFIRMED = 0, 1


class CallLoad:
    """The call-load table of DispatcherModule."""

    def call_load_pick(self, ctx: MessageContext, setid: int) -> tuple[int, int]:
        """(index, algorithm): the least loaded destination, its load counted for the Call-ID."""
        msg = ctx.msg
        if not isinstance(msg, Request) or msg.method != "INVITE":
            return 0, 0
        if not self.xavp_dst:
            log.error("no dst xavp for load distribution - using first entry...")
            return 0, 0
        if self.hash_size <= 0:
            log.error("unable to update destination load - classic dispatching")
            return self._least_loaded(setid), 0
        callid = msg.call_id or ""
        with self.store.change() as data:
            dlist = data["sets"][str(setid)]["dests"]
            best = -1
            load = 0x7FFFFFFF
            for j, dest in enumerate(dlist):
                maxload = dest["attrs"].get("maxload") or 0
                if (
                    not skip_dst(dest["flags"])
                    and (maxload == 0 or dest["dload"] < maxload)
                    and dest["dload"] < load
                ):
                    best, load = j, dest["dload"]
            if best < 0:
                return -1, 10
            duid = dlist[best]["attrs"].get("duid")
            if not duid:
                log.error("dst unique id not set for %d (%s)", setid, callid)
                return best, 0
            if self.store.load_cell(callid) is not None:
                log.error("cannot add load to %d (%s)", setid, callid)
                return best, 0
            self._add_cell(callid, setid, duid)
            dlist[best]["dload"] += 1
        return best, 10

    def _least_loaded(self, setid: int) -> int:
        dlist = self.store.read()["sets"][str(setid)]["dests"]
        best, load = -1, 0x7FFFFFFF
        for j, dest in enumerate(dlist):
            maxload = dest["attrs"].get("maxload") or 0
            if (
                not skip_dst(dest["flags"])
                and (maxload == 0 or dest["dload"] < maxload)
                and dest["dload"] < load
            ):
                best, load = j, dest["dload"]
        return best

    def _add_cell(self, callid: str, setid: int, duid: str) -> None:
        now = self.core.clock.time()
        self.store.put_load_cell(
            callid, {"set": setid, "duid": duid, "state": LOAD_INIT, "expire": now + self.hash_initexpire}
        )

    @staticmethod
    def _find_duid(dlist: list[dict[str, Any]], duid: str) -> int:
        return next(
            (i for i, d in enumerate(dlist) if (d["attrs"].get("duid") or "").lower() == duid.lower()), -1
        )

    def load_replace(self, ctx: MessageContext, duid: str) -> int:
        """ds_load_replace(): the call's load moved to the destination `duid` (ds_next_dst)."""
        callid = ctx.msg.call_id or ""
        with self.store.change() as data:
            cell = self.store.load_cell(callid)
            if cell is None:
                log.error("cannot find load for (%s)", callid)
                return -1
            node = data["sets"].get(str(cell["set"]))
            if node is None:
                log.error("destination set [%d] not found", cell["set"])
                return -1
            old = self._find_duid(node["dests"], cell["duid"])
            new = self._find_duid(node["dests"], duid)
            if old == -1:
                log.warning("old destination address not found for [%d, %s]", cell["set"], cell["duid"])
            if new == -1:
                log.error("new destination address not found for [%d, %s]", cell["set"], duid)
                return -2
            self.store.del_load_cell(callid)
            if old != -1 and node["dests"][old]["dload"] > 0:
                node["dests"][old]["dload"] -= 1
            self._add_cell(callid, cell["set"], duid)
            node["dests"][new]["dload"] += 1
        return 0

    def load_remove(self, callid: str) -> int:
        with self.store.change() as data:
            cell = self.store.load_cell(callid)
            if cell is None:
                log.error("cannot find load for (%s)", callid)
                return -1
            node = data["sets"].get(str(cell["set"]))
            if node is None:
                log.error("destination set [%d] not found", cell["set"])
                return -1
            old = self._find_duid(node["dests"], cell["duid"])
            if old == -1:
                log.error("old destination address not found for [%d, %s]", cell["set"], cell["duid"])
                return -1
            if node["dests"][old]["dload"] > 0:
                node["dests"][old]["dload"] -= 1
            self.store.del_load_cell(callid)
        return 0

    def ht_timer(self) -> None:
        """ds_ht_timer(): calls whose cell expired (no BYE, or no 2xx in time) stop counting."""
        if self.core.rank != 1 or self.hash_size <= 0:
            return
        now = self.core.clock.time()
        for callid, cell in self.store.load_cells():
            if cell["expire"] < now:
                self.load_remove(callid)


    # ------------------------------------------------ config functions: ds_load_update(), ds_load_unset()

    def ds_load_update(self, ctx: MessageContext) -> int:
        msg = ctx.msg
        callid = msg.call_id
        if callid is None or msg.cseq is None:
            log.error("cannot parse cseq and callid headers")
            return -1
        if isinstance(msg, Request):
            if msg.method in ("BYE", "CANCEL"):
                self.load_remove(callid)
            return 1
        if msg.cseq.method == "INVITE" and msg.status // 100 == 2:
            with self.store.table.transaction():
                cell = self.store.load_cell(callid)
                if cell is not None:
                    cell["state"] = LOAD_CONFIRMED
                    cell["expire"] = self.core.clock.time() + self.hash_expire
                    self.store.put_load_cell(callid, cell)
        return 1

    def ds_load_unset(self, ctx: MessageContext) -> int:
        if not self.xavp_dst:
            return 1
        msg = ctx.msg
        if isinstance(msg, Request) and msg.method == "INVITE":
            if not any(it.get("dstid") for it in ctx.xavps.get(self.xavp_dst) or []):
                return 1
        return -1 if self.load_remove(msg.call_id or "") < 0 else 1
