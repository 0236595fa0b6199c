"""Script-defined statistics: update_stat() and reset_stat()."""

from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, RouteType

from .impl import Statistics

EXPORTS = Exports(
    name="statistics",
    doc="Script-defined statistics: update_stat() and reset_stat().",
    params=(Param("variable", (str,), None, multi=True),),
    functions=(
        Function(
            "update_stat",
            args=(Arg("variable", ArgKind.FMT), Arg("value", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Updates the value of the statistic variable with the new value.",
            returns="",
        ),
        Function(
            "reset_stat",
            args=(Arg("variable", ArgKind.FMT),),
            routes=RouteType.REQUEST
            | RouteType.BRANCH
            | RouteType.FAILURE
            | RouteType.ONREPLY
            | RouteType.LOCAL,
            doc="Resets to zero the value of the statistic variable.",
            returns="",
        ),
    ),
    factory=Statistics,
)
