"""The presence module: its parameters as Kamailio's mod_init reads them, the state every worker
shares, and the config functions, RPC commands, pseudo-variables and timers (the work itself is in
the mixins: publish, presentity, subscribe, notify, watchers, timers; the API it offers the
presence_* modules in bind_presence)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from kampy.api import (
    CoreAPI,
    Database,
    DBError,
    MessageContext,
    Module,
    PresenceEvent,
    PVar,
    RpcFault,
    SlAPI,
    Subscription,
    TmAPI,
    check_table_version,
    db_connect,
    parse_pv,
)

from .common import (
    DB_ONLY,
    NO_DB,
    PS_PCACHE_HYBRID,
    PS_PCACHE_NONE,
    PS_PCACHE_RECORD,
    WRITE_BACK,
    facility_code,
    uri_user_host,
)
from .events import EventList
from .notify import NotifyMixin
from .bind_presence import PresenceApi
from .dmq import PresDmq
from .presentity import Presentity, PresentityMixin, extract_sphere
from .publish import PublishMixin
from .shtable import PresIndex, PresRecords, SubsTable
from .subscribe import SubscribeMixin
from .timers import TimersMixin
from .watchers import WatchersMixin

log = logging.getLogger("kampy.presence")

P_TABLE_VERSION, S_TABLE_VERSION, ACTWATCH_TABLE_VERSION = 5, 3, 12
# $subs(name): the attributes of the subscription at hand (pv_parse_subscription_name)
SUBS_ATTRS = {
    "uri": "pres_uri",
    "pres_uri": "pres_uri",
    "to_user": "to_user",
    "to_domain": "to_domain",
    "from_user": "from_user",
    "from_domain": "from_domain",
    "watcher_username": "watcher_user",
    "watcher_domain": "watcher_domain",
    "event": "event",
    "event_id": "event_id",
    "to_tag": "to_tag",
    "from_tag": "from_tag",
    "callid": "callid",
    "remote_cseq": "remote_cseq",
    "local_cseq": "local_cseq",
    "contact": "contact",
    "local_contact": "local_contact",
    "record_route": "record_route",
    "expires": "expires",
    "status": "status",
    "reason": "reason",
    "version": "version",
    "flags": "flags",
    "user_agent": "user_agent",
    "sockinfo": "sockinfo_str",
}


class _Reader:
    def __init__(self, get: Any) -> None:
        self.get = get


class PresenceModule(
    PublishMixin, PresentityMixin, SubscribeMixin, NotifyMixin, WatchersMixin, TimersMixin, Module
):
    """presence: PUBLISH and SUBSCRIBE handling, NOTIFYs, the event packages other modules add."""

    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.tm: TmAPI = core.api("tm")
        self.sl: SlAPI = core.api("sl")
        self._read_params(params)
        self.events = EventList()
        self.startup_time = int(core.clock.time())
        self.pres_counter = 0
        self.ruid_counter = 0
        self.notifier_subset = 0
        self.last_subs: Subscription | None = None
        self.notify_reply_msg: Any = None
        self.db: Database | None = None
        self.subs_table: SubsTable | None = None
        self.index: PresIndex | None = None
        self.records: PresRecords | None = None
        self.pres_dmq: PresDmq | None = None
        if self.library_mode:
            log.debug("Presence module used for API library purpose only")
            return
        if self.publ_cache == PS_PCACHE_RECORD:
            self.records = PresRecords(core.shared, self.pres_htable_size)
        if self.subs_db_mode != DB_ONLY:
            self.subs_table = SubsTable(
                core.shared,
                self.subs_htable_size,
                self.resolve_event,
                self.uri_match,
                self.subs_remove_match,
                self.delete_same_subs,
                on_same_deleted=self._same_subs_deleted,
            )
        if self.publ_cache == PS_PCACHE_HYBRID:
            self.index = PresIndex(core.shared, self.pres_htable_size, self.uri_match)
        if self.publ_cache != PS_PCACHE_RECORD or self.subs_db_mode != NO_DB:
            self._open_db()
        if int(params["enable_dmq"]) > 0:
            self.pres_dmq = self._dmq_init(core)

    def _dmq_init(self, core: CoreAPI) -> PresDmq:
        """enable_dmq: the `presence` peer (Kamailio: pres_dmq_initialize at the end of mod_init)."""
        dmq = core.api("dmq")
        if dmq is None:
            raise ValueError("enable_dmq: cannot load dmq api (load the dmq module before presence)")
        return PresDmq(dmq, self)

    # ------------------------------------------------------------ parameters (mod_init)
    def _read_params(self, params: dict[str, Any]) -> None:
        p = {k: v for k, v in params.items()}
        self.db_url: str = p["db_url"] or ""
        self.presentity_table: str = p["presentity_table"]
        self.active_watchers_table: str = p["active_watchers_table"]
        self.watchers_table: str = p["watchers_table"]
        self.clean_period = int(p["clean_period"])
        self.db_update_period = int(p["db_update_period"])
        self.publ_cache = int(p["publ_cache"])
        self.subs_db_mode = int(p["subs_db_mode"])
        self.library_mode = not self.db_url and self.publ_cache != PS_PCACHE_RECORD
        self.expires_offset = max(int(p["expires_offset"]), 0)
        self.max_expires = int(p["max_expires"]) if int(p["max_expires"]) > 0 else 3600
        self.min_expires = min(int(p["min_expires"]), self.max_expires)
        self.min_expires_action = int(p["min_expires_action"])
        if not self.library_mode and self.min_expires_action not in (1, 2):
            raise ValueError(
                "min_expires_action must be 1 = RFC 6665/3261 Reply 423, 2 = force min_expires value"
            )
        self.server_address: str = p["server_address"] or ""
        self.subs_htable_size = 1 << int(p["subs_htable_size"]) if int(p["subs_htable_size"]) >= 1 else 512
        self.pres_htable_size = 1 << int(p["pres_htable_size"]) if int(p["pres_htable_size"]) >= 1 else 256
        self.sphere_enable = int(p["enable_sphere_check"])
        self.timeout_rm_subs = int(p["timeout_rm_subs"])
        self.send_fast_notify = int(p["send_fast_notify"])
        self.fetch_rows = int(p["fetch_rows"])
        self.db_table_lock = int(p["db_table_lock_type"]) == 1
        self.local_log_level = int(p["local_log_level"])
        facility = p["local_log_facility"]
        self.local_log_facility: int | None = facility_code(str(facility)) if facility else None
        self.subs_remove_match = int(p["subs_remove_match"])
        self.xavp_cfg: str = p["xavp_cfg"] or ""
        self.retrieve_order = int(p["retrieve_order"])
        self.retrieve_order_by: str = p["retrieve_order_by"]
        self.case_insensitive = int(p["sip_uri_match"]) == 1
        self.cseq_offset = int(p["cseq_offset"])
        self.pres_subs_mode = int(p["pres_subs_mode"])
        self.delete_same_subs = int(p["delete_same_subs"])
        self.subs_respond_200 = int(p["subs_respond_200"])
        self.startup_mode = int(p["startup_mode"])
        self.force_delete = 1 if int(p["force_delete"]) > 0 else 0
        self.waitn_time = int(p["waitn_time"]) if int(p["waitn_time"]) > 0 else 5
        self.notifier_poll_rate = int(p["notifier_poll_rate"]) if int(p["notifier_poll_rate"]) > 0 else 10
        notifiers = int(p["notifier_processes"])
        self.notifier_processes = 0 if notifiers < 0 or self.subs_db_mode != DB_ONLY else notifiers
        if self.publ_cache not in (PS_PCACHE_NONE, PS_PCACHE_HYBRID, PS_PCACHE_RECORD):
            raise ValueError(f"invalid publ_cache {self.publ_cache} (0, 1 or 2)")
        if self.subs_db_mode not in (0, 1, 2, 3):
            raise ValueError(f"invalid subs_db_mode {self.subs_db_mode} (0, 1, 2 or 3)")

    def _open_db(self) -> None:
        if not self.db_url:
            raise ValueError("database url not set!")
        try:
            self.db = db_connect(self.db_url)
            check_table_version(self.db, self.presentity_table, P_TABLE_VERSION)
            check_table_version(self.db, self.watchers_table, S_TABLE_VERSION)
            if self.subs_db_mode != NO_DB:
                check_table_version(self.db, self.active_watchers_table, ACTWATCH_TABLE_VERSION)
        except DBError as exc:
            raise ValueError(f"presence: {exc}") from exc

    def child_init(self, rank: int) -> None:
        """The subscriptions and the publication index are loaded from the database once, by the
        first worker to start, after every module added its events (Kamailio: mod_init)."""
        if self.notifier_processes > 0 and self.my_notifiers() and not self.library_mode:
            self._schedule_notifier()
        if self.library_mode or self.db is None:
            return
        if not self._first("loaded"):
            return
        try:
            if self.subs_db_mode != DB_ONLY:
                self.restore_db_subs()
            if self.publ_cache == PS_PCACHE_HYBRID:
                self.restore_publications()
        except DBError as exc:
            log.error("restoring subscribe info from database: %s", exc)

    def _first(self, what: str) -> bool:
        """True for the first worker asking (a marker row in the shared store)."""
        shared = self.core.shared
        shared.execute("CREATE TABLE IF NOT EXISTS presence_once (what TEXT PRIMARY KEY)")
        return shared.execute("INSERT OR IGNORE INTO presence_once VALUES (?)", (what,)) == 1

    def destroy(self) -> None:
        """The write-back of the subscriptions at shutdown, as Kamailio's destroy: by the first
        worker that stops (the others may be stopped before they get to it)."""
        if self.subs_table is not None and self.subs_db_mode == WRITE_BACK and self.db is not None:
            try:
                if self._first("flushed"):
                    self.timer_db_update(no_lock=True)
            except Exception:  # noqa: BLE001 - the shared store may be going away with the server
                log.exception("writing the subscriptions back at shutdown")
        if self.db is not None:
            self.db.close()

    # ------------------------------------------------------------ helpers the parts share
    def now(self) -> int:
        return int(self.core.clock.time())

    def uri_match(self, a: str, b: str) -> bool:
        """presence_sip_uri_match() == 0: `a` starts with `b` (case-insensitive with sip_uri_match 1)."""
        if self.case_insensitive:
            return a[: len(b)].lower() == b.lower()
        return a[: len(b)] == b

    def resolve_event(self, name: str) -> PresenceEvent | None:
        package = self.events.contains(name) if name else None
        return package.event if package is not None else None

    @contextlib.contextmanager
    def db_transaction(self, lock: bool) -> Iterator[None]:
        """start_transaction/end_transaction around a read-modify-write of the tables: with
        db_table_lock_type 1 this server's workers take turns (the shared store's writer lock)."""
        if lock and self.db_table_lock:
            with self.core.shared.write_lock():
                yield
        else:
            yield

    def fetch_all(self, table: str, columns: list[str], where: Any) -> list[tuple[Any, ...]]:
        """db_fetch_query(): the rows `fetch_rows` at a time, in the order of their ids."""
        assert self.db is not None
        conditions = list(where.items()) if isinstance(where, dict) else list(where or [])
        conditions = [(c[0], "=", c[1]) if len(c) == 2 else c for c in conditions]
        out: list[tuple[Any, ...]] = []
        last = -1
        while True:
            rows = self.db.query(
                table,
                ["id", *columns],
                [*conditions, ("id", ">", last)],
                order_by="id",
                limit=max(self.fetch_rows, 1),
            )
            out += [row[1:] for row in rows]
            if len(rows) < max(self.fetch_rows, 1):
                return out
            last = rows[-1][0]

    def xavp_cfg_int(self, ctx: MessageContext | None, name: str) -> int | None:
        """xavp_get_child_with_ival(xavp_cfg, name)."""
        if not self.xavp_cfg or ctx is None:
            return None
        items = ctx.xavps.get(self.xavp_cfg)
        if not items:
            return None
        values = items[0].get(name)
        return values[0] if values and isinstance(values[0], int) else None

    def _same_subs_deleted(self, subs: Subscription) -> None:
        if self.subs_db_mode != NO_DB:
            self.delete_db_subs(subs.to_tag, subs.from_tag, subs.callid)

    def my_notifiers(self) -> list[int]:
        """The notifier processes this worker stands for (kampy runs them in its workers)."""
        workers = max(self.core.workers, 1)
        return [i for i in range(self.notifier_processes) if i % workers == self.core.rank - 1]

    def _not_library(self, what: str) -> None:
        if self.library_mode:
            raise ValueError(f"Bad config - you can not call '{what}' function (db_url not set)")

    # ------------------------------------------------------------ what the API needs
    def get_sphere(self, pres_uri: str) -> str | None:
        """get_sphere(): the sphere of the last published presence document."""
        if not self.sphere_enable:
            return None
        package = self.events.contains("presence")
        if self.publ_cache == PS_PCACHE_HYBRID and self.index is not None and package is not None:
            found = self.index.search(pres_uri, package.parsed.type)
            if found is not None:
                return found[1]
        parts = uri_user_host(pres_uri)
        if parts is None:
            log.error("failed to parse presentity uri")
            return None
        if self.publ_cache == PS_PCACHE_RECORD:
            records = self.records.search(
                parts[0], parts[1], "presence", by_priority=self.retrieve_order == 1
            )
            return extract_sphere(records[-1].body) if records else None
        rows = self.presentity_rows(parts[0], parts[1], "presence") if self.db is not None else None
        return extract_sphere(rows[-1][0]) if rows else None

    def update_presentity_api(
        self,
        event: str,
        realm: str,
        user: str,
        etag: str,
        sender: str | None,
        body: bytes | None,
        expires: int,
        new_t: int,
        replace: int,
    ) -> int:

        package = self.events.contains(event)
        if package is None:
            log.error("wrong event parameter")
            return -1
        p = Presentity(realm, user, expires, package.event, etag, sender, self.now(), self.priority(None))
        sphere = extract_sphere(body) if self.sphere_enable else None
        return self.update_presentity(None, p, body, bool(new_t), None, sphere, bool(replace))

    # ------------------------------------------------------------ config functions
    def w_handle_publish(self, ctx: MessageContext, sender_uri: str | None = None) -> int:
        if self.library_mode:
            log.error("Bad config - you can not call 'handle_publish' function (db_url not set)")
            return -1
        return self.handle_publish(ctx, sender_uri)

    def w_handle_subscribe(self, ctx: MessageContext, watcher_uri: str | None = None) -> int:
        if self.library_mode:
            log.error("Bad config - you can not call 'handle_subscribe' function (db_url not set)")
            return -1
        return self.handle_subscribe(ctx, watcher_uri)

    def fix_publish(self, value: str) -> str:
        self._not_library("handle_publish")
        return value

    def fix_subscribe(self, value: str) -> str:
        self._not_library("handle_subscribe")
        return value

    def w_pres_auth_status(self, ctx: MessageContext, watcher_uri: str, presentity_uri: str) -> int:
        if not watcher_uri:
            log.error("missing watcher uri")
            return -1
        if not presentity_uri:
            log.debug("missing presentity uri")
            return -1
        return self.pres_auth_status(ctx, watcher_uri, presentity_uri)

    def w_pres_refresh_watchers(
        self,
        ctx: MessageContext,
        uri: str,
        event: str,
        refresh_type: int,
        file_uri: str | None = None,
        filename: str | None = None,
    ) -> int:
        if (file_uri is None) != (filename is None):  # Kamailio exports 3 and 5 arguments only
            log.error("pres_refresh_watchers takes 3 or 5 arguments")
            return -1
        if file_uri is None and refresh_type == 2:
            log.error("Wrong number of parameters for type 2")
            return -1
        if file_uri is not None and refresh_type != 2:
            log.error("Wrong number of parameters for type %d", refresh_type)
            return -1
        return 1 if self.refresh_watchers(uri, event, refresh_type, file_uri, filename) >= 0 else -1

    def w_pres_update_watchers(self, ctx: MessageContext | None, pres_uri: str, event_name: str) -> int:
        package = self.events.contains(event_name)
        if package is None:
            log.error("event %s is not registered", event_name)
            return -1
        event = package.event
        if event.get_rules_doc is None:
            log.debug("event  %s does not provide rules doc API", event_name)
            return -1
        parts = uri_user_host(pres_uri)
        if parts is None:
            log.error("failed to parse presentity uri [%s]", pres_uri)
            return -1
        code, doc = event.get_rules_doc(*parts)
        if code < 0 or doc is None:
            log.debug("no xcap rules doc found for presentity uri [%s]", pres_uri)
            return -1
        if self.update_watchers_status(pres_uri, event, doc) < 0:
            log.error("updating watchers in presence")
            return -1
        return 1

    def w_pres_has_subscribers(self, ctx: MessageContext, pres_uri: str, event_name: str) -> int:
        if self.events.contains(event_name) is None:
            log.error("event is not registered")
            return -1
        return 1 if self.subscribers_count(pres_uri, event_name) > 0 else -1

    # ------------------------------------------------------------ timers
    def timer_clean(self) -> None:
        """Every clean_period (worker 1): expired publications, old pending watchers."""
        if self.core.rank != 1 or self.library_mode:
            return
        self.presentity_db_timer_clean()
        self.watchers_db_timer_clean()
        if self.publ_cache == PS_PCACHE_RECORD:
            self.ptable_timer_clean()

    def timer_update(self) -> None:
        """Every db_update_period (worker 1): timer_db_update."""
        if self.core.rank != 1 or self.library_mode:
            return
        self.timer_db_update()

    def _schedule_notifier(self) -> None:
        """The notifier processes' timer: every 1/notifier_poll_rate s (fork_basic_utimer)."""

        def tick() -> None:
            try:
                self.notifier_tick()
            except DBError as exc:
                log.error("notifier: %s", exc)
            finally:
                self._schedule_notifier()

        self.core.call_at(self.core.clock.monotonic() + 1.0 / self.notifier_poll_rate, tick)

    # ------------------------------------------------------------ RPC
    def rpc_cleanup(self) -> str:
        if not self.library_mode:
            self.watchers_db_timer_clean()
            self.presentity_db_timer_clean()
            self.ptable_timer_clean()
            self.timer_db_update(no_lock=True)
        return "Reload OK"

    def rpc_refresh_watchers(self, *args: Any) -> None:
        if len(args) < 3:
            raise RpcFault(500, "Not enough parameters")
        pres_uri, event = str(args[0]), str(args[1])
        try:
            refresh_type = int(args[2])
        except (TypeError, ValueError):
            raise RpcFault(500, "Not enough parameters") from None
        if not pres_uri:
            raise RpcFault(500, "Empty presentity URI")
        if not event:
            raise RpcFault(500, "Empty event parameter")
        file_uri = str(args[3]) if len(args) > 3 else ""
        filename = str(args[4]) if len(args) > 4 else ""
        if refresh_type == 2:
            if len(args) < 5:
                raise RpcFault(500, "No file uri or name parameters")
            if not file_uri:
                raise RpcFault(500, "Empty file uri parameter")
            if not filename:
                raise RpcFault(500, "Empty file name parameter")
        if self.refresh_watchers(pres_uri, event, refresh_type, file_uri or None, filename or None) < 0:
            raise RpcFault(500, "Execution failed")

    def rpc_update_watchers(self, *args: Any) -> None:
        if len(args) < 2:
            raise RpcFault(500, "Not enough parameters")
        pres_uri, event = str(args[0]), str(args[1])
        if not pres_uri:
            raise RpcFault(500, "Empty presentity URI")
        if not event:
            raise RpcFault(500, "Empty event parameter")
        if self.w_pres_update_watchers(None, pres_uri, event) < 0:
            raise RpcFault(500, "Processing error")

    def rpc_presentity_list(self, mode: str = "") -> list[dict[str, Any]]:
        """The in-memory records (publ_cache 2): user, domain, event, etag, sender, expires; with
        `full` also received_time, priority, ruid, body, hashid."""
        if self.records is None:
            return []
        out = []
        for rec in self.records.all():
            item: dict[str, Any] = {
                "user": rec.user,
                "domain": rec.domain,
                "event": rec.event,
                "etag": rec.etag,
                "sender": rec.sender,
                "expires": rec.expires,
            }
            if mode == "full":
                item.update(
                    received_time=rec.received_time,
                    priority=rec.priority,
                    ruid=rec.ruid,
                    body=rec.body.decode("utf-8", "replace"),
                    hashid=rec.hashid,
                )
            out.append(item)
        return out

    # ------------------------------------------------------------ pseudo-variables
    def pv_subs(self, spec: PVar) -> _Reader:
        """$subs(attr): the subscription handle_subscribe() handled, or the one being notified."""
        attr = SUBS_ATTRS.get(spec.arg or "")
        if attr is None:
            raise ValueError(f"unknown PV subscription name {spec.arg}")

        def get(ctx: MessageContext) -> Any:
            subs = self.last_subs
            if subs is None:
                return None
            if attr == "event":
                return subs.event.name if subs.event is not None else None
            value = getattr(subs, attr)
            if attr in ("remote_cseq", "local_cseq", "expires", "status"):
                return value & 0xFFFFFFFF
            return value

        return _Reader(get)

    def pv_notify_reply(self, spec: PVar) -> _Reader:
        """$notify_reply(pv): a pseudo-variable read on the reply to the NOTIFY (in
        event_route[presence:notify-reply])."""
        if not spec.arg:
            raise ValueError("invalid pv name")
        inner = self.core.pv_accessor(parse_pv(spec.arg, spec.pos))

        def get(ctx: MessageContext) -> Any:
            reply = self.notify_reply_msg
            if reply is None:
                return None
            other = MessageContext(reply, ctx.src, self.core, route_type=ctx.route_type)
            return inner.get(other)

        return _Reader(get)

    def presence_api(self) -> PresenceApi:
        """The object offered as `presence` (Offer handler): PresenceAPI over this instance."""
        return PresenceApi(self)
