"""dialog: dialog tracking, profiles, dialog variables and timeouts (Kamailio's dialog module)."""

from __future__ import annotations

from typing import Any

from kampy.api import (
    Arg,
    ArgKind,
    DialogAPI,
    DmqAPI,
    EventRoute,
    Exports,
    Function,
    Need,
    Offer,
    Param,
    Process,
    PVClass,
    RouteType,
    RpcMethod,
    RrAPI,
    Stat,
    Timer,
    TmAPI,
    Unimplemented,
)

from .dialog import DialogModule, check_profiles

ANY = RouteType.ANY
UNSET_ROUTES = RouteType.REQUEST | RouteType.FAILURE | RouteType.ONREPLY | RouteType.BRANCH


def _params() -> tuple[Param, ...]:
    cols = (
        ("call_id_column", "callid"),
        ("from_uri_column", "from_uri"),
        ("from_tag_column", "from_tag"),
        ("to_uri_column", "to_uri"),
        ("to_tag_column", "to_tag"),
        ("h_id_column", "hash_id"),
        ("h_entry_column", "hash_entry"),
        ("state_column", "state"),
        ("start_time_column", "start_time"),
        ("timeout_column", "timeout"),
        ("to_cseq_column", "callee_cseq"),
        ("from_cseq_column", "caller_cseq"),
        ("to_route_column", "callee_route_set"),
        ("from_route_column", "caller_route_set"),
        ("to_contact_column", "callee_contact"),
        ("from_contact_column", "caller_contact"),
        ("to_sock_column", "callee_sock"),
        ("from_sock_column", "caller_sock"),
        ("sflags_column", "sflags"),
        ("toroute_name_column", "toroute_name"),
        ("vars_h_id_column", "hash_id"),
        ("vars_h_entry_column", "hash_entry"),
        ("vars_key_column", "dialog_key"),
        ("vars_value_column", "dialog_value"),
    )
    return (
        Param("enable_stats", (int,), 1, doc="1: keep the dialog statistics"),
        Param("hash_size", (int,), 4096, doc="the number of hash entries (h_entry) of the dialog table"),
        Param("rr_param", (str,), "did", doc="the Record-Route parameter holding the dialog id"),
        Param(
            "dlg_flag", (int,), -1, doc="a message flag that, set before t_relay(), makes the INVITE's dialog"
        ),
        Param("timeout_avp", (str,), None, doc="an AVP holding a dialog's timeout (seconds)"),
        Param("default_timeout", (int,), 43200, doc="a dialog's lifetime when nothing else says (seconds)"),
        Param("early_timeout", (int,), 300, doc="an unconfirmed or early dialog older than this goes"),
        Param(
            "noack_timeout",
            (int,),
            60,
            doc="a dialog answered but not ACKed for this long expires 10 seconds later",
        ),
        Param("end_timeout", (int,), 300, doc="an ended dialog whose BYE got no answer goes after this long"),
        Param(
            "dlg_extra_hdrs", (str,), None, doc="headers added to the requests the module sends (BYE, REFER)"
        ),
        Param(
            "dlg_match_mode",
            (int,),
            0,
            doc="requests within a dialog: 0 by the rr_param only, 1 by it "
            "then by Call-ID and tags, 2 by Call-ID and tags only",
        ),
        Param(
            "detect_spirals",
            (int,),
            1,
            doc="1: an INVITE coming back (same Call-ID and From tag) joins its dialog",
        ),
        Param("db_url", (str,), "mysql://kamailio:kamailiorw@localhost/kamailio", doc="the database"),
        Param(
            "db_mode",
            (int,),
            0,
            doc="0 no database; 1 written at each change; 2 every db_update_period; 3 at shutdown",
        ),
        Param("db_update_period", (int,), 60, doc="seconds between two writes in db_mode 2"),
        Param("db_fetch_rows", (int,), 200, doc="rows fetched at a time when loading"),
        Param("db_skip_load", (int,), 0, doc="1: do not load the dialogs at start"),
        Param("table_name", (str,), "dialog", doc="the dialogs' table"),
        Param("vars_table_name", (str,), "dialog_vars", doc="the dialog variables' table"),
        *(Param(name, (str,), default, doc=f"the column name ({default})") for name, default in cols),
        Param(
            "profiles_with_value",
            (str,),
            None,
            validate=check_profiles,
            doc="profiles whose entries have a value, separated by `;`",
        ),
        Param(
            "profiles_no_value",
            (str,),
            None,
            validate=check_profiles,
            doc="profiles without values, separated by `;`",
        ),
        Param("ruri_pvar", (str,), "$ru", doc="where the dialog's R-URI is taken from"),
        Param("initial_cbs_inscript", (int,), 1, doc="1: DLGCB_CREATED runs in dlg_manage(), in the script"),
        Param("send_bye", (int,), 0, doc="1: BYE both sides when a dialog times out"),
        Param("timeout_noreset", (int,), 0, doc="1: requests within the dialog do not restart its timer"),
        Param(
            "bridge_controller",
            (str,),
            "sip:controller@kamailio.org",
            doc="the From URI (and Referred-By) of dlg_bridge()'s INVITE and REFER",
        ),
        Param(
            "bridge_contact",
            (str,),
            "sip:controller@kamailio.org:5060",
            doc="the Contact of dlg_bridge()'s INVITE and of the REFERs",
        ),
        Param("ka_timer", (int,), 0, doc="seconds between two runs of the keep-alive timer (0: none)"),
        Param("ka_interval", (int,), 0, doc="seconds between two keep-alive OPTIONS in a dialog (0: none)"),
        Param(
            "ka_failed_limit",
            (int,),
            1,
            doc="failed keep-alives (408, 481) in a row that end the dialog 10 seconds later",
        ),
        Param(
            "timer_procs",
            (int,),
            0,
            doc='1: the dialog timer runs in a process of its own ("Dialog Main Timer"), not in worker 1',
        ),
        Param(
            "wait_ack",
            (int,),
            1,
            doc="1: a failed dialog stays until its INVITE transaction goes "
            "(absorbing the ACK of the negative reply); 0: it goes at once",
        ),
        Param(
            "keep_proxy_rr",
            (int,),
            0,
            doc="keep this proxy's Record-Route in the route set of the "
            "requests the module sends: 1 to the callee, 2 to the caller, 3 both",
        ),
        Param(
            "dlg_filter_mode",
            (int,),
            0,
            doc="1: no timeout route or BYE for a dialog whose socket is "
            "not local (loaded from another server's database)",
        ),
        Param(
            "lreq_callee_headers",
            (str,),
            None,
            doc="headers added to the requests the module sends to the callee",
        ),
        Param("h_id_start", (int,), 0, doc="the first h_id of each hash entry"),
        Param("h_id_step", (int,), 1, doc="the step between two h_ids of an entry"),
        Param(
            "track_cseq_updates",
            (int,),
            0,
            doc="1: follow the CSeq shift of an INVITE uac_auth() re-sent with credentials in the "
            "later requests going downstream ($dlg_var(cseq_diff)) and undo it in their replies",
        ),
        Param(
            "enable_dmq",
            (int,),
            0,
            doc="1: replicate the dialogs to the other nodes of the DMQ bus (the `dialog` peer), and "
            "ask them for theirs on joining it",
        ),
    )


def processes(params: dict[str, Any]) -> tuple[Process, ...]:
    """Kamailio's dialog timers in processes of their own (fork_sync_timer in child_init(PROC_MAIN)):
    the main timer with timer_procs, the keep-alive timer with ka_timer and ka_interval, and the
    clean timer always (every 90 seconds)."""
    found = []
    if int(params["timer_procs"]) > 0:
        found.append(Process("Dialog Main Timer", "main_timer", 1))
    if int(params["ka_timer"]) > 0 and int(params["ka_interval"]) > 0:
        found.append(Process("Dialog KA Timer", "ka_timer_run", int(params["ka_timer"])))
    found.append(Process("Dialog Clean Timer", "clean_timer", 90))
    return tuple(found)


NOT_IMPLEMENTED = (
    Unimplemented(
        "param", "xavp_cfg", "Kamailio 5.6 declares it but never reads it", default=None, types=(str,)
    ),
    Unimplemented("param", "event_callback", "KEMI is not supported by kampy", default=None, types=(str,)),
)


EXPORTS = Exports(
    name="dialog",
    doc="Dialog tracking: dialogs created by dlg_manage() or the dlg_flag, their states, timeouts, "
    "profiles, variables, BYEs sent on timeout or on request, the dlg.* RPCs and the dialog tables.",
    params=_params(),
    functions=(
        Function(
            "dlg_manage",
            routes=RouteType.REQUEST,
            doc="Create the dialog of an initial INVITE, or match a request within a dialog.",
            returns="1 when the dialog was created or found, -1 otherwise",
        ),
        Function(
            "set_dlg_profile",
            args=(Arg("profile", ArgKind.STR, fixup="fix_profile"), Arg("value")),
            min_args=1,
            routes=ANY,
            doc="Put the dialog in a profile (with a value for a profile with values).",
            returns="1, -1 on error",
        ),
        Function(
            "unset_dlg_profile",
            args=(Arg("profile", ArgKind.STR, fixup="fix_profile"), Arg("value")),
            min_args=1,
            routes=UNSET_ROUTES,
            doc="Take the dialog out of a profile.",
            returns="1, -1 when it was not in it",
        ),
        Function(
            "is_in_profile",
            args=(Arg("profile", ArgKind.STR, fixup="fix_profile"), Arg("value")),
            min_args=1,
            routes=ANY,
            doc="Whether the dialog is in the profile (with the value).",
            returns="1 in it, -1 not",
        ),
        Function(
            "get_profile_size",
            args=(
                Arg("profile", ArgKind.STR, fixup="fix_profile"),
                Arg("value", ArgKind.STR),
                Arg("size", ArgKind.STR),
            ),
            min_args=2,
            routes=ANY,
            doc="Set the size variable (the last argument) to the number of dialogs in the profile "
            "(with the value, when given).",
            returns="1",
        ),
        Function(
            "dlg_setflag",
            args=(Arg("flag", ArgKind.INT, fixup="fix_flag"),),
            routes=ANY,
            doc="Set a dialog flag (0..31).",
            returns="1",
        ),
        Function(
            "dlg_resetflag",
            args=(Arg("flag", ArgKind.INT, fixup="fix_flag"),),
            routes=ANY,
            doc="Reset a dialog flag.",
            returns="1",
        ),
        Function(
            "dlg_isflagset",
            args=(Arg("flag", ArgKind.INT, fixup="fix_flag"),),
            routes=ANY,
            doc="Whether a dialog flag is set.",
            returns="1 set, -1 not",
        ),
        Function(
            "dlg_bye",
            args=(Arg("side", ArgKind.STR, fixup="fix_side"),),
            routes=ANY,
            doc="Send BYE to the caller, the callee or all.",
            returns="1 sent, -1 otherwise",
        ),
        Function(
            "dlg_refer",
            args=(Arg("side", ArgKind.STR, fixup="fix_refer_side"), Arg("to")),
            routes=ANY,
            doc="Transfer `side` (caller or callee) to `to`: a REFER (Referred-By bridge_controller, "
            "Refer-To `to`) to the other side, as Kamailio's dlg_transfer, then a BYE to it once the "
            "REFER is answered.",
            returns="1 sent, -1 otherwise",
        ),
        Function(
            "dlg_bridge",
            args=(Arg("from"), Arg("to"), Arg("op")),
            routes=ANY,
            doc="Call `from` (an INVITE from bridge_controller with a held SDP offer, through the "
            "outbound proxy `op` when not empty) and, once answered, REFER it to `to`, then BYE.",
            returns="1 when the INVITE was sent, -1 otherwise",
        ),
        Function(
            "dlg_get",
            args=(Arg("callid"), Arg("ftag"), Arg("ttag")),
            routes=ANY,
            doc="Make the dialog of these Call-ID and tags the current one.",
            returns="1 found, -1 not",
        ),
        Function(
            "is_known_dlg",
            routes=ANY,
            doc="Whether the message belongs to a known dialog.",
            returns="1 known, -1 not",
        ),
        Function(
            "dlg_set_timeout",
            args=(Arg("timeout", ArgKind.INT), Arg("h_entry", ArgKind.INT), Arg("h_id", ArgKind.INT)),
            min_args=1,
            routes=ANY,
            doc="Set the timeout of the current dialog, or of the dialog h_entry:h_id.",
            returns="1, -1 when there is no such dialog",
        ),
        Function(
            "dlg_set_timeout_by_profile",
            args=(
                Arg("profile", ArgKind.STR, fixup="fix_profile"),
                Arg("value", ArgKind.STR),
                Arg("timeout", ArgKind.STR),
            ),
            min_args=2,
            routes=ANY,
            doc="Set the timeout of every dialog of a profile.",
            returns="1",
        ),
        Function(
            "dlg_set_property",
            args=(Arg("attr", ArgKind.STR, fixup="fix_property"),),
            routes=ANY,
            doc="Set a dialog property (`ka-src`, `ka-dst`, `timeout-noreset`).",
            returns="1",
        ),
        Function(
            "dlg_reset_property",
            args=(Arg("attr", ArgKind.STR, fixup="fix_property"),),
            routes=ANY,
            doc="Reset a dialog property.",
            returns="1",
        ),
        Function(
            "dlg_set_ruri",
            routes=ANY,
            doc="Set the R-URI to the contact of the other side.",
            returns="1, -1 without a dialog",
        ),
        Function(
            "dlg_remote_profile",
            args=(Arg("cmd"), Arg("profile"), Arg("value"), Arg("uid"), Arg("expires", ArgKind.INT)),
            routes=ANY,
            doc="Add (`add`) or remove (`rm`) a profile entry of another server, identified by uid, "
            "counted by get_profile_size() until expires (a Unix time).",
            returns="1, -1 on error",
        ),
        Function(
            "dlg_db_load_callid",
            args=(Arg("callid"),),
            routes=ANY,
            doc="Load the dialog of a Call-ID from the database.",
            returns="1 loaded, -1 not",
        ),
        Function(
            "dlg_db_load_extra",
            routes=ANY,
            doc="Load the dialogs in the database not in memory.",
            returns="1",
        ),
    ),
    pvars=(
        PVClass("dlg", handler="pv_dlg", arg="required", doc="attributes of the current dialog"),
        PVClass(
            "dlg_ctx",
            handler="pv_dlg_ctx",
            arg="required",
            writable=True,
            doc="the dialog context of the message (flags, timeout, timeout_bye, ...)",
        ),
        PVClass("dlg_var", handler="pv_dlg_var", arg="required", writable=True, doc="a dialog variable"),
        PVClass("DLG_count", handler="pv_DLG_count", doc="the number of active dialogs"),
        PVClass("DLG_status", handler="pv_DLG_status", doc="the state of the message's dialog"),
        PVClass("DLG_lifetime", handler="pv_DLG_lifetime", doc="how long the message's dialog has lasted"),
    ),
    stats=(
        Stat("active_dialogs", doc="dialogs confirmed and not ended", no_reset=True),
        Stat("early_dialogs", doc="dialogs in early state", no_reset=True),
        Stat("processed_dialogs", doc="dialogs created"),
        Stat("expired_dialogs", doc="dialogs ended by their timeout"),
        Stat("failed_dialogs", doc="dialogs that failed (a negative final reply)"),
    ),
    rpc=(
        RpcMethod("dlg.list", "rpc_list", doc="every dialog"),
        RpcMethod("dlg.list_ctx", "rpc_list_ctx", doc="every dialog, with context"),
        RpcMethod("dlg.dlg_list", "rpc_dlg_list",
                  autoconvert=(0, 1), doc="the dialogs of a Call-ID [and From tag]"),
        RpcMethod("dlg.dlg_list_ctx", "rpc_dlg_list_ctx",
                  autoconvert=(0, 1), doc="as dlg.dlg_list, with context"),
        RpcMethod("dlg.list_match", "rpc_list_match", doc="dialogs matching key, operator, value [limit]"),
        RpcMethod("dlg.list_match_ctx", "rpc_list_match_ctx", doc="as dlg.list_match, with context"),
        RpcMethod("dlg.briefing", "rpc_briefing", doc="a summary of every dialog"),
        RpcMethod("dlg.dump_file", "rpc_dump_file", autoconvert=(0,), doc="the dialogs appended to a file"),
        RpcMethod(
            "dlg.end_dlg",
            "rpc_end_dlg",
            doc="end the dialog h_entry h_id [extra headers] with BYEs",
            params_fault=(500, "Invalid parameters"),
        ),
        RpcMethod(
            "dlg.terminate_dlg",
            "rpc_terminate_dlg", autoconvert=(0, 1, 2),
            doc="end the dialog of callid, from tag, to tag",
            params_fault=(400, "Need a Callid ,from tag ,to tag"),
        ),
        RpcMethod(
            "dlg.set_state",
            "rpc_set_state", autoconvert=(0, 1, 2),
            doc="force a dialog's state",
            params_fault=(400, "Need the callid, from tag,to tag and state"),
        ),
        RpcMethod("dlg.profile_get_size", "rpc_profile_get_size",
                  autoconvert=(0, 1), doc="the size of a profile [value]"),
        RpcMethod("dlg.profile_list", "rpc_profile_list",
                  autoconvert=(0, 1), doc="the dialogs of a profile [value]"),
        RpcMethod(
            "dlg.bridge_dlg",
            "rpc_bridge_dlg",
            doc="dlg_bridge(): from to [op [body]]",
            params_fault=(500, "Invalid parameters"),
        ),
        RpcMethod("dlg.stats_active", "rpc_stats_active", doc="the dialogs by state"),
        RpcMethod(
            "dlg.is_alive",
            "rpc_is_alive", autoconvert=(0, 1, 2),
            doc="whether the dialog of callid, tags is confirmed",
            params_fault=(400, "Too few parameters (required callid, from-tag, to-tag)"),
        ),
    ),
    timers=(
        Timer("dlg_timer", "timer", interval=1, doc="expires dialogs, cleans old ones, writes db_mode 2"),
    ),
    event_routes=(
        EventRoute("dialog:start", doc="a dialog is answered (2xx)"),
        EventRoute("dialog:end", doc="a confirmed dialog ends (BYE or timeout)"),
        EventRoute("dialog:failed", doc="a dialog fails before it is answered"),
    ),
    not_implemented=NOT_IMPLEMENTED,
    processes=processes,
    offers=(Offer("dialog", DialogAPI, doc="dialogs and their events for acc's CDRs and dispatcher"),),
    needs=(
        Need("tm", TmAPI, doc="the INVITE's replies and the BYEs sent"),
        Need("rr", RrAPI, optional=True, doc="the dialog id in Record-Route, requests within dialogs"),
        Need("dmq", DmqAPI, optional=True, doc="enable_dmq: the dialogs replicated over DMQ"),
    ),
    factory=DialogModule,
)
