"""Storing PUBLISHed documents (presentity.c): the presentity table (publ_cache 0/1) or the
in-memory records (publ_cache 2), refreshes by entity tag (412 for an unknown one), withdrawals, the
dialog;sla rules, the NOTIFYs to the watchers; removing documents (by tag or ruid, marked offline for
the notifier)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kampy.api import DBError, MessageContext, libxml

from .common import OFFLINE_ETAG, PS_PCACHE_HYBRID, PS_PCACHE_RECORD, uandd_to_uri, uri_user_host
from .events import EVENT_DIALOG, EVENT_PRESENCE
from .shtable import PresRecord

if TYPE_CHECKING:
    from .presence import PresenceModule

log = logging.getLogger("kampy.presence")


@dataclass
class Presentity:
    """presentity_t: one publication being stored."""

    domain: str
    user: str
    expires: int
    event: Any  # PresenceEvent
    etag: str
    sender: str | None
    received_time: int
    priority: int


@dataclass
class Stored:
    """What update_presentity() leaves for the DMQ replication: the publication's ruid (None: it
    is not replicated, as Kamailio does not when it ends at a 412, an error or before learning the
    ruid) and the entity tag it has now (`cur_etag`, "" for a new or withdrawn one)."""

    ruid: str | None = None
    etag: str = ""

    def done(self, ruid: str | None, etag: str = "") -> int:
        self.ruid, self.etag = ruid, etag
        return 0


def extract_sphere(body: bytes | None) -> str | None:
    """extract_sphere(): the text of an RPID <sphere> (prefix rpid or r)."""
    if not body:
        return None
    try:
        doc = libxml.parse(body)
    except libxml.XmlError:
        log.error("failed to parse xml body")
        return None
    node = doc.find("sphere", "rpid") or doc.find("sphere", "r")
    return node.text if node is not None else None


def dialog_id_of(body: bytes | None) -> tuple[bool, str | None]:
    """check_if_dialog(): whether the document's root has a <dialog> child, and its id."""
    if not body:
        return False, None
    try:
        doc = libxml.parse(body)
    except libxml.XmlError:
        log.info("failed to parse xml document")
        raise
    root = doc.nodes[0] if doc.nodes else None
    node = root.child("dialog") if root is not None else None
    return (node is not None), (node.attr("id") if node is not None else None)


def dialog_states_match(body: bytes, state: str) -> int:
    """ps_match_dialog_state_from_body(): 1 when every <dialog>'s <state> is `state`."""
    try:
        doc = libxml.parse(body)
    except libxml.XmlError:
        return -1
    root = doc.root
    node = root.child("dialog") if root is not None else None
    matched = 0
    while node is not None:
        state_node = node.child("state")
        text = state_node.text if state_node is not None else None
        if text is not None:
            if text != state:
                return 0
            matched = 1
        sibling = node.next
        while sibling is not None and sibling.name != node.name:
            sibling = sibling.next
        node = sibling
    return matched


class PresentityMixin:
    """The storing side of PresenceModule's PUBLISH handling."""

    def update_presentity(
        self: PresenceModule,
        ctx: MessageContext | None,
        p: Presentity,
        body: bytes | None,
        new_t: bool,
        sent: list[bool] | None,
        sphere: str | None,
        replace: bool = False,
        etag_override: str | None = None,
        ruid: str | None = None,
    ) -> int:
        """update_presentity(): the document stored (publ_cache 0/1: the presentity table;
        2: memory), the reply, the NOTIFYs, then (enable_dmq) the publication to the other DMQ
        nodes. A replica from another node comes with its new entity tag (`etag_override`) and
        its ruid (the stored one it refreshes or withdraws). 0 done (or 412 sent), negative on an
        error."""
        sent = sent if sent is not None else [False]
        rules_doc = None
        if p.event.req_auth and (self.publ_cache == PS_PCACHE_RECORD or self.notifier_processes == 0):
            code, rules_doc = p.event.get_rules_doc(p.user, p.domain)
            if code < 0:
                log.error("getting rules doc")
                return -1
        store = self.cache_store if self.publ_cache == PS_PCACHE_RECORD else self.db_store
        out = Stored()
        try:
            code = store(ctx, p, body, new_t, sent, sphere, rules_doc, replace, etag_override, ruid, out)
        except DBError as exc:
            log.error("presentity table: %s", exc)
            return -1
        if code == 0 and out.ruid is not None and self.pres_dmq is not None:
            self.pres_dmq.replicate(p, body, new_t, out.etag, sphere, out.ruid)
        return code

    def _send_412(self: PresenceModule, ctx: MessageContext | None, p: Presentity, sent: list[bool]) -> int:
        log.info("No E-Tag match %s", p.etag)
        if ctx is not None and self.sl.send_reply(ctx, 412, "Conditional request failed") < 0:
            log.error("sending '412 Conditional request failed' reply")
            return -1
        sent[0] = True
        return 0

    def _reply_200(
        self: PresenceModule, ctx: MessageContext | None, expires: int, etag: str, sent: list[bool]
    ) -> int:
        """publ_send200ok(), remembered in `sent`: 0, -1 when it could not be sent."""
        if self.publ_send200ok(ctx, expires, etag) < 0:
            return -1
        sent[0] = True
        return 0

    def _refreshed_etag(self: PresenceModule, p: Presentity) -> str | None:
        """The entity tag a refresh leaves: the same when the package keeps it, else the next."""
        return p.etag if p.event.etag_not_new else self._next_etag(p)

    def _next_etag(self: PresenceModule, p: Presentity) -> str | None:
        """A refreshed publication's new entity tag: the old one's count plus one."""
        _, dot, count = p.etag.rpartition(".")
        if not dot or not count.isdigit():
            log.error("wrong etag")
            return None
        return self.generate_etag(int(count) + 1)

    def db_store(
        self: PresenceModule,
        ctx: MessageContext | None,
        p: Presentity,
        body: bytes | None,
        new_t: bool,
        sent: list[bool],
        sphere: str | None,
        rules_doc: bytes | None,
        replace: bool,
        etag_override: str | None,
        ruid: str | None,
        out: Stored,
    ) -> int:
        """ps_db_update_presentity(); a refresh or withdrawal with `ruid` finds the row by it."""
        db, table = self.db, self.presentity_table
        assert db is not None
        pres_uri = uandd_to_uri(p.user, p.domain)
        package = self.events.package_of(p.event)
        key = {"domain": p.domain, "username": p.user, "event": p.event.name, "etag": p.etag}
        where = {"ruid": ruid} if ruid is not None else key
        now = self.now()
        with self.db_transaction(True):
            if new_t:
                ruid = ruid if ruid is not None else self.next_ruid()
                if self.publ_cache == PS_PCACHE_HYBRID:
                    self.index.insert(pres_uri, package.parsed.type, sphere)
                row = {
                    **key,
                    "sender": p.sender or "",
                    "body": body or b"",
                    "received_time": p.received_time,
                    "priority": p.priority,
                    "ruid": ruid,
                }
                if p.expires == -1 or replace:
                    row["expires"] = -1 if p.expires == -1 else p.expires + now
                    db.delete(table, key)
                    db.insert(table, row)
                else:
                    row["expires"] = p.expires + now
                    if package.parsed.type == EVENT_DIALOG:
                        self._drop_same_dialog(p, body)
                    db.insert(table, row)
                if self._reply_200(ctx, p.expires, p.etag, sent) < 0:
                    return -1
                if self._notify_after_publish(p, pres_uri, body, rules_doc) < 0:
                    return -1
                return out.done(ruid)
            stored = db.query(table, ["body", "sender", "ruid"], where)
            p_ruid = ruid if ruid is not None else (stored[0][2] or None) if stored else None
            if package.parsed.is_dialog_sla:
                if not stored:
                    return self._send_412(ctx, p, sent)
                if not self._bla_may_update(p, body, stored[0][0], stored[0][1]):
                    return self._reply_200(ctx, p.expires, p.etag, sent) or out.done(p_ruid)
            if p.expires <= 0:
                if not stored:
                    return self._send_412(ctx, p, sent)
                if self._reply_200(ctx, p.expires, p.etag, sent) < 0:
                    return -1
                if self._withdraw(p, pres_uri, body, rules_doc, p_ruid) < 0:
                    return -1
                return out.done(p_ruid)
            etag = etag_override if etag_override is not None else self._refreshed_etag(p)
            if etag is None:
                return -1
            changes: dict[str, Any] = {} if etag == p.etag else {"etag": etag}
            if package.parsed.type == EVENT_DIALOG and self._dialog_terminated(p):
                log.warning("Trying to update an already terminated state. Skipping update.")
                # Kamailio knows the ruid here only when it was given (or dialog;sla read it)
                known = ruid if ruid is not None else p_ruid if package.parsed.is_dialog_sla else None
                return self._reply_200(ctx, p.expires, etag, sent) or out.done(known, etag)
            changes.update(expires=p.expires + now, received_time=p.received_time, priority=p.priority)
            if body:
                changes["body"] = body
                if (
                    self.sphere_enable
                    and package.parsed.type == EVENT_PRESENCE
                    and self.publ_cache == PS_PCACHE_HYBRID
                ):
                    self.update_sphere(p, pres_uri, body)
            if p.sender:
                changes["sender"] = p.sender
            if not stored or db.update(table, where, changes) < 0:
                return self._send_412(ctx, p, sent)
            if self._reply_200(ctx, p.expires, etag, sent) < 0:
                return -1
            if body is not None and self._notify_after_publish(p, pres_uri, body, rules_doc) < 0:
                return -1
            return out.done(p_ruid, etag)

    def _notify_after_publish(
        self: PresenceModule, p: Presentity, pres_uri: str, body: bytes | None, rules_doc: bytes | None
    ) -> int:
        if self.notifier_processes > 0:
            return 0 if self.publ_notify_notifier(pres_uri, p.event) >= 0 else -1
        if self.publ_notify(p.event, p.sender, pres_uri, body, None, rules_doc) < 0:
            log.error("while sending notify")
            return -1
        return 0

    def _withdraw(
        self: PresenceModule,
        p: Presentity,
        pres_uri: str,
        body: bytes | None,
        rules_doc: bytes | None,
        ruid: str | None,
    ) -> int:
        """A PUBLISH with Expires 0: the watchers see the document offline, then it goes."""
        watchers = 0
        if self.notifier_processes > 0:
            watchers = self.publ_notify_notifier(pres_uri, p.event)
            if watchers < 0:
                return -1
            if watchers > 0 and self.mark_presentity_for_delete(p, ruid) < 0:
                return -1
        elif self.publ_notify(p.event, p.sender, pres_uri, body, p.etag, rules_doc) < 0:
            log.error("while sending notify")
            return -1
        if self.notifier_processes == 0 or watchers == 0:
            self.delete_presentity(p, ruid)
        if self.publ_cache == PS_PCACHE_HYBRID:
            self.index.delete(pres_uri, self.events.package_of(p.event).parsed.type)
        return 0

    def _bla_may_update(
        self: PresenceModule, p: Presentity, body: bytes | None, old_body: Any, old_sender: str | None
    ) -> bool:
        """A dialog;sla publication from another sender does not replace a stored dialog."""
        try:
            is_dialog, _ = dialog_id_of(body)
            if is_dialog:
                return True
            old_is_dialog, _ = dialog_id_of(bytes(old_body or b""))
        except libxml.XmlError:
            raise DBError("failed to check if dialog stored") from None
        if not old_is_dialog or not p.sender:
            return True
        sender = old_sender or ""
        return len(p.sender) == len(sender) and self.uri_match(p.sender, sender)

    def _drop_same_dialog(self: PresenceModule, p: Presentity, body: bytes | None) -> None:
        """delete_presentity_if_dialog_id_exists(): a new dialog document replaces the stored one
        of the same dialog id."""
        try:
            _, dialog_id = dialog_id_of(body)
        except libxml.XmlError:
            return
        if dialog_id is None:
            return
        for old_body, old_etag in self.stored_documents(p):
            try:
                _, old_id = dialog_id_of(old_body)
            except libxml.XmlError:
                continue
            if old_id == dialog_id:
                self.delete_presentity(Presentity(p.domain, p.user, 0, p.event, old_etag, None, 0, 0), None)
                return

    def stored_documents(self: PresenceModule, p: Presentity) -> list[tuple[bytes, str]]:
        if self.publ_cache == PS_PCACHE_RECORD:
            return [(r.body, r.etag) for r in self.records.search(p.user, p.domain, p.event.name)]
        rows = self.db.query(
            self.presentity_table,
            ["body", "etag"],
            {"domain": p.domain, "username": p.user, "event": p.event.name},
        )
        return [(bytes(b or b""), e or "") for b, e in rows]

    def _dialog_terminated(self: PresenceModule, p: Presentity) -> bool:
        """ps_match_dialog_state(presentity, "terminated")."""
        if self.publ_cache == PS_PCACHE_RECORD:
            bodies = [r.body for r in self.records.search(p.user, p.domain, p.event.name, p.etag)]
        else:
            bodies = [
                bytes(b or b"")
                for (b,) in self.db.query(
                    self.presentity_table,
                    ["body"],
                    {"domain": p.domain, "username": p.user, "event": p.event.name, "etag": p.etag},
                )
            ]
        return any(dialog_states_match(b, "terminated") == 1 for b in bodies)

    def update_sphere(self: PresenceModule, p: Presentity, pres_uri: str, body: bytes) -> None:
        """update_phtable(): a changed sphere re-evaluates the watchers' authorization."""
        sphere = extract_sphere(body)
        if sphere is None or self.index is None:
            return
        if not self.index.set_sphere(pres_uri, self.events.package_of(p.event).parsed.type, sphere):
            return
        code, doc = p.event.get_rules_doc(p.user, p.domain) if p.event.get_rules_doc else (0, None)
        if code < 0:
            log.error("failed to retrieve xcap document")
            return
        self.update_watchers_status(pres_uri, p.event, doc)

    def delete_presentity(self: PresenceModule, p: Presentity, ruid: str | None) -> int:
        """delete_presentity(): by entity tag, or by ruid when known."""
        if self.publ_cache == PS_PCACHE_RECORD:
            self.records.remove(p.user, p.domain, p.event.name, p.etag)
            return 0
        where = (
            {"ruid": ruid}
            if ruid
            else {"username": p.user, "domain": p.domain, "event": p.event.name, "etag": p.etag}
        )
        try:
            return self.db.delete(self.presentity_table, where)
        except DBError as exc:
            log.error("unsuccessful sql delete operation: %s", exc)
            return -1

    def mark_presentity_for_delete(self: PresenceModule, p: Presentity, ruid: str | None) -> int:
        """mark_presentity_for_delete(): the document replaced by its offline version, etag
        `*#-OFFLINE-#*`, expiring now (the notifier deletes it once the watchers know)."""
        if p.event.agg_nbody is None:
            return 0 if self.delete_presentity(p, None) >= 0 else -1
        where = (
            {"ruid": ruid}
            if ruid
            else {"username": p.user, "domain": p.domain, "event": p.event.name, "etag": p.etag}
        )
        rows = self.db.query(self.presentity_table, ["body"], where)
        if not rows:
            log.info("Found 0 presentities - expected 1")
            return 0
        if len(rows) > 1:
            log.error("Found %d presentities - expected 1", len(rows))
            self.delete_presentity(p, ruid)
            return 0
        body = p.event.agg_nbody(p.user, p.domain, [bytes(rows[0][0] or b"")], 0)
        if body is None:
            log.error("preparing body")
            return -1
        return self.db.update(
            self.presentity_table, where, {"etag": OFFLINE_ETAG, "expires": self.now(), "body": body}
        )

    def delete_offline_presentities(self: PresenceModule, pres_uri: str, event: Any) -> int:
        parts = uri_user_host(pres_uri)
        if parts is None:
            log.error("failed to parse presentity uri")
            return -1
        return self.db.delete(
            self.presentity_table,
            {"username": parts[0], "domain": parts[1], "event": event.name, "etag": OFFLINE_ETAG},
        )

    # ------------------------------------------------------------ publ_cache 2
    def cache_store(
        self: PresenceModule,
        ctx: MessageContext | None,
        p: Presentity,
        body: bytes | None,
        new_t: bool,
        sent: list[bool],
        sphere: str | None,
        rules_doc: bytes | None,
        replace: bool,
        etag_override: str | None,
        ruid: str | None,
        out: Stored,
    ) -> int:
        """ps_cache_update_presentity(): as db_store, in the in-memory records (found by entity
        tag, also for a replica)."""
        records = self.records
        assert records is not None
        pres_uri = uandd_to_uri(p.user, p.domain)
        package = self.events.package_of(p.event)
        now = self.now()
        if new_t:
            ruid = ruid if ruid is not None else self.next_ruid()
            rec = PresRecord(
                p.user,
                p.domain,
                p.event.name,
                p.etag,
                received_time=p.received_time,
                priority=p.priority,
                ruid=ruid,
                sender=p.sender or "",
                body=body or b"",
            )
            if p.expires == -1 or replace:
                rec.expires = -1 if p.expires == -1 else p.expires + now
                records.replace(p.user, p.domain, p.event.name, p.etag, rec)
            else:
                rec.expires = p.expires + now
                if package.parsed.type == EVENT_DIALOG:
                    self._drop_same_dialog(p, body)
                records.insert(rec)
            if self._reply_200(ctx, p.expires, p.etag, sent) < 0:
                return -1
            if self.publ_notify(p.event, p.sender, pres_uri, body, None, rules_doc) < 0:
                return -1
            return out.done(ruid)
        stored = records.get_item(p.user, p.domain, p.event.name, p.etag)
        p_ruid = ruid if ruid is not None else (stored.ruid or None) if stored is not None else None
        if package.parsed.is_dialog_sla:
            if stored is None:
                return self._send_412(ctx, p, sent)
            if not self._bla_may_update(p, body, stored.body, stored.sender):
                return self._reply_200(ctx, p.expires, p.etag, sent) or out.done(p_ruid)
        if p.expires <= 0:
            if stored is None:
                return self._send_412(ctx, p, sent)
            if self._reply_200(ctx, p.expires, p.etag, sent) < 0:
                return -1
            if self.publ_notify(p.event, p.sender, pres_uri, body, p.etag, rules_doc) < 0:
                return -1
            self.delete_presentity(p, stored.ruid)
            return out.done(p_ruid)
        etag = etag_override if etag_override is not None else self._refreshed_etag(p)
        if etag is None:
            return -1
        if package.parsed.type == EVENT_DIALOG and self._dialog_terminated(p):
            log.warning("Trying to update an already terminated state. Skipping update.")
            known = ruid if ruid is not None else p_ruid if package.parsed.is_dialog_sla else None
            return self._reply_200(ctx, p.expires, etag, sent) or out.done(known, etag)
        if stored is None:
            return self._send_412(ctx, p, sent)
        rec = PresRecord(
            p.user,
            p.domain,
            p.event.name,
            etag,
            expires=p.expires + now,
            received_time=p.received_time,
            priority=p.priority,
            ruid=self.next_ruid(),
            sender=p.sender or "",
            body=body or b"",
        )
        if records.update(p.user, p.domain, p.event.name, p.etag, rec) == 0:
            return self._send_412(ctx, p, sent)
        if self._reply_200(ctx, p.expires, etag, sent) < 0:
            return -1
        if body is not None and self.publ_notify(p.event, p.sender, pres_uri, body, None, rules_doc) < 0:
            return -1
        return out.done(p_ruid, etag)
