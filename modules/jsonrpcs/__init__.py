"""JSON-RPC server for the RPC commands (HTTP, FIFO, datagram transports)."""

from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, PVClass, RouteType, RpcMethod

from .impl import JsonRpcs

EXPORTS = Exports(
    name="jsonrpcs",
    doc="JSON-RPC server for the RPC commands (HTTP, FIFO, datagram transports).",
    params=(
        Param("pretty_format", (int,), 1),
        Param("transport", (int,), 6),
        Param("fifo_name", (str,), "kamailio_rpc.fifo"),
        Param("fifo_mode", (int,), 0o660),
        Param("fifo_group", (str, int), None, implemented=False),
        Param("fifo_user", (str, int), None, implemented=False),
        Param("fifo_reply_dir", (str,), "/tmp/"),
        Param("dgram_socket", (str,), "kamailio_rpc.sock"),
        Param("dgram_workers", (int,), 1, implemented=False),
        Param("dgram_timeout", (int,), 2000, implemented=False),
        Param("dgram_mode", (int,), 0o660),
        Param("dgram_group", (str, int), None, implemented=False),
        Param("dgram_user", (str, int), None, implemented=False),
    ),
    functions=(
        Function(
            "jsonrpc_dispatch",
            routes=RouteType.REQUEST,
            doc="Handle the JSONRPC request and generate a response.",
            returns="",
        ),
        Function(
            "jsonrpc_exec",
            args=(Arg("cmd", ArgKind.FMT),),
            routes=RouteType.ANY,
            doc="Execute a JSON-RPC command given as a parameter.",
            returns="",
        ),
    ),
    rpc=(RpcMethod("jsonrpc.echo", "rpc_echo"),),
    pvars=(
        PVClass("jsonrpl", arg="required"),  # jsonrpc_pv_get_jrpl jsonrpc_pv_parse_jrpl_name
    ),
    factory=JsonRpcs,
)
