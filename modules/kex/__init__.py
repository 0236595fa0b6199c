"""Kamailio core extensions: flag functions, dst URI helpers and the stats.* RPC methods.

The `core:` statistics are counted by kampy's core (kampy.runtime.server) and declared here, as
Kamailio's kex declares them. The `shmem:` statistics and the pkg./mod. memory RPCs report what
stands in for Kamailio's memory pools (modules/kex/memory.py, the README).
"""

from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, PVClass, RouteType, RpcMethod, Stat

from .kex import Kex


EXPORTS = Exports(
    name="kex",
    doc="Kamailio core extensions: flag functions, dst URI helpers and the stats.* RPC methods.",
    functions=(
        Function(
            "setsflag",
            args=(Arg("flag", ArgKind.INT),),
            routes=RouteType.ANY,
            doc="Set the script flag.",
            returns="",
        ),
        Function(
            "resetsflag",
            args=(Arg("flag", ArgKind.INT),),
            routes=RouteType.ANY,
            doc="Reset the script flag.",
            returns="",
        ),
        Function(
            "issflagset",
            args=(Arg("flag", ArgKind.INT),),
            routes=RouteType.ANY,
            doc="Return true of the script flag is set.",
            returns="",
        ),
        Function(
            "setbflag",
            args=(Arg("flag", ArgKind.INT), Arg("branch", ArgKind.INT)),
            min_args=1,
            routes=RouteType.ANY,
            doc="Set the branch flag.",
            returns="",
        ),
        Function(
            "resetbflag",
            args=(Arg("flag", ArgKind.INT), Arg("branch", ArgKind.INT)),
            min_args=1,
            routes=RouteType.ANY,
            doc="Reset the branch flag.",
            returns="",
        ),
        Function(
            "isbflagset",
            args=(Arg("flag", ArgKind.INT), Arg("branch", ArgKind.INT)),
            min_args=1,
            routes=RouteType.ANY,
            doc="Return true of the branch flag is set.",
            returns="",
        ),
        Function(
            "setdsturi",
            args=(Arg("uri", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Set the destination address URI (outbound proxy address).",
            returns="",
        ),
        Function(
            "resetdsturi",
            routes=RouteType.ANY,
            doc="Reset the destination address URI (outbound proxy address).",
            returns="",
        ),
        Function(
            "isdsturiset",
            routes=RouteType.ANY,
            doc="Check if the destination address URI (outbound proxy address) is set.",
            returns="",
        ),
        Function(
            "pv_printf",
            args=(Arg("dst", ArgKind.PVAR), Arg("format", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Evaluates the str and sets the resulting value to variable var.",
            returns="",
        ),
        Function(
            "avp_printf",
            args=(Arg("dst", ArgKind.PVAR), Arg("format", ArgKind.FMT)),
            routes=RouteType.ANY,
            doc="Alias of pv_printf().",
            returns="",
        ),
        Function(
            "is_myself",
            args=(Arg("uri", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Check if the parameter matches the 'myself' condition (i.e., is a local IP or...",
            returns="",
        ),
        Function(
            "setdebug",
            args=(Arg("level", ArgKind.INT),),
            routes=RouteType.ANY,
            doc="Set the debug log level per process.",
            returns="",
        ),
        Function(
            "resetdebug",
            routes=RouteType.ANY,
            doc="Reset the local debug log level back to the value of core parameter 'debug'.",
            returns="",
        ),
    ),
    stats=(
        Stat("rcv_requests", group="core"),
        Stat("rcv_requests_invite", group="core"),
        Stat("rcv_requests_cancel", group="core"),
        Stat("rcv_requests_ack", group="core"),
        Stat("rcv_requests_bye", group="core"),
        Stat("rcv_requests_info", group="core"),
        Stat("rcv_requests_register", group="core"),
        Stat("rcv_requests_subscribe", group="core"),
        Stat("rcv_requests_notify", group="core"),
        Stat("rcv_requests_message", group="core"),
        Stat("rcv_requests_options", group="core"),
        Stat("rcv_requests_prack", group="core"),
        Stat("rcv_requests_update", group="core"),
        Stat("rcv_requests_refer", group="core"),
        Stat("rcv_requests_publish", group="core"),
        Stat("rcv_replies", group="core"),
        Stat("rcv_replies_1xx", group="core"),
        Stat("rcv_replies_18x", group="core"),
        Stat("rcv_replies_2xx", group="core"),
        Stat("rcv_replies_3xx", group="core"),
        Stat("rcv_replies_4xx", group="core"),
        Stat("rcv_replies_401", group="core"),
        Stat("rcv_replies_404", group="core"),
        Stat("rcv_replies_407", group="core"),
        Stat("rcv_replies_480", group="core"),
        Stat("rcv_replies_486", group="core"),
        Stat("rcv_replies_5xx", group="core"),
        Stat("rcv_replies_6xx", group="core"),
        *(Stat(f"rcv_replies_{c}xx_{m}", group="core") for c in range(1, 7)
          for m in ("bye", "cancel", "invite", "message", "prack", "refer", "reg", "update")),
        Stat("fwd_requests", group="core"),
        Stat("fwd_replies", group="core"),
        Stat("drop_requests", group="core"),
        Stat("drop_replies", group="core"),
        Stat("err_requests", group="core"),
        Stat("err_replies", group="core"),
        Stat("err_internal", group="core"),  # kampy: internal errors answered 500 (docs/statistics.md)
        Stat("bad_URIs_rcvd", group="core"),
        Stat("unsupported_methods", group="core"),
        Stat("bad_msg_hdr", group="core"),
        *(Stat(name, group="shmem", no_reset=True, doc=doc) for name, doc in (
            ("total_size", "size of the shared store's files"),
            ("used_size", "bytes handed out in the shared store"),
            ("real_used_size", "bytes of the shared store the kernel holds"),
            ("max_used_size", "the highest real_used_size seen"),
            ("free_size", "total_size less real_used_size"),
            ("fragments", "files of the shared store"))),
    ),
    rpc=(
        RpcMethod("stats.get_statistics", "rpc_get_statistics", doc="get core and modules stats", array=True),
        RpcMethod("stats.fetch", "rpc_fetch", doc="fetch core and modules stats as string values"),
        RpcMethod("stats.fetchn", "rpc_fetchn", doc="fetch core and modules stats as number values"),
        RpcMethod("stats.reset_statistics", "rpc_reset_statistics",
                  doc="reset core and modules stats (silent operation)"),
        RpcMethod("stats.clear_statistics", "rpc_clear_statistics",
                  doc="clear core and modules stats (verbose operation)"),
        RpcMethod("mod.stats", "rpc_mod_stats", doc="Per module memory usage statistics", array=True),
        RpcMethod("mod.mem_stats", "rpc_mod_stats", doc="Per module memory usage statistics", array=True),
        RpcMethod("mod.mem_statsx", "rpc_mod_statsx",
                  doc="Per module memory use statistics with more details", array=True),
        RpcMethod("pkg.stats", "rpc_pkg_stats", doc="Private memory (pkg) statistics per process",
                  array=True),
        RpcMethod("pkg.info", "rpc_pkg_info", doc="Private memory manager details"),
    ),
    pvars=(
        PVClass("sruid"),  # pv_get_sruid_val 0
    ),
    factory=Kex,
)
