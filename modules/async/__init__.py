"""async: suspend a request's processing and resume it later or in an asynchronous task."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Need, Param, PVClass, RouteType, TmAPI

from .impl import AsyncModule

SUSPENDING = RouteType.REQUEST | RouteType.FAILURE
ROUTE = Arg("routename", ArgKind.FMT, doc="the route block that continues the processing")

EXPORTS = Exports(
    name="async",
    doc="Asynchronous operations for SIP requests: the request's transaction is suspended and its "
        "processing continues later (async_route, async_sleep and their millisecond forms) or in "
        "an asynchronous task (async_task_route, with the core's async_workers); data can be "
        "handed to a task route too (async_task_data, $async(data)).",
    params=(
        Param("workers", (int,), 1,
              doc="timer workers for async_route()/async_sleep(); 0 turns those functions off"),
        Param("ms_timer", (int,), 0,
              doc="resolution in milliseconds of async_ms_route()/async_ms_sleep(); 0 turns them off"),
        Param("return", (int,), 0,
              doc="what a suspending function returns on success (0: the script stops there)"),
    ),
    functions=(
        Function("async_route", args=(ROUTE, Arg("seconds", ArgKind.INT)), routes=SUSPENDING,
                 doc="Suspend the request and continue it with route[routename] after the seconds "
                     "(1 to 99).",
                 returns="the `return` parameter (0: stop the script), -1 on error"),
        Function("async_ms_route", args=(ROUTE, Arg("milliseconds", ArgKind.INT)), routes=SUSPENDING,
                 doc="As async_route(), in milliseconds (at most 30000; needs ms_timer).",
                 returns="the `return` parameter (0: stop the script), -1 on error"),
        Function("async_sleep", args=(Arg("seconds", ArgKind.INT),), routes=SUSPENDING, continuation=True,
                 doc="Suspend the request and continue with the statements after the call in its "
                     "block after the seconds (1 to 99); it cannot be the last statement of a block.",
                 returns="the `return` parameter (0: stop the script), -1 on error"),
        Function("async_ms_sleep", args=(Arg("milliseconds", ArgKind.INT),), routes=SUSPENDING,
                 continuation=True,
                 doc="As async_sleep(), in milliseconds (at most 30000; needs ms_timer).",
                 returns="the `return` parameter (0: stop the script), -1 on error"),
        Function("async_task_route", args=(ROUTE,), routes=SUSPENDING,
                 doc="Suspend the request and continue it with route[routename] in an asynchronous "
                     "task of the first group of the core's async workers (async_workers).",
                 returns="the `return` parameter (0: stop the script), -1 on error"),
        Function("async_task_group_route", args=(ROUTE, Arg("groupname", ArgKind.FMT)), routes=SUSPENDING,
                 doc="As async_task_route(), in the group of async_workers_group named groupname.",
                 returns="the `return` parameter (0: stop the script), -1 on error"),
        Function("async_task_data", args=(ROUTE, Arg("data", ArgKind.FMT)), routes=RouteType.ANY,
                 doc="Run route[routename] in an asynchronous task with a faked request and the data "
                     "in $async(data); the current message goes on.",
                 returns="1, -1 on error"),
        Function("async_task_group_data",
                 args=(ROUTE, Arg("groupname", ArgKind.FMT), Arg("data", ArgKind.FMT)),
                 routes=RouteType.ANY,
                 doc="As async_task_data(), in the group of async_workers_group named groupname.",
                 returns="1, -1 on error"),
    ),
    pvars=(PVClass("async", arg="required", handler="pv_async",
                   doc="$async(data): the data of async_task_data(); $async(gname): the task's group"),),
    needs=(Need("tm", TmAPI, doc="the transaction suspended while the processing waits"),),
    factory=AsyncModule,
)
