"""The dialog module's database persistence (dlg_db_handler.c): the `dialog` and `dialog_vars`
tables, written as db_mode says (1 at each change, 2 every db_update_period, 3 at shutdown) and
loaded at start."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from kampy.api import DLG_STATE_CONFIRMED, DLG_STATE_CONFIRMED_NA, Database, DBError, db_connect

from .dmq import IFLAG_DMQ_SYNC
from .store import _NEXT, CALLEE, CALLER, Dialog

if TYPE_CHECKING:
    from .dialog import DialogModule

log = logging.getLogger("kampy.dialog")

DB_MODE_REALTIME, DB_MODE_DELAYED, DB_MODE_SHUTDOWN = 1, 2, 3

COLUMNS = (
    "call_id",
    "from_uri",
    "from_tag",
    "to_uri",
    "to_tag",
    "h_id",
    "h_entry",
    "state",
    "start_time",
    "timeout",
    "to_cseq",
    "from_cseq",
    "to_route",
    "from_route",
    "to_contact",
    "from_contact",
    "to_sock",
    "from_sock",
    "sflags",
    "toroute_name",
)


class DialogDB:
    def __init__(self, p: dict[str, Any], module: DialogModule) -> None:
        self.module = module
        self.url = str(p["db_url"])
        self.mode = int(p["db_mode"])
        if self.mode not in (1, 2, 3):
            raise ValueError(f"unsupported db_mode {self.mode}")
        self.table = str(p["table_name"])
        self.vars_table = str(p["vars_table_name"])
        self.col = {name: str(p[f"{name}_column"]) for name in COLUMNS}
        self.vcol = {name: str(p[f"vars_{name}_column"]) for name in ("h_id", "h_entry", "key", "value")}
        self.update_period = max(1, int(p["db_update_period"]))
        self.skip_load = int(p["db_skip_load"]) != 0
        self.fetch_rows = int(p["db_fetch_rows"])
        self._db: Database | None = None
        self._pid = 0
        self._next_flush = 0.0

    @property
    def db(self) -> Database:
        if self._db is None or self._pid != os.getpid():
            self._db = db_connect(self.url)
            self._pid = os.getpid()
        return self._db

    # ------------------------------------------------------------ rows
    def row(self, d: Dialog) -> dict[str, Any]:
        c = self.col
        return {
            c["h_entry"]: d.h_entry,
            c["h_id"]: d.h_id,
            c["call_id"]: d.callid,
            c["from_uri"]: d.from_uri,
            c["from_tag"]: d.tag[CALLER],
            c["to_uri"]: d.to_uri,
            c["to_tag"]: d.tag[CALLEE],
            c["from_cseq"]: d.cseq[CALLER],
            c["to_cseq"]: d.cseq[CALLEE],
            c["from_route"]: d.route_set[CALLER] or None,
            c["to_route"]: d.route_set[CALLEE] or None,
            c["from_contact"]: d.contact[CALLER],
            c["to_contact"]: d.contact[CALLEE],
            c["from_sock"]: d.bind_addr[CALLER],
            c["to_sock"]: d.bind_addr[CALLEE],
            c["state"]: d.state,
            c["start_time"]: d.start_ts,
            c["timeout"]: d.timeout,
            c["sflags"]: d.sflags,
            "iflags": d.iflags,
            c["toroute_name"]: d.toroute_name or None,
            "req_uri": d.req_uri,
        }

    def _where(self, d: Dialog) -> dict[str, Any]:
        return {self.col["h_entry"]: d.h_entry, self.col["h_id"]: d.h_id}

    def write(self, d: Dialog) -> None:
        try:
            self.db.delete(self.table, self._where(d))  # (MySQL counts only changed rows on UPDATE)
            self.db.insert(self.table, self.row(d))
            v = self.vcol
            self.db.delete(self.vars_table, {v["h_entry"]: d.h_entry, v["h_id"]: d.h_id})
            for key, value in d.vars.items():
                self.db.insert(
                    self.vars_table,
                    {v["h_entry"]: d.h_entry, v["h_id"]: d.h_id, v["key"]: key, v["value"]: value},
                )
        except DBError as exc:
            log.error("failed to store dialog %d:%d: %s", d.h_entry, d.h_id, exc)

    def delete(self, d: Dialog) -> None:
        try:
            self.db.delete(self.table, self._where(d))
            v = self.vcol
            self.db.delete(self.vars_table, {v["h_entry"]: d.h_entry, v["h_id"]: d.h_id})
        except DBError as exc:
            log.error("failed to delete dialog %d:%d: %s", d.h_entry, d.h_id, exc)

    # ------------------------------------------------------------ what the module calls
    def changed(self, d: Dialog) -> None:
        if self.mode == DB_MODE_REALTIME and d.state in (DLG_STATE_CONFIRMED_NA, DLG_STATE_CONFIRMED):
            self.write(d)
            self.module.store.update(d.h_entry, d.h_id, self._written)

    @staticmethod
    def _written(d: Dialog) -> None:
        """What update_dialog_dbinfo clears: DLG_FLAG_NEW, _CHANGED and _CHANGED_VARS."""
        d.db_dirty = False
        d.dflags &= ~((1 << 0) | (1 << 1) | (1 << 7))

    def removed(self, d: Dialog) -> None:
        if self.mode in (DB_MODE_REALTIME, DB_MODE_DELAYED):
            self.delete(d)

    def timer(self) -> None:
        if self.mode != DB_MODE_DELAYED:
            return
        now = self.module.core.clock.monotonic()
        if now < self._next_flush:
            return
        self._next_flush = now + self.update_period
        for d in list(self.module.store.all()):
            if d.db_dirty and d.state in (DLG_STATE_CONFIRMED_NA, DLG_STATE_CONFIRMED):
                self.write(d)
                self.module.store.update(d.h_entry, d.h_id, self._written)

    def flush_all(self) -> None:
        if self.mode not in (DB_MODE_DELAYED, DB_MODE_SHUTDOWN):
            return
        for d in list(self.module.store.all()):
            if d.state in (DLG_STATE_CONFIRMED_NA, DLG_STATE_CONFIRMED):
                self.write(d)

    # ------------------------------------------------------------ loading
    def load(self, callid: str | None = None, extra: bool = False) -> int:
        """load_dialog_info_from_db: the stored dialogs into the table (all of them at start,
        unless db_skip_load; those of a Call-ID; those not in memory yet). Returns how many."""
        if self.skip_load and callid is None and not extra:
            return 0
        c = self.col
        try:
            where = {c["call_id"]: callid} if callid is not None else None
            names = [*(c[n] for n in COLUMNS), "iflags", "req_uri"]
            rows = [dict(zip(names, row, strict=True)) for row in self.db.query(self.table, names, where)]
        except DBError as exc:
            log.error("failed to load dialogs: %s", exc)
            return 0
        store = self.module.store
        now = int(self.module.core.clock.time())
        count = 0
        for row in rows:
            r = row
            h_entry, h_id = int(r[c["h_entry"]]), int(r[c["h_id"]])
            if store.get(h_entry, h_id) is not None:
                continue
            state = int(r[c["state"]] or 0)
            if state not in (DLG_STATE_CONFIRMED_NA, DLG_STATE_CONFIRMED):
                continue
            d = Dialog(
                h_entry,
                h_id,
                r[c["call_id"]] or "",
                r[c["from_uri"]] or "",
                r[c["to_uri"]] or "",
                r.get("req_uri") or "",
            )
            d.tag = [r[c["from_tag"]] or "", r[c["to_tag"]] or ""]
            d.cseq = [r[c["from_cseq"]] or "", r[c["to_cseq"]] or ""]
            d.route_set = [r[c["from_route"]] or "", r[c["to_route"]] or ""]
            d.contact = [r[c["from_contact"]] or "", r[c["to_contact"]] or ""]
            d.bind_addr = [r[c["from_sock"]] or "", r[c["to_sock"]] or ""]
            d.state = state
            d.start_ts = d.init_ts = int(r[c["start_time"]] or 0)
            timeout = int(r[c["timeout"]] or 0)
            d.timeout = timeout if timeout > now else now + 1
            d.lifetime = max(0, timeout - d.start_ts)
            d.sflags = int(r[c["sflags"]] or 0)
            d.iflags = int(r.get("iflags") or 0)
            if not (self.module.is_local(d, CALLER) and self.module.is_local(d, CALLEE)):
                d.iflags &= ~IFLAG_DMQ_SYNC  # another server's dialog: not replicated from here
            d.toroute_name = r[c["toroute_name"]] or ""
            d.vars = self._vars(d)
            with store.table.transaction():
                store.insert(d)
                nkey = b"%s%d" % (_NEXT, h_entry)
                got = store.table.get(nkey)
                if not got or int(got[0]) <= h_id:
                    store.table.put(nkey, str(h_id + store.h_id_step).encode())
            self.module.loaded(d)
            count += 1
        if self.mode == DB_MODE_SHUTDOWN and callid is None and not extra:
            try:
                self.db.delete(self.table, None)
                self.db.delete(self.vars_table, None)
            except DBError as exc:
                log.error("failed to clear the dialog tables: %s", exc)
        return count

    def _vars(self, d: Dialog) -> dict[str, str]:
        v = self.vcol
        try:
            rows = self.db.query(
                self.vars_table, [v["key"], v["value"]], {v["h_entry"]: d.h_entry, v["h_id"]: d.h_id}
            )
        except DBError as exc:
            log.error("failed to load dialog variables: %s", exc)
            return {}
        out = {}
        for key, value in rows:
            out[str(key)] = str(value or "")
        return out
