"""Stateless replies: sl_send_reply(), send_reply() and the sl: reply statistics."""

from __future__ import annotations

from kampy.api import (
    Arg,
    ArgKind,
    EventRoute,
    Exports,
    Function,
    Need,
    Offer,
    PVClass,
    Param,
    RouteType,
    RpcMethod,
    SlAPI,
    Stat,
    TmAPI,
    Unimplemented,
)

from .sl import SlModule


# What Kamailio 5.6's sl module has that kampy's does not (checked against Kamailio's
# own tables by tests/test_module_completeness.py); `kampy check` warns where a config uses one.
KEMI_ONLY = ("a KEMI function run for the event; kampy runs kamailio.cfg scripts only (no KEMI engine), "
             "where Kamailio does not run it either")
NOT_IMPLEMENTED = (
    Unimplemented("param", "event_callback_fl_ack", KEMI_ONLY,
                  default=None, types=(str,)),
    Unimplemented("param", "event_callback_lres_sent", KEMI_ONLY,
                  default=None, types=(str,)),
)


# fixup_sl_reply: fixup_var_int_12 and fixup_var_pve_str_12
CODE = Arg("code", ArgKind.INT, var_fixup="int_or_default")
REASON = Arg("reason", ArgKind.FMT, var_fixup="pve")

EXPORTS = Exports(
    name="sl",
    doc="Stateless replies: sl_send_reply(), send_reply() and the sl: reply statistics.",
    params=(
        Param("default_code", (int,), 500),
        Param("default_reason", (str,), "Internal Server Error"),
        Param("bind_tm", (int,), 1, doc="1: send_reply() replies statefully when tm has a transaction "
                                        "for the request; 0: always statelessly"),
        Param("rich_redirect", (int,), 0),
    ),
    functions=(
        Function(
            "sl_send_reply",
            args=(CODE, REASON),
            routes=RouteType.REQUEST,
            doc="For the current request, a reply is sent back having the given code and text...",
            returns="1 when sent, -1 on error",
        ),
        Function(
            "sl_reply",
            handler="sl_send_reply",
            args=(CODE, REASON),
            routes=RouteType.REQUEST,
            doc="Alias of sl_send_reply().",
            returns="",
        ),
        Function(
            "send_reply",
            args=(CODE, REASON),
            routes=RouteType.REQUEST | RouteType.ONREPLY | RouteType.FAILURE,
            doc="For the current request, a reply is sent back having the given code and text...",
            returns="1 when sent, -1 on error",
        ),
        Function(
            "send_reply_mode",
            args=(CODE, REASON,
                  Arg("mode", ArgKind.INT)),
            routes=RouteType.REQUEST | RouteType.ONREPLY | RouteType.FAILURE,
            doc="send_reply() with a mode: 1 do not connect to send the reply (as "
                "set_reply_no_connect()), 2 close the connection after sending it (as set_reply_close()); "
                "as in Kamailio, 1 wins when both bits are set",
            returns="1 when sent, -1 on error",
        ),
        Function(
            "sl_forward_reply",
            args=(Arg("code", ArgKind.FMT), Arg("reason", ArgKind.FMT)),
            min_args=0,
            routes=RouteType.ONREPLY,
            doc="Forward statelessly the current received SIP reply, with the option to change the status "
                "code (in the same class) and reason text; the core still forwards the received reply "
                "after the route unless it drops it",
            returns="1 when sent, -1 on error (not a reply, another class, no second Via)",
        ),
        Function(
            "sl_reply_error",
            routes=RouteType.REQUEST,
            doc="Sends back an error reply describing the nature of the last internal error.",
            returns="",
        ),
    ),
    stats=(
        Stat("1xx_replies"),
        Stat("200_replies"),
        Stat("202_replies"),
        Stat("2xx_replies"),
        Stat("300_replies"),
        Stat("301_replies"),
        Stat("302_replies"),
        Stat("3xx_replies"),
        Stat("400_replies"),
        Stat("401_replies"),
        Stat("403_replies"),
        Stat("404_replies"),
        Stat("407_replies"),
        Stat("408_replies"),
        Stat("483_replies"),
        Stat("4xx_replies"),
        Stat("500_replies"),
        Stat("5xx_replies"),
        Stat("6xx_replies"),
        Stat("xxx_replies"),
        Stat("sent_replies"),
        Stat("sent_err_replies"),
        Stat("failures"),
        Stat("received_ACKs"),
    ),
    pvars=(
        PVClass("ltt", arg="required",
                doc="$ltt(x): the To-tag of the local reply (tm's with a transaction, else sl's); "
                    "$ltt(s): sl's; $ltt(t): tm's (null without a transaction)"),
    ),
    event_routes=(
        EventRoute("sl:filtered-ack", doc="runs when an ACK to a local stateless reply is absorbed, "
                                          "with the ACK as the message"),
        EventRoute("sl:local-response", doc="runs after sl sent a local reply, with the reply as the "
                                            "message"),
    ),
    rpc=(RpcMethod("sl.stats", "rpc_stats", doc="Print reply statistics."),),
    not_implemented=NOT_IMPLEMENTED,
    offers=(Offer("sl", SlAPI, doc="stateless replies: reply(), send_reply(), to_tag()"),),
    needs=(Need("tm", TmAPI, optional=True,
                doc="send_reply() replies in the transaction when tm has one (bind_tm)"),),
    factory=SlModule,
)
