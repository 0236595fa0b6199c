"""SUBSCRIBE handling (subscribe.c): the dialog read from the request, the stored subscription it
refreshes, the watcher's authorization, the 200/202 with Expires and Contact, the first NOTIFY, and
the subscriptions' rows in active_watchers and watchers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kampy.api import (
    ACTIVE_STATUS,
    PENDING_STATUS,
    PUBL_TYPE,
    TERMINATED_STATUS,
    WINFO_TYPE,
    DBError,
    MessageContext,
    Request,
    Subscription,
)

from .common import (
    BAD_EVENT_CODE,
    DB_ONLY,
    INTERVAL_TOO_BRIEF,
    MAX_UA_SIZE,
    NO_DB,
    NO_UPDATE_TYPE,
    PRES_SUBSCRIBE_RECV,
    UPDATED_TYPE,
    WRITE_THROUGH,
    copy_subs,
    get_status_str,
    uandd_to_uri,
    uri_user_host,
)
from .events import ParsedEvent, parse_event
from .shtable import INSERTDB_FLAG, LOCAL_TYPE, REMOTE_TYPE, WTHROUGHDB_FLAG, core_case_hash

if TYPE_CHECKING:
    from .presence import PresenceModule

log = logging.getLogger("kampy.presence")


class SubscribeError(Exception):
    """The reply a SUBSCRIBE gets when it cannot be handled (send_error_reply's code and reason)."""

    def __init__(self, code: int = 500, reason: str = "Server Internal Error") -> None:
        super().__init__(code, reason)
        self.code, self.reason = code, reason


def _uri_of(value: str) -> str:
    value = value.strip()
    if "<" in value:
        return value[value.index("<") + 1 : value.index(">")] if ">" in value else value
    return value.split(";", 1)[0].strip()


class SubscribeMixin:
    """The SUBSCRIBE side of PresenceModule."""

    def handle_subscribe(self: PresenceModule, ctx: MessageContext, watcher_uri: str | None = None) -> int:
        """handle_subscribe([watcher_uri]); the watcher is the From URI's user and host by default."""
        msg = ctx.msg
        assert isinstance(msg, Request)
        if watcher_uri is None:
            frm = msg.from_
            parts = uri_user_host(frm.uri) if frm is not None else None
            if parts is None:
                log.error("failed to find From header")
                self.sl.send_reply(ctx, 400, "Bad request")
                return 0
        else:
            parts = uri_user_host(watcher_uri)
            if parts is None:
                log.error("failed to parse watcher URI")
                return -1
        return self._handle_subscribe(ctx, msg, *parts)

    def _handle_subscribe(
        self: PresenceModule, ctx: MessageContext, msg: Request, watcher_user: str, watcher_domain: str
    ) -> int:
        if self.pres_subs_mode == 1:
            self.last_subs = None
        self.pres_counter += 1
        subs = Subscription()
        sent = [False]
        try:
            self._subscribe(ctx, msg, subs, watcher_user, watcher_domain, sent)
        except SubscribeError as exc:
            if not sent[0]:
                self.send_error_reply(ctx, exc.code, exc.reason)
            return -1
        return 1

    def _subscribe(
        self: PresenceModule,
        ctx: MessageContext,
        msg: Request,
        subs: Subscription,
        watcher_user: str,
        watcher_domain: str,
        sent: list[bool],
    ) -> None:
        value = msg.header("event")
        if not value or not value.strip():
            log.error("Missing event header field value")
            raise SubscribeError(BAD_EVENT_CODE, "Bad Event")
        try:
            parsed = parse_event(value)
        except ValueError:
            raise SubscribeError(400, "Bad request") from None
        package = self.events.search(parsed)
        if package is None:
            log.info("Unsupported presence event %s", parsed.name)
            raise SubscribeError(BAD_EVENT_CODE, "Bad Event")
        event = package.event
        subs.event = event
        subs.event_id = parsed.param("id") or ""
        to_tag_gen = self.extract_sdialog_info(subs, ctx, msg, parsed, watcher_user, watcher_domain)
        lock = self.notifier_processes > 0 and not self.send_fast_notify
        with self.db_transaction(lock):
            if to_tag_gen:
                if not parsed.is_dialog_sla:
                    parts = uri_user_host(ctx.ruri)
                    if parts is None:
                        log.error("failed to parse R-URI")
                        raise SubscribeError()
                    subs.pres_uri = uandd_to_uri(*parts)
            else:
                self.get_stored_info(subs, parsed)
            subs.recv_event = PRES_SUBSCRIBE_RECV
            if event.evs_subs_handl and event.evs_subs_handl(ctx) < 0:
                log.error("in event specific subscription handling")
                raise SubscribeError()
            if to_tag_gen:
                self._initial_state(subs)
            if self.pres_subs_mode == 1:
                self.last_subs = copy_subs(subs)
            if get_status_str(subs.status) is None:
                log.error("wrong status")
                raise SubscribeError()
            if lock:
                self.update_subscription_notifier(ctx, subs, to_tag_gen, sent)
            else:
                self.update_subscription(ctx, subs, to_tag_gen, sent)

    def _initial_state(self: PresenceModule, subs: Subscription) -> None:
        """A new dialog's state: active for a package without authorization, else the watchers
        table's, else what the rules document says (recorded in the watchers table)."""
        event = subs.event
        assert event is not None
        subs.updated = subs.updated_winfo = NO_UPDATE_TYPE
        if not event.req_auth:
            subs.status = ACTIVE_STATUS
            return
        if self.get_subs_auth(subs):
            return
        subs.status, subs.reason = PENDING_STATUS, ""
        parts = uri_user_host(subs.pres_uri)
        if parts is None:
            log.error("parsing uri")
            raise SubscribeError()
        code, subs.auth_rules_doc = event.get_rules_doc(*parts)
        if code < 0:
            log.error("getting rules doc")
            raise SubscribeError()
        if event.get_auth_status(subs) < 0:
            log.error("in event specific function is_watcher_allowed")
            raise SubscribeError()
        if get_status_str(subs.status) is None:
            log.error("wrong status= %d", subs.status)
            raise SubscribeError()
        self.insert_subs_auth(subs)

    # ------------------------------------------------------------ the dialog from the request
    def extract_sdialog_info(
        self: PresenceModule,
        subs: Subscription,
        ctx: MessageContext,
        msg: Request,
        parsed: ParsedEvent,
        watcher_user: str,
        watcher_domain: str,
    ) -> bool:
        """extract_sdialog_info_ex(): True when the request starts a dialog (it had no To-tag)."""
        event = subs.event
        assert event is not None
        lexpire = self._expires_of(msg, event.default_expires)
        lexpire = min(lexpire, self.max_expires)
        if lexpire and self.min_expires and lexpire < self.min_expires:
            if self.min_expires_action == 1:
                raise SubscribeError(INTERVAL_TOO_BRIEF, "Interval Too Brief")
            lexpire = self.min_expires
        subs.expires = lexpire
        to, frm = msg.to, msg.from_
        if to is None:
            log.error("cannot parse TO header")
            raise SubscribeError()
        to_parts = uri_user_host(to.uri)
        if to_parts is None:
            log.error("while parsing uri")
            raise SubscribeError()
        subs.to_user, subs.to_domain = to_parts
        if frm is None:
            raise SubscribeError()
        from_parts = uri_user_host(frm.uri)
        if from_parts is None:
            log.error("while parsing uri")
            raise SubscribeError()
        subs.from_user, subs.from_domain = from_parts
        subs.watcher_user, subs.watcher_domain = watcher_user, watcher_domain
        to_tag_gen = not to.tag
        subs.to_tag = self.sl.get_reply_totag(ctx) if to_tag_gen else str(to.tag)
        if not subs.to_tag:
            log.error("while creating to_tag")
            raise SubscribeError()
        subs.callid = msg.header("call-id") or ""
        if not subs.callid:
            log.error("cannot parse callid header")
            raise SubscribeError()
        cseq = msg.cseq
        if cseq is None:
            log.error("cannot parse cseq header")
            raise SubscribeError()
        subs.remote_cseq = cseq.num
        subs.contact = self._contact_of(msg)
        if event is not None and parsed.is_dialog_sla:
            parts = uri_user_host(subs.contact)
            if parts is None:
                log.error("failed to parse contact uri")
                raise SubscribeError()
            subs.pres_uri = uandd_to_uri(parts[0], subs.from_domain)
        if to_tag_gen:
            subs.record_route = ",".join(
                e for value in msg.headers_named("record-route") for e in _split_list(value)
            )
        subs.sockinfo_str = _sock_str(ctx)
        if not frm.tag:
            log.error("no from tag value present")
            raise SubscribeError()
        subs.from_tag = str(frm.tag)
        subs.version = 1
        subs.local_contact = self.server_address or self.local_contact(ctx)
        ua = msg.header("user-agent")
        if ua and len(ua) < MAX_UA_SIZE:
            subs.user_agent = ua
        subs.flags = ctx.bflags
        return to_tag_gen

    @staticmethod
    def _expires_of(msg: Request, default: int) -> int:
        value = msg.header("expires")
        if value is None or not value.strip():
            return default
        try:
            return min(int(value.strip()), 0xFFFFFFFF)
        except ValueError:
            log.error("cannot parse Expires header")
            raise SubscribeError() from None

    @staticmethod
    def _contact_of(msg: Request) -> str:
        """The first Contact's URI, as written (parse_contact)."""
        values = msg.headers_named("contact")
        if not values or not values[0].strip():
            log.error("cannot parse contact header")
            raise SubscribeError()
        try:
            contacts = msg.contacts
        except Exception:  # noqa: BLE001 - a Contact the parser refuses
            log.error(" cannot parse contact header")
            raise SubscribeError() from None
        if contacts.star or not contacts:
            log.error("Wrong contact header")
            raise SubscribeError()
        return _uri_of(_split_list(values[0])[0])

    def local_contact(self: PresenceModule, ctx: MessageContext) -> str:
        """ps_fill_local_contact(): `sip:<address of the receiving socket>:<port>;transport=<proto>`."""
        sock = ctx.src.local
        proto = (ctx.src.proto or "udp").lower()
        if proto not in ("udp", "tcp", "tls", "sctp", "ws", "wss"):
            log.error("unsupported proto")
            raise SubscribeError()
        name = {"wss": "ws"}.get(proto, proto)
        host = (sock.advertise_host or sock.host) if sock is not None else "127.0.0.1"
        port = (sock.advertise_port or sock.port) if sock is not None else 5060
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        prefix = "" if host.startswith("sip:") else "sip:"
        return f"{prefix}{host}:{port};transport={name}"

    # ------------------------------------------------------------ the stored subscription
    def get_stored_info(self: PresenceModule, subs: Subscription, parsed: ParsedEvent) -> None:
        """get_stored_info(): a refresh continues the stored dialog (481 without one, 400 for an
        old CSeq)."""
        if self.subs_db_mode == DB_ONLY:
            self.get_database_info(subs, parsed)
            return
        event = subs.event
        assert event is not None
        table = self.subs_table
        assert table is not None
        pres_uri = subs.pres_uri or uandd_to_uri(subs.to_user, subs.to_domain)
        found = table.search(subs.callid, subs.to_tag, subs.from_tag, table.slot(pres_uri, event.name))
        if found is None and not subs.pres_uri:
            found = table.search(subs.callid, subs.to_tag, subs.from_tag)
        if found is None:
            log.info("record not found in hash_table")
            raise SubscribeError(481, "Subscription does not exist")
        s = found.subs
        if not subs.pres_uri:
            subs.pres_uri = s.pres_uri
        subs.version = s.version + 1
        subs.status = s.status
        if s.reason:
            subs.reason = s.reason
        if s.record_route:
            subs.record_route = s.record_route
        subs.local_cseq = s.local_cseq + 1
        if subs.remote_cseq + self.cseq_offset <= s.remote_cseq:
            log.error("wrong sequence number;received: %d - stored: %d", subs.remote_cseq, s.remote_cseq)
            raise SubscribeError(400, "Bad request")

    def get_database_info(self: PresenceModule, subs: Subscription, parsed: ParsedEvent) -> None:
        """get_database_info(): DB_ONLY mode's get_stored_info."""
        try:
            rows = self.db.query(
                self.active_watchers_table,
                [
                    "presentity_uri",
                    "remote_cseq",
                    "local_cseq",
                    "status",
                    "reason",
                    "record_route",
                    "version",
                    "updated",
                    "updated_winfo",
                    "flags",
                ],
                {"callid": subs.callid, "to_tag": subs.to_tag, "from_tag": subs.from_tag},
            )
        except DBError as exc:
            log.error("querying subscription dialog: %s", exc)
            raise SubscribeError() from None
        if not rows:
            log.info("No matching subscription dialog found in database")
            raise SubscribeError(481, "Subscription does not exist")
        pres_uri, remote_cseq, local_cseq, status, reason, rr, version, updated, updated_winfo, flags = rows[
            0
        ]
        if subs.remote_cseq + self.cseq_offset <= int(remote_cseq):
            log.error("wrong sequence number received: %d - stored: %d", subs.remote_cseq, remote_cseq)
            raise SubscribeError(400, "Bad request")
        subs.status = int(status)
        subs.reason = reason or ""
        subs.local_cseq = int(local_cseq) + 1
        subs.version = int(version) + 1
        if not parsed.is_dialog_sla and pres_uri:
            subs.pres_uri = pres_uri
        subs.record_route = rr or ""
        subs.updated, subs.updated_winfo, subs.flags = int(updated), int(updated_winfo), int(flags)

    # ------------------------------------------------------------ authorization (watchers table)
    def get_subs_auth(self: PresenceModule, subs: Subscription) -> bool:
        """ps_get_subs_auth(): the watchers table's status and reason; False when not there."""
        if self.db is None:
            subs.reason, subs.status = "", ACTIVE_STATUS
            return True
        event = subs.event
        assert event is not None
        try:
            rows = self.db.query(
                self.watchers_table,
                ["status", "reason"],
                {
                    "presentity_uri": subs.pres_uri,
                    "watcher_username": subs.watcher_user,
                    "watcher_domain": subs.watcher_domain,
                    "event": event.name,
                },
            )
        except DBError as exc:
            log.error("while querying watchers table: %s", exc)
            raise SubscribeError() from None
        if not rows:
            return False
        subs.status = int(rows[0][0])
        subs.reason = rows[0][1] or ""
        return True

    def insert_subs_auth(self: PresenceModule, subs: Subscription) -> None:
        """ps_insert_subs_auth(): the watcher's state recorded (REPLACE on the watcher's key)."""
        if self.db is None:
            return
        event = subs.event
        assert event is not None
        key = {
            "presentity_uri": subs.pres_uri,
            "watcher_username": subs.watcher_user,
            "watcher_domain": subs.watcher_domain,
            "event": event.name,
        }
        try:
            self.db.delete(self.watchers_table, key)
            self.db.insert(
                self.watchers_table,
                {**key, "status": subs.status, "inserted_time": self.now(), "reason": subs.reason or ""},
            )
        except DBError as exc:
            log.error("in sql replace: %s", exc)
            raise SubscribeError() from None

    # ------------------------------------------------------------ replying and notifying
    def send_2xx_reply(
        self: PresenceModule, ctx: MessageContext, code: int, lexpire: int, local_contact: str
    ) -> int:
        """send_2XX_reply(): Expires and the notifier's Contact (with the transport of a stream)."""
        contact = local_contact
        if ";transport=" not in local_contact:
            proto = (ctx.src.proto or "udp").lower()
            contact += {
                "tcp": ";transport=tcp",
                "tls": ";transport=tls",
                "sctp": ";transport=sctp",
                "ws": ";transport=ws",
                "wss": ";transport=ws",
            }.get(proto, "")
        ctx.reply_lumps.append(f"Expires: {lexpire & 0xFFFFFFFF}\r\nContact: <{contact}>\r\n")
        if self.sl.send_reply(ctx, code, "OK") < 0:
            log.error("sending reply")
            return -1
        return 0

    def ok_code(self: PresenceModule, event: Any) -> int:
        return (200 if self.subs_respond_200 else 202) if event.type & PUBL_TYPE else 200

    def update_subscription(
        self: PresenceModule, ctx: MessageContext, subs: Subscription, to_tag_gen: bool, sent: list[bool]
    ) -> None:
        """update_subscription(): store the dialog, reply, NOTIFY."""
        event = subs.event
        assert event is not None
        package = self.events.package_of(event)
        now = self.now()
        if not to_tag_gen:
            if subs.expires == 0:
                self.delete_subs(subs.pres_uri, event.name, subs.to_tag, subs.from_tag, subs.callid)
                code = self.ok_code(event)
                if self.send_2xx_reply(ctx, code, subs.expires, subs.local_contact) < 0:
                    raise SubscribeError()
                sent[0] = True
                if event.type & PUBL_TYPE and package.wipeer is not None:
                    if self.query_db_notify(subs.pres_uri, package.wipeer.event, None) < 0:
                        log.error("Could not send notify for winfo")
                        raise SubscribeError()
                if self.notify(subs, None, None, False, None) < 0:
                    log.error("Could not send notify")
                    raise SubscribeError()
                return
            if self.subs_db_mode != DB_ONLY and not self.subs_table.update(
                subs, event.name, REMOTE_TYPE, now
            ):
                log.error("failed to update subscription in memory")
                raise SubscribeError()
            if self.subs_db_mode in (DB_ONLY, WRITE_THROUGH):
                if self.update_subs_db(subs, REMOTE_TYPE | LOCAL_TYPE) < 0:
                    log.error("updating subscription in database table")
                    raise SubscribeError()
        elif subs.expires != 0:
            if self.subs_db_mode != DB_ONLY:
                subs.db_flag = WTHROUGHDB_FLAG if self.subs_db_mode == WRITE_THROUGH else INSERTDB_FLAG
                subs.version = 0
                self.subs_table.insert(subs, event.name, now)
            if self.subs_db_mode in (DB_ONLY, WRITE_THROUGH):
                subs.version = 1
                if self.insert_subs_db(subs) < 0:
                    log.error("failed to insert new record in database")
                    raise SubscribeError()
        code = self.ok_code(event) if event.type & PUBL_TYPE else 200
        if self.send_2xx_reply(ctx, code, subs.expires, subs.local_contact) < 0:
            raise SubscribeError()
        sent[0] = True
        if event.type & PUBL_TYPE and subs.expires != 0 and package.wipeer is not None:
            if self.query_db_notify(subs.pres_uri, package.wipeer.event, subs) < 0:
                log.error("Could not send notify winfo")
                raise SubscribeError()
            if subs.send_on_cback == 0 and self.notify(subs, None, None, False, None) < 0:
                log.error("Could not send notify")
                raise SubscribeError()
        elif self.send_fast_notify and self.notify(subs, None, None, False, None) < 0:
            log.error("Could not send notify")
            raise SubscribeError()

    def update_subscription_notifier(
        self: PresenceModule, ctx: MessageContext, subs: Subscription, to_tag_gen: bool, sent: list[bool]
    ) -> None:
        """update_subscription_notifier(): DB_ONLY with notifier processes: the row is marked for a
        notifier round instead of notifying now."""
        event = subs.event
        assert event is not None
        package = self.events.package_of(event)
        subs.updated = self.notifier_round(subs.callid, subs.from_tag)
        if event.type & WINFO_TYPE:
            subs.updated_winfo = UPDATED_TYPE
        elif package.wipeer is not None:
            peers = self.set_wipeer_subs_updated(subs.pres_uri, package.wipeer.event, subs.expires == 0)
            if peers < 0:
                log.error("failed to update database record(s)")
                raise SubscribeError()
            if peers > 0:
                subs.updated_winfo = UPDATED_TYPE
        if subs.expires == 0:
            subs.status, subs.reason = TERMINATED_STATUS, "timeout"
        if not to_tag_gen:
            if self.update_subs_db(subs, REMOTE_TYPE) < 0:
                log.error("updating subscription in database table")
                raise SubscribeError()
        else:
            subs.version = 1
            if self.insert_subs_db(subs) < 0:
                log.error("failed to insert new record in database")
                raise SubscribeError()
        code = self.ok_code(event) if event.type & PUBL_TYPE else 200
        if self.send_2xx_reply(ctx, code, subs.expires, subs.local_contact) < 0:
            raise SubscribeError()
        sent[0] = True

    # ------------------------------------------------------------ removing
    def delete_subs(
        self: PresenceModule, pres_uri: str, event_name: str, to_tag: str, from_tag: str, callid: str
    ) -> None:
        """delete_subs(): from memory (not in DB_ONLY) and from the database (not in NO_DB)."""
        if (
            self.subs_db_mode != DB_ONLY
            and self.subs_table.delete(pres_uri, event_name, to_tag, from_tag, callid) < 0
        ):
            log.error(
                "Failed to delete subscription from memory [slot: %u ev: %s pu: %s ci: %s ft: %s tt: %s]",
                core_case_hash(pres_uri, event_name, self.subs_table.size),
                pres_uri,
                event_name,
                callid,
                from_tag,
                to_tag,
            )
        if self.subs_db_mode != NO_DB and self.delete_db_subs(to_tag, from_tag, callid) < 0:
            log.error("Failed to delete subscription from database")

    def send_error_reply(self: PresenceModule, ctx: MessageContext, code: int, reason: str) -> int:
        """send_error_reply(): a 489 lists the packages (Allow-Events), a 423 gives Min-Expires."""
        if code == BAD_EVENT_CODE:
            ctx.reply_lumps.append(self.events.allow_events())
        elif code == INTERVAL_TOO_BRIEF:
            ctx.reply_lumps.append(f"Min-Expires: {self.min_expires}\r\n")
        if self.sl.send_reply(ctx, code, reason) < 0:
            log.error("sending %d %s reply", code, reason)
            return -1
        return 0


def _split_list(value: str) -> list[str]:
    """The entries of a comma-separated header value, as print_rr_body copies them."""
    out, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            out.append(value[start:i].strip())
            start = i + 1
    out.append(value[start:].strip())
    return [e for e in out if e]


def _sock_str(ctx: MessageContext) -> str:
    """The receiving socket as Kamailio's sock_str: `udp:127.0.0.1:5060`."""
    sock = ctx.src.local
    if sock is None:
        return f"{(ctx.src.proto or 'udp').lower()}:127.0.0.1:5060"
    host = f"[{sock.host}]" if ":" in sock.host and not sock.host.startswith("[") else sock.host
    return f"{sock.proto.lower()}:{host}:{sock.port}"
