"""htable's DMQ replication (Kamailio's ht_dmq.c): each change of a table with `dmqreplicate=1` goes
to the other nodes as a KDMQ request to the `htable` peer, in Kamailio's JSON; what they send is
replayed here without going out again; a node joining asks the others for their tables."""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from kampy.api import Clock, DmqAPI, DmqNode, DmqReply, Request

from .functions import _regex, _target
from .replicate import (HT_DMQ_DEL_CELL, HT_DMQ_RM_CELL_RE, HT_DMQ_RM_CELL_SW, HT_DMQ_SET_CELL,
                        HT_DMQ_SET_CELL_EXPIRE, HT_DMQ_SYNC)
from .table import AVP_VAL_STR, Cell, HashTable

log = logging.getLogger("kampy.modules.htable")

PEER = "htable"
CONTENT_TYPE = "application/json"
WITH_VALUE = (HT_DMQ_SET_CELL, HT_DMQ_SET_CELL_EXPIRE, HT_DMQ_RM_CELL_RE, HT_DMQ_RM_CELL_SW)
FIELDS = ("action", "htname", "cname", "type", "strval", "intval", "mode")
EMPTY_GROUP_SIZE = 12  # {"cells":[]}
MAX_GROUP_SIZE = 60000


class Invalid(ValueError):
    """A request Kamailio answers 400 Bad Request."""


def _int(value: Any) -> int:
    """SRJSON_GET_INT: the number as a C int."""
    number = int(value) & 0xFFFFFFFF if isinstance(value, (int, float)) else 0
    return number - (1 << 32) if number >= 1 << 31 else number


def dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


class HtDmq:
    """The htable peer of one process."""

    def __init__(self, dmq: DmqAPI, tables: dict[str, HashTable], clock: Clock, init_sync: bool) -> None:
        self.dmq = dmq
        self.tables = tables
        self.clock = clock
        init = self.request_sync if init_sync else None
        if not dmq.register_dmq_peer(PEER, PEER, self.handle_message, init):
            raise ValueError("failed to initialize dmq integration")

    def send(self, body: bytes, node: DmqNode | None = None) -> None:
        if node is not None:
            self.dmq.send_message(PEER, body, node, None, 1, CONTENT_TYPE)
        else:
            self.dmq.bcast_message(PEER, body, None, None, 1, CONTENT_TYPE)

    def replicate(self, action: int, htname: str, cname: str | None, value: int | str | None = None,
                  mode: int = 0) -> None:
        """ht_dmq_replicate_action."""
        doc: dict[str, Any] = {"action": action, "htname": htname}
        if cname is not None:
            doc["cname"] = cname
        if action in WITH_VALUE:
            if isinstance(value, str):
                doc.update(type=AVP_VAL_STR, strval=value)
            else:
                doc.update(type=0, intval=value or 0)
        doc["mode"] = mode
        self.send(dumps(doc))

    def request_sync(self) -> None:
        log.debug("requesting sync from dmq peers")
        self.send(dumps({"action": HT_DMQ_SYNC}))

    # ------------------------------------------------------------ receiving

    def handle_message(self, msg: Request, node: DmqNode | None) -> DmqReply:
        if not msg.body:
            return DmqReply(400, "Bad Request")
        try:
            doc = json.loads(msg.body)
            if not isinstance(doc, dict) or not doc:
                raise Invalid("no json object")
            if next(iter(doc)) == "cells":
                self.take_sync(doc["cells"])
            elif _int(doc.get("action")) == HT_DMQ_SYNC:
                self.send_sync(node)
            else:
                self.replay(doc)
        except (ValueError, UnicodeDecodeError) as exc:
            log.error("invalid json doc: %s", exc)
            return DmqReply(400, "Bad Request")
        except LookupError as exc:
            log.error("failed to replay action: %s", exc)
            return DmqReply(500, "Server Internal Error")
        return DmqReply(200, "OK")

    def replay(self, doc: dict[str, Any]) -> None:
        """ht_dmq_replay_action: the change, not replicated again. LookupError when it cannot be
        made (no such table, an unknown action)."""
        for key in doc:
            if key not in FIELDS:
                raise Invalid("unrecognized field in json object")
        action = _int(doc.get("action"))
        table = self.tables.get(str(doc.get("htname", "")))
        if table is None:
            raise LookupError("unable to get table")
        cname = str(doc.get("cname", ""))
        value: int | str = str(doc.get("strval", "")) if _int(doc.get("type")) & AVP_VAL_STR \
            else _int(doc.get("intval"))
        mode = _int(doc.get("mode"))
        if action == HT_DMQ_SET_CELL:
            if not table.set(cname, value):
                raise LookupError(f"cannot set {cname}")
        elif action == HT_DMQ_SET_CELL_EXPIRE:
            table.set_expire(cname, value if isinstance(value, int) else 0)
        elif action == HT_DMQ_DEL_CELL:
            table.delete(cname)
        elif action in (HT_DMQ_RM_CELL_RE, HT_DMQ_RM_CELL_SW):
            table.remove_where(self._matcher(action, str(value), mode == 1))
        else:
            raise LookupError("unrecognized action")

    @staticmethod
    def _matcher(action: int, value: str, by_value: bool) -> Callable[[Cell], bool]:
        if action == HT_DMQ_RM_CELL_SW:
            return lambda c: (t := _target(c, by_value)) is not None and t.startswith(value)
        pattern = _regex(value)
        if pattern is None:
            raise LookupError(f"bad regular expression {value}")
        return lambda c: (t := _target(c, by_value)) is not None and pattern.search(t) is not None

    def take_sync(self, cells: Any) -> None:
        """ht_dmq_handle_sync: the cells another node sent, each set with what is left of its expiry."""
        now = int(self.clock.time())
        for cell in cells if isinstance(cells, list) else ():
            if not isinstance(cell, dict):
                continue
            htname, cname = str(cell.get("htname") or ""), str(cell.get("cname") or "")
            if not htname or not cname:
                continue
            table = self.tables.get(htname)
            if table is None:
                log.warning("unable to get table %s", htname)
                continue
            value: int | str = str(cell.get("strval", "")) if _int(cell.get("type")) & AVP_VAL_STR \
                else _int(cell.get("intval"))
            if not table.set(cname, value, _int(cell.get("expire")) - now):
                log.warning("unable to set cell %s in table %s", cname, htname)

    def send_sync(self, node: DmqNode | None) -> None:
        """ht_dmq_send_sync: every live cell of the replicated tables, about 60,000 bytes a request."""
        now = int(self.clock.time())
        group: list[dict[str, Any]] = []
        size = EMPTY_GROUP_SIZE
        for table in self.tables.values():
            if not table.spec.dmqreplicate:
                continue
            for cell in table.cells():
                if table.expire > 0 and cell.expire <= now:
                    continue
                doc: dict[str, Any] = {"htname": table.name, "cname": cell.name}
                if isinstance(cell.value, str):
                    doc.update(type=AVP_VAL_STR, strval=cell.value)
                    size += 54 + len(cell.value)
                else:
                    doc.update(type=0, intval=cell.value)
                    size += 52 + len(str(cell.value))
                doc["expire"] = cell.expire
                size += len(table.name) + len(cell.name) + 1 + len(str(cell.expire))
                group.append(doc)
                if size >= MAX_GROUP_SIZE:
                    self.send(dumps({"cells": group}), node)
                    group, size = [], EMPTY_GROUP_SIZE
        self.send(dumps({"cells": group}), node)
