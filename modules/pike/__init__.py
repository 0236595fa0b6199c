"""pike: flood detection, per source address, with Kamailio's tree of address prefixes."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, RouteType, RpcMethod, Stat, Timer

from .pike import Pike, check_positive

_ROUTES = RouteType.REQUEST | RouteType.ONREPLY

_RETURNS = ("1 when the source is within the limit; -1 when it is blocked already; -2 when this request "
            "blocks it (logged at pike_log_level, counted in pike:blocked_ips)")

EXPORTS = Exports(
    name="pike",
    doc="Counts the requests of each source address in a tree of address prefixes shared by every "
        "worker, and reports the sources that exceed reqs_density_per_unit requests per "
        "sampling_time_unit seconds.",
    params=(
        Param("sampling_time_unit", (int,), 2, validate=check_positive,
              doc="seconds of one sampling unit (the requests of the current and the previous unit count)"),
        Param("reqs_density_per_unit", (int,), 30,
              doc="requests per unit from one address that block it"),
        Param("remove_latency", (int,), 120,
              doc="seconds after its last request that an address is forgotten"),
        Param("pike_log_level", (int,), 0,
              doc="Kamailio log level of the BLOCKing/UNBLOCKing messages (0: L_WARN)"),
    ),
    functions=(
        Function("pike_check_req", routes=_ROUTES, returns=_RETURNS,
                 doc="Counts the request against its source address."),
        Function("pike_check_ip", args=(Arg("ip", ArgKind.FMT, doc="an IPv4 or IPv6 address, may hold "
                                            "pseudo-variables"),),
                 routes=_ROUTES, returns=_RETURNS + "; -1 also for a value that is not an address",
                 doc="Counts a request against the given address."),
    ),
    stats=(Stat("blocked_ips", doc="Counter of blocked IP addresses"),),
    rpc=(
        RpcMethod("pike.top", "rpc_top", doc="pike.top Dump parts of the pike table"),
        RpcMethod("pike.list", "rpc_top", doc="pike.top Dump parts of the pike table"),
    ),
    timers=(Timer("clean", "clean", interval=1,
                  doc="in worker 1, every second: forgets the addresses nobody sent from for remove_latency "
                      "seconds, unblocks those that cooled down"),),
    factory=Pike,
)
