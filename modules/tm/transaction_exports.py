"""The declarations (part of tm's EXPORTS) of matching and lifetime (t_match.py, t_lifetime.py), of
the RPCs on transactions (rpc_tm.py), of t_write_req/t_write_unix (t_fifo.py) and t_reply's
arguments with default_code/default_reason."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Function, Param, RouteType, RpcMethod

_IN_TRANSACTION = RouteType.REQUEST | RouteType.TM_ONREPLY | RouteType.FAILURE | RouteType.BRANCH
_TW_ARGS = (Arg("target", ArgKind.STR), Arg("info", ArgKind.STR, fixup="fix_tw_info"))

# t_reply(code, reason): a code or reason the function cannot get (an unset pseudo-variable, a
# pseudo-variable whose value is no integer) is tm's default_code / default_reason (fixup_var_int_12,
# _str_12)
REPLY_ARGS = (Arg("code", ArgKind.INT, var_fixup="int_or_default"),
              Arg("reason", ArgKind.FMT, var_fixup="str"))


def var_int(name: str) -> Arg:
    """An integer argument of fixup_var_int_1/_12 that the function needs: when a pseudo-variable
    does not give an integer, the function fails (get_int_fparam < 0: return -1)."""
    return Arg(name, ArgKind.INT, var_fixup="int")

MATCH_LIFETIME_PARAMS = (
    Param("ruri_matching", (int,), 1, doc="compare the Request-URI when matching pre-RFC 3261 requests"),
    Param("via1_matching", (int,), 1, doc="compare the top Via when matching pre-RFC 3261 requests"),
    Param("callid_matching", (int,), 0, doc="requests and replies must also have the transaction's Call-ID"),
    Param("callid_cseq_matching", (int,), 0,
          doc="replies are matched by Call-ID and CSeq instead of the md5 part of their Via branch"),
    Param("max_inv_lifetime", (int,), 180000, doc="ms an INVITE transaction may live (its branches' "
          "final response timers end by then)"),
    Param("max_noninv_lifetime", (int,), 32000, doc="ms a non-INVITE transaction may live"),
    Param("fr_timer_avp", (str,), "", doc="AVP whose value (in seconds) is the transaction's fr_timer"),
    Param("fr_inv_timer_avp", (str,), "",
          doc="AVP whose value (in seconds) is the transaction's fr_inv_timer"),
    Param("default_code", (int,), 500, doc="the code of t_reply() when it cannot get its code"),
    Param("default_reason", (str,), "Server Internal Error",
          doc="the reason of t_reply() when it cannot get its reason"),
    Param("tw_append", (str,), "", multi=True,
          doc="`name:element[;element]`, elements `[title=]avp[name]`, `hdr[name]`, `msg[body]`: lines "
              "t_write_req/t_write_unix add with `action/name`"),
    Param("unix_tx_timeout", (int,), 500, doc="ms t_write_unix() waits to send its datagram"),
)

MATCH_LIFETIME_FUNCTIONS = (
    Function("t_set_max_lifetime",
             args=(var_int("inv_lifetime"), var_int("noninv_lifetime")),
             routes=_IN_TRANSACTION,
             doc="Sets the maximum lifetime (ms) of the current or next INVITE / non-INVITE transaction; 0 "
                 "keeps the default for a transaction not created yet (for an existing one its life ends "
                 "now).",
             returns="1"),
    Function("t_reset_max_lifetime", routes=_IN_TRANSACTION,
             doc="Resets the maximum lifetime of the current or next transaction to max_inv_lifetime / "
                 "max_noninv_lifetime.",
             returns="1"),
    Function("t_is_expired", routes=_IN_TRANSACTION,
             doc="Returns true if the current transaction has already been expired, i.e. the max_inv_lifetime"
                 "/max_noninv_lifetime interval has already elapsed.",
             returns="1 when its lifetime is over, -1 when not or without a transaction"),
    Function("t_write_req", args=_TW_ARGS, routes=RouteType.REQUEST | RouteType.FAILURE,
             doc="Writes the request's fields to the FIFO `target` for an external application "
                 "(`info`: `action[/tw_append name]`) and waits fr_timer for its tm.reply.",
             returns="1, -1 when it cannot write (nobody reads the FIFO) or without a transaction"),
    Function("t_write_unix", args=_TW_ARGS, routes=RouteType.REQUEST | RouteType.FAILURE,
             doc="As t_write_req, to the unix datagram socket `target`.",
             returns="1, -1 when it cannot send"),
    Function("t_clean", routes=RouteType.ANY,
             doc="Cleans active but very old transactions (their lifetime ended more than 90 s ago).",
             returns="1"),
)

TRANSACTION_RPCS = (
    RpcMethod("tm.list", "rpc_list", array=True, doc="List transactions."),
    RpcMethod("tm.hash_stats", "rpc_hash_stats", doc="Prints hash table statistics (can be used only "
              "if tm is compiled with -DTM_HASH_STATS)."),
    RpcMethod("tm.clean", "rpc_clean", doc="Clean expired (lifetime exceeded) transactions."),
    RpcMethod("tm.cancel", "rpc_cancel", params_fault=(400, "Callid and CSeq expected as parameters"),
              doc="Cancel a pending transaction"),
    RpcMethod("tm.reply", "rpc_reply", doc="Reply transaction"),
    RpcMethod("tm.reply_callid", "rpc_reply_callid", doc="Reply transaction by call-id"),
)
