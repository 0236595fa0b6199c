"""Formatted logging from the config: xlog(), xdbg(), xinfo() ..."""

from __future__ import annotations

from kampy.api import Arg, ArgKind, CfgGroup, CfgVar, Exports, Function, Param, PVClass, RouteType

from .impl import XlogModule


EXPORTS = Exports(
    name="xlog",
    cfg=CfgGroup("xlog", (CfgVar("methods_filter", "int", "Methods filter value for xlogm(...)."),)),
    doc="Formatted logging from the config: xlog(), xdbg(), xinfo() ...",
    params=(
        Param("long_format", (int,), 0),
        Param("prefix", (str,), "<script>: "),
        Param("methods_filter", (int,), -1),
        Param("buf_size", (int,), 4096,
              doc="bytes a log message may have; a longer one is not logged (xlog returns -1, an error)"),
        Param("log_facility", (str,), None, doc="syslog facility of the module's messages (LOG_LOCAL0 ...); "
              "unset: the core's log_facility"),
        Param("force_color", (int,), 0, doc="1: $C gives its colours also when the log does not go to "
              "stderr"),
        Param("log_colors", (str,), None, multi=True,
              doc="colours of log levels in a coloured log: \"L_ERR=cr;L_WARN=px\" (foreground, "
              "background)"),
        Param("prefix_mode", (int,), 0, doc="1: the prefix is a format with pseudo-variables, evaluated "
              "for each message"),
    ),
    functions=(
        Function(
            "xlog",
            args=(Arg("facility", ArgKind.FMT), Arg("level", ArgKind.FMT), Arg("format", ArgKind.FMT)),
            min_args=1,
            routes=RouteType.ANY,
            doc="Output a formatted log message.",
            returns="",
        ),
        Function(
            "xdbg",
            args=(Arg("format", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Print a formatted message using DBG function.",
            returns="",
        ),
        Function(
            "xinfo",
            args=(Arg("format", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Print a formatted log message at L_INFO level.",
            returns="",
        ),
        Function(
            "xnotice",
            args=(Arg("format", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Print a formatted log message at L_NOTICE level.",
            returns="",
        ),
        Function(
            "xwarn",
            args=(Arg("format", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Print a formatted log message at L_WARN level.",
            returns="",
        ),
        Function(
            "xerr",
            args=(Arg("format", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Print a formatted log message at L_ERR level.",
            returns="",
        ),
        Function(
            "xbug",
            args=(Arg("format", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Print a formatted log message at L_BUG level.",
            returns="",
        ),
        Function(
            "xcrit",
            args=(Arg("format", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Print a formatted log message at L_CRIT level.",
            returns="",
        ),
        Function(
            "xalert",
            args=(Arg("format", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Print a formatted log message at L_ALERT level.",
            returns="",
        ),
        Function(
            "xlogl",
            args=(Arg("facility", ArgKind.FMT), Arg("level", ArgKind.FMT), Arg("format", ArgKind.FMT)),
            min_args=1,
            routes=RouteType.ANY,
            doc="Similar to xlog(), in addition prints configuration file line number at the...",
            returns="",
        ),
        Function(
            "xdbgl",
            args=(Arg("format", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Similar to xdbg(), in addition prints configuration file line number at the...",
            returns="",
        ),
        Function(
            "xlogm",
            args=(Arg("level", ArgKind.FMT), Arg("format", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Similar to xlog(level, format), but skips writing the log messages for SIP...",
            returns="",
        ),
    ),
    pvars=(
        PVClass("C", arg="required", handler="pv_color"),  # pv_get_color pv_parse_color_name
    ),
    factory=XlogModule,
)
