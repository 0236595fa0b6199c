"""Stateful transaction handling (RFC 3261 transactions): t_relay() and friends."""

from __future__ import annotations

from kampy.api import (
    Arg,
    ArgKind,
    EventRoute,
    Exports,
    Function,
    Offer,
    Param,
    RouteType,
    RpcMethod,
    Select,
    TmAPI,
    Unimplemented,
)

from .config import CFG
from .t_relay_to_exports import RELAY_TO_FUNCTIONS
from .t_serial_exports import SERIAL_FUNCTIONS, SERIAL_PARAMS
from .transaction_exports import (MATCH_LIFETIME_FUNCTIONS, MATCH_LIFETIME_PARAMS, REPLY_ARGS,
                                  TRANSACTION_RPCS, var_int)
from .t_reply_exports import REPLY_EVENT_ROUTES, REPLY_FUNCTIONS, REPLY_NOT_IMPLEMENTED, REPLY_PARAMS
from .tm import TmModule

# rpc_uac.c's answer when rpc->scan() cannot read one of the five required strings
UAC_SCAN_FAULT = (400, "too few parameters ({scanned}/5)")


def _unmatched_cancel(value: int) -> None:
    if value not in (0, 2):
        raise ValueError("unmatched_cancel: kampy supports 0 (stateless) and 2 (drop)")


# What Kamailio 5.6's tm module has that kampy's does not (checked against Kamailio's
# own tables by tests/test_module_completeness.py); `kampy check` warns where a config uses one.
NOT_IMPLEMENTED = (
    Unimplemented("function", "t_relay_to_sctp", "kampy has no SCTP transport"),
    Unimplemented("function", "t_replicate_sctp", "kampy has no SCTP transport"),
    Unimplemented("function", "t_forward_nonack_sctp", "kampy has no SCTP transport"),
    *REPLY_NOT_IMPLEMENTED,
)


EXPORTS = Exports(
    name="tm",
    doc="Stateful transaction handling (RFC 3261 transactions): t_relay() and friends.",
    cfg=CFG,
    selects=(
        Select("tm", "select_tm", doc="the transaction of the message: `@tm` (1 or 0), `@tm.method`, "
               "`@tm.uas.status`, `.uas.request`, `.uas.request.neg_ack_retransmission`, "
               "`.uas.local_to_tag`, `.uas.response`, `@tm.uac.count`, `.uac.relayed`, `.uac.last_status`, "
               "`.uac.response_retransmission`, `@tm.uac[n].status`, `.uri`, `.response`, `.request`"),
    ),
    params=(
        Param("fr_timer", (int,), 30000),
        Param("fr_inv_timer", (int,), 120000),
        Param("wt_timer", (int,), 5000),
        Param("retr_timer1", (int,), 500),
        Param("retr_timer2", (int,), 4000),
        Param("noisy_ctimer", (int,), 1),
        Param("auto_inv_100", (int,), 1),
        Param("auto_inv_100_reason", (str,), "trying -- your call is important to us"),
        Param("restart_fr_on_each_reply", (int,), 1),
        Param("unmatched_cancel", (int,), 0, validate=_unmatched_cancel,
              doc="0: forward a CANCEL with no INVITE statelessly, 2: drop it"),
        Param("cancel_b_method", (int,), 1),
        Param("disable_6xx_block", (int,), 0),
        Param("failure_reply_mode", (int,), 3),
        Param("faked_reply_prio", (int,), 0),
        Param("remap_503_500", (int,), 1),
        Param("relay_100", (int,), 0),
        *SERIAL_PARAMS,
        *MATCH_LIFETIME_PARAMS,
        *REPLY_PARAMS,
    ),
    functions=(
        Function(
            "t_newtran",
            routes=RouteType.REQUEST,
            doc="Creates a new transaction, returns a negative value on error.",
            returns="",
        ),
        Function(
            "t_release",
            routes=RouteType.REQUEST,
            doc="Releases the request's transaction: it is put on wait (absorbing retransmissions) and "
                "then freed, without a reply when none was sent.",
            returns="1 (also without a transaction), -1 outside request_route",
        ),
        Function(
            "t_lookup_request",
            routes=RouteType.REQUEST,
            doc="Checks if a transaction exists.",
            returns="",
        ),
        Function(
            "t_lookup_cancel",
            args=(Arg("strict", ArgKind.INT),),
            min_args=0,
            routes=RouteType.REQUEST,
            doc="Returns true if the corresponding INVITE transaction exists for a CANCEL...",
            returns="",
        ),
        Function(
            "t_reply",
            args=REPLY_ARGS,
            routes=RouteType.REQUEST | RouteType.ONREPLY | RouteType.FAILURE,
            doc="Sends a stateful reply after a transaction has been established.",
            returns="",
        ),
        Function(
            "t_send_reply",
            args=REPLY_ARGS,
            routes=RouteType.REQUEST | RouteType.ONREPLY | RouteType.FAILURE,
            doc="Creates the transaction if it does not exist (executing internally t_newtran())...",
            returns="",
        ),
        Function(
            "t_retransmit_reply",
            routes=RouteType.REQUEST,
            doc="Retransmits the last reply sent out by the transaction.",
            returns="",
        ),
        Function(
            "t_relay_to_udp",
            args=(Arg("ip", ArgKind.FMT), Arg("port", ArgKind.FMT)),
            min_args=0,
            routes=RouteType.REQUEST | RouteType.FAILURE,
            doc="Relay a message statefully using a fixed protocol either to the specified fixed...",
            returns="",
        ),
        Function(
            "t_relay_to_tcp",
            args=(Arg("ip", ArgKind.FMT), Arg("port", ArgKind.FMT)),
            min_args=0,
            routes=RouteType.REQUEST | RouteType.FAILURE,
            doc="See function t_relay_to_udp([ip, port]).",
            returns="",
        ),
        Function(
            "t_relay",
            args=(Arg("host", ArgKind.STR), Arg("port", ArgKind.STR)),
            min_args=0,
            routes=RouteType.REQUEST | RouteType.FAILURE,
            doc="Relay a message statefully either to the destination indicated in the current...",
            returns="1 when relayed, negative on error",
        ),
        *RELAY_TO_FUNCTIONS,
        Function(
            "t_relay_cancel",
            routes=RouteType.REQUEST,
            doc="Forwards the CANCEL if the corresponding INVITE transaction exists.",
            returns="",
        ),
        Function(
            "t_on_failure",
            args=(Arg("failure_route", ArgKind.ROUTE, route_kind="failure"),),
            routes=RouteType.REQUEST | RouteType.FAILURE | RouteType.TM_ONREPLY | RouteType.BRANCH,
            doc="Sets failure routing block, to which control is passed after a transaction...",
            returns="1",
        ),
        Function(
            "t_on_reply",
            args=(Arg("onreply_route", ArgKind.ROUTE, route_kind="onreply"),),
            routes=RouteType.REQUEST | RouteType.FAILURE | RouteType.TM_ONREPLY | RouteType.BRANCH,
            doc="Sets the reply routing block, to which control is passed when a reply for the...",
            returns="1",
        ),
        *SERIAL_FUNCTIONS,
        Function(
            "t_on_branch",
            args=(Arg("branch_route", ArgKind.ROUTE, route_kind="branch"),),
            routes=RouteType.REQUEST | RouteType.FAILURE,
            doc="Sets the branch routing block, to which control is passed after forking (when a...",
            returns="1",
        ),
        Function(
            "t_drop_replies",
            args=(Arg("mode", ArgKind.STR),),
            min_args=0,
            routes=RouteType.FAILURE,
            doc="Drops the replies received so far in failure_route, so that none of them is picked "
                "again: 'a' or missing all of them, 'l' those of the last set of branches, 'n' none. It "
                "works only if a new branch is added or the script replies.",
            returns="1",
        ),
        Function(
            "t_check_status",
            args=(Arg("re", ArgKind.REGEX),),
            routes=RouteType.REQUEST | RouteType.FAILURE | RouteType.ONREPLY,
            doc="Returns true if the regular expression re match the reply code of the response...",
            returns="1 if the reply code matches, -1 otherwise",
        ),
        Function(
            "t_set_fr",
            args=(var_int("fr_inv_timeout"), var_int("fr_timeout")),
            min_args=1,
            routes=RouteType.REQUEST | RouteType.TM_ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="Sets the fr_inv_timeout and optionally fr_timeout for the current transaction...",
            returns="",
        ),
        Function(
            "t_reset_fr",
            routes=RouteType.REQUEST | RouteType.TM_ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="Resets the fr_inv_timer and fr_timer for the current transaction to the default...",
            returns="",
        ),
        Function(
            "t_set_retr",
            args=(var_int("retr_t1_interval"), var_int("retr_t2_interval")),
            routes=RouteType.REQUEST | RouteType.TM_ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="Sets the retr_t1_interval and retr_t2_interval for the current transaction or...",
            returns="",
        ),
        Function(
            "t_reset_retr",
            routes=RouteType.REQUEST | RouteType.TM_ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="Resets the retr_timer1 and retr_timer2 for the current transaction to the...",
            returns="",
        ),
        Function(
            "t_set_auto_inv_100",
            args=(var_int("mode"),),
            routes=RouteType.REQUEST,
            doc="Switch automatically sending 100 replies to INVITEs on/off on a per transaction...",
            returns="",
        ),
        Function(
            "t_set_disable_6xx",
            args=(var_int("mode"),),
            routes=RouteType.REQUEST | RouteType.TM_ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="Turn off/on 6xx replies special rfc conforming handling on a per transaction...",
            returns="",
        ),
        Function(
            "t_set_disable_internal_reply",
            args=(var_int("mode"),),
            routes=RouteType.REQUEST | RouteType.TM_ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="Turn off/on sending internally a SIP reply in case of relay errors.",
            returns="",
        ),
        Function(
            "t_branch_timeout",
            routes=RouteType.FAILURE | RouteType.EVENT,
            doc="Returns true if the failure route is executed for a branch that did timeout.",
            returns="",
        ),
        Function(
            "t_branch_replied",
            routes=RouteType.FAILURE | RouteType.EVENT,
            doc="Returns true if the failure route is executed for a branch that did receive at...",
            returns="",
        ),
        Function(
            "t_any_timeout",
            routes=RouteType.REQUEST | RouteType.TM_ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="Returns true if at least one of the current transactions branches did timeout.",
            returns="",
        ),
        Function(
            "t_any_replied",
            routes=RouteType.REQUEST | RouteType.TM_ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="Returns true if at least one of the current transactions branches did receive...",
            returns="",
        ),
        Function(
            "t_is_canceled",
            routes=RouteType.REQUEST | RouteType.TM_ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="Returns true if the current transaction was canceled.",
            returns="",
        ),
        Function(
            "t_grep_status",
            args=(var_int("code"),),
            routes=RouteType.REQUEST | RouteType.TM_ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc='Returns true if "code" is the final reply received (or locally generated) in at...',
            returns="",
        ),
        Function(
            "t_check_trans",
            routes=RouteType.REQUEST | RouteType.ONREPLY | RouteType.BRANCH,
            doc="t_check_trans() can be used to quickly check if a message belongs or is related...",
            returns="",
        ),
        Function(
            "t_is_set",
            args=(Arg("target", ArgKind.STR),),
            routes=RouteType.ANY,
            doc="Return true if the attribute specified by 'target' is set for transaction.",
            returns="",
        ),
        Function(
            "t_uac_send",
            args=(
                Arg("method", ArgKind.FMT),
                Arg("ruri", ArgKind.FMT),
                Arg("nexthop", ArgKind.FMT),
                Arg("socket", ArgKind.FMT),
                Arg("headers", ArgKind.FMT),
                Arg("body", ArgKind.FMT),
            ),
            routes=RouteType.ANY,
            doc="Send a UAC request.",
            returns="",
        ),
        *MATCH_LIFETIME_FUNCTIONS,
        *REPLY_FUNCTIONS,
        Function(
            "t_get_status_code",
            routes=RouteType.REQUEST | RouteType.ONREPLY | RouteType.FAILURE | RouteType.BRANCH,
            doc="Return the status code for transaction - the most relevant SIP reply status...",
            returns="",
        ),
    ),
    rpc=(
        RpcMethod("tm.stats", "rpc_stats", doc="Print transaction statistics."),
        RpcMethod("tm.t_uac_start", "rpc_t_uac_start", params_fault=UAC_SCAN_FAULT, past_unread_optional=True,
                  doc="starts a tm uac using  a list of string parameters: method, ruri, dst_uri, send_sock, "
                  "headers (CRLF separated) and body (optional)"),
        RpcMethod("tm.t_uac_wait", "rpc_t_uac_wait", array=True, params_fault=UAC_SCAN_FAULT,
                  past_unread_optional=True,
                  doc="starts a tm uac and waits for the final reply, using a list of string parameters: "
                  "method, ruri, dst_uri send_sock, headers (CRLF separated) and body (optional)"),
        RpcMethod("tm.t_uac_wait_block", "rpc_t_uac_wait_block", params_fault=UAC_SCAN_FAULT,
                  past_unread_optional=True,
                  doc="starts a tm uac and waits for the final reply in blocking mode, using a list of "
                  "string parameters: method, ruri, dst_uri send_sock, headers (CRLF separated) and body "
                  "(optional)"),
        *TRANSACTION_RPCS,
    ),
    event_routes=(
        EventRoute("tm:branch-failure:<name>",
                   doc="run for each negative final reply of a branch (a local 408 on timeout too) sent "
                       "after t_on_branch_failure(\"<name>\"), before tm decides whether the transaction "
                       "is complete; the failed branch is the one at hand (t_check_status(), $T_reply_code, "
                       "$T_rpl()); t_relay() there adds branches"),
        *REPLY_EVENT_ROUTES,
    ),
    not_implemented=NOT_IMPLEMENTED,
    offers=(Offer("tm", TmAPI, doc="new requests (t_request) and requests within a dialog (t_uac, "
                                   "t_request_within), transaction callbacks (register_tmcb), the "
                                   "transaction of the message at hand (t_gett), transactions by Call-ID, "
                                   "the transaction counters"),),
    factory=TmModule,
)
