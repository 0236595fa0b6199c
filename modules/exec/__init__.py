"""exec: external commands run from the config, with the request in their environment."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, RouteType

from .impl import ExecModule

REQUEST_FAILURE = RouteType.REQUEST | RouteType.FAILURE

EXPORTS = Exports(
    name="exec",
    doc="Runs shell commands (/bin/sh -c) from the config: exec_dset() takes the URIs they print "
        "as the destination set, exec_msg() gives them the request on their input, exec_avp() "
        "keeps the lines they print in AVPs, exec_cmd() just runs them. Except exec_cmd(), they "
        "see the request's headers and Kamailio's SIP_* variables in their environment.",
    params=(
        Param("setvars", (int,), 1, doc="0: no SIP_* variables in the commands' environment"),
        Param("time_to_kill", (int,), 0,
              doc="seconds a command may run before it is killed (0: as long as it takes)"),
        Param("bash_safety", (int,), 1,
              doc="1: a header value starting with '() {' loses its '()' in the environment "
                  "(against Shellshock)"),
    ),
    functions=(
        Function("exec_dset", args=(Arg("command", ArgKind.FMT),), routes=REQUEST_FAILURE,
                 doc="Run the command with the R-URI (in single quotes) as its last argument; the "
                     "first line it prints becomes the R-URI, each other line a new branch.",
                 returns="1, -1 when it printed no URI or exited with a status other than 0"),
        Function("exec_msg", args=(Arg("command", ArgKind.FMT),),
                 routes=REQUEST_FAILURE | RouteType.LOCAL,
                 doc="Run the command with the message on its standard input.",
                 returns="1, -1 when it exited with a status other than 0"),
        Function("exec_avp", args=(Arg("command", ArgKind.FMT),
                                   Arg("avplist", ArgKind.STR, fixup="fix_avplist")),
                 min_args=1, routes=REQUEST_FAILURE | RouteType.LOCAL,
                 doc="Run the command; each line it prints (but empty ones) is added to the next "
                     "AVP of the list, or to $avp(i:1), $avp(i:2)... past it or without one.",
                 returns="1, -1 when it exited with a status other than 0"),
        Function("exec_cmd", args=(Arg("command", ArgKind.FMT),), routes=RouteType.ANY,
                 doc="Run the command (no message, no environment, its output dropped).",
                 returns="1, -1 when it exited with a status other than 0"),
    ),
    factory=ExecModule,
)
