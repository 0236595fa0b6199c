"""dialog's DMQ replication (Kamailio's dlg_dmq.c, enable_dmq): a dialog goes to the other nodes of the
bus as KDMQ requests to the `dialog` peer, in Kamailio's JSON, when its INVITE is forwarded (UPDATE),
when its state moves on (STATE) and when it goes (RM); a node joining the bus asks for every dialog
(SYNC). The dialogs other nodes send are kept here, not owned: no BYE or timeout route of this node's
config runs for them, and they are not written to the database."""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kampy.api import (
    TMCB_REQUEST_FWDED,
    CoreAPI,
    DLG_STATE_CONFIRMED,
    DLG_STATE_CONFIRMED_NA,
    DLG_STATE_DELETED,
    DLG_STATE_EARLY,
    DLG_STATE_UNCONFIRMED,
    DmqAPI,
    DmqNode,
    DmqReply,
    MessageContext,
    Request,
    TmTransaction,
)

from .store import CALLEE, CALLER, Dialog

if TYPE_CHECKING:
    from .dialog import DialogModule

log = logging.getLogger("kampy.dialog")

PEER = "dialog"
CONTENT_TYPE = "application/json"
DLG_DMQ_NONE, DLG_DMQ_UPDATE, DLG_DMQ_STATE, DLG_DMQ_RM, DLG_DMQ_SYNC = range(5)
IFLAG_DMQ_SYNC = 1 << 6  # Kamailio's DLG_IFLAG_DMQ_SYNC: the dialog is replicated
FLAG_NEW, FLAG_CHANGED, FLAG_CHANGED_VARS, FLAG_CHANGED_PROF = 1 << 0, 1 << 1, 1 << 7, 1 << 10
UINT_FIELDS = ("action", "h_entry", "h_id", "init_ts", "start_ts", "state", "lifetime")
STR_FIELDS = ("callid", "profiles", "tag1", "tag2", "cseq1", "cseq2", "route_set1", "route_set2",
              "contact1", "contact2", "from_uri", "to_uri", "req_uri")
SYNCED_STATES = (DLG_STATE_EARLY, DLG_STATE_CONFIRMED, DLG_STATE_DELETED)

Pairs = list[tuple[str, Any]]


class Refused(Exception):
    """A request Kamailio answers 500 Server Internal Error."""


def dumps(pairs: Pairs) -> bytes:
    """srjson_PrintUnformatted of an object built with srjson_Add*ToObject: the members in the order
    added, a name added twice written twice (Kamailio's UPDATE repeats tag1, cseq1...)."""
    return ("{" + ",".join(f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'), ensure_ascii=False)}"
                           for k, v in pairs) + "}").encode()


def uint(value: Any) -> int:
    """SRJSON_GET_UINT: a number as a C unsigned int, anything else 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return int(value) & 0xFFFFFFFF


def leg_pairs(dlg: Dialog, legs: Iterable[int]) -> Pairs:
    """The tags, then the CSeqs, route sets and contacts of the legs (1: caller, 2: callee)."""
    legs = tuple(legs)
    pairs: Pairs = []
    for name, values in (("tag", dlg.tag), ("cseq", dlg.cseq), ("route_set", dlg.route_set),
                         ("contact", dlg.contact)):
        pairs += [(f"{name}{leg + 1}", values[leg]) for leg in legs]
    return pairs


def profiles_json(dlg: Dialog, with_value: set[str]) -> str:
    """dlg_profiles_to_json: the dialog's profile links, newest first (Kamailio links each new one at
    the head)."""
    links = [{"name": name, **({"value": value} if name in with_value else {})}
             for name, value in reversed(dlg.profiles)]
    return dumps([("profiles", links)]).decode()


def encode(action: int, dlg: Dialog, with_value: set[str]) -> bytes:
    """The body of dlg_dmq_replicate_action for `dlg`."""
    pairs: Pairs = [("action", action), ("h_entry", dlg.h_entry), ("h_id", dlg.h_id)]
    if action == DLG_DMQ_UPDATE:
        pairs += [("init_ts", dlg.init_ts), ("callid", dlg.callid), ("from_uri", dlg.from_uri),
                  ("to_uri", dlg.to_uri), ("req_uri", dlg.req_uri), *leg_pairs(dlg, (CALLER,))]
        if dlg.vars:
            pairs.append(("vars", dict(reversed(dlg.vars.items()))))
        if dlg.profiles:
            pairs.append(("profiles", profiles_json(dlg, with_value)))
    if action in (DLG_DMQ_UPDATE, DLG_DMQ_STATE):
        pairs.append(("state", dlg.state))
        if dlg.state in (DLG_STATE_EARLY, DLG_STATE_CONFIRMED):
            pairs += [("start_ts", dlg.start_ts), ("lifetime", dlg.lifetime)]
            pairs += leg_pairs(dlg, (CALLER,) if dlg.state == DLG_STATE_EARLY else (CALLER, CALLEE))
    elif action == DLG_DMQ_RM:
        pairs.append(("state", dlg.state))
    return dumps(pairs)


def decode(body: bytes) -> tuple[dict[str, Any], dict[str, str], list[tuple[str, str | None]]]:
    """The fields Kamailio reads from a body (numbers as unsigned ints, strings as given, a name
    given twice: the last), its `vars` and the profile links of its `profiles`; ValueError when
    it is not JSON."""
    doc = json.loads(body)
    fields: dict[str, Any] = {"action": DLG_DMQ_NONE, "h_entry": 0, "h_id": 0, "init_ts": 0, "start_ts": 0,
                              "lifetime": 0, "state": DLG_STATE_UNCONFIRMED}
    variables: dict[str, str] = {}
    for name, value in (doc.items() if isinstance(doc, dict) else ()):
        if name == "vars":
            items = value.items() if isinstance(value, dict) else ()
            variables = {k: v for k, v in items if isinstance(v, str)}
        elif name in UINT_FIELDS:
            fields[name] = uint(value)
        elif name in STR_FIELDS:
            fields[name] = value if isinstance(value, str) else ""
        else:
            log.error("unrecognized field in json object")
    return fields, variables, profile_links(fields.get("profiles"))


def profile_links(text: str | None) -> list[tuple[str, str | None]]:
    """dlg_json_to_profiles: (name, value or None) of each link of `{"profiles":[...]}`."""
    if not text:
        return []
    try:
        doc = json.loads(text)
    except ValueError:
        log.error("invalid json doc [[%s]]", text)
        return []
    items = doc.get("profiles") if isinstance(doc, dict) else None
    links = []
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            value = item.get("value")
            links.append((item["name"], value if isinstance(value, str) else None))
    return links


class DlgDmq:
    """The `dialog` peer of one process."""

    def __init__(self, dmq: DmqAPI, module: DialogModule) -> None:
        self.dmq = dmq
        self.module = module
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
        self.send(dumps([("action", DLG_DMQ_SYNC)]))

    def replicate(self, action: int, h_entry: int, h_id: int, node: DmqNode | None = None) -> None:
        """dlg_dmq_replicate_action: the dialog as it is now, unless Kamailio would not send it (an
        UPDATE of a dialog replicated already whose profiles did not change, a STATE or RM of one not
        replicated, a STATE other than early, confirmed and deleted)."""
        store = self.module.store

        def change(d: Dialog) -> Any:
            if action == DLG_DMQ_UPDATE:
                if node is None and d.iflags & IFLAG_DMQ_SYNC and not d.dflags & FLAG_CHANGED_PROF:
                    return False
            elif not d.iflags & IFLAG_DMQ_SYNC:
                return False
            if action == DLG_DMQ_STATE and d.state not in SYNCED_STATES:
                return False
            body = encode(action, d, self.module.profiles_with_value)
            if action == DLG_DMQ_UPDATE:
                d.iflags |= IFLAG_DMQ_SYNC
                d.dflags &= ~FLAG_CHANGED_PROF
            elif action == DLG_DMQ_RM:
                d.iflags &= ~IFLAG_DMQ_SYNC
            return body

        _, body = store.update(h_entry, h_id, change)
        if body:
            self.send(body, node)

    def state_changed(self, dlg: Dialog, old: int) -> None:
        """After a state change of a replicated dialog (dlg_onreply, dlg_onroute, dlg_ontimeout)."""
        if dlg.iflags & IFLAG_DMQ_SYNC and dlg.state > old:
            self.replicate(DLG_DMQ_STATE, dlg.h_entry, dlg.h_id)

    def removed(self, dlg: Dialog) -> None:
        """destroy_dlg: a replicated dialog that goes (its record as it was)."""
        if dlg.iflags & IFLAG_DMQ_SYNC:
            dlg.iflags &= ~IFLAG_DMQ_SYNC
            self.send(encode(DLG_DMQ_RM, dlg, self.module.profiles_with_value))

    def send_all(self, node: DmqNode | None = None) -> None:
        """dmq_send_all_dlgs: every dialog of the table, as an UPDATE."""
        log.debug("sending all dialogs")
        for dlg in list(self.module.store.all()):
            self.module.store.update(dlg.h_entry, dlg.h_id,
                                     lambda d: setattr(d, "dflags", d.dflags | FLAG_CHANGED_PROF))
            self.replicate(DLG_DMQ_UPDATE, dlg.h_entry, dlg.h_id, node)

    # ------------------------------------------------------------ receiving

    def handle_message(self, msg: Request, node: DmqNode | None) -> DmqReply:
        """dlg_dmq_handle_msg."""
        if not msg.body:
            return DmqReply(400, "Bad Request")
        try:
            fields, variables, links = decode(msg.body)
        except (ValueError, UnicodeDecodeError):
            log.error("invalid json doc [[%s]]", msg.body.decode(errors="replace"))
            return DmqReply(400, "Bad Request")
        action = fields["action"]
        try:
            if action == DLG_DMQ_SYNC:
                self.send_all()
            elif action in (DLG_DMQ_UPDATE, DLG_DMQ_STATE, DLG_DMQ_RM):
                self.replay(action, fields, variables, links)
        except Refused as exc:
            log.error("%s", exc)
            return DmqReply(500, "Server Internal Error")
        return DmqReply(200, "OK")

    def replay(self, action: int, fields: dict[str, Any], variables: dict[str, str],
               links: list[tuple[str, str | None]]) -> None:
        module = self.module
        store = module.store
        h_entry, h_id = fields["h_entry"], fields["h_id"]
        with store.table.transaction():
            dlg = store.get(h_entry, h_id)
            if action == DLG_DMQ_RM:
                self._remove(dlg, fields)
                return
            new = dlg is None
            if action == DLG_DMQ_UPDATE:
                dlg = self._update(dlg, fields, variables, links)
                if fields["state"] == dlg.state:
                    return
            if dlg is None:
                raise Refused(f"dialog [{h_entry}:{h_id}] not found")
            try:
                self._state(dlg, fields, new)
            finally:
                store.put(dlg)

    def _update(self, dlg: Dialog | None, fields: dict[str, Any], variables: dict[str, str],
                links: list[tuple[str, str | None]]) -> Dialog:
        store = self.module.store
        if dlg is None:
            callid = fields.get("callid", "")
            dlg = Dialog(fields["h_entry"], fields["h_id"], callid, fields.get("from_uri", ""),
                         fields.get("to_uri", ""), fields.get("req_uri", ""))
            if store.entry_of(callid) != dlg.h_entry:
                raise Refused("inconsistent hash data from peer: make sure all Kamailio's use the "
                              "same hash size")
            self._leg(dlg, fields, CALLER)
            dlg.iflags |= IFLAG_DMQ_SYNC
            store.insert_replica(dlg)
        else:
            store.unlink_all(dlg)
        dlg.init_ts, dlg.start_ts = fields["init_ts"], fields["start_ts"]
        for key, value in variables.items():
            dlg.vars.pop(key, None)
            dlg.vars[key] = value
            dlg.dflags |= FLAG_CHANGED_VARS
        for name, value in links:
            self._link(dlg, name, value)
        store.put(dlg)
        return dlg

    def _link(self, dlg: Dialog, name: str, value: str | None) -> None:
        module = self.module
        if name not in module.profiles_with_value and name not in module.profiles_no_value:
            log.error("profile [%s] not found", name)
            return
        if (value is not None) != (name in module.profiles_with_value):
            return
        dlg.profiles.append([name, value or ""])
        dlg.dflags |= FLAG_CHANGED_PROF
        module.store.link(dlg, name, value or "")

    @staticmethod
    def _leg(dlg: Dialog, fields: dict[str, Any], leg: int) -> None:
        """dlg_set_leg_info."""
        n = leg + 1
        dlg.tag[leg] = fields.get(f"tag{n}", "")
        dlg.route_set[leg] = fields.get(f"route_set{n}", "")
        dlg.contact[leg] = fields.get(f"contact{n}", "")
        dlg.cseq[leg] = fields.get(f"cseq{n}", "")

    def _state(self, dlg: Dialog, fields: dict[str, Any], new: bool) -> None:
        """DLG_DMQ_STATE (also an UPDATE whose state differs)."""
        module = self.module
        state = fields["state"]
        if state < dlg.state:
            log.info("Ignoring backwards state change on dlg [%d:%d] with callid [%s] from state [%d] to "
                     "state [%d]", dlg.h_entry, dlg.h_id, dlg.callid, dlg.state, state)
            return
        now = int(module.core.clock.time())
        if state in (DLG_STATE_EARLY, DLG_STATE_CONFIRMED):
            dlg.start_ts, dlg.lifetime = fields["start_ts"], fields["lifetime"]
            self._leg(dlg, fields, CALLER)
            if state == DLG_STATE_CONFIRMED:
                self._leg(dlg, fields, CALLEE)
                dlg.timeout = now + dlg.lifetime
        elif state == DLG_STATE_DELETED:
            if dlg.state == DLG_STATE_CONFIRMED:
                dlg.timeout = 0
            module.store.unlink_all(dlg)
            dlg.dflags |= FLAG_NEW
            dlg.init_ts = now  # kept a while, so that a late UPDATE does not bring it back
        else:
            raise Refused(f"unhandled state update to state {state}")
        if new and state in (DLG_STATE_CONFIRMED_NA, DLG_STATE_CONFIRMED):
            module._stat("active_dialogs", 1)
        dlg.state = state

    def _remove(self, dlg: Dialog | None, fields: dict[str, Any]) -> None:
        if dlg is None:
            log.debug("dialog [%d:%d] not found", fields["h_entry"], fields["h_id"])
            raise Refused(f"dialog [{fields['h_entry']}:{fields['h_id']}] not found")
        if fields["state"] in (DLG_STATE_CONFIRMED_NA, DLG_STATE_CONFIRMED):
            self.module._stat("active_dialogs", -1)
        elif dlg.state == DLG_STATE_EARLY:
            self.module._stat("early_dialogs", -1)
        dlg.iflags &= ~IFLAG_DMQ_SYNC
        dlg.dflags |= FLAG_NEW
        self.module.store.put(dlg)
        self.module.store.remove(dlg)


class DialogReplication:
    """Mixed into DialogModule: where the dialog's changes meet the `dialog` peer."""

    def dmq_init(self: DialogModule, core: CoreAPI) -> DlgDmq:
        dmq: DmqAPI | None = core.api("dmq")
        if dmq is None:
            raise ValueError("cannot load dmq api")
        replication = DlgDmq(dmq, self)
        self.store.on_remove = replication.removed
        return replication

    def dmq_state(self: DialogModule, dlg: Dialog, old: int) -> None:
        """The dialog's new state to the other DMQ nodes (when it is replicated)."""
        if self.dlg_dmq is not None and type(old) is int:
            self.dlg_dmq.state_changed(dlg, old)

    def dmq_on_send(self: DialogModule, ctx: MessageContext, t: TmTransaction | None,
                    ident: tuple[int, int]) -> None:
        """dlg_on_send: when an INVITE of the dialog is forwarded, the dialog goes to the other DMQ
        nodes (again only when its profiles changed)."""
        replication = self.dlg_dmq
        if replication is not None:
            self.tm.register_tmcb(None if t is not None else ctx, t, TMCB_REQUEST_FWDED,
                                  lambda tr, kind, params: replication.replicate(DLG_DMQ_UPDATE, *ident))
