"""dispatcher: SIP load balancing over destination sets (Kamailio's dispatcher module)."""

from __future__ import annotations

from kampy.api import (
    CfgGroup,
    CfgVar,
    Arg,
    ArgKind,
    EventRoute,
    Exports,
    Function,
    Need,
    Param,
    PVClass,
    RouteType,
    RpcMethod,
    Timer,
    TmUacAPI,
    Unimplemented,
)

from .dispatcher import DispatcherModule
from .states import check_reply_codes

__all__ = ["EXPORTS", "DispatcherModule"]

RF = RouteType.REQUEST | RouteType.FAILURE
SET = Arg(
    "set", ArgKind.FMT, fixup="fix_int", doc="the destination set id (an integer or a variable holding one)"
)
ALG = Arg("alg", ArgKind.FMT, fixup="fix_int", doc="the algorithm (0-13, see the README)")
LIMIT = Arg("limit", ArgKind.FMT, fixup="fix_int", doc="how many addresses go in the XAVP list (0: all)")
SELECTED = "1 selected, -1 none (no such set, no active destination, an error)"
GROUP = Arg("groupid", ArgKind.FMT, doc="the set id (an integer or a variable holding one)")
EXISTS = "1 the set exists, -1 not, -2 the parameter is not an integer"
NEXT = "1 set, -1 no (more) XAVP record or failover not enabled (flags bit 2)"


def _str(name: str, default: str | None, doc: str = "") -> Param:
    return Param(name, (str,), default, doc=doc)


def _int(name: str, default: int, doc: str = "") -> Param:
    return Param(name, (int,), default, doc=doc)


EXPORTS = Exports(
    name="dispatcher",
    doc="Load balancing and failover over destination sets read from a list file or the dispatcher table, "
    "with keepalive probing of the destinations.",
    params=(
        _str("list_file", "/etc/kamailio/dispatcher.list", "the file with the destination sets"),
        _str("db_url", None, "load the sets from this database instead of the file"),
        _str("table_name", "dispatcher"),
        _str("setid_col", "setid"),
        _str("destination_col", "destination"),
        _str("flags_col", "flags"),
        _str("priority_col", "priority"),
        _str("attrs_col", "attrs"),
        _int("force_dst", 1, "1: ds_select_dst() overwrites a $du already set; 0: it fails"),
        _int("flags", 0, "1: URI hashes use the user only; 2: failover (the rest of the set in the XAVPs)"),
        _int("use_default", 0, "1: the last destination of a set is only the last resort"),
        _str("xavp_dst", "_dsdst_", "the XAVP holding the selected destinations"),
        _int("xavp_dst_mode", 0, "1: no attrs field; 2: add socket; 4: add sockname"),
        _str("xavp_ctx", "_dsctx_", "the XAVP holding the count of selected destinations (cnt)"),
        _int("xavp_ctx_mode", 0, "1: no cnt field"),
        _str("hash_pvar", None, "the format hashed by algorithm 7"),
        _str("setid_pvname", None, "where ds_is_from_list() stores the set id of the match"),
        _str("attrs_pvname", None, "where ds_is_from_list() stores the attributes of the match"),
        _int("ds_probing_threshold", 1, "failures before a destination becomes inactive"),
        _int(
            "ds_inactive_threshold", 1, "successful keepalives before an inactive destination is active again"
        ),
        _str("ds_ping_method", "OPTIONS"),
        _str("ds_ping_from", "sip:dispatcher@localhost"),
        _int("ds_ping_interval", 0, "seconds between keepalive rounds (0: none)"),
        _int("ds_ping_latency_stats", 0, "1: measure the keepalives' latency"),
        _int("ds_latency_estimator_alpha", 900, "the EWMA's alpha in thousandths"),
        Param(
            "ds_ping_reply_codes",
            (str,),
            None,
            validate=check_reply_codes,
            doc="more codes accepted as keepalive replies: code=N;class=N",
        ),
        _int("ds_probing_mode", 0, "0 flagged once, 1 all, 2 inactive flagged, 3 flagged always"),
        _int("ds_hash_size", 0, "2^n slots of the call-load table (algorithm 10); 0: off"),
        _int("ds_hash_expire", 7200, "seconds a confirmed call counts without a BYE"),
        _int("ds_hash_initexpire", 7200, "seconds an unconfirmed call counts"),
        _int("ds_hash_check_interval", 30, "seconds between scans for expired call-load items"),
        _str("outbound_proxy", None, "where keepalives are sent through"),
        _str("ds_default_socket", None, "the socket for destinations without one"),
        _str("ds_default_sockname", None, "the socket (by name) for destinations without one"),
        _int("ds_timer_mode", 0, "0 main timer, 1 secondary timer (the same in kampy: each worker's timers)"),
        _int("ds_attrs_none", 0, "1: destinations without attributes get none=yes"),
        _str("ds_db_extra_attrs", None, "more columns added to the attributes: name=column;..."),
        _int("ds_load_mode", 0, "1: a destination that cannot be added fails the load"),
        _int("reload_delta", 5, "seconds between two reloads"),
        _int(
            "ds_dns_mode",
            1,
            "1 resolve at load, 2 on each ds_is_from_list(), 4 refresh every ds_dns_interval, "
            "8 SRV (and NAPTR with the core's dns_try_naptr) lookups instead of A/AAAA",
        ),
        _int("ds_dns_interval", 600),
        _int("ds_dns_ttl", 0, "seconds the DNS cache keeps the records looked up for the destinations "
             "(0: their own TTL)"),
    ),
    functions=(
        Function(
            "ds_select_dst",
            args=(SET, ALG, LIMIT),
            min_args=2,
            routes=RF,
            returns=SELECTED,
            doc="Selects a destination of the set as $du; with failover the rest go in the XAVPs.",
        ),
        Function(
            "ds_select_domain",
            args=(SET, ALG, LIMIT),
            min_args=2,
            routes=RF,
            returns=SELECTED,
            doc="Selects a destination of the set as the host part of the R-URI.",
        ),
        Function(
            "ds_select",
            args=(SET, ALG, LIMIT),
            min_args=2,
            routes=RouteType.ANY,
            returns=SELECTED,
            doc="Selects destinations into the XAVPs only.",
        ),
        Function(
            "ds_select_routes",
            args=(Arg("rules", ArgKind.FMT), Arg("mode", ArgKind.FMT), LIMIT),
            min_args=2,
            routes=RF,
            returns=SELECTED,
            doc='Selects from several sets ("1=4;2=0"); mode d(st uri), r(uri) or x(avp only).',
        ),
        Function("ds_next_dst", routes=RF, returns=NEXT, doc="The next XAVP record as $du."),
        Function("ds_next_domain", routes=RF, returns=NEXT, doc="The next XAVP record as the R-URI's host."),
        Function("ds_set_dst", routes=RF, returns=NEXT, doc="The current XAVP record as $du."),
        Function(
            "ds_set_domain", routes=RF, returns=NEXT, doc="The current XAVP record as the R-URI's host."
        ),
        Function(
            "ds_mark_dst",
            args=(Arg("state", ArgKind.STR),),
            min_args=0,
            routes=RF | RouteType.ONREPLY,
            returns="1 marked, -1 not",
            doc="Marks the last used destination (a, i, t, d, with p for probing).",
        ),
        Function("ds_list_exists", args=(GROUP,), returns=EXISTS,
                 doc="Whether the destination set `groupid` is loaded."),
        Function(
            "ds_list_exist",
            handler="ds_list_exists",
            args=(GROUP,),
            returns=EXISTS,
            doc="Alias of ds_list_exists().",
        ),
        Function(
            "ds_is_from_list",
            args=(
                Arg("groupid", ArgKind.FMT, fixup="fix_int"),
                Arg("mode", ArgKind.FMT, fixup="fix_int"),
                Arg("uri", ArgKind.FMT),
            ),
            min_args=0,
            returns="1 match, -1 none",
            doc="Whether the source address (or the URI) is a destination of the set (-1: any).",
        ),
        Function(
            "ds_is_active",
            args=(SET, Arg("uri", ArgKind.FMT)),
            min_args=1,
            returns="1 an active destination (the URI's), -1 none",
            doc="Whether set `set` has an active destination (the one of `uri`, when given).",
        ),
        Function("ds_load_update", doc="BYE/CANCEL: the call's load removed; 2xx to INVITE: confirmed."),
        Function("ds_load_unset", doc="Removes the call's load from its destination."),
        Function("ds_reload", returns="1 reloaded, -1 not", doc="Reloads the sets."),
    ),
    pvars=(
        PVClass(
            "dsv",
            handler="pv_dsv",
            arg="required",
            doc="in dst-down/dst-up: code, reason, flags of the reply (or the cause)",
        ),
    ),
    rpc=(
        RpcMethod("dispatcher.reload", "rpc_reload", doc="Reload dispatcher destination sets"),
        RpcMethod("dispatcher.list", "rpc_list", doc="Return the content of dispatcher sets"),
        RpcMethod(
            "dispatcher.set_state",
            "rpc_set_state", autoconvert=(0,),
            params_fault=(500, "Invalid Parameters"),
            doc="Set the state of a destination by address",
        ),
        RpcMethod(
            "dispatcher.set_duid_state",
            "rpc_set_duid_state", autoconvert=(0,),
            params_fault=(500, "Invalid Parameters"),
            doc="Set the state of a destination by duid",
        ),
        RpcMethod(
            "dispatcher.ping_active",
            "rpc_ping_active",
            doc="Manage setting on/off the pinging (keepalive) of destinations",
        ),
        RpcMethod(
            "dispatcher.add",
            "rpc_add",
            params_fault=(500, "Invalid Parameters"),
            doc="Add a destination address in memory",
        ),
        RpcMethod(
            "dispatcher.remove",
            "rpc_remove",
            params_fault=(500, "Invalid Parameters"),
            doc="Remove a destination address from memory",
        ),
        RpcMethod(
            "dispatcher.hash",
            "rpc_hash",
            params_fault=(500, "Invalid Parameters"),
            doc="Compute the hash if the values",
        ),
    ),
    timers=(
        Timer("keepalive", "ping_timer", interval_param="ds_ping_interval", doc="sends the keepalives"),
        Timer(
            "call-load",
            "ht_timer",
            interval_param="ds_hash_check_interval",
            doc="drops expired call-load items",
        ),
        Timer(
            "dns",
            "dns_timer",
            interval_param="ds_dns_interval",
            doc="resolves the addresses again (dns mode 4)",
        ),
    ),
    event_routes=(
        EventRoute("dispatcher:dst-down", doc="a destination became inactive"),
        EventRoute("dispatcher:dst-up", doc="a destination became active"),
    ),
    needs=(Need("tm", TmUacAPI, optional=True, doc="t_request(): the keepalives"),),
    not_implemented=(
        Unimplemented("param", "event_callback", "a KEMI callback name: kampy runs no KEMI scripts"),
    ),
    cfg=CfgGroup(
        "dispatcher",
        (
            CfgVar(
                "probing_threshold",
                "int",
                "Number of failed requests, before a destination is set to probing.",
                param="ds_probing_threshold",
            ),
            CfgVar(
                "inactive_threshold",
                "int",
                "Number of successful requests, before a destination is set to active.",
                param="ds_inactive_threshold",
            ),
            CfgVar(
                "ping_reply_codes",
                "str",
                'Additional, valid reply codes for the OPTIONS Pinger. Default is ""',
                param="ds_ping_reply_codes",
                default="",
                on_set="set_reply_codes",
                only_once=True,
            ),
        ),
    ),
    factory=DispatcherModule,
)
