"""Path header insertion for intermediate proxies (RFC 3327), and routing by its received parameter."""

from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Need, ObAPI, Param, RouteType, RrAPI

from .path import PathModule

_USER = Arg("user", ArgKind.FMT)
_PARAMS = Arg("parameters", ArgKind.FMT)

EXPORTS = Exports(
    name="path",
    doc="Path header insertion for intermediate proxies (RFC 3327), and routing by its received parameter.",
    params=(
        Param("use_received", (int,), 0,
              doc="1: loose_route() sets the destination URI from the `received` parameter of our Route URI "
                  "(needs rr)"),
        Param("received_format", (int,), 0,
              doc="0: `received=sip:IP:PORT` with `;transport=` escaped (`%3Btransport%3Dtcp`); "
                  "1: `received=IP~PORT~PROTO` (PROTO Kamailio's protocol number, as nathelper's alias)"),
        Param("enable_r2", (int,), 0,
              doc="1: two Path headers, with `;r2=on`: one for the outgoing socket, one for the incoming"),
        Param("sockname_mode", (int,), 0,
              doc="1: the Path URI carries the sending socket's name in `;sn=` (when the socket has one)"),
        Param("received_name", (str,), "received", doc="the name of the received parameter"),
    ),
    functions=(
        Function(
            "add_path",
            args=(_USER, _PARAMS),
            min_args=0,
            routes=RouteType.REQUEST,
            doc="Insert a Path header `<sip:[user@]ADDRESS;lr[;parameters]>` with the outgoing socket's "
                "address; without arguments, with outbound loaded and used for the request, the user is "
                "the RFC 5626 flow token and `;ob` is added on the first hop.",
            returns="1; -1 on an error",
        ),
        Function(
            "add_path_received",
            args=(_USER, _PARAMS),
            min_args=0,
            routes=RouteType.REQUEST,
            doc="As add_path(), with the address the request came from in the `received` parameter.",
            returns="1; -1 on an error",
        ),
    ),
    needs=(
        Need("rr", RrAPI, optional=True, doc="the rr callback for use_received"),
        Need("outbound", ObAPI, optional=True, doc="flow tokens and `;ob` in add_path()/add_path_received()"),
    ),
    factory=PathModule,
)
