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
    Unimplemented("param", "dgram_workers",
                  "kampy serves the datagram socket in the event loop of worker rank 1, as every control "
                  "socket, beside its SIP traffic (a request never holds it); there is no pool of datagram "
                  "processes to size", default=1, types=(int,)),
    Unimplemented("param", "dgram_timeout",
                  "Kamailio 5.6 does not use it either (jsonrpc_dgram_send_data() ignores its timeout): "
                  "no value changes what the module does", default=2000, types=(int,)),
)


EXPORTS = Exports(
    name="jsonrpcs",
    doc="JSON-RPC server for the RPC commands (HTTP, FIFO, datagram transports).",
    params=(
        Param("pretty_format", (int,), 1),
        Param("transport", (int,), 6),
        Param("fifo_name", (str,), "kamailio_rpc.fifo"),
        Param("fifo_mode", (int,), 0o660, doc="permissions of the FIFO (0: 0600, with a warning)"),
        Param("fifo_user", (str, int), None,
              doc="owner of the FIFO, a user name (its group too) or a uid; unset: kampy's own user"),
        Param("fifo_group", (str, int), None, doc="group of the FIFO, a group name or a gid"),
        Param("fifo_reply_dir", (str,), "/tmp/"),
        Param("dgram_socket", (str,), "kamailio_rpc.sock"),
        Param("dgram_mode", (int,), 0o660, doc="permissions of the unix datagram socket"),
        Param("dgram_user", (str, int), None,
              doc="owner of the unix datagram socket, a user name (its group too) or a uid"),
        Param("dgram_group", (str, int), None,
              doc="group of the unix datagram socket, a group name or a gid"),
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
