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
    Unimplemented,
    XhttpAPI,
)

from .impl import XHttp


# What Kamailio 5.6's xhttp module has that kampy's does not (checked against Kamailio's
# own tables by tests/test_module_completeness.py); `kampy check` warns where a config uses one.
NOT_IMPLEMENTED = (
    Unimplemented("transform", "url", "not implemented yet"),
)


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
    not_implemented=NOT_IMPLEMENTED,
    offers=(Offer("xhttp", XhttpAPI, doc="answering the HTTP request of the event route"),),
    factory=XHttp,
)
