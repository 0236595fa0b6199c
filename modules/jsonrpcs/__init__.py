"""JSON-RPC server for the RPC commands (HTTP, FIFO, datagram transports)."""

from __future__ import annotations

from kampy.api import (
    Arg,
    ArgKind,
    Exports,
    Function,
    Need,
    PVClass,
    Param,
    RouteType,
    RpcMethod,
    Unimplemented,
    XhttpAPI,
)

from .impl import JsonRpcs


# What Kamailio 5.6's jsonrpcs module has that kampy's does not (checked against Kamailio's
# own tables by tests/test_module_completeness.py); `kampy check` warns where a config uses one.
NOT_IMPLEMENTED = (
    Unimplemented("param", "fifo_group", "not implemented yet", default=None, types=(str, int)),
    Unimplemented("param", "fifo_user", "not implemented yet", default=None, types=(str, int)),
    Unimplemented("param", "dgram_workers", "not implemented yet", default=1, types=(int,)),
    Unimplemented("param", "dgram_timeout", "not implemented yet", default=2000, types=(int,)),
    Unimplemented("param", "dgram_group", "not implemented yet", default=None, types=(str, int)),
    Unimplemented("param", "dgram_user", "not implemented yet", default=None, types=(str, int)),
)


EXPORTS = Exports(
    name="jsonrpcs",
    doc="JSON-RPC server for the RPC commands (HTTP, FIFO, datagram transports).",
    params=(
        Param("pretty_format", (int,), 1),
        Param("transport", (int,), 6),
        Param("fifo_name", (str,), "kamailio_rpc.fifo"),
        Param("fifo_mode", (int,), 0o660),
        Param("fifo_reply_dir", (str,), "/tmp/"),
        Param("dgram_socket", (str,), "kamailio_rpc.sock"),
        Param("dgram_mode", (int,), 0o660),
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
    rpc=(RpcMethod("jsonrpc.echo", "rpc_echo", doc="Sample echo command", array=True),),
    pvars=(
        PVClass("jsonrpl", arg="required"),  # jsonrpc_pv_get_jrpl jsonrpc_pv_parse_jrpl_name
    ),
    not_implemented=NOT_IMPLEMENTED,
    needs=(Need("xhttp", XhttpAPI, optional=True, doc="the HTTP transport (transport bit 1)"),),
    factory=JsonRpcs,
)
