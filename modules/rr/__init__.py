"""Record-Route and loose routing."""

from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, PVClass, RouteType

EXPORTS = Exports(
    name="rr",
    doc="Record-Route and loose routing.",
    params=(
        Param("append_fromtag", (int,), 1, implemented=False),
        Param("enable_double_rr", (int,), 1, implemented=False),
        Param("enable_full_lr", (int,), 0, implemented=False),
        Param("ignore_user", (str,), None, implemented=False),
        Param("add_username", (int,), 0, implemented=False),
        Param("enable_socket_mismatch_warning", (int,), 1, implemented=False),
        Param("custom_user_avp", (str,), None, implemented=False),
        Param("force_send_socket", (int,), 0, implemented=False),
        Param("ignore_sips", (int,), 0, implemented=False),
        Param("sockname_mode", (int,), 0, implemented=False),
    ),
    functions=(
        Function(
            "loose_route",
            routes=RouteType.REQUEST,
            doc="The function performs routing of SIP requests which contain a route set.",
            returns="",
        ),
        Function(
            "loose_route_preloaded",
            routes=RouteType.REQUEST,
            doc="The function is similar to `loose_route()`, but it returns 1 (true) when the...",
            returns="",
        ),
        Function(
            "loose_route_mode",
            args=(Arg("vmode", ArgKind.INT),),
            routes=RouteType.REQUEST,
            doc="The function is similar to `loose_route()`, but it does only loose routing...",
            returns="",
        ),
        Function(
            "record_route",
            args=(Arg("sparams", ArgKind.FMT),),
            min_args=0,
            routes=RouteType.REQUEST | RouteType.BRANCH | RouteType.FAILURE,
            doc="The function adds a new Record-Route header field.",
            returns="",
        ),
        Function(
            "record_route_preset",
            args=(Arg("string", ArgKind.FMT), Arg("string2", ArgKind.FMT)),
            min_args=1,
            routes=RouteType.REQUEST | RouteType.BRANCH | RouteType.FAILURE,
            doc="This function will put the string params into Record-Route, avoid to use it...",
            returns="",
        ),
        Function(
            "record_route_advertised_address",
            args=(Arg("address", ArgKind.FMT),),
            routes=RouteType.REQUEST | RouteType.BRANCH | RouteType.FAILURE,
            doc="The function adds a new Record-Route header field using the address given.",
            returns="",
        ),
        Function(
            "add_rr_param",
            args=(Arg("param", ArgKind.FMT),),
            routes=RouteType.REQUEST | RouteType.BRANCH | RouteType.FAILURE,
            doc="Adds a parameter to the Record-Route URI (param must be in ;name=value format.",
            returns="",
        ),
        Function(
            "check_route_param",
            args=(Arg("re", ArgKind.REGEX),),
            routes=RouteType.REQUEST,
            doc="The function checks if the URI parameters of the local Route header...",
            returns="",
        ),
        Function(
            "is_direction",
            args=(Arg("dir", ArgKind.FMT),),
            routes=RouteType.REQUEST,
            doc="The function checks the flow direction of in-dialog requests.",
            returns="",
        ),
        Function(
            "remove_record_route",
            routes=RouteType.REQUEST | RouteType.FAILURE,
            doc="The function removes the internal lumps added by record_route() functions.",
            returns="",
        ),
        Function(
            "rr_next_hop_route",
            routes=RouteType.ANY,
            doc="The function returns 1 (true) if there is a Route header for the next hop...",
            returns="",
        ),
    ),
    pvars=(
        PVClass("route_uri"),  # pv_get_route_uri_f 0
        PVClass("fti"),  # pv_get_from_tag_initial 0
        PVClass("tti"),  # pv_get_to_tag_initial 0
        PVClass("rdir", arg="required"),  # pv_get_rdir pv_parse_rdir_name
    ),
    factory=None,
)
