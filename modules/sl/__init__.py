"""Stateless replies: sl_send_reply(), send_reply() and the sl: reply statistics."""

from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, RouteType, RpcMethod, Stat

from .sl import SlModule

EXPORTS = Exports(
    name="sl",
    doc="Stateless replies: sl_send_reply(), send_reply() and the sl: reply statistics.",
    params=(
        Param("default_code", (int,), 500),
        Param("default_reason", (str,), "Internal Server Error"),
        Param("bind_tm", (int,), 1, implemented=False),
        Param("rich_redirect", (int,), 0),
        Param("event_callback_fl_ack", (str,), None, implemented=False),
        Param("event_callback_lres_sent", (str,), None, implemented=False),
    ),
    functions=(
        Function(
            "sl_send_reply",
            args=(Arg("code", ArgKind.INT), Arg("reason", ArgKind.FMT)),
            routes=RouteType.REQUEST,
            doc="For the current request, a reply is sent back having the given code and text...",
            returns="1 when sent, -1 on error",
        ),
        Function(
            "sl_reply",
            handler="sl_send_reply",
            args=(Arg("code", ArgKind.INT), Arg("reason", ArgKind.FMT)),
            routes=RouteType.REQUEST,
            doc="Alias of sl_send_reply().",
            returns="",
        ),
        Function(
            "send_reply",
            args=(Arg("code", ArgKind.INT), Arg("reason", ArgKind.FMT)),
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
    rpc=(RpcMethod("sl.stats", "rpc_stats"),),
    factory=SlModule,
)
