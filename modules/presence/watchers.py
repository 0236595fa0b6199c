"""The subscriptions' rows (active_watchers) and the watchers' authorization (watchers): writing them
as the subscription modes say, and re-evaluating the watchers when a presentity's rules change
(update_watchers_status, pres_refresh_watchers)."""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Any

from kampy.api import (
    ACTIVE_STATUS,
    PENDING_STATUS,
    POLITE_BLOCK_STATUS,
    TERMINATED_STATUS,
    DBError,
    Subscription,
)

from .common import DB_ONLY, get_status_str, uri_user_host
from .presentity import Presentity, extract_sphere
from .shtable import LOCAL_TYPE, REMOTE_TYPE, UPDATEDB_FLAG, core_case_hash

if TYPE_CHECKING:
    from .presence import PresenceModule

log = logging.getLogger("kampy.presence")

AW_COLUMNS = (
    "presentity_uri",
    "to_user",
    "to_domain",
    "from_user",
    "from_domain",
    "watcher_username",
    "watcher_domain",
    "event",
    "event_id",
    "to_tag",
    "from_tag",
    "callid",
    "local_cseq",
    "remote_cseq",
    "contact",
    "record_route",
    "expires",
    "status",
    "reason",
    "version",
    "socket_info",
    "local_contact",
    "updated",
    "updated_winfo",
    "flags",
    "user_agent",
)


class WatchersMixin:
    """active_watchers and watchers for PresenceModule."""

    # ------------------------------------------------------------ active_watchers
    def aw_rows(self: PresenceModule, where: Any, paged: bool = False) -> list[Subscription]:
        """active_watchers rows as subscriptions (`expires` absolute, the event resolved); `paged`:
        read fetch_rows at a time (db_fetch_query)."""
        rows = (
            self.fetch_all(self.active_watchers_table, list(AW_COLUMNS), where)
            if paged
            else self.db.query(self.active_watchers_table, list(AW_COLUMNS), where)
        )
        out = []
        for row in rows:
            v = dict(zip(AW_COLUMNS, row, strict=True))
            out.append(
                Subscription(
                    pres_uri=v["presentity_uri"] or "",
                    to_user=v["to_user"] or "",
                    to_domain=v["to_domain"] or "",
                    from_user=v["from_user"] or "",
                    from_domain=v["from_domain"] or "",
                    watcher_user=v["watcher_username"] or "",
                    watcher_domain=v["watcher_domain"] or "",
                    event=self.resolve_event(v["event"] or ""),
                    event_id=v["event_id"] or "",
                    to_tag=v["to_tag"] or "",
                    from_tag=v["from_tag"] or "",
                    callid=v["callid"] or "",
                    local_cseq=int(v["local_cseq"] or 0),
                    remote_cseq=int(v["remote_cseq"] or 0),
                    contact=v["contact"] or "",
                    record_route=v["record_route"] or "",
                    expires=int(v["expires"] or 0),
                    status=int(v["status"] or 0),
                    reason=v["reason"] or "",
                    version=int(v["version"] or 0),
                    sockinfo_str=v["socket_info"] or "",
                    local_contact=v["local_contact"] or "",
                    updated=int(v["updated"] or 0),
                    updated_winfo=int(v["updated_winfo"] or 0),
                    flags=int(v["flags"] or 0),
                    user_agent=v["user_agent"] or "",
                )
            )
        return out

    def aw_row(
        self: PresenceModule,
        s: Subscription,
        event_name: str,
        expires: int,
        updated: int,
        updated_winfo: int,
        flags: bool = True,
    ) -> dict[str, Any]:
        """A subscription as an active_watchers row (insert_subs_db / the write-back timer)."""
        row = {
            "presentity_uri": s.pres_uri,
            "callid": s.callid,
            "to_tag": s.to_tag,
            "from_tag": s.from_tag,
            "to_user": s.to_user,
            "to_domain": s.to_domain,
            "from_user": s.from_user,
            "from_domain": s.from_domain,
            "watcher_username": s.watcher_user,
            "watcher_domain": s.watcher_domain,
            "event": event_name,
            "event_id": s.event_id,
            "local_cseq": s.local_cseq,
            "remote_cseq": s.remote_cseq,
            "expires": expires,
            "status": s.status,
            "reason": s.reason,
            "record_route": s.record_route,
            "contact": s.contact,
            "local_contact": s.local_contact,
            "socket_info": s.sockinfo_str,
            "version": s.version,
            "updated": updated,
            "updated_winfo": updated_winfo,
            "user_agent": s.user_agent or "",
        }
        if flags:
            row["flags"] = s.flags
        return row

    def insert_subs_db(self: PresenceModule, s: Subscription) -> int:
        """insert_subs_db()."""
        event = s.event
        assert event is not None
        try:
            self.db.insert(
                self.active_watchers_table,
                self.aw_row(s, event.name, s.expires + self.now(), s.updated, s.updated_winfo),
            )
        except DBError as exc:
            log.error("unsuccessful sql insert: %s", exc)
            return -1
        return 0

    def update_subs_db(self: PresenceModule, s: Subscription, kind: int) -> int:
        """update_subs_db(): REMOTE_TYPE writes what the watcher's refresh changed, LOCAL_TYPE the
        notifier's CSeq and version; both write the state."""
        values: dict[str, Any] = {}
        if kind & REMOTE_TYPE:
            values.update(
                expires=s.expires + self.now(),
                remote_cseq=s.remote_cseq,
                updated=s.updated,
                updated_winfo=s.updated_winfo,
                contact=s.contact,
                record_route=s.record_route,
            )
        if kind & LOCAL_TYPE:
            values.update(local_cseq=s.local_cseq, version=s.version)
        values.update(status=s.status, reason=s.reason)
        try:
            self.db.update(
                self.active_watchers_table,
                {"callid": s.callid, "to_tag": s.to_tag, "from_tag": s.from_tag},
                values,
            )
        except DBError as exc:
            log.error("updating presence information: %s", exc)
            return -1
        return 0

    def delete_db_subs(self: PresenceModule, to_tag: str, from_tag: str, callid: str) -> int:
        try:
            self.db.delete(
                self.active_watchers_table, {"callid": callid, "to_tag": to_tag, "from_tag": from_tag}
            )
        except DBError as exc:
            log.error("sql delete failed: %s", exc)
            return -1
        return 0

    # ------------------------------------------------------------ rules changed
    def update_watchers_status(
        self: PresenceModule, pres_uri: str, event: Any, rules_doc: bytes | None
    ) -> int:
        """update_watchers_status(): every watcher of `pres_uri` re-evaluated against `rules_doc`;
        those whose state changed are updated and notified (a terminated one is removed)."""
        if not event.content_type:
            found = self.events.contains(event.name)
            if found is None:
                log.error("wrong event parameter")
                return 0
            event = found.event
        try:
            rows = self.db.query(
                self.watchers_table,
                ["status", "reason", "watcher_username", "watcher_domain"],
                {"presentity_uri": pres_uri, "event": event.name},
            )
        except DBError as exc:
            log.error("in sql query: %s", exc)
            return -1
        if not rows:
            return 0
        changed: list[Subscription] = []
        last_reason = rows[-1][1] or ""
        for status, reason, w_user, w_domain in rows:
            subs = Subscription(
                pres_uri=pres_uri,
                event=event,
                auth_rules_doc=rules_doc,
                watcher_user=w_user or "",
                watcher_domain=w_domain or "",
                status=int(status),
            )
            # with enable_sphere_check Kamailio compares with the last row's reason (its copy loop
            # leaves `reason` there), else with the row's own
            if (
                self.pres_update_status(subs, last_reason if self.sphere_enable else reason or "", changed)
                < 0
            ):
                log.error("failed to update watcher status")
                return -1
        if self.notifier_processes == 0:
            for s in changed:
                if self.notify(s, None, None, False, None) < 0:
                    log.error("sending Notify request")
                    return -1
                if s.status == TERMINATED_STATUS and self.pres_db_delete_status(s) < 0:
                    log.error("failed to delete terminated dialog from database")
                    return -1
        return 0

    def pres_update_status(
        self: PresenceModule, subs: Subscription, reason: str, changed: list[Subscription]
    ) -> int:
        """pres_update_status(): the watcher's new state from the rules; when it changed, the
        watchers row and its dialogs follow."""
        event = subs.event
        old = subs.status
        subs.reason = ""
        if event.get_auth_status(subs) < 0:
            log.error("getting status from rules document")
            return -1
        if get_status_str(subs.status) is None:
            log.error("wrong status: %d", subs.status)
            return -1
        if subs.status == old and subs.reason == reason:
            return 0
        try:
            self.db.update(
                self.watchers_table,
                {
                    "presentity_uri": subs.pres_uri,
                    "event": event.name,
                    "watcher_username": subs.watcher_user,
                    "watcher_domain": subs.watcher_domain,
                },
                {"status": subs.status, "reason": subs.reason},
            )
        except DBError as exc:
            log.error("in sql update: %s", exc)
            return -1
        if self.update_pw_dialogs(subs, changed) < 0:
            log.error(
                "extracting dialogs from [watcher]=%s@%s to [presentity]=%s",
                subs.watcher_user,
                subs.watcher_domain,
                subs.pres_uri,
            )
            return -1
        return 0

    def update_pw_dialogs(self: PresenceModule, subs: Subscription, changed: list[Subscription]) -> int:
        """update_pw_dialogs(): the watcher's dialogs take the new state (copies, with the next local
        CSeq, go to `changed`); terminated ones are dropped from memory. The copies carry no rules
        document (Kamailio's mem_copy_subs does not copy it): their NOTIFY shows the whole document."""
        if self.subs_db_mode == DB_ONLY:
            return self.update_pw_dialogs_dbonly(subs, changed)
        event = subs.event
        now = self.now()
        table = self.subs_table
        assert table is not None
        for stored in table.in_slot(subs.pres_uri, event.name):
            s = stored.subs
            if not (
                s.event is event
                and len(s.pres_uri) == len(subs.pres_uri)
                and len(s.watcher_user) == len(subs.watcher_user)
                and len(s.watcher_domain) == len(subs.watcher_domain)
                and self.uri_match(s.pres_uri, subs.pres_uri)
                and self.uri_match(s.watcher_user, subs.watcher_user)
                and self.uri_match(s.watcher_domain, subs.watcher_domain)
            ):
                continue
            s.status, s.reason = subs.status, subs.reason
            if subs.status == TERMINATED_STATUS:
                table.remove(stored)
            else:
                table.set_fields(s, status=s.status, reason=s.reason, db_flag=UPDATEDB_FLAG)
            s.local_cseq += 1
            s.expires -= now
            changed.insert(0, s)
        return 0

    def update_pw_dialogs_dbonly(
        self: PresenceModule, subs: Subscription, changed: list[Subscription]
    ) -> int:
        """update_pw_dialogs_dbonlymode()."""
        event = subs.event
        where = {
            "event": event.name,
            "presentity_uri": subs.pres_uri,
            "watcher_username": subs.watcher_user,
            "watcher_domain": subs.watcher_domain,
        }
        try:
            rows = self.aw_rows(where)
        except DBError as exc:
            log.error("Can't query db: %s", exc)
            return -1
        now = self.now()
        for s in rows:
            s.status, s.reason = subs.status, subs.reason
            s.expires = s.expires - now if s.expires > now + self.expires_offset else 0
            s.local_cseq += 1
            changed.insert(0, s)
        try:
            if self.notifier_processes == 0 and subs.status == TERMINATED_STATUS:
                self.db.delete(self.active_watchers_table, where)
                return 0
            self.db.update(
                self.active_watchers_table,
                where,
                {
                    "status": subs.status,
                    "reason": subs.reason,
                    "updated": self.notifier_round(subs.callid, subs.from_tag),
                },
            )
        except DBError as exc:
            log.error("DB update failed: %s", exc)
            return -1
        return 0

    def pres_db_delete_status(self: PresenceModule, s: Subscription) -> int:
        try:
            self.db.delete(
                self.active_watchers_table,
                {
                    "event": s.event.name,
                    "presentity_uri": s.pres_uri,
                    "watcher_username": s.watcher_user,
                    "watcher_domain": s.watcher_domain,
                },
            )
        except DBError as exc:
            log.error("sql delete failed: %s", exc)
            return -1
        return 0

    def refresh_watchers(
        self: PresenceModule,
        pres_uri: str,
        event_name: str,
        refresh_type: int,
        file_uri: str | None = None,
        filename: str | None = None,
    ) -> int:
        """pres_refresh_watchers(): 0 re-authorizes the watchers, 1 re-notifies them (the published
        state changed in the table), 2 stores a pidf-manipulation document first."""
        package = self.events.contains(event_name)
        if package is None:
            log.error("wrong event parameter")
            return -1
        event = package.event
        if refresh_type == 0:
            if event.get_rules_doc is None:
                log.error(
                    "wrong request for a refresh watchers authorization status for an event that "
                    "does not require authorization"
                )
                return -1
            parts = uri_user_host(pres_uri)
            if parts is None:
                log.error("parsing uri [%s]", pres_uri)
                return -1
            code, doc = event.get_rules_doc(*parts)
            if code < 0 or doc is None:
                log.error("no rules doc found for the user")
                return -1
            if self.update_watchers_status(pres_uri, event, doc) < 0:
                log.error("failed to update watchers")
                return -1
            return 0
        if (
            refresh_type == 2
            and self.update_hard_presentity(pres_uri, event, file_uri or "", filename or "") < 0
        ):
            log.error("updating hard presentity")
            return -1
        if self.query_db_notify(pres_uri, event, None) < 0:
            log.error("sending Notify requests")
            return -1
        return 0

    def update_hard_presentity(
        self: PresenceModule, pres_uri: str, event: Any, file_uri: str, filename: str
    ) -> int:
        """update_hard_presentity(): the pidf-manipulation document stored as a never-expiring
        publication tagged with the file name (deleted when the document is gone)."""
        from kampy.api import libxml

        log.info("Hard-state file %s (uri %s) updated for %s", filename, file_uri, pres_uri)
        if event.get_pidf_doc is None:
            log.warning("pidf-manipulation not supported for %s", event.name)
            return -1
        parts = uri_user_host(pres_uri)
        if parts is None:
            log.error("bad presentity URI")
            return -1
        user, host = parts
        code, doc = event.get_pidf_doc(user, host, file_uri)
        if code < 0:
            log.error("retrieving pidf-manipulation document")
            return -1
        sphere = None
        if code > 0:
            if self.sphere_enable:
                sphere = extract_sphere(doc)
            try:
                libxml.parse(doc or b"")
            except libxml.XmlError:
                log.error("bad body format")
                return -1
        p = Presentity(host, user, -1, event, filename, None, self.now(), self.priority(None))
        return 1 if self.update_presentity(None, p, doc, code > 0, None, sphere) >= 0 else -1

    def pres_auth_status(self: PresenceModule, ctx: Any, watcher_uri: str, presentity_uri: str) -> int:
        """pres_auth_status(): the state the rules give the watcher for the presentity's presence
        (POLITE_BLOCK_STATUS for a polite block), PENDING without rules, -1 on errors."""
        package = self.events.contains("presence")
        if package is None:
            log.error("event is not registered")
            return -1
        event = package.event
        if event.get_rules_doc is None:
            log.debug("event does not require authorization")
            return ACTIVE_STATUS
        parts = uri_user_host(presentity_uri)
        if parts is None:
            log.error("failed to parse presentity uri")
            return -1
        code, doc = event.get_rules_doc(*parts)
        if code < 0 or doc is None:
            log.debug("no xcap rules doc found for presentity uri")
            return PENDING_STATUS
        watcher = uri_user_host(watcher_uri)
        if watcher is None:
            log.error("failed to parse watcher uri")
            return -1
        subs = Subscription(
            watcher_user=watcher[0],
            watcher_domain=watcher[1],
            pres_uri=presentity_uri,
            auth_rules_doc=doc,
            event=event,
        )
        if event.get_auth_status(subs) < 0:
            log.error("getting status from rules document")
            return -1
        return POLITE_BLOCK_STATUS if subs.reason == "polite-block" else subs.status

    def subscribers_count(self: PresenceModule, pres_uri: str, event_name: str) -> int:
        """get_subscribers_count(): the dialogs of the presentity in the event's slot (memory), or
        its active_watchers rows (DB_ONLY)."""
        if self.subs_db_mode == DB_ONLY:
            try:
                return len(
                    self.db.query(
                        self.active_watchers_table,
                        ["callid"],
                        {"presentity_uri": pres_uri, "event": event_name},
                    )
                )
            except DBError:
                return 0
        table = self.subs_table
        assert table is not None
        return sum(1 for s in table.in_slot(pres_uri, event_name) if s.subs.pres_uri == pres_uri)

    def notifier_round(self: PresenceModule, callid: str, from_tag: str) -> int:
        """The notifier round a dialog belongs to: its hash modulo the rounds of all notifiers."""
        rounds = self.waitn_time * self.notifier_poll_rate * self.notifier_processes
        if rounds <= 0:
            return 0
        if not callid or not from_tag:
            return int(random.random() * rounds)
        return core_case_hash(callid, from_tag) % rounds
