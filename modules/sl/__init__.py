"""Stateless replies: sl_send_reply(), send_reply() and the sl: reply statistics."""

from __future__ import annotations

from kampy.api import (
    Arg,
    ArgKind,
    Exports,
    Function,
    Need,
    Offer,
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
    Unimplemented("function", "send_reply_mode", "not implemented yet"),
    Unimplemented("function", "sl_forward_reply", "not implemented yet"),
    Unimplemented("pvar", "ltt", "not implemented yet"),
    Unimplemented("event_route", "sl:filtered-ack", "not implemented yet"),
    Unimplemented("event_route", "sl:local-response", "not implemented yet"),
)


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
            args=(Arg("code", ArgKind.INT), Arg("reason", ArgKind.FMT, var_fixup="pve")),
            routes=RouteType.REQUEST,
            doc="For the current request, a reply is sent back having the given code and text...",
            returns="1 when sent, -1 on error",
        ),
        Function(
            "sl_reply",
            handler="sl_send_reply",
            args=(Arg("code", ArgKind.INT), Arg("reason", ArgKind.FMT, var_fixup="pve")),
            routes=RouteType.REQUEST,
            doc="Alias of sl_send_reply().",
            returns="",
        ),
        Function(
            "send_reply",
            args=(Arg("code", ArgKind.INT), Arg("reason", ArgKind.FMT, var_fixup="pve")),
            routes=RouteType.REQUEST | RouteType.ONREPLY | RouteType.FAILURE,
            doc="For the current request, a reply is sent back having the given code and text...",
            returns="1 when sent, -1 on error",
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
    rpc=(RpcMethod("sl.stats", "rpc_stats", doc="Print reply statistics."),),
    not_implemented=NOT_IMPLEMENTED,
    offers=(Offer("sl", SlAPI, doc="stateless replies: reply(), send_reply(), to_tag()"),),
    needs=(Need("tm", TmAPI, optional=True,
                doc="send_reply() replies in the transaction when tm has one (bind_tm)"),),
    factory=SlModule,
)
