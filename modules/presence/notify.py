"""NOTIFY requests (notify.c): the watchers of a presentity, the body each may see (the published
documents aggregated by the event package, or the watcher-info document), the headers, sending them
within the subscription dialog through tm, and what a NOTIFY's final reply does (event_route
[presence:notify-reply], a subscription removed on 404, 481 or a timeout)."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from kampy.api import (
    ACTIVE_STATUS,
    PENDING_STATUS,
    PUBL_TYPE,
    TERMINATED_STATUS,
    WAITING_STATUS,
    WINFO_TYPE,
    DBError,
    MessageContext,
    Response,
    RouteType,
    Socket,
    Source,
    Subscription,
    UacDialog,
    as_bytes,
    grep_socket,
    libxml,
    log_at,
    parse_message,
)

from .common import (
    DB_ONLY,
    PRES_SUBSCRIBE_RECV,
    PS_PCACHE_HYBRID,
    PS_PCACHE_RECORD,
    WRITE_THROUGH,
    base64_uri,
    copy_subs,
    get_status_str,
    uandd_to_uri,
    uri_user_host,
)
from .shtable import LOCAL_TYPE

if TYPE_CHECKING:
    from .presence import PresenceModule

log = logging.getLogger("kampy.presence")

NOTIFY_REPLY_ROUTE = "presence:notify-reply"
# notify.c's faked reply for a NOTIFY that timed out ($notify_reply(...) reads it)
FAKED_408 = (
    b"SIP/2.0 408 TIMEOUT\r\nVia: SIP/2.0/UDP 127.0.0.1\r\nFrom: invalid;\r\nTo: invalid\r\n"
    b"Call-ID: invalid\r\nCSeq: 1 TIMEOUT\r\nContent-Length: 0\r\n\r\n"
)
_ROUTE_ENTRY = re.compile(r'(?:<[^>]*>|"[^"]*"|[^,])+')


class NotifyMixin:
    """The NOTIFY side of PresenceModule."""

    # ------------------------------------------------------------ headers and bodies
    def build_str_hdr(self: PresenceModule, subs: Subscription, is_body: bool) -> str:
        """build_str_hdr(): the headers presence puts after tm's own in a NOTIFY."""
        event = subs.event
        assert event is not None
        out = ["Max-Forwards: 70\r\n", f"Event: {event.name}"]
        if subs.event_id:
            out.append(f";id={subs.event_id}")
        out.append(f"\r\nContact: <{subs.local_contact}")
        if subs.sockinfo_str and ";transport=" not in subs.local_contact:
            first = subs.sockinfo_str[:2].lower()
            if first[:1] == "s":
                out.append(";transport=sctp")
            elif first == "tc":
                out.append(";transport=tcp")
            elif first == "tl":
                out.append(";transport=tls")
        out.append(f">\r\nSubscription-State: {get_status_str(subs.status)}")
        if subs.status == TERMINATED_STATUS:
            out.append(f";reason={subs.reason}")
        else:
            out.append(f";expires={subs.expires & 0xFFFFFFFF}")
        out.append("\r\n")
        if is_body:
            out.append(f"Content-Type: {event.content_type}\r\n")
        return "".join(out)

    def get_p_notify_body(
        self: PresenceModule, pres_uri: str, event: Any, etag: str | None, contact: str | None
    ) -> bytes | None:
        """get_p_notify_body(): the published state of `pres_uri` for `event`, as the package
        gives it (aggregated; the publication with `etag` shown offline), or the last document."""
        parts = uri_user_host(pres_uri)
        if parts is None:
            log.error("while parsing uri")
            return None
        user, host = parts
        package = self.events.package_of(event)
        if self.publ_cache == PS_PCACHE_RECORD:
            records = self.records.search(
                user,
                host,
                event.name,
                expires_after=self.now() if self.startup_mode == 1 else 0,
                by_priority=self.retrieve_order == 1,
            )
            rows = [(r.body, r.etag, r.sender) for r in records]
        else:
            if (
                self.publ_cache == PS_PCACHE_HYBRID
                and self.index is not None
                and self.index.search(pres_uri, package.parsed.type) is None
            ):
                log.debug("No record exists in hash_table")
                return event.agg_nbody(user, host, None, -1) if event.agg_nbody else None
            rows = self.presentity_rows(user, host, event.name)
            if rows is None:
                return None
        if not rows:
            return event.agg_nbody(user, host, None, -1) if event.agg_nbody else None
        if event.agg_nbody is None:
            body, _, sender = rows[-1] if self.publ_cache != PS_PCACHE_RECORD else rows[-1]
            if (
                package.parsed.is_dialog_sla
                and contact
                and sender
                and len(sender) == len(contact)
                and self.uri_match(sender, contact)
            ):
                return self.empty_bla_body(pres_uri)
            if not body:
                log.error("Empty notify body record")
                return None
            return body
        off = -1
        for i, (body, row_etag, _) in enumerate(rows):
            if etag is not None and row_etag == etag:
                off = i
            if not body:
                log.error("Empty notify body record")
                return None
        return event.agg_nbody(user, host, [r[0] for r in rows], off)

    def presentity_rows(
        self: PresenceModule, user: str, host: str, event_name: str
    ) -> list[tuple[bytes, str, str]] | None:
        """(body, etag, sender) of the presentity table's documents, in retrieval order."""
        where: list[tuple[str, str, Any]] = [
            ("domain", "=", host),
            ("username", "=", user),
            ("event", "=", event_name),
        ]
        if self.startup_mode == 1:
            where.append(("expires", ">", self.now()))
        order = (
            [c.strip() for c in self.retrieve_order_by.split(",") if c.strip()]
            if self.retrieve_order == 1
            else "received_time"
        )
        try:
            rows = self.db.query(self.presentity_table, ["body", "etag", "sender"], where, order_by=order)
        except DBError as exc:
            log.error("failed to query %s table: %s", self.presentity_table, exc)
            return None
        return [(_bytes(b), e or "", s or "") for b, e, s in rows]

    def empty_bla_body(self: PresenceModule, pres_uri: str) -> bytes:
        """build_empty_bla_body()."""
        doc = libxml.new_doc("dialog-info")
        root = doc.root
        assert root is not None
        for name, value in (
            ("xmlns", "urn:ietf:params:xml:ns:dialog-info"),
            ("version", "1"),
            ("state", "full"),
            ("entity", pres_uri),
        ):
            root.set_prop(name, value)
        return doc.dump()

    def create_winfo_xml(
        self: PresenceModule,
        watchers: list[tuple[str, str, int]],
        version: int,
        resource: str,
        event: str,
        full: bool,
    ) -> bytes:
        """create_winfo_xml(): a watcherinfo document (RFC 3857) of (uri, id, status) entries."""
        doc = libxml.new_doc("watcherinfo")
        root = doc.root
        assert root is not None
        root.set_prop("xmlns", "urn:ietf:params:xml:ns:watcherinfo")
        root.set_prop("version", str(version))
        root.set_prop("state", "full" if full else "partial")
        wlist = root.new_child("watcher-list")
        wlist.set_prop("resource", resource)
        wlist.set_prop("package", event)
        for uri, wid, status in watchers:
            node = wlist.new_child("watcher", uri)
            node.set_prop("id", wid)
            node.set_prop("event", "subscribe")
            node.set_prop("status", get_status_str(status) or "")
        return doc.dump()

    def get_wi_notify_body(
        self: PresenceModule, subs: Subscription, watcher_subs: Subscription | None
    ) -> bytes | None:
        """get_wi_notify_body(): the watchers of the presentity (partial: only `watcher_subs`)."""
        package = self.events.package_of(subs.event)
        peer = package.wipeer
        if peer is None:
            return None
        watchers: list[tuple[str, str, int]] = []
        full = True
        if watcher_subs is not None:
            watchers.append(
                (
                    uandd_to_uri(watcher_subs.watcher_user, watcher_subs.watcher_domain),
                    watcher_subs.callid,
                    watcher_subs.status,
                )
            )
            full = False
        elif self.subs_db_mode == DB_ONLY:
            found = self.watchers_from_db(subs.pres_uri, peer.name)
            if found is None:
                return None
            watchers += found
        else:
            now = self.now()
            for stored in self.subs_table.in_slot(subs.pres_uri, peer.name):
                s = stored.subs
                if s.expires < now:
                    continue
                if (
                    stored.event_name == peer.name
                    and len(s.pres_uri) == len(subs.pres_uri)
                    and self.uri_match(s.pres_uri, subs.pres_uri)
                ):
                    watchers.append((uandd_to_uri(s.watcher_user, s.watcher_domain), s.callid, s.status))
            waiting = self.waiting_watchers(subs.pres_uri, peer.name, [w[0] for w in watchers])
            if waiting is None:
                return None
            watchers += waiting
        # each watcher is linked first in Kamailio's list: the document names them newest first
        return self.create_winfo_xml(watchers[::-1], subs.version, subs.pres_uri, peer.name, full)

    def watchers_from_db(
        self: PresenceModule, pres_uri: str, event_name: str
    ) -> list[tuple[str, str, int]] | None:
        """get_wi_subs_db(): the active_watchers rows of the watched event, unexpired."""
        try:
            rows = self.db.query(
                self.active_watchers_table,
                ["status", "watcher_username", "watcher_domain", "callid"],
                [
                    ("presentity_uri", "=", pres_uri),
                    ("event", "=", event_name),
                    ("expires", ">", self.now() + self.expires_offset),
                ],
            )
        except DBError as exc:
            log.error("querying active_watchers db table: %s", exc)
            return None
        return [(uandd_to_uri(u or "", d or ""), c or "", int(st)) for st, u, d, c in rows]

    def waiting_watchers(
        self: PresenceModule, pres_uri: str, event_name: str, known: list[str]
    ) -> list[tuple[str, str, int]] | None:
        """add_waiting_watchers(): the watchers table's pending watchers not listed yet, as waiting."""
        try:
            rows = self.db.query(
                self.watchers_table,
                ["watcher_username", "watcher_domain"],
                {"presentity_uri": pres_uri, "event": event_name, "status": PENDING_STATUS},
            )
        except DBError as exc:
            log.error("failed to query %s table: %s", self.watchers_table, exc)
            return None
        out: list[tuple[str, str, int]] = []
        for user, domain in rows:
            uri = uandd_to_uri(user or "", domain or "")
            if any(len(k) == len(uri) and self.uri_match(k, uri) for k in known):
                continue
            out.append((uri, base64_uri(uri), WAITING_STATUS))
        return out

    # ------------------------------------------------------------ who is notified
    def get_subs_dialog(
        self: PresenceModule, pres_uri: str, event: Any, sender: str | None
    ) -> list[Subscription]:
        """get_subs_dialog(): the active, unexpired subscriptions to `pres_uri` for `event` but the
        sender's own; `expires` relative."""
        if self.subs_db_mode == DB_ONLY:
            return self.subs_from_db(pres_uri, event, sender)
        now = self.now()
        out = []
        for stored in self.subs_table.in_slot(pres_uri, event.name):
            s = stored.subs
            if s.expires < now:
                continue
            if not (
                s.status == ACTIVE_STATUS
                and not s.reason
                and s.event is event
                and len(s.pres_uri) == len(pres_uri)
                and self.uri_match(s.pres_uri, pres_uri)
            ):
                continue
            if sender and len(sender) == len(s.contact) and self.uri_match(sender, s.contact):
                continue
            s.expires -= now
            out.append(s)
        return out[::-1]

    def subs_from_db(
        self: PresenceModule, pres_uri: str, event: Any, sender: str | None
    ) -> list[Subscription]:
        """get_subs_db(): DB_ONLY mode's active dialogs, each with its next local CSeq and version."""
        try:
            rows = self.aw_rows(
                [
                    ("presentity_uri", "=", pres_uri),
                    ("event", "=", event.name),
                    ("status", "=", ACTIVE_STATUS),
                    ("contact", "!=", sender or ""),
                ]
            )
        except DBError as exc:
            log.error("while querying database: %s", exc)
            return []
        now = self.now()
        out = []
        for s in rows:
            if s.reason:
                continue
            s.status, s.pres_uri, s.event = ACTIVE_STATUS, pres_uri, event
            s.local_cseq += 1
            s.expires = 0 if s.expires < now + self.expires_offset else s.expires - now
            s.version += 1
            out.append(s)
        return out[::-1]

    def publ_notify(
        self: PresenceModule,
        event: Any,
        sender: str | None,
        pres_uri: str,
        body: bytes | None,
        offline_etag: str | None,
        rules_doc: bytes | None,
    ) -> int:
        """publ_notify(): the watchers of a changed publication get the new state."""
        subs_list = self.get_subs_dialog(pres_uri, event, sender)
        if not subs_list:
            log.debug("Could not find subs_dialog")
            return 0
        notify_body = None
        if event.agg_nbody:
            notify_body = self.get_p_notify_body(pres_uri, event, offline_etag, None)
        for s in subs_list:
            s.auth_rules_doc = rules_doc
            if self.notify(s, None, notify_body or body, False, event.aux_body_processing) < 0:
                log.error("Could not send notify for %s", event.name)
        return 0

    def query_db_notify(
        self: PresenceModule, pres_uri: str, event: Any, watcher_subs: Subscription | None
    ) -> int:
        """query_db_notify(): every watcher of `pres_uri` for `event` is notified (or marked for the
        notifier processes)."""
        subs_list = self.get_subs_dialog(pres_uri, event, None)
        if not subs_list:
            return 1
        if self.notifier_processes > 0:
            for s in subs_list:
                self.set_updated(s)
            return 1
        notify_body = self.get_p_notify_body(pres_uri, event, None, None) if event.type & PUBL_TYPE else None
        for s in subs_list:
            aux = event.aux_body_processing(s, notify_body) if event.aux_body_processing else None
            if self.notify(s, watcher_subs, aux or notify_body, False, None) < 0:
                log.error("Could not send notify for [event]=%s", event.name)
                return -1
        return 1

    # ------------------------------------------------------------ one NOTIFY
    def notify(
        self: PresenceModule,
        subs: Subscription,
        watcher_subs: Subscription | None,
        n_body: bytes | None,
        force_null_body: bool,
        aux_body_processing: Any,
    ) -> int:
        """notify(): the stored dialog counts its local CSeq and version up, then the NOTIFY."""
        event = subs.event
        assert event is not None
        if subs.expires != 0 and subs.status != TERMINATED_STATUS:
            if self.subs_db_mode != DB_ONLY and not self.subs_table.update(
                subs, event.name, LOCAL_TYPE, self.now()
            ):
                log.error("updating subscription record in hash table")
                return -1
            if subs.recv_event != PRES_SUBSCRIBE_RECV and (
                (self.subs_db_mode == DB_ONLY and self.notifier_processes == 0)
                or self.subs_db_mode == WRITE_THROUGH
            ):
                if self.update_subs_db(subs, LOCAL_TYPE) < 0:
                    log.error("updating subscription in database")
                    return -1
        if subs.reason == "polite-block" and subs.status == ACTIVE_STATUS:
            force_null_body = True
        aux = aux_body_processing(subs, n_body) if (not force_null_body and aux_body_processing) else None
        if self.send_notify_request(subs, watcher_subs, aux or n_body, force_null_body) < 0:
            log.error("sending Notify not successful")
            return -1
        return 0

    def _body_for(
        self: PresenceModule, subs: Subscription, watcher_subs: Subscription | None, n_body: bytes | None
    ) -> tuple[bool, bytes | None]:
        """(ok, body) of send_notify_request(): the state a watcher may see."""
        event = subs.event
        assert event is not None
        if n_body is not None and subs.status == ACTIVE_STATUS:
            if event.req_auth and subs.auth_rules_doc and event.apply_auth_nbody:
                code, final = event.apply_auth_nbody(n_body, subs)
                if code < 0:
                    log.error("in function apply_auth_nbody")
                    return False, None
                return True, final if final is not None else n_body
            return True, n_body
        if subs.status in (TERMINATED_STATUS, PENDING_STATUS):
            return True, None
        if event.type & WINFO_TYPE:
            body = self.get_wi_notify_body(subs, watcher_subs)
            return (body is not None), body
        body = self.get_p_notify_body(subs.pres_uri, event, None, subs.contact or None)
        if not body:
            return True, body
        if event.aux_body_processing:
            aux = event.aux_body_processing(subs, body)
            if aux:
                body = aux
        if event.req_auth and subs.auth_rules_doc and event.apply_auth_nbody:
            code, final = event.apply_auth_nbody(body, subs)
            if code < 0:
                log.error("in function apply_auth")
                return False, None
            if final is not None:
                body = final
        return True, body

    def send_notify_request(
        self: PresenceModule,
        subs: Subscription,
        watcher_subs: Subscription | None,
        n_body: bytes | None,
        force_null_body: bool,
    ) -> int:
        """send_notify_request(): the NOTIFY within the subscription dialog, through tm."""
        body: bytes | None = None
        if not force_null_body:
            ok, body = self._body_for(subs, watcher_subs, n_body)
            if not ok:
                log.debug("Could not get notify_body")
                return -1
        if subs.expires <= 0:
            subs.expires, subs.status, subs.reason = 0, TERMINATED_STATUS, "timeout"
        headers = self.build_str_hdr(subs, bool(body))
        dialog = self.build_dialog(subs)
        cb_subs = copy_subs(subs)
        backup = self.last_subs
        if self.pres_subs_mode == 1:
            self.last_subs = subs
        try:
            result = self.tm.t_request_within(
                "NOTIFY",
                dialog,
                headers=headers,
                body=body or b"",
                callback=lambda t, _type, params: self.notify_done(
                    cb_subs, params.code, params.rpl, t.request.to_bytes()
                ),
            )
        finally:
            if self.pres_subs_mode == 1:
                self.last_subs = backup
        if result < 0:
            log.error("in function tmb.t_request_within")
            return -1
        event = subs.event
        assert event is not None
        next_hop = self._next_hop(dialog)
        log_at(
            log,
            self.local_log_level,
            "NOTIFY %s via %s on behalf of %s for event %s : %s",
            dialog.remote_uri,
            next_hop,
            dialog.local_uri,
            event.name,
            subs.callid,
            facility=self.local_log_facility,
        )
        return 0

    @staticmethod
    def _next_hop(dialog: UacDialog) -> str:
        routes = [e.strip() for v in dialog.route_set for e in _ROUTE_ENTRY.findall(v) if e.strip()]
        if routes:
            m = re.search(r"<([^>]*)>", routes[0])
            return m.group(1) if m else routes[0]
        return dialog.remote_target or dialog.remote_uri

    def build_dialog(self: PresenceModule, subs: Subscription) -> UacDialog:
        """ps_build_dlg_t(): the subscription as a dialog seen from the notifier."""
        rem_uri = uandd_to_uri(subs.from_user, subs.from_domain)
        routes = (
            [e.strip() for e in _ROUTE_ENTRY.findall(subs.record_route) if e.strip()]
            if subs.record_route
            else []
        )
        return UacDialog(
            call_id=subs.callid,
            local_tag=subs.to_tag,
            local_uri=uandd_to_uri(subs.to_user, subs.to_domain),
            remote_uri=rem_uri,
            remote_tag=subs.from_tag,
            local_seq=subs.local_cseq,
            remote_target=subs.contact or rem_uri,
            route_set=routes,
            send_socket=self._send_socket(subs.sockinfo_str),
        )

    def _send_socket(self: PresenceModule, sockinfo: str) -> Socket | None:
        """The local socket a subscription's `proto:host:port` names (grep_sock_info), None: tm's choice."""
        proto, _, rest = sockinfo.partition(":")
        host, _, port = rest.rpartition(":")
        if not host or not port.isdigit():
            return None
        return grep_socket(self.core.sockets, host, int(port), proto.lower(), advertised_port=False)

    # ------------------------------------------------------------ the reply
    def notify_done(
        self: PresenceModule, subs: Subscription, status: int, reply: Response | None, request: bytes
    ) -> None:
        """p_tm_callback(): event_route[presence:notify-reply], then a subscription whose NOTIFY got
        404 or 481 (or timed out, with timeout_rm_subs) is removed, or when the route set
        $xavp(<xavp_cfg>=>delete_subscription) to 1."""
        delete = self.run_notify_reply_event(subs, status, reply, request)
        if (
            status in (404, 481)
            or (status == 408 and self.timeout_rm_subs and subs.status != TERMINATED_STATUS)
            or delete
        ):
            event = subs.event
            self.delete_subs(
                subs.pres_uri, event.name if event else "", subs.to_tag, subs.from_tag, subs.callid
            )

    def run_notify_reply_event(
        self: PresenceModule, subs: Subscription, status: int, reply: Response | None, request: bytes
    ) -> bool:
        """run_notify_reply_event(): the route runs on the NOTIFY sent; $notify_reply(...) reads the
        reply (a faked 408 on timeout). True when the route asked for the subscription's removal."""
        if not self.core.has_route("event", NOTIFY_REPLY_ROUTE):
            return False
        try:
            msg = parse_message(request)
            faked = parse_message(FAKED_408)
        except Exception:  # noqa: BLE001 - a request tm built always parses; log and go on if not
            log.error("failed to parse msg buffer")
            return False
        ctx = MessageContext(
            msg, Source("udp", "127.0.0.1", 5060, None), self.core, route_type=RouteType.LOCAL
        )
        backup_msg, backup_subs = self.notify_reply_msg, self.last_subs
        self.notify_reply_msg = faked if (status == 408 or reply is None) else reply
        if self.pres_subs_mode == 1:
            self.last_subs = copy_subs(subs)
        try:
            self.core.run_event_route(NOTIFY_REPLY_ROUTE, ctx)
        finally:
            self.notify_reply_msg = backup_msg
            if self.pres_subs_mode == 1:
                self.last_subs = backup_subs
        return self.xavp_cfg_int(ctx, "delete_subscription") == 1


def _bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return as_bytes(value)
    return bytes(value)
