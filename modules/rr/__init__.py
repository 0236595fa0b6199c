"""Record-Route and loose routing."""

from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Need, ObAPI, Offer, PVClass, Param, RouteType, RrAPI

from .rr import RrModule

EXPORTS = Exports(
    name="rr",
    doc="Record-Route and loose routing.",
    params=(
        Param("append_fromtag", (int,), 1,
              doc="add `;ftag=` (the From tag; the To tag for an upstream in-dialog request) to the "
                  "Record-Route"),
        Param("enable_double_rr", (int,), 1,
              doc="1: two Record-Route headers (with `;r2=on`) when the request leaves from another "
                  "socket than it came in on; 2: always two; 0: never"),
        Param("enable_full_lr", (int,), 0, doc="write `;lr=on` instead of `;lr`"),
        Param("ignore_sips", (int,), 0, doc="1: always `sip:` in Record-Route, even for a `sips:` R-URI"),
        Param("add_username", (int,), 0, doc="1: record_route() puts the R-URI's user (or custom_user_avp's "
              "value) in the Record-Route URI"),
        Param("custom_user_avp", (str,), None, doc="an AVP whose string value add_username puts instead of "
              "the R-URI's user"),
        Param("enable_socket_mismatch_warning", (int,), 1,
              doc="1: a warning when no local socket matches our second Record-Route"),
        Param("sockname_mode", (int,), 0,
              doc="1: the Record-Route URI carries the socket's name in `;sn=` (when it has one), and "
                  "loose_route() sends from the socket an `sn` parameter of our Route URI names"),
        Param("force_send_socket", (int,), 0, doc="1: loose_route() sends from the socket our single "
              "Route URI names (double Record-Route always does)"),
    ),
    functions=(
        Function(
            "loose_route",
            routes=RouteType.REQUEST,
            doc="The function performs routing of SIP requests which contain a route set.",
            returns=('1: routed by the Route set ($du or R-URI set); -1: no Route header, no '
                'next hop found, or error; -3: a preloaded Route set that only named '
                'this server'),
        ),
        Function(
            "loose_route_preloaded",
            routes=RouteType.REQUEST,
            doc="The function is similar to `loose_route()`, but it returns 1 (true) when the...",
            returns='1 when loose_route() would return -3 (preloaded Route set), else -1',
        ),
        Function(
            "loose_route_mode",
            args=(Arg("vmode", ArgKind.INT),),
            routes=RouteType.REQUEST,
            doc="The function is similar to `loose_route()`, but it does only loose routing...",
            returns=('as loose_route(); with vmode 1 no strict-router handling (the R-URI is '
                'never taken as ours)'),
        ),
        Function(
            "record_route",
            args=(Arg("sparams", ArgKind.FMT),),
            min_args=0,
            routes=RouteType.REQUEST | RouteType.BRANCH | RouteType.FAILURE,
            doc="The function adds a new Record-Route header field.",
            returns='1; -1 on a second record_route for the same message or an error',
        ),
        Function(
            "record_route_preset",
            args=(Arg("string", ArgKind.FMT), Arg("string2", ArgKind.FMT)),
            min_args=1,
            routes=RouteType.REQUEST | RouteType.BRANCH | RouteType.FAILURE,
            doc="This function will put the string params into Record-Route, avoid to use it...",
            returns='1; -1 on a second record-route, or two addresses while enable_double_rr is 0',
        ),
        Function(
            "record_route_advertised_address",
            args=(Arg("address", ArgKind.FMT),),
            routes=RouteType.REQUEST | RouteType.BRANCH | RouteType.FAILURE,
            doc="Adds a Record-Route header with the given address (`host[:port]`) in place of the "
                "socket's, as record_route() does otherwise.",
            returns='1; -1 on a second record-route for the same message or an error',
        ),
        Function(
            "add_rr_param",
            args=(Arg("param", ArgKind.FMT),),
            routes=RouteType.REQUEST | RouteType.BRANCH | RouteType.FAILURE,
            doc="Adds a parameter to the Record-Route URI (param must be in ;name=value format.",
            returns='1',
        ),
        Function(
            "check_route_param",
            args=(Arg("re", ArgKind.REGEX),),
            routes=RouteType.REQUEST,
            doc="The function checks if the URI parameters of the local Route header...",
            returns='1 when the params of our Route URI (with the leading `;`) match, else -1',
        ),
        Function(
            "is_direction",
            args=(Arg("dir", ArgKind.FMT),),
            routes=RouteType.REQUEST,
            doc="The function checks the flow direction of in-dialog requests.",
            returns=('1 when the request goes in the given direction (ftag of our Route '
                'against the From tag), else -1'),
        ),
        Function(
            "remove_record_route",
            routes=RouteType.REQUEST | RouteType.FAILURE,
            doc="The function removes the internal lumps added by record_route() functions.",
            returns='1',
        ),
        Function(
            "rr_next_hop_route",
            routes=RouteType.ANY,
            doc="The function returns 1 (true) if there is a Route header for the next hop...",
            returns='1 when loose_route() took the next hop from a Route header after removing ours, else -1',
        ),
    ),
    pvars=(
        PVClass("route_uri"),  # pv_get_route_uri_f 0
        PVClass("fti"),  # pv_get_from_tag_initial 0
        PVClass("tti"),  # pv_get_to_tag_initial 0
        PVClass("rdir", arg="required"),  # pv_get_rdir pv_parse_rdir_name
    ),
    needs=(Need("outbound", ObAPI, optional=True,
                 doc="flow tokens in the Record-Route user part and routing by them (RFC 5626)"),),
    offers=(Offer("rr", RrAPI, doc="record-routing and the Route parameters (Kamailio's rr_binds)"),),
    factory=RrModule,
)
