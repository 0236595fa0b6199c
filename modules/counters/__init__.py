"""counters: script counters and the cnt.* RPCs over every counter (statistic) of the server."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, RouteType, RpcMethod

from .counters import Counters

_ROUTES = RouteType.REQUEST | RouteType.ONREPLY | RouteType.FAILURE | RouteType.ONSEND


def _counter() -> Arg:
    return Arg("[group.]name", ArgKind.STR, fixup="fix_counter",
               doc="a counter declared with script_counter (or any statistic, as group.name)")


EXPORTS = Exports(
    name="counters",
    doc="Script counters (the script_counter parameter, cnt_inc/cnt_add/cnt_reset) and the cnt.* RPCs "
        "over every counter of the server; the counters are statistics, so stats.get_statistics "
        "shows them.",
    params=(
        Param("script_cnt_grp_name", (str,), "script",
              doc="the group of the counters script_counter declares without one"),
        Param("script_counter", (str,), None, multi=True,
              doc="a counter: `[group.]name[( |:)description]`"),
    ),
    functions=(
        Function("cnt_inc", args=(_counter(),), routes=_ROUTES, returns="1",
                 doc="Adds 1 to the counter."),
        Function("cnt_add", args=(_counter(), Arg("number", ArgKind.INT, doc="integer or pseudo-variable")),
                 routes=_ROUTES, returns="1; -1 when the number is not an integer",
                 doc="Adds the number to the counter."),
        Function("cnt_reset", args=(_counter(),), routes=_ROUTES, returns="1",
                 doc="Sets the counter to 0."),
    ),
    rpc=(
        RpcMethod("cnt.get", "rpc_get", doc="get counter value (takes group and counter name as parameters)"),
        RpcMethod("cnt.reset", "rpc_reset", doc="reset counter (takes group and counter name as parameters)"),
        RpcMethod("cnt.get_raw", "rpc_get_raw", doc="get raw counter value (debugging version)"),
        RpcMethod("cnt.list_groups", "rpc_list_groups", doc="list all the counter group names", array=True),
        RpcMethod("cnt.grps_list", "rpc_list_groups", doc="list all the counter group names", array=True),
        RpcMethod("cnt.list_vars", "rpc_list_vars", doc="list all the counters names in a specified group",
                  array=True),
        RpcMethod("cnt.var_list", "rpc_list_vars", doc="list all the counters names in a specified group",
                  array=True),
        RpcMethod("cnt.get_vars", "rpc_grp_get_all",
                  doc="list all counter names and values in a specified group"),
        RpcMethod("cnt.grp_get_all", "rpc_grp_get_all",
                  doc="list all counter names and values in a specified group"),
        RpcMethod("cnt.help", "rpc_help",
                  doc="print the description of a counter (group and counter name required)."),
    ),
    factory=Counters,
)
