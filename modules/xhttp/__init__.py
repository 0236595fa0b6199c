"""Basic HTTP request handling in the config (event_route[xhttp:request])."""

from __future__ import annotations

from kampy.api import (
    Arg,
    ArgKind,
    EventRoute,
    Exports,
    Function,
    Offer,
    PVClass,
    Param,
    RouteType,
    TransformClass,
    XhttpAPI,
)

from .impl import XHttp


EXPORTS = Exports(
    name="xhttp",
    doc="Basic HTTP request handling in the config (event_route[xhttp:request]).",
    params=(
        Param("url_match", (str,), None),
        Param("url_skip", (str,), None),
        Param("event_callback", (str,), None),
    ),
    functions=(
        Function(
            "xhttp_reply",
            args=(
                Arg("code", ArgKind.FMT),
                Arg("reason", ArgKind.FMT),
                Arg("ctype", ArgKind.FMT),
                Arg("body", ArgKind.FMT),
            ),
            routes=RouteType.REQUEST,
            doc="Send back a reply with content-type and body.",
            returns="",
        ),
    ),
    pvars=(
        PVClass("hu"),  # pv_get_huri 0
    ),
    event_routes=(
        EventRoute("xhttp:request", doc="runs for each HTTP request kampy accepts on a SIP TCP port "
                                        "(url_match/url_skip filter them), with the request as the message"),
    ),
    transforms=(TransformClass("url", ("path", "querystring"), handler="tr_url"),),
    offers=(Offer("xhttp", XhttpAPI, doc="answering the HTTP request of the event route"),),
    factory=XHttp,
)
