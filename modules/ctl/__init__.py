"""BINRPC control interface: kamcmd's binrpc and the old FIFO protocol over unix sockets, TCP, UDP
and FIFOs."""

from __future__ import annotations

from kampy.api import Exports, Param, RpcMethod

from .ctl import Ctl, validate_binrpc, validate_fifo

EXPORTS = Exports(
    name="ctl",
    doc="BINRPC control interface: kamcmd's binrpc and the old FIFO protocol over unix sockets, TCP, "
        "UDP and FIFOs.",
    params=(
        Param("binrpc", (str,), None, multi=True, validate=validate_binrpc,
              doc="A listen address for binrpc: [unixd|unixs|unix|udp|tcp:]path|address[:port] "
                  "(default unix:/run/kamailio/kamailio_ctl, under -Y's directory when given)."),
        Param("binrpc_buffer_size", (int,), 1024,
              doc="Bytes of a line printed into a reply (rpc->rpl_printf)."),
        Param("mode", (int,), 0o600, doc="Permissions of the unix sockets and FIFOs."),
        Param("user", (str,), None, doc="Owner (name or uid) of the unix sockets and FIFOs; "
                                           "default the -u of the command line."),
        Param("group", (str,), None, doc="Group (name or gid) of the unix sockets and FIFOs; "
                                            "default the -g of the command line."),
        Param("fifo", (str,), None, multi=True, validate=validate_fifo,
              doc="A listen address for the old FIFO protocol: [fifo|udp|tcp:]path|address[:port]."),
        Param("autoconversion", (int,), 0,
              doc="Convert a parameter of another type to the type the method reads, when possible."),
        Param("binrpc_max_body_size", (int,), 32, doc="Kilobytes of a reply's top-level values."),
        Param("binrpc_struct_max_body_size", (int,), 8, doc="Kilobytes of the members of one struct."),
    ),
    rpc=(
        RpcMethod("ctl.who", "ctl_who", doc="list open connections"),
        RpcMethod("ctl.connections", "ctl_connections", doc="returns number of open connections"),
        RpcMethod("ctl.listen", "ctl_listen", doc="list ctl listen sockets"),
    ),
    factory=Ctl,
)
