"""Transaction extensions: the $T_* pseudo-variables, tmx functions and transaction statistics."""

from __future__ import annotations

from kampy.api import (
    Arg,
    ArgKind,
    Exports,
    Function,
    Need,
    Param,
    PVClass,
    RouteType,
    Stat,
    TmAPI,
)

from .tmx import STAT_NAMES, TmxModule


EXPORTS = Exports(
    name="tmx",
    doc="Transaction extensions: the $T_* pseudo-variables, tmx functions and transaction statistics.",
    params=(
        Param("precheck_trans", (int,), 1,
              doc="keep the table of requests being handled that t_precheck_trans() looks in (0: "
                  "t_precheck_trans() logs an error and returns -2)"),
    ),
    functions=(
        Function("t_precheck_trans", routes=RouteType.REQUEST,
                 doc="True when the transaction of this request exists already (here or in another "
                     "worker): the request is a retransmission being handled.",
                 returns="1 when known, -1 otherwise"),
        Function("t_cancel_callid",
                 args=(Arg("callid", ArgKind.FMT), Arg("cseq", ArgKind.FMT), Arg("fl", ArgKind.INT),
                       Arg("rcode", ArgKind.INT)),
                 min_args=3, doc="Cancel the pending branches of the INVITE transaction with this "
                                 "Call-ID and CSeq number.", returns="1 when found, -1 otherwise"),
        Function("t_reply_callid",
                 args=(Arg("callid", ArgKind.FMT), Arg("cseq", ArgKind.FMT), Arg("code", ArgKind.INT),
                       Arg("reason", ArgKind.FMT)),
                 doc="Reply the transaction with this Call-ID and CSeq number.",
                 returns="1 when replied, -1 otherwise"),
        Function("t_flush_flags", doc="Store the message flags in the current transaction.", returns="1"),
        Function("t_flush_xflags", doc="Store the extended message flags (setxflag) in the current "
                 "transaction.", returns="1, -1 without a transaction"),
        Function("t_cancel_branches", args=(Arg("which", ArgKind.STR, fixup="fix_cancel_mode"),),
                 routes=RouteType.ONREPLY,
                 doc="Cancel branches of the INVITE transaction from onreply_route: all (all but this "
                     "one on a final reply), others (all but this one), this (as Kamailio 5.6.3: every "
                     "pending branch on a provisional reply, none on a final one).",
                 returns="1 when some were cancelled (this: also on a final reply), -1 otherwise"),
        Function("t_drop", args=(Arg("rcode", ArgKind.INT),), min_args=0,
                 doc="Set the transaction's status to rcode (500 by default) without replying and release "
                     "it; the script stops.", returns="0 (stop), -1 without a transaction"),
        Function("t_suspend", routes=RouteType.ANY,
                 doc="Suspend the request's transaction (made when there is none): its id is then "
                     "$T(id_index) and $T(id_label); an INVITE gets a 100 Trying; the fr timer keeps "
                     "running (a 408 when nobody continues it). In onreply_route the reply is kept "
                     "and relayed once t_continue() ran. Not for a faked request.",
                 returns="1 when suspended (also for a canceled transaction), -1 on error"),
        Function("t_continue",
                 args=(Arg("tindex", ArgKind.INT), Arg("tlabel", ArgKind.INT), Arg("rtname", ArgKind.FMT)),
                 routes=RouteType.ANY,
                 doc="Continue the suspended transaction tindex:tlabel with route[rtname], run as a "
                     "failure_route with the suspended request (its changes kept); from any worker, "
                     "an rtimer process or an RPC (the call goes to the worker that owns the "
                     "transaction).",
                 returns="1 when continued (or nothing was left to continue), -1 when not found, "
                         "not suspended or route[rtname] does not exist"),
        Function("t_reuse_branch", routes=RouteType.EVENT,
                 doc="In event_route[tm:branch-failure:...]: the failed branch (its R-URI, ruid, path, "
                     "instance, branch flags) becomes the request's main branch again, so that t_relay() "
                     "sends it anew.",
                 returns="1, -1 elsewhere or without a transaction"),
        Function("t_is_failure_route", doc="True in failure_route.", returns="1 or -1"),
        Function("t_is_branch_route", doc="True in branch_route.", returns="1 or -1"),
        Function("t_is_reply_route", doc="True in onreply_route.", returns="1 or -1"),
        Function("t_is_request_route", doc="True in request_route.", returns="1 or -1"),
    ),
    stats=tuple(Stat(name) for name in STAT_NAMES),
    pvars=(
        PVClass("T_branch_idx", doc="index of the branch being processed"),
        PVClass("T_reply_code", doc="code of the winning reply"),
        PVClass("T_reply_reason", doc="reason phrase of the winning reply"),
        PVClass("T_reply_last", doc="code of the last received reply"),
        PVClass("T_inv", arg="required", doc="a PV evaluated on the INVITE of a CANCEL"),
        PVClass("T_req", arg="required", doc="a PV evaluated on the transaction's request"),
        PVClass("T_rpl", arg="required", doc="a PV evaluated on the winning reply"),
        PVClass("T", arg="required", doc="the transaction: id_label, id_index, id_label_n, id_index_n "
                "(create it when missing), reply_code, reply_reason, reply_type, branch_index"),
        PVClass("T_branch", arg="required", doc="the branch at hand: flags, uri (onreply_route), ruid"),
        PVClass("T_reply_ruid", doc="the ruid of the branch of the reply (failure_route, onreply_route)"),
    ),
    needs=(Need("tm", TmAPI, doc="the transaction state behind $T_* and the tmx functions, its counters"),),
    factory=TmxModule,
)
