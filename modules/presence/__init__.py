"""presence: the SIP event notification server (RFC 6665, 3856, 3857, 3903): PUBLISH and SUBSCRIBE
handling, NOTIFYs through tm, the presentity, active_watchers and watchers tables, and the API the
presence_* modules add their event packages with."""

from __future__ import annotations

from kampy.api import (
    Arg,
    ArgKind,
    DmqAPI,
    EventRoute,
    Exports,
    Function,
    Need,
    Offer,
    Param,
    PresenceAPI,
    PVClass,
    RouteType,
    RpcMethod,
    SlAPI,
    Timer,
    TmAPI,
)

from .common import facility_code
from .presence import PresenceModule


def _local_log_facility(value: str) -> None:
    if value:
        facility_code(value)


def _timer_mode(value: int) -> None:
    if value not in (0, 1):
        raise ValueError("timer_mode: 0 (the core's main timer) or 1 (its secondary timer)")


EXPORTS = Exports(
    name="presence",
    doc="Handles PUBLISH and SUBSCRIBE and sends NOTIFYs for the event packages other modules add "
    "(presence_xml: presence, presence.winfo, dialog;sla, xcap-diff).",
    params=(
        Param(
            "db_url",
            (str,),
            None,
            doc="the database; unset (and publ_cache not 2): library mode, only the API for other modules",
        ),
        Param("presentity_table", (str,), "presentity", doc="where PUBLISHed documents are stored"),
        Param("active_watchers_table", (str,), "active_watchers", doc="the subscription dialogs"),
        Param("watchers_table", (str,), "watchers", doc="the watchers' authorization states"),
        Param(
            "clean_period",
            (int,),
            100,
            doc="seconds between removals of expired publications and old pending watchers; <= 0: never",
        ),
        Param(
            "db_update_period",
            (int,),
            100,
            doc="seconds between runs of the subscription timer (expiry, write-back); <= 0: never",
        ),
        Param("waitn_time", (int,), 5, doc="seconds within which the notifier processes send a NOTIFY"),
        Param("notifier_poll_rate", (int,), 10, doc="notifier rounds per second"),
        Param(
            "notifier_processes",
            (int,),
            1,
            doc="notifier processes with subs_db_mode 3 (0: NOTIFYs sent at once); run in the workers",
        ),
        Param("force_delete", (int,), 0, doc="1: expired publications deleted without notifying"),
        Param(
            "startup_mode",
            (int,),
            1,
            doc="1: only unexpired publications count; 0: every stored one (old behaviour)",
        ),
        Param("expires_offset", (int,), 0, doc="subtracted from the Expires of a 200 to PUBLISH"),
        Param("max_expires", (int,), 3600, doc="the largest Expires of a PUBLISH or SUBSCRIBE"),
        Param("min_expires", (int,), 0, doc="the smallest Expires of a SUBSCRIBE (0: none)"),
        Param("min_expires_action", (int,), 1, doc="1: 423 Interval Too Brief; 2: min_expires is used"),
        Param(
            "server_address",
            (str,),
            None,
            doc="the Contact of replies and NOTIFYs; unset: the receiving socket's address",
        ),
        Param("subs_htable_size", (int,), 9, doc="the subscription table has 2^n slots"),
        Param("pres_htable_size", (int,), 9, doc="the publication tables have 2^n slots"),
        Param("subs_db_mode", (int,), 2, doc="0 memory only, 1 write-through, 2 write-back, 3 database only"),
        Param(
            "publ_cache",
            (int,),
            1,
            doc="0 none, 1 an index of published presentities in memory, 2 publications in memory only",
        ),
        Param("enable_sphere_check", (int,), 0, doc="1: authorization rules may check the RPID sphere"),
        Param("timeout_rm_subs", (int,), 1, doc="1: a NOTIFY that times out ends its subscription"),
        Param("send_fast_notify", (int,), 1, doc="1: the first NOTIFY right after the 200 to SUBSCRIBE"),
        Param("fetch_rows", (int,), 500, doc="rows read at a time when loading or cleaning"),
        Param(
            "db_table_lock_type",
            (int,),
            1,
            doc="1: the table updates of one operation are exclusive among the server's workers",
        ),
        Param("local_log_level", (int,), 2, doc="the level of the 'NOTIFY ... via ...' log line"),
        Param(
            "local_log_facility",
            (str,),
            None,
            doc="its syslog facility (default: the core's)",
            validate=_local_log_facility,
        ),
        Param(
            "subs_remove_match",
            (int,),
            0,
            doc="0: a subscription is removed by its To-tag; 1: by Call-ID, From-tag and To-tag",
        ),
        Param(
            "xavp_cfg",
            (str,),
            None,
            doc="xavp whose `priority` orders aggregated documents and whose `delete_subscription` "
            "(set in event_route[presence:notify-reply]) ends a subscription",
        ),
        Param("retrieve_order", (int,), 0, doc="1: publications read in retrieve_order_by order"),
        Param("retrieve_order_by", (str,), "priority", doc="ORDER BY columns of retrieve_order 1"),
        Param("sip_uri_match", (int,), 0, doc="0: URIs compared case-sensitively; 1: not"),
        Param("cseq_offset", (int,), 0, doc="how far a refresh's CSeq may lag behind the stored one"),
        Param(
            "enable_dmq",
            (int,),
            0,
            doc="1: the publications replicated to the other nodes of the DMQ bus (the `presence` "
            "peer; the dmq module must be loaded)",
        ),
        Param("pres_subs_mode", (int,), 1, doc="1: $subs(...) holds a copy of the subscription; 0: $null"),
        Param(
            "delete_same_subs",
            (int,),
            0,
            doc="1: a new subscription replaces one with the same presentity and Call-ID",
        ),
        Param(
            "timer_mode",
            (int,),
            1,
            doc="the Kamailio timer the periodic work runs on (0 main, 1 "
            "secondary); in kampy both are worker 1's event loop",
            validate=_timer_mode,
        ),
        Param("subs_respond_200", (int,), 1, doc="1: 200 OK to an accepted SUBSCRIBE; 0: 202 Accepted"),
    ),
    functions=(
        Function(
            "handle_publish",
            handler="w_handle_publish",
            args=(
                Arg(
                    "sender_uri",
                    ArgKind.FMT,
                    fixup="fix_publish",
                    doc="a watcher not to notify (dialog;sla: the Sender header)",
                ),
            ),
            min_args=0,
            routes=RouteType.REQUEST,
            doc="Stores the PUBLISHed document, replies (200 with Expires and SIP-ETag, or an error) "
            "and notifies the watchers.",
            returns="1 on success, -1 on error (a reply was sent either way)",
        ),
        Function(
            "handle_subscribe",
            handler="w_handle_subscribe",
            args=(
                Arg(
                    "watcher_uri",
                    ArgKind.FMT,
                    fixup="fix_subscribe",
                    doc="the watcher (default: the From URI)",
                ),
            ),
            min_args=0,
            routes=RouteType.REQUEST,
            doc="Stores or refreshes the subscription, replies (200/202 with Expires and Contact, or "
            "an error) and sends the NOTIFY.",
            returns="1 on success, -1 on error (a reply was sent either way)",
        ),
        Function(
            "pres_auth_status",
            handler="w_pres_auth_status",
            args=(Arg("watcher_uri", ArgKind.FMT), Arg("presentity_uri", ArgKind.FMT)),
            routes=RouteType.REQUEST,
            doc="The state the presentity's authorization rules give the watcher for event presence.",
            returns="1 active, 2 pending, 3 terminated, 4 waiting, 5 polite-block; -1 on error",
        ),
        Function(
            "pres_refresh_watchers",
            handler="w_pres_refresh_watchers",
            args=(
                Arg("uri", ArgKind.FMT),
                Arg("event", ArgKind.FMT),
                Arg("type", ArgKind.INT),
                Arg("file_uri", ArgKind.FMT),
                Arg("filename", ArgKind.FMT),
            ),
            min_args=3,
            routes=RouteType.ANY,
            doc="Type 0: the watchers re-authorized; 1: notified of the stored state; 2 (with "
            "file_uri and filename): a pidf-manipulation document stored, then notified.",
            returns="1, -1 on error",
        ),
        Function(
            "pres_update_watchers",
            handler="w_pres_update_watchers",
            args=(Arg("uri", ArgKind.FMT), Arg("event", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="The watchers' states re-evaluated against the presentity's rules document.",
            returns="1, -1 on error or without a rules document",
        ),
        Function(
            "pres_has_subscribers",
            handler="w_pres_has_subscribers",
            args=(Arg("presentity_uri", ArgKind.FMT), Arg("event", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Whether the presentity has subscriptions for the event.",
            returns="1 yes, -1 no (or the event is not registered)",
        ),
    ),
    pvars=(
        PVClass(
            "subs",
            arg="required",
            doc="$subs(attr): the subscription handle_subscribe() handled, or the one being notified",
        ),
        PVClass(
            "notify_reply",
            arg="required",
            doc="$notify_reply(pv): a pseudo-variable of the NOTIFY's reply (presence:notify-reply)",
        ),
    ),
    rpc=(
        RpcMethod(
            "presence.cleanup",
            "rpc_cleanup",
            doc="Runs the cleaning of publications, watchers and subscriptions now.",
        ),
        RpcMethod(
            "presence.refreshWatchers",
            "rpc_refresh_watchers",
            doc="pres_refresh_watchers: uri event type [file_uri filename].",
            unsigned=(2,),
        ),
        RpcMethod("presence.updateWatchers", "rpc_update_watchers", doc="pres_update_watchers: uri event."),
        RpcMethod(
            "presence.presentity_list",
            "rpc_presentity_list",
            array=True,
            doc="The publications held in memory (publ_cache 2); `full` adds every field.",
        ),
    ),
    timers=(
        Timer(
            "clean",
            "timer_clean",
            interval_param="clean_period",
            doc="expired publications withdrawn, pending watchers older than a day removed (worker 1)",
        ),
        Timer(
            "db_update",
            "timer_update",
            interval_param="db_update_period",
            doc="expired subscriptions terminated and removed, the others written back (worker 1)",
        ),
    ),
    event_routes=(
        EventRoute(
            "presence:notify-reply",
            doc="run when a NOTIFY gets its final reply or times out, on the NOTIFY sent",
        ),
    ),
    offers=(
        Offer(
            "presence",
            PresenceAPI,
            handler="presence_api",
            doc="event packages and the operations on them (Kamailio's bind_presence)",
        ),
    ),
    needs=(
        Need(
            "tm",
            TmAPI,
            doc="NOTIFYs within the subscription dialogs (t_request_within), the transaction's To-tag",
        ),
        Need("sl", SlAPI, doc="replies (send_reply: in the transaction when there is one)"),
        Need("dmq", DmqAPI, optional=True, doc="enable_dmq: the publications replicated over DMQ"),
    ),
    factory=PresenceModule,
)
