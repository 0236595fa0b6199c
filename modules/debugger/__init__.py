"""debugger: the config's running trace, per-module log levels and facilities, message dumps."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, RouteType, RpcMethod

from .debugger import Debugger, check_facility, check_mod_facility, check_mod_level

_LEVEL = Arg("level", ArgKind.STR, fixup="fix_level", doc="`L_ALERT`, `L_BUG`, `L_CRIT`, `L_ERR`, `L_WARN`, "
             "`L_NOTICE`, `L_INFO` or `L_DBG`")

EXPORTS = Exports(
    name="debugger",
    doc="The config's running trace (cfgtrace), logged assignments, per-module log levels and syslog "
        "facilities, dumps of the message (dbg_sip_msg) and of the pseudo-variables (dbg_pv_dump).",
    params=(
        Param("cfgtrace", (int,), 0, doc="1: every process traces the config's actions from the start"),
        Param("breakpoint", (int,), 0, doc="1: every process stops before each action of the config, "
              "waiting for dbg.bp's commands"),
        Param("step_usleep", (int,), 100000, doc="microseconds between two looks at dbg.bp's commands, "
              "by a stopped process and by dbg.bp waiting for its answer"),
        Param("step_loops", (int,), 200, doc="how many times dbg.bp looks for a stopped process's answer"),
        Param("cfgtrace_format", (int,), 0, doc="1: the trace lines leave out the config file's name"),
        Param("log_level", (int,), -1, doc="the level of the trace lines (default L_ERR)"),
        Param("log_facility", (str,), "", validate=check_facility,
              doc="the syslog facility of the trace lines (empty: the core's)"),
        Param("log_prefix", (str,), "*** cfgtrace:", doc="printed before each trace line"),
        Param("log_level_name", (str,), "", doc="the level word of the trace lines (empty: the level's own)"),
        Param("log_assign", (int,), 0, doc="1: log the value of each assignment at L_DBG"),
        Param("mod_hash_size", (int,), 0,
              doc="> 0 turns on per-module levels and facilities (Kamailio: 2^N slots of their table)"),
        Param("mod_level_mode", (int,), 0, doc="1: the per-module log levels apply"),
        Param("mod_level", (str,), None, multi=True, validate=check_mod_level,
              doc="`module=level` (`core` for the core's own logs)"),
        Param("mod_facility_mode", (int,), 0, doc="1: the per-module syslog facilities apply"),
        Param("mod_facility", (str,), None, multi=True, validate=check_mod_facility,
              doc="`module=LOG_LOCALn` (`core` for the core's own logs)"),
        Param("cfgpkgcheck", (int,), 0, doc="1: before each action, Kamailio 5.6's debug line saying its "
              "memory check is not built in (it never is: debugger_api.c lacks q_malloc.h)"),
        Param("cfgtest", (int,), 0, doc="1: hand each action to the cfgt module; kampy has no cfgt module, "
              "so the config is refused, as Kamailio refuses it without cfgt"),
        Param("reset_msgid", (int,), 0, doc="1: dbg.reset_msgid may make $mi count from 1 again"),
    ),
    functions=(
        Function("dbg_breakpoint", args=(Arg("mode", ArgKind.STR, fixup="fix_breakpoint"),),
                 routes=RouteType.ANY, returns="1",
                 doc="Anchors a breakpoint (`1` on, `0` off) at its line; as in Kamailio 5.6, the "
                     "processes stop at every action while their breakpoints are on, not at this one."),
        Function("dbg_pv_dump", args=(Arg("mask", ArgKind.INT, doc="1 null values, 2 AVPs, 4 script "
                                          "variables, 8 XAVPs, 16 other (default 31)"), _LEVEL),
                 min_args=0, routes=RouteType.ANY, returns="1",
                 doc="Logs the pseudo-variables the config uses, with their values, as a JSON object."),
        Function("dbg_sip_msg", args=(_LEVEL, Arg("facility", ArgKind.STR, fixup="fix_facility",
                                                  doc="a syslog facility, `LOG_LOCAL0` ...")),
                 min_args=0, routes=RouteType.REQUEST | RouteType.ONREPLY,
                 returns="1; -1 outside request_route and reply routes",
                 doc="Logs the message as it would be sent now, and the changes made to it."),
    ),
    rpc=(
        RpcMethod("dbg.bp", "rpc_bp", doc="Breakpoint command"),
        RpcMethod("dbg.ls", "rpc_ls", doc="List debugging process array"),
        RpcMethod("dbg.trace", "rpc_trace", doc="Config trace command"),
        RpcMethod("dbg.set_mod_level", "rpc_set_mod_level", doc="Set module log level"),
        RpcMethod("dbg.set_mod_facility", "rpc_set_mod_facility", doc="Set module log facility"),
        RpcMethod("dbg.get_mod_level", "rpc_get_mod_level", doc="Get module log level"),
        RpcMethod("dbg.get_mod_facility", "rpc_get_mod_facility", doc="Get module log facility"),
        RpcMethod("dbg.reset_msgid", "rpc_reset_msgid", doc="Reset msgid on all process"),
    ),
    factory=Debugger,
)
