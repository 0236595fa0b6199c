"""Sanity checks of incoming SIP requests."""

from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Need, Offer, Param, RouteType, SanityAPI, SlAPI

from .sanity import SanityModule

EXPORTS = Exports(
    name="sanity",
    doc="Sanity checks of incoming SIP requests.",
    params=(
        Param("default_checks", (int,), 3047),
        Param("uri_checks", (int,), 7),
        Param("proxy_require", (str,), ""),
        Param("autodrop", (int,), 1),
        Param("noreply", (int,), 0),
    ),
    functions=(
        Function(
            "sanity_check",
            args=(Arg("msg_checks", ArgKind.INT), Arg("uri_checks", ArgKind.INT)),
            min_args=0,
            routes=RouteType.REQUEST | RouteType.ONREPLY,
            doc="This function makes a row of sanity checks over the given SIP request.",
            returns="",
        ),
        Function(
            "sanity_reply",
            routes=RouteType.REQUEST | RouteType.ONREPLY,
            doc="Send a SIP reply using the code and reason text set internally by the module...",
            returns="",
        ),
    ),
    needs=(Need("sl", SlAPI, doc="the replies to requests that fail a check"),),
    offers=(Offer("sanity", SanityAPI, doc="the default checks of a request (topoh's sanity_checks)"),),
    factory=SanityModule,
)
