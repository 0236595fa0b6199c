"""The htable.* RPC commands, with Kamailio's replies (htable.c, htable_rpc_*)."""
from __future__ import annotations

import time
from typing import Any

from kampy.api import RpcFault

from .replicate import HT_DMQ_DEL_CELL, HT_DMQ_SET_CELL, HT_DMQ_SET_CELL_EXPIRE, Replicating
from .table import Cell, HashTable

NOT_ENOUGH_GET = (500, "Not enough parameters (htable name and key name)")
NOT_ENOUGH_DELETE = (500, "Not enough parameters (htable name & key name")
NOT_ENOUGH_SET = (500, "Not enough parameters (htable name, key name and value)")
NOT_ENOUGH_SETEX = (500, "Not enough parameters (htable name, item name and expire)")
NOT_ENOUGH_SETX = (500, "Not enough parameters (htable name, key name, value and expire)")
NO_NAME = (500, "No htable name given")


def expire_text(cell: Cell) -> str:
    """htable.get's expire: the local time of the cell's expiry, or NEVER."""
    if not cell.expire:
        return "NEVER"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(cell.expire))


class HtableRpc(Replicating):
    """The RPC handlers; the module provides `tables` and the database operations."""

    tables: dict[str, HashTable]

    def _table(self, name: str) -> HashTable:
        table = self.tables.get(name)
        if table is None:
            raise RpcFault(500, "No such htable")
        return table

    def rpc_get(self, htname: str, key: str) -> dict[str, Any]:
        cell = self._table(htname).get(key)
        if cell is None:
            raise RpcFault(500, "Key name doesn't exist in htable.")
        return {"item": {"name": cell.name, "value": cell.value, "flags": cell.flags,
                         "expire": expire_text(cell)}}

    def rpc_delete(self, htname: str, key: str) -> str:
        table = self._table(htname)
        self.replicate(table, HT_DMQ_DEL_CELL, key)
        if not table.delete(key):
            raise RpcFault(404, "Key not found in htable.")
        return "Ok. Key deleted."

    def rpc_sets(self, htname: str, key: str, value: str) -> str:
        table = self._table(htname)
        self.replicate(table, HT_DMQ_SET_CELL, key, value, 1)
        if not table.set(key, value):
            raise RpcFault(500, "Failed to set the item")
        return "Ok. Key set to new value."

    def rpc_seti(self, htname: str, key: str, number: int) -> str:
        table = self._table(htname)
        self.replicate(table, HT_DMQ_SET_CELL, key, number, 1)
        if not table.set(key, number):
            raise RpcFault(500, "Failed to set the item")
        return "Ok. Key set to new value."

    def rpc_setex(self, htname: str, key: str, seconds: int) -> str:
        table = self._table(htname)
        self.replicate(table, HT_DMQ_SET_CELL_EXPIRE, key, seconds)
        table.set_expire(key, seconds)
        return "Ok"

    def rpc_setxs(self, htname: str, key: str, value: str, seconds: int) -> str:
        table = self._table(htname)
        self.replicate_setx(table, key, value, seconds)
        if not table.set(key, value, seconds):
            raise RpcFault(500, "Failed to set the item")
        return "Ok. Key set to new value."

    def rpc_setxi(self, htname: str, key: str, number: int, seconds: int) -> str:
        table = self._table(htname)
        self.replicate_setx(table, key, number, seconds)
        if not table.set(key, number, seconds):
            raise RpcFault(500, "Failed to set the item")
        return "Ok. Key set to new value."

    def rpc_dump(self, htname: str) -> list[dict[str, Any]]:
        table = self._table(htname)
        out: list[dict[str, Any]] = []
        for cell in table.cells():
            slot = table.slot(cell.cellid)
            if not out or out[-1]["entry"] != slot:
                out.append({"entry": slot, "size": 0, "slot": []})
            out[-1]["size"] += 1
            out[-1]["slot"].append({"name": cell.name, "value": cell.value,
                                    "type": "str" if isinstance(cell.value, str) else "int"})
        return out

    def rpc_list(self) -> list[dict[str, Any]]:
        if not self.tables:
            raise RpcFault(500, "No htables")
        return [{"name": t.name, "dbtable": t.spec.dbtable[:127], "dbmode": t.spec.dbmode,
                 "expire": t.expire, "updateexpire": t.spec.updateexpire, "size": t.slots,
                 "dmqreplicate": t.spec.dmqreplicate}
                for t in reversed(list(self.tables.values()))]

    def rpc_stats(self) -> list[dict[str, Any]]:
        if not self.tables:
            raise RpcFault(500, "No htables")
        out = []
        for t in reversed(list(self.tables.values())):
            sizes = t.slot_sizes()
            counts = list(sizes.values())
            smallest = 0 if len(sizes) < t.slots else min(counts)
            out.append({"name": t.name, "slots": t.slots, "all": sum(counts), "min": smallest,
                        "max": max(counts, default=0)})
        return out

    def rpc_flush(self, htname: str) -> str:
        self._table(htname).reset()
        return "Ok. Htable flushed."

    def rpc_reload(self, htname: str) -> str:
        self.db_ready()
        table = self._table(htname)
        if not table.spec.dbtable:
            raise RpcFault(500, "No database htable")
        if not self.reload_table(table):
            raise RpcFault(500, "Htable reload failed")
        return "Ok. Htable reloaded."

    def rpc_store(self, htname: str) -> str:
        self.db_ready()
        table = self._table(htname)
        if not table.spec.dbtable:
            raise RpcFault(500, "No database htable")
        if not self.store_table(table):
            raise RpcFault(500, "Storing htable failed")
        return "Ok. Htable successfully stored to DB."

    # provided by the module
    def db_ready(self) -> None:
        raise NotImplementedError

    def reload_table(self, table: HashTable) -> bool:
        raise NotImplementedError

    def store_table(self, table: HashTable) -> bool:
        raise NotImplementedError
