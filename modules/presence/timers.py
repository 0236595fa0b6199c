"""presence's periodic work: expired subscriptions get a terminated NOTIFY and go, the write-back of
the subscriptions to active_watchers (timer_db_update, every db_update_period), expired publications
withdrawn (every clean_period), old pending watchers forgotten, the subscriptions restored from the
database at start, and, in DB-only mode with notifier processes, the notifier rounds."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kampy.api import PENDING_STATUS, TERMINATED_STATUS, WINFO_TYPE, PUBL_TYPE, DBError, Subscription

from .common import (
    DB_ONLY,
    NO_DB,
    NO_UPDATE_TYPE,
    PS_PCACHE_HYBRID,
    PS_PCACHE_RECORD,
    UPDATED_TYPE,
    WRITE_THROUGH,
    uandd_to_uri,
)
from .events import EVENT_PRESENCE, parse_event
from .presentity import Presentity, extract_sphere
from .shtable import INSERTDB_FLAG, NO_UPDATEDB_FLAG, UPDATEDB_FLAG, WTHROUGHDB_FLAG
from .watchers import AW_COLUMNS

if TYPE_CHECKING:
    from .presence import PresenceModule

log = logging.getLogger("kampy.presence")


class TimersMixin:
    """The timers of PresenceModule."""

    # ------------------------------------------------------------ subscriptions
    def timer_db_update(self: PresenceModule, no_lock: bool = False) -> None:
        """timer_db_update(): expired subscriptions, and the write-back of the others. `no_lock`
        (at shutdown and from presence.cleanup): the expired ones go without a NOTIFY."""
        try:
            if self.subs_db_mode == DB_ONLY:
                if self.notifier_processes > 0:
                    self.update_db_subs_timer_notifier()
                else:
                    self.update_db_subs_timer_dbonly()
            elif self.subs_db_mode == NO_DB:
                self.update_db_subs_timer_dbnone(no_lock)
            else:
                self.update_db_subs_timer(no_lock)
        except DBError as exc:
            log.error("db_update timer: %s", exc)

    def handle_expired_subs(self: PresenceModule, s: Subscription) -> int:
        """handle_expired_subs(): NOTIFY terminated;reason=timeout, no body."""
        s.status, s.reason, s.expires = TERMINATED_STATUS, "timeout", 0
        s.local_cseq += 1
        if self.send_notify_request(s, None, None, True) < 0:
            log.error("send Notify not successful")
            return -1
        return 0

    def _expired(self: PresenceModule, stored: Any, now: int) -> bool:
        return stored.subs.expires < now - self.expires_offset

    def update_db_subs_timer_dbnone(self: PresenceModule, no_lock: bool) -> None:
        now = self.now()
        table = self.subs_table
        assert table is not None
        for slot in table.slots():
            for stored in slot:
                if self._expired(stored, now):
                    if not no_lock and self.handle_expired_subs(stored.subs) < 0:
                        log.error("in function handle_expired_record")
                    table.remove(stored)

    def update_db_subs_timer(self: PresenceModule, no_lock: bool) -> None:
        """update_db_subs_timer(): write-through/write-back; the table's expired rows deleted."""
        now = self.now()
        table, db = self.subs_table, self.db
        assert table is not None and db is not None
        for slot in table.slots():
            for stored in slot:
                s = stored.subs
                if self._expired(stored, now):
                    if not no_lock and self.handle_expired_subs(s) < 0:
                        log.error("in function handle_expired_record")
                    table.remove(stored)
                    continue
                key = {
                    "presentity_uri": s.pres_uri,
                    "callid": s.callid,
                    "to_tag": s.to_tag,
                    "from_tag": s.from_tag,
                }
                try:
                    if s.db_flag == UPDATEDB_FLAG:
                        db.update(
                            self.active_watchers_table,
                            key,
                            {
                                "expires": s.expires,
                                "status": s.status,
                                "reason": s.reason,
                                "remote_cseq": s.remote_cseq,
                                "local_cseq": s.local_cseq,
                                "version": s.version,
                                "contact": s.contact,
                                "record_route": s.record_route,
                            },
                        )
                        table.set_fields(s, db_flag=NO_UPDATEDB_FLAG)
                    elif s.db_flag == INSERTDB_FLAG:
                        db.insert(
                            self.active_watchers_table,
                            self.aw_row(s, stored.event_name, s.expires, -1, -1, flags=False),
                        )
                        table.set_fields(s, db_flag=NO_UPDATEDB_FLAG)
                except DBError as exc:
                    log.error("updating in database: %s", exc)
        db.delete(self.active_watchers_table, [("expires", "<", now - self.expires_offset)])

    def update_db_subs_timer_dbonly(self: PresenceModule) -> None:
        """update_db_subs_timer_dbonly(): DB_ONLY's expired rows get their terminated NOTIFY (the
        rows themselves go with the NOTIFY's reply or stay until a watcher refreshes)."""
        rows = self.aw_rows([("expires", "<", self.now() - self.expires_offset)], paged=True)
        for s in rows[::-1]:
            if s.event is None:
                log.error("Wrong event in database")
                continue
            s.local_cseq += 1
            s.expires = 0
            self.handle_expired_subs(s)

    def update_db_subs_timer_notifier(self: PresenceModule) -> None:
        """update_db_subs_timer_notifier(): DB_ONLY with notifiers: expired rows marked for a round."""
        with self.db_transaction(True):
            rows = self.db.query(
                self.active_watchers_table,
                ["callid", "to_tag", "from_tag"],
                [("expires", "<", self.now() - self.expires_offset), ("updated", "=", NO_UPDATE_TYPE)],
            )
            for callid, to_tag, from_tag in rows:
                self.set_updated(Subscription(callid=callid, to_tag=to_tag, from_tag=from_tag))

    def restore_db_subs(self: PresenceModule) -> None:
        """restore_db_subs(): the unexpired active_watchers rows into memory (at start, once for all
        workers); with subs_db_mode 0 the table is emptied afterwards."""
        now = self.now()
        table, db = self.subs_table, self.db
        assert table is not None and db is not None
        for s in self.aw_rows(None, paged=True):
            if s.expires < now:
                continue
            if s.event is None:
                log.debug("stored subscription of an event no module registered: kept aside")
                continue
            s.expires -= now
            s.db_flag = WTHROUGHDB_FLAG if self.subs_db_mode == WRITE_THROUGH else NO_UPDATEDB_FLAG
            table.insert(s, s.event.name, now)
        if self.subs_db_mode == NO_DB:
            db.delete(self.active_watchers_table, None)

    def watchers_db_timer_clean(self: PresenceModule) -> None:
        """ps_watchers_db_timer_clean(): pending watchers older than a day are forgotten."""
        if self.db is None:
            return
        try:
            self.db.delete(
                self.watchers_table,
                [("inserted_time", "<", self.now() - 24 * 3600), ("status", "=", PENDING_STATUS)],
            )
        except DBError as exc:
            log.error("cleaning pending subscriptions: %s", exc)

    # ------------------------------------------------------------ publications
    def presentity_db_timer_clean(self: PresenceModule) -> None:
        """ps_presentity_db_timer_clean(): expired documents withdrawn (the watchers notified with
        the offline state unless force_delete), then deleted."""
        if self.db is None or self.publ_cache == PS_PCACHE_RECORD:
            return

        now = self.now()
        where = [("expires", "<", now), ("expires", ">", 0)]
        try:
            rows = self.fetch_all(self.presentity_table, ["username", "domain", "etag", "event"], where)
        except DBError as exc:
            log.error("failed to query database for expired messages: %s", exc)
            rows = []
        for user, domain, etag, event_name in rows:
            package = self.events.contains(event_name or "")
            if package is None:
                log.error("event[%s] not found", event_name)
                self._delete_expired(user, domain, event_name, etag)
                continue
            uri = uandd_to_uri(user or "", domain or "")
            p = Presentity(domain or "", user or "", 0, package.event, etag or "", None, 0, 0)
            watchers = 0
            if self.publ_cache == PS_PCACHE_HYBRID:
                self.index.delete(uri, package.parsed.type)
            if self.force_delete:
                pass
            elif self.notifier_processes > 0:
                with self.db_transaction(True):
                    watchers = self.publ_notify_notifier(uri, package.event)
                    if watchers > 0:
                        self.mark_presentity_for_delete(p, None)
                    elif watchers == 0:
                        self.delete_presentity(p, None)
                continue
            else:
                code, rules_doc = (
                    package.event.get_rules_doc(p.user, p.domain)
                    if package.event.get_rules_doc
                    else (0, None)
                )
                if code < 0:
                    log.error("getting rules doc")
                else:
                    self.publ_notify(package.event, None, uri, None, p.etag, rules_doc)
            if watchers == 0:
                self.delete_presentity(p, None)
        if self.notifier_processes == 0:
            try:
                self.db.delete(self.presentity_table, where)
            except DBError as exc:
                log.error("failed to delete expired records from DB: %s", exc)

    def _delete_expired(self: PresenceModule, user: str, domain: str, event: str, etag: str) -> None:
        self.db.delete(
            self.presentity_table, {"username": user, "domain": domain, "event": event, "etag": etag}
        )

    def ptable_timer_clean(self: PresenceModule) -> None:
        """ps_ptable_timer_clean() (publ_cache 2)."""

        if self.records is None:
            return
        expired = self.records.expired(self.now())
        for rec in expired:
            package = self.events.contains(rec.event)
            if package is None:
                log.error("event[%s] not found", rec.event)
                continue
            p = Presentity(rec.domain, rec.user, 0, package.event, rec.etag, None, 0, 0)
            if self.force_delete:
                continue
            rules_doc = None
            if package.event.get_rules_doc:
                code, rules_doc = package.event.get_rules_doc(rec.user, rec.domain)
                if code < 0:
                    log.error("getting rules doc")
                    continue
            self.publ_notify(
                package.event, None, uandd_to_uri(rec.user, rec.domain), None, rec.etag, rules_doc
            )
            del p
        for rec in expired:
            self.records.remove(rec.user, rec.domain, rec.event, rec.etag)

    def restore_publications(self: PresenceModule) -> None:
        """pres_htable_db_restore(): the index of published presentities, from the presentity table."""

        if self.index is None or self.db is None:
            return
        columns = ["username", "domain", "event", "expires"] + (["body"] if self.sphere_enable else [])
        now = self.now()
        for row in self.fetch_all(self.presentity_table, columns, None):
            user, domain, event_name, expires = row[:4]
            if self.startup_mode != 0 and int(expires) < now:
                continue
            try:
                kind = parse_event(event_name or "").type
            except ValueError:
                log.error("parsing event")
                continue
            sphere = (
                extract_sphere(bytes(row[4] or b""))
                if self.sphere_enable and kind == EVENT_PRESENCE
                else None
            )
            self.index.insert(uandd_to_uri(user or "", domain or ""), kind, sphere)

    # ------------------------------------------------------------ DB_ONLY notifier processes
    def set_updated(self: PresenceModule, s: Subscription) -> int:
        """set_updated(): the dialog is due in its notifier round."""
        return self.db.update(
            self.active_watchers_table,
            {"callid": s.callid, "to_tag": s.to_tag, "from_tag": s.from_tag},
            {"updated": self.notifier_round(s.callid, s.from_tag)},
        )

    def publ_notify_notifier(self: PresenceModule, pres_uri: str, event: Any) -> int:
        """publ_notify_notifier(): every dialog of the presentity is due; how many there are."""
        try:
            rows = self.db.query(
                self.active_watchers_table,
                ["callid", "to_tag", "from_tag"],
                {"presentity_uri": pres_uri, "event": event.name},
            )
            for callid, to_tag, from_tag in rows:
                self.set_updated(Subscription(callid=callid, to_tag=to_tag, from_tag=from_tag))
        except DBError as exc:
            log.error("Can't query db: %s", exc)
            return -1
        return len(rows)

    def set_wipeer_subs_updated(self: PresenceModule, pres_uri: str, event: Any, full: bool) -> int:
        """set_wipeer_subs_updated(): the watcher-info dialogs of the presentity are due."""
        try:
            rows = self.db.query(
                self.active_watchers_table,
                ["callid", "from_tag", "to_tag"],
                {"presentity_uri": pres_uri, "event": event.name},
            )
            count = len(rows)
            for callid, from_tag, to_tag in rows:
                values: dict[str, Any] = {"updated": self.notifier_round(callid, from_tag)}
                if full:
                    values["updated_winfo"] = UPDATED_TYPE
                if (
                    self.db.update(
                        self.active_watchers_table,
                        {"callid": callid, "to_tag": to_tag, "from_tag": from_tag},
                        values,
                    )
                    == 0
                ):
                    count -= 1
        except DBError as exc:
            log.error("in sql query: %s", exc)
            return -1
        return count

    def notifier_tick(self: PresenceModule) -> None:
        """pres_timer_send_notify(), for each notifier process this worker stands for: its round of
        the dialogs due (non-winfo first, then presence.winfo)."""
        rounds = self.waitn_time * self.notifier_poll_rate
        for process in self.my_notifiers():
            round_ = self.notifier_subset + rounds * process
            if self.process_dialogs(round_, False) >= 0:
                self.process_dialogs(round_, True)
        self.notifier_subset = (self.notifier_subset + 1) % max(rounds, 1)

    def process_dialogs(self: PresenceModule, round_: int, winfo: bool) -> int:
        """process_dialogs(): the round's dialogs marked done, then each notified (a terminated one
        deleted), the watcher-info and offline bookkeeping kept."""
        db = self.db
        assert db is not None
        where = [("updated", "=", round_), ("event", "=" if winfo else "!=", "presence.winfo")]
        try:
            with self.db_transaction(True):
                due = db.query(
                    self.active_watchers_table,
                    ["presentity_uri", "callid", "to_tag", "from_tag", "event"],
                    where,
                )
                if not due:
                    return 0
                db.update(self.active_watchers_table, where, {"updated": NO_UPDATE_TYPE})
            for pres_uri, callid, to_tag, from_tag, event_name in due:
                self._notify_due(pres_uri, callid, to_tag, from_tag, event_name, round_)
        except DBError as exc:
            log.error("in sql query: %s", exc)
            return -1
        return 0

    def _notify_due(
        self: PresenceModule,
        pres_uri: str,
        callid: str,
        to_tag: str,
        from_tag: str,
        event_name: str,
        round_: int,
    ) -> None:
        db = self.db
        assert db is not None
        key = {"callid": callid, "to_tag": to_tag, "from_tag": from_tag}
        package = self.events.contains(event_name or "")
        with self.db_transaction(True):
            if package is None:
                log.error("event not found and set to NULL")
                db.delete(self.active_watchers_table, key)
                return
            rows = self.aw_rows(key)
            if not rows:
                log.info("record not found - this may be observed in multi-server systems")
                self.cleanup_missing_dialog(pres_uri, package)
                return
            if len(rows) > 1:
                log.error(
                    "multiple records found for %s, ci : %s, tt : %s, ft : %s, ev : %s",
                    pres_uri,
                    callid,
                    to_tag,
                    from_tag,
                    event_name,
                )
                db.delete(self.active_watchers_table, key)
                return
            s = rows[0]
            s.pres_uri, s.event = pres_uri, package.event
            s.local_cseq += 1
            s.version += 1
            cached_winfo = s.updated_winfo
            now = self.now()
            s.expires = s.expires - now if s.expires > now + self.expires_offset else 0
            s.updated = round_
            sent, again = self.notifier_notify(s, package)
            if sent < 0:
                self.cleanup_missing_dialog(pres_uri, package)
                db.delete(self.active_watchers_table, key)
                return
            if (s.expires > 0 and s.status != TERMINATED_STATUS) or again:
                values: dict[str, Any] = {}
                if s.updated_winfo != cached_winfo:
                    values["updated_winfo"] = s.updated_winfo
                if again:
                    values["updated"] = round_
                if sent:
                    values.update(local_cseq=s.local_cseq, version=s.version)
                if values:
                    db.update(self.active_watchers_table, key, values)
            elif sent:
                db.delete(self.active_watchers_table, key)

    def notifier_notify(self: PresenceModule, s: Subscription, package: Any) -> tuple[int, bool]:
        """notifier_notify(): (1 sent / 0 not / -1 error, whether to retry in the next round)."""
        body = None
        delete_offline = False
        if s.expires == 0 or s.status == TERMINATED_STATUS:
            s.status = TERMINATED_STATUS
            if package.type & WINFO_TYPE:
                self.unset_watchers_updated_winfo(s.pres_uri)
            else:
                if package.type & PUBL_TYPE and self.dialogs_awaiting_update(s.pres_uri, package.name) == 0:
                    delete_offline = True
                if (
                    package.wipeer is not None
                    and s.updated_winfo == UPDATED_TYPE
                    and self.dialogs_awaiting_update(s.pres_uri, "presence.winfo") > 0
                ):
                    return 0, True
        elif package.type & WINFO_TYPE:
            if s.updated_winfo == NO_UPDATE_TYPE:
                watchers = self.updated_winfo_watchers(s, package)
                body = self.create_winfo_xml(
                    watchers[::-1],
                    s.version,
                    s.pres_uri,
                    package.wipeer.name if package.wipeer else "",
                    False,
                )
            else:
                s.updated_winfo = NO_UPDATE_TYPE
            self.unset_watchers_updated_winfo(s.pres_uri)
        elif package.type & PUBL_TYPE:
            if self.dialogs_awaiting_update(s.pres_uri, package.name) == 0:
                delete_offline = True
        elif not self.send_fast_notify:
            return 0, False
        try:
            if self.notify(s, None, body, False, None) < 0:
                log.error("could not send notify")
                return -1, False
            return 1, False
        finally:
            if delete_offline:
                self.delete_offline_presentities(s.pres_uri, package.event)

    def updated_winfo_watchers(
        self: PresenceModule, s: Subscription, package: Any
    ) -> list[tuple[str, str, int]]:
        """build_watchers_list(): the watchers whose state changed since the last watcher-info."""
        peer = package.wipeer
        rows = self.db.query(
            self.active_watchers_table,
            ["watcher_username", "watcher_domain", "callid", "status"],
            {"presentity_uri": s.pres_uri, "event": peer.name if peer else "", "updated_winfo": UPDATED_TYPE},
        )
        return [(uandd_to_uri(u or "", d or ""), c or "", int(st)) for u, d, c, st in rows]

    def unset_watchers_updated_winfo(self: PresenceModule, pres_uri: str) -> int:
        db = self.db
        assert db is not None
        waiting = db.query(
            self.active_watchers_table,
            ["id"],
            {"presentity_uri": pres_uri, "event": "presence.winfo", "updated": UPDATED_TYPE},
        )
        if waiting:
            return 0
        return db.update(
            self.active_watchers_table,
            [("presentity_uri", "=", pres_uri), ("event", "!=", "presence.winfo")],
            {"updated_winfo": NO_UPDATE_TYPE},
        )

    def dialogs_awaiting_update(self: PresenceModule, pres_uri: str, event_name: str) -> int:
        return len(
            self.db.query(
                self.active_watchers_table,
                ["id"],
                [
                    ("presentity_uri", "=", pres_uri),
                    ("event", "=", event_name),
                    ("updated", "!=", NO_UPDATE_TYPE),
                ],
            )
        )

    def cleanup_missing_dialog(self: PresenceModule, pres_uri: str, package: Any) -> None:
        if package.type & WINFO_TYPE:
            self.unset_watchers_updated_winfo(pres_uri)
        elif package.type & PUBL_TYPE and self.dialogs_awaiting_update(pres_uri, package.name) == 0:
            self.delete_offline_presentities(pres_uri, package.event)


__all__ = ["TimersMixin", "AW_COLUMNS"]
