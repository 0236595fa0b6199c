"""Max-Forwards header processing."""

from __future__ import annotations

from kampy.api import Arg, ArgKind, CfgGroup, CfgVar, Exports, Function, Param, RouteType

from .maxfwd import MaxfwdModule

# fixup_var_int_1: a pseudo-variable that gives no integer makes the function fail
MAX_VALUE = Arg("max_value", ArgKind.INT, var_fixup="int")

EXPORTS = Exports(
    name="maxfwd",
    doc="Max-Forwards header processing.",
    params=(Param("max_limit", (int,), 70),),
    cfg=CfgGroup("maxfwd", (CfgVar("max_limit", "int", "Max. maxfwd limit", min=0, max=255),)),
    functions=(
        Function(
            "maxfwd_process",
            args=(MAX_VALUE,),
            routes=RouteType.REQUEST,
            doc="If no Max-Forward header is present in the received request, a header will be...",
            returns="",
        ),
        Function(
            "mf_process_maxfwd_header",
            args=(MAX_VALUE,),
            routes=RouteType.REQUEST,
            doc="Same as maxfwd_process(max_value).",
            returns="",
        ),
        Function(
            "process_maxfwd",
            args=(MAX_VALUE,),
            routes=RouteType.REQUEST,
            doc="Same as maxfwd_process(max_value).",
            returns="",
        ),
        Function(
            "is_maxfwd_lt",
            args=(MAX_VALUE,),
            routes=RouteType.REQUEST | RouteType.FAILURE | RouteType.BRANCH,
            doc="Checks if the Max-Forward header value is less then the max_value parameter...",
            returns="",
        ),
        Function(
            "maxfwd_at_least",
            args=(MAX_VALUE,),
            routes=RouteType.REQUEST | RouteType.FAILURE | RouteType.BRANCH,
            doc="Same as is_maxfwd_lt(max_value).",
            returns="",
        ),
        Function(
            "mf_lowlimit",
            args=(MAX_VALUE,),
            routes=RouteType.REQUEST | RouteType.FAILURE | RouteType.BRANCH,
            doc="Same as is_maxfwd_lt(max_value).",
            returns="",
        ),
    ),
    factory=MaxfwdModule,
)
