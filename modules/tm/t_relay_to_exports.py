"""The declarations of t_relay_to.py's functions (part of tm's EXPORTS)."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Function, RouteType

_REQ_FAIL = RouteType.REQUEST | RouteType.FAILURE
_HOST_PORT = (Arg("host", ArgKind.FMT), Arg("port", ArgKind.FMT))
_PROTO_ADDR = (Arg("proto", ArgKind.STR), Arg("hostport", ArgKind.STR))
_RELAY_RET = "1 when relayed, negative on error (as t_relay)"


def _host_port(name: str, doc: str, routes: RouteType = RouteType.REQUEST,
               min_args: int | None = None) -> Function:
    return Function(name, args=_HOST_PORT, min_args=min_args, routes=routes, doc=doc, returns=_RELAY_RET)


def _proto_addr(name: str, doc: str) -> Function:
    return Function(name, args=_PROTO_ADDR, routes=RouteType.REQUEST, doc=doc, returns=_RELAY_RET)


RELAY_TO_FUNCTIONS = (
    Function(
        "t_relay_to",
        args=(Arg("proxy", ArgKind.STR, fixup="fix_relay_to"),
              Arg("flags", ArgKind.STR, fixup="fix_relay_flags")),
        min_args=0,
        routes=_REQ_FAIL,
        doc='Forward the request statefully to `proxy` ("proto:host:port", proto and port optional) or '
            "its next hop; `flags` (or a lone numeric argument, decimal or 0x hex): 0x01 no automatic 100, "
            "0x02 no internal error reply, 0x04 no DNS failover.",
        returns=_RELAY_RET,
    ),
    _host_port("t_relay_to_tls", "As t_relay_to_udp, over TLS.", _REQ_FAIL, 0),
    _proto_addr("t_relay_to_avp", "Relay statefully to `hostport` (host[:port]) over `proto` (a name or "
                "Kamailio's PROTO_* number); either may name an AVP as the old core did: `$name`."),
    _host_port("t_forward_nonack", "Forward a non-ACK request statefully to host:port, in the "
               "transaction created before (t_newtran)."),
    Function("t_forward_nonack_uri", routes=RouteType.REQUEST, returns=_RELAY_RET,
             doc="Forward a non-ACK request statefully to its next hop (dst-uri or R-URI), in the "
                 "transaction created before."),
    _host_port("t_forward_nonack_udp", "As t_forward_nonack, over UDP."),
    _host_port("t_forward_nonack_tcp", "As t_forward_nonack, over TCP."),
    _host_port("t_forward_nonack_tls", "As t_forward_nonack, over TLS."),
    _proto_addr("t_forward_nonack_to", "As t_forward_nonack, to proto and host[:port]."),
    Function(
        "t_replicate",
        args=(Arg("uri", ArgKind.FMT), Arg("port", ArgKind.FMT)),
        min_args=0,
        routes=RouteType.REQUEST,
        doc="Replicate the request statefully: to a SIP URI (one argument), to host and port over the "
            "transport it came on (two), or to its next hop (none). The replies stay here: none is sent "
            "upstream.",
        returns=_RELAY_RET,
    ),
    _host_port("t_replicate_udp", "As t_replicate(host, port), over UDP."),
    _host_port("t_replicate_tcp", "As t_replicate(host, port), over TCP."),
    _host_port("t_replicate_tls", "As t_replicate(host, port), over TLS."),
    _proto_addr("t_replicate_to", "As t_replicate, to proto and host[:port]."),
)
