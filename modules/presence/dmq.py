"""presence's DMQ replication (Kamailio 5.6's presence_dmq.c, enable_dmq): every publication this
node stores, refreshes or withdraws goes to the other nodes of the bus as a KDMQ request to the
`presence` peer, in Kamailio's JSON (`action` 1 with the presentity, `t_new`, `cur_etag`, `sphere`,
`ruid`, `body`); a receiving node stores it as update_presentity() does (the sender's ruid and new
entity tag kept) and notifies its own watchers, without replicating it again. A node joining the bus
asks for a sync (`action` 2), which Kamailio 5.6 answers with nothing (its send_all_presentities is
empty): only what is published after a node joined reaches it."""
from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from kampy.api import DmqAPI, DmqNode, DmqReply, Request

from .presentity import Presentity

if TYPE_CHECKING:
    from .presence import PresenceModule

log = logging.getLogger("kampy.presence")

PEER = "presence"
CONTENT_TYPE = "application/json"
PRES_DMQ_NONE, PRES_DMQ_UPDATE_PRESENTITY, PRES_DMQ_SYNC = range(3)
PRESENTITY_STR = ("domain", "user", "etag", "sender", "event")
PRESENTITY_INT = ("expires", "recv")
TOP_STR = ("cur_etag", "sphere", "ruid", "body")


class Invalid(Exception):
    """A request Kamailio answers 400 Bad Request."""


def dumps(pairs: list[tuple[str, Any]]) -> bytes:
    """srjson_PrintUnformatted: the members in the order added, no spaces."""
    return json.dumps(dict(pairs), separators=(",", ":"), ensure_ascii=False).encode()


def json_int(value: Any) -> int:
    """SRJSON_GET_INT: a number as a C int, anything else 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return int(value)


def json_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def encode(p: Presentity, body: bytes | None, new_t: bool, cur_etag: str, sphere: str | None,
           ruid: str) -> bytes:
    """The body of pres_dmq_replicate_presentity."""
    presentity: list[tuple[str, Any]] = [("domain", p.domain), ("user", p.user), ("etag", p.etag),
                                         ("expires", p.expires), ("recv", p.received_time)]
    if p.sender is not None:
        presentity.append(("sender", p.sender))
    presentity.append(("event", p.event.name))
    pairs: list[tuple[str, Any]] = [("action", PRES_DMQ_UPDATE_PRESENTITY), ("presentity", dict(presentity)),
                                    ("t_new", int(new_t)), ("cur_etag", cur_etag)]
    if sphere is not None:
        pairs.append(("sphere", sphere))
    pairs += [("ruid", ruid), ("body", (body or b"").decode(errors="replace"))]
    return dumps(pairs)


class PresDmq:
    """The `presence` peer of one process."""

    def __init__(self, dmq: DmqAPI, module: PresenceModule) -> None:
        self.dmq = dmq
        self.module = module
        self.receiving = False  # Kamailio's pres_dmq_recv: a replica is not replicated again
        if not dmq.register_dmq_peer(PEER, PEER, self.handle_message, self.request_sync):
            raise ValueError("error in register_dmq_peer")

    def send(self, body: bytes, node: DmqNode | None = None) -> None:
        log.debug("sending serialized data %s", body.decode(errors="replace"))
        if node is not None:
            self.dmq.send_message(PEER, body, node, None, 1, CONTENT_TYPE)
        else:
            self.dmq.bcast_message(PEER, body, None, None, 1, CONTENT_TYPE)

    def request_sync(self) -> None:
        log.debug("requesting sync from dmq peers")
        self.send(dumps([("action", PRES_DMQ_SYNC)]))

    def replicate(self, p: Presentity, body: bytes | None, new_t: bool, cur_etag: str, sphere: str | None,
                  ruid: str) -> None:
        """pres_dmq_replicate_presentity: to every other node (nothing while storing a replica)."""
        log.debug("replicating presentity record - old etag %s, new etag %s, ruid %s", p.etag, cur_etag, ruid)
        if self.receiving:
            return
        self.send(encode(p, body, new_t, cur_etag, sphere, ruid))

    # ------------------------------------------------------------ receiving

    def handle_message(self, msg: Request, node: DmqNode | None) -> DmqReply:
        """pres_dmq_handle_msg."""
        if not msg.body:
            log.debug("content length is 0")
            return DmqReply(400, "Bad Request")
        self.receiving = True
        try:
            return self._handle(msg.body)
        except Invalid as exc:
            log.error("%s", exc)
            return DmqReply(400, "Bad Request")
        finally:
            self.receiving = False

    def _handle(self, body: bytes) -> DmqReply:
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Invalid(f"invalid json doc [[{body.decode(errors='replace')}]]") from None
        if not isinstance(doc, dict):
            raise Invalid(f"invalid json doc [[{body.decode(errors='replace')}]]")
        action, t_new, presentity = PRES_DMQ_NONE, 0, None
        fields: dict[str, str] = {}
        for name, value in doc.items():
            if name == "action":
                action = json_int(value)
            elif name == "presentity":
                presentity = self._presentity(value)
            elif name == "t_new":
                t_new = json_int(value)
            elif name in TOP_STR:
                fields[name] = json_str(value)
            else:
                raise Invalid("unrecognized field in json object")
        if action == PRES_DMQ_UPDATE_PRESENTITY:
            text = fields.get("body", "")
            if presentity is None or self.module.update_presentity(
                    None, presentity, text.encode() or None, bool(t_new), None, fields.get("sphere"),
                    etag_override=fields.get("cur_etag", ""), ruid=fields.get("ruid", "")) < 0:
                return DmqReply(500, "Server Internal Error")
        return DmqReply(200, "OK")

    def _presentity(self, value: Any) -> Presentity:
        """pres_parse_json_presentity."""
        log.debug("extracting presentity")
        found: dict[str, Any] = {}
        event = None
        for name, item in (value.items() if isinstance(value, dict) else ()):
            if name in PRESENTITY_INT:
                found[name] = json_int(item)
            elif name in PRESENTITY_STR:
                found[name] = json_str(item)
                if name == "event":
                    package = self.module.events.contains(found[name])
                    if package is None:
                        raise Invalid(f"unsupported event {found[name]}")
                    event = package.event
            else:
                raise Invalid("unrecognized field in json object")
        if event is None:
            raise Invalid("presence event not found")
        module = self.module
        recv = found.get("recv", 0)
        return Presentity(found.get("domain", ""), found.get("user", ""), found.get("expires", 0), event,
                          found.get("etag", ""), found.get("sender"),
                          recv if recv > 0 else module.now(), module.priority(None))
