"""dmq_usrloc: usrloc's contacts replicated over DMQ in Kamailio's JSON format (usrloc_sync.c), so
kampy and Kamailio 5.6 nodes share their registrations."""
from __future__ import annotations

import json
import logging
import time
from typing import Any

from kampy.api import (UL_CONTACT_DELETE, UL_CONTACT_INSERT, UL_CONTACT_UPDATE, ULCB_MAX, CoreAPI, DmqAPI,
                       DmqNode, DmqReply, Module, Request, UsrlocAPI)

log = logging.getLogger("kampy.modules.dmq_usrloc")

PEER = "usrloc"
CONTENT_TYPE = "application/json"
DMQ_NONE, DMQ_UPDATE, DMQ_RM, DMQ_SYNC = 0, 1, 2, 3
MAX_BATCH_MSG_SIZE = 60000
MAX_BATCH_MSG_CONTACTS = 150
NUMBERS = ("expires", "cseq", "flags", "cflags", "q", "last_modified", "methods", "reg_id", "server_id")
STRINGS = ("aor", "ruid", "c", "received", "sock", "path", "callid", "user_agent", "instance")


class BadAction(ValueError):
    """An action Kamailio answers 400 for."""


def _uint(value: Any) -> int:
    """SRJSON_GET_UINT: the number as a C unsigned int."""
    return int(value) & 0xFFFFFFFF if isinstance(value, (int, float)) else 0


def _int32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def dumps(obj: dict[str, Any]) -> bytes:
    """srjson_PrintUnformatted."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class DmqUsrlocModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.enable = int(params["enable"]) != 0
        log.info("dmq usrloc replication mode = %d", int(params["enable"]))
        self.sync = int(params["sync"]) != 0
        self.replicate_socket_info = int(params["replicate_socket_info"]) == 1
        self.batch_msg_size = int(params["batch_msg_size"])
        if self.batch_msg_size > MAX_BATCH_MSG_SIZE:
            log.error("batch_msg_size too high[%d] setting to [%d]", self.batch_msg_size, MAX_BATCH_MSG_SIZE)
            self.batch_msg_size = MAX_BATCH_MSG_SIZE
        self.batch_msg_contacts = int(params["batch_msg_contacts"])
        if self.batch_msg_contacts > MAX_BATCH_MSG_CONTACTS:
            log.error("batch_msg_contacts too high[%d] setting to [%d]", self.batch_msg_contacts,
                      MAX_BATCH_MSG_CONTACTS)
            self.batch_msg_contacts = MAX_BATCH_MSG_CONTACTS
        self.batch_size = int(params["batch_size"])
        self.batch_usleep = int(params["batch_usleep"])
        self.domain: str = params["usrloc_domain"]
        self.delete = int(params["usrloc_delete"]) >= 1
        self._receiving = False
        self._batch: dict[str, Any] = {}
        self._batch_size = 0
        self.ul: UsrlocAPI | None = None
        self.dmq: DmqAPI | None = None
        if self.enable:
            self._bind(core)

    def _bind(self, core: CoreAPI) -> None:
        self.ul = core.api("usrloc")
        if self.ul is None:
            raise ValueError("can't bind usrloc")
        self.ul.register_domain(self.domain)
        self.ul.register_ulcb(ULCB_MAX, self.on_contact)
        self.dmq = core.api("dmq")
        if self.dmq is None or not self.dmq.register_dmq_peer(PEER, PEER, self.handle_message,
                                                              self.request_sync):
            log.error("Error in dmq_usrloc_initialize()")
            self.dmq = None

    # ------------------------------------------------------------ sending

    def send(self, body: bytes, node: DmqNode | None = None) -> None:
        if self.dmq is None:
            log.error("dlg_dmq_peer is null!")
            return
        if node is not None:
            self.dmq.send_message(PEER, body, node, None, 1, CONTENT_TYPE)
        else:
            self.dmq.bcast_message(PEER, body, None, None, 1, CONTENT_TYPE)

    def contact_json(self, c: Any, action: int) -> dict[str, Any]:
        """A contact as Kamailio's usrloc_dmq_send_contact writes it, in its order."""
        doc: dict[str, Any] = {"action": action, "aor": c.aor, "ruid": c.ruid, "c": c.contact,
                               "received": c.received or ""}
        if self.replicate_socket_info and c.socket:
            doc["sock"] = c.socket
        doc.update({"path": c.path or "", "callid": c.callid or "", "user_agent": c.user_agent or "",
                    "instance": c.instance or "", "expires": c.expires, "cseq": c.cseq, "flags": c.flags,
                    "cflags": c.cflags, "q": c.q, "last_modified": c.last_modified, "methods": c.methods,
                    "reg_id": c.reg_id, "server_id": c.server_id})
        return doc

    def send_contact(self, c: Any, action: int, node: DmqNode | None = None) -> None:
        self.send(dumps(self.contact_json(c, action)), node)

    def send_multi_contact(self, c: Any, action: int, node: DmqNode | None) -> None:
        """One contact more in the batch ({"multi":{"1":{...},...}}), sent once it holds
        batch_msg_contacts contacts or about batch_msg_size bytes (Kamailio's estimate)."""
        if not self._batch:
            self._batch_size = 12
        doc = self.contact_json(c, action)
        self._batch_size += 201 + sum(len(str(v)) for v in doc.values())
        self._batch[str(len(self._batch) + 1)] = doc
        self._batch_size += len(str(len(self._batch)))
        if len(self._batch) >= self.batch_msg_contacts or self._batch_size >= self.batch_msg_size:
            self.flush_batch(node)

    def flush_batch(self, node: DmqNode | None) -> None:
        if self._batch:
            self.send(dumps({"multi": self._batch}), node)
        self._batch = {}
        self._batch_size = 0

    def on_contact(self, kind: int, domain: str, c: Any) -> None:
        """usrloc's callback: replicate a local change to every node (not one a node sent us)."""
        if self._receiving:
            log.debug("Contact received from DMQ... skip")
            return
        if kind in (UL_CONTACT_INSERT, UL_CONTACT_UPDATE):
            self.send_contact(c, DMQ_UPDATE)
        elif kind == UL_CONTACT_DELETE and self.delete:
            self.send_contact(c, DMQ_RM)

    def request_sync(self) -> None:
        """The init callback, once the node list arrived: ask every node for its contacts."""
        if self.sync:
            log.debug("requesting sync from dmq peers")
            self.send(dumps({"action": DMQ_SYNC}))

    def send_all(self, node: DmqNode | None) -> None:
        """DMQ_SYNC: every contact of usrloc_domain to the node that asked."""
        assert self.ul is not None
        sent: set[str] = set()
        n = 0
        for ping in self.ul.get_all_ucontacts(0, 0, 1):
            found = self.ul.get_urecord_by_ruid(self.domain, ping.ruid)
            if found is None or ping.ruid in sent:
                continue
            c = found[1]
            sent.add(ping.ruid)
            if self.batch_msg_contacts > 1:
                self.send_multi_contact(c, DMQ_UPDATE, node)
            else:
                self.send_contact(c, DMQ_UPDATE, node)
            n += 1
            if self.batch_size > 0 and self.batch_usleep > 0 and n >= self.batch_size:
                n = 0
                time.sleep(self.batch_usleep / 1e6)
        self.flush_batch(node)

    # ------------------------------------------------------------ receiving

    def handle_message(self, msg: Request, node: DmqNode | None) -> DmqReply:
        """The usrloc peer's callback: 200 when every action was carried out, 400 for a body that
        is no action, 500 when the body cannot be read."""
        if not msg.body:
            log.debug("content length is 0")
            return DmqReply(400, "Bad Request")
        try:
            doc = json.loads(msg.body)
        except (ValueError, UnicodeDecodeError):
            log.error("invalid json doc [[%s]]", msg.body[:200].decode(errors="replace"))
            return DmqReply(400, "Bad Request")
        if not isinstance(doc, dict) or not doc:
            return DmqReply(400, "Bad Request")
        if next(iter(doc)) == "multi":
            if not isinstance(doc["multi"], dict):
                return DmqReply(400, "Bad Request")
            items = list(doc["multi"].values())
        else:
            items = [doc]
        self._receiving = True
        try:
            for item in items:
                if not isinstance(item, dict):
                    return DmqReply(400, "Bad Request")
                self.execute(item, node)
        except BadAction as exc:
            log.error("%s", exc)
            return DmqReply(400, "Bad Request")
        finally:
            self._receiving = False
        return DmqReply(200, "OK")

    def execute(self, item: dict[str, Any], node: DmqNode | None) -> None:
        fields = {k: _uint(item.get(k, 0)) for k in NUMBERS}
        text = {k: str(item[k]) if isinstance(item.get(k), str) else "" for k in STRINGS}
        for key in item:
            if key not in NUMBERS and key not in STRINGS and key != "action":
                log.error("unrecognized field in json object")
        action = _uint(item.get("action", 0))
        if action in (DMQ_UPDATE, DMQ_RM) and not (text["aor"] and text["ruid"] and text["c"]):
            raise BadAction("a contact without aor, ruid or c")
        if action == DMQ_UPDATE:
            self.add_contact(text["aor"], self._contact(text, fields))
        elif action == DMQ_RM:
            self.delete_contact(text["aor"], text["ruid"])
        elif action == DMQ_SYNC:
            self.send_all(node)
        elif action != DMQ_NONE:
            raise BadAction(f"unknown action {action}")

    def _contact(self, text: dict[str, str], fields: dict[str, int]) -> dict[str, Any]:
        socket = None
        if self.replicate_socket_info and text["sock"]:
            socket = text["sock"] if any(str(s) == text["sock"] for s in self.core.sockets) else None
            if socket is None:
                log.debug("non-local socket <%s>...ignoring", text["sock"])
        return {"aor": text["aor"], "contact": text["c"], "ruid": text["ruid"],
                "received": text["received"] or None, "path": text["path"] or None, "socket": socket,
                "callid": text["callid"], "user_agent": text["user_agent"],
                "instance": text["instance"] or None, "expires": fields["expires"], "cseq": fields["cseq"],
                "flags": fields["flags"], "cflags": fields["cflags"], "q": _int32(fields["q"]),
                "last_modified": fields["last_modified"], "methods": fields["methods"],
                "reg_id": fields["reg_id"], "server_id": fields["server_id"]}

    def add_contact(self, aor: str, info: dict[str, Any]) -> None:
        """Kamailio's add_contact: update the contact of the same ruid, else the matching one of the
        AoR (by contact, Call-ID and path), else insert it."""
        ul = self.ul
        assert ul is not None
        if info["ruid"]:
            found = ul.get_urecord_by_ruid(self.domain, info["ruid"])
            if found is not None:
                with ul.lock(self.domain, aor):
                    ul.update_contact(self.domain, found[1].copy(**info))
                return
        with ul.lock(self.domain, aor):
            record = ul.get_urecord(self.domain, aor)
            if record is None:
                ul.insert_contact(self.domain, ul.new_contact(**info))
                return
            res, c = ul.get_ucontact(record, info["contact"], info["callid"], info["path"], info["cseq"])
            if res == -1:
                log.error("Invalid cseq")
            elif res > 0:
                ul.insert_contact(self.domain, ul.new_contact(**info))
            elif res == 0:
                ul.update_contact(self.domain, c.copy(**info))

    def delete_contact(self, aor: str, ruid: str) -> None:
        ul = self.ul
        assert ul is not None
        found = ul.get_urecord_by_ruid(self.domain, ruid)
        if found is None:
            log.debug("AOR/Contact [%s] not found", aor)
            return
        with ul.lock(self.domain, aor):
            ul.delete_contact(self.domain, found[1])
