"""Transaction extensions: the $T_* pseudo-variables, tmx functions and transaction statistics."""

from __future__ import annotations

from kampy.api import (
    Arg,
    ArgKind,
    Exports,
    Function,
    Need,
    PVClass,
    RouteType,
    Stat,
    TmAPI,
    Unimplemented,
)

from .tmx import STAT_NAMES, TmxModule


# What Kamailio 5.6's tmx module has that kampy's does not (checked against Kamailio's
# own tables by tests/test_module_completeness.py); `kampy check` warns where a config uses one.
NOT_IMPLEMENTED = (
    Unimplemented("param", "precheck_trans", "not implemented yet", default=1, types=(int,)),
    Unimplemented("function", "t_cancel_branches", "not implemented yet"),
    Unimplemented("function", "t_flush_xflags", "not implemented yet"),
    Unimplemented("function", "t_suspend", "not implemented yet"),
    Unimplemented("function", "t_continue", "not implemented yet"),
    Unimplemented("function", "t_reuse_branch", "not implemented yet"),
    Unimplemented("function", "t_drop", "not implemented yet"),
    Unimplemented("pvar", "T", "not implemented yet"),
    Unimplemented("pvar", "T_branch", "not implemented yet"),
    Unimplemented("pvar", "T_reply_ruid", "not implemented yet"),
)


EXPORTS = Exports(
    name="tmx",
    doc="Transaction extensions: the $T_* pseudo-variables, tmx functions and transaction statistics.",
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
    ),
    not_implemented=NOT_IMPLEMENTED,
    needs=(Need("tm", TmAPI, doc="the transaction state behind $T_* and the tmx functions, its counters"),),
    factory=TmxModule,
)
