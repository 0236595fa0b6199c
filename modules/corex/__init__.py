"""corex: the core's extensions (append_branch(), send_udp(), set_send_socket(), file_read(), msg_iflag_*,
network io intercept, alias sub-domains, static DNS records, socket and memory RPCs)."""

from __future__ import annotations

from kampy.api import (
    Arg,
    ArgKind,
    EventRoute,
    Exports,
    Function,
    Param,
    PVClass,
    RouteType,
    RpcMethod,
    TransformClass,
    Unimplemented,
)

from .corex import CorexModule, check_alias, check_dns_record

_REQ_FAIL = RouteType.REQUEST | RouteType.FAILURE
_ANY = RouteType.ANY


def _fmt(name: str) -> Arg:
    return Arg(name, ArgKind.FMT)


def _int(name: str) -> Arg:
    return Arg(name, ArgKind.INT)


EXPORTS = Exports(
    name="corex",
    doc="Functions, pseudo-variables, parameters and RPC commands that extend the core: extra "
        "branches, sending a message as it is, choosing sockets, message and extended flags, files, "
        "the network io intercept, sub-domain aliases and static DNS records.",
    params=(
        Param("alias_subdomains", (str,), None, multi=True, validate=check_alias,
              doc="`[proto:]domain[:port]`: the domain and its sub-domains are `myself`"),
        Param("dns_cache", (str,), None, multi=True, validate=check_dns_record,
              doc="a static DNS record: `name=...;type=A|AAAA|SRV;addr=...;ttl=...`"),
        Param("nio_intercept", (int,), 0,
              doc="1: run event_route[network:msg] for every message received and sent"),
        Param("nio_min_msg_len", (int,), 0, doc="smaller messages are not given to event_route[network:msg]"),
        Param("nio_msg_avp", (str,), None,
              doc="the AVP (`$avp(msg)`) whose value, set in event_route[network:msg], replaces the message"),
    ),
    functions=(
        Function("forward_reply", handler="forward_reply", routes=RouteType.CORE_ONREPLY,
                 doc="Forwards the reply to the address in its second Via (as the core does after "
                     "reply_route).", returns="1"),
        Function("append_branch", handler="append_branch", args=(_fmt("uri"), _fmt("q")), min_args=0,
                 routes=_REQ_FAIL,
                 doc="Adds a branch to the request: `uri` (default: the R-URI, whose destination, path, "
                     "branch flags and socket then go with it) with q value `q` (`0.5`).",
                 returns="1; -1 for a bad q value"),
        Function("send_udp", handler="send_udp", args=(_fmt("destination"),), min_args=0, routes=_REQ_FAIL,
                 doc="Sends the message as it was received over UDP to `host[:port]` (default: the "
                     "next hop).", returns="1, -1 when it cannot be sent"),
        Function("send_tcp", handler="send_tcp", args=(_fmt("destination"),), min_args=0, routes=_REQ_FAIL,
                 doc="Sends the message as it was received over TCP to `host[:port]` (default: the "
                     "next hop).", returns="1, -1 when it cannot be sent"),
        Function("send_data", handler="send_data", args=(_fmt("uri"), _fmt("data")), routes=_ANY,
                 doc="Sends `data` to the address of the SIP URI `uri` (its transport).",
                 returns="1, -1 when it cannot be sent"),
        Function("sendx", handler="sendx", args=(_fmt("uri"), _fmt("socket"), _fmt("data")), routes=_ANY,
                 doc="As send_data(), from the local socket `socket` (`proto:ip:port`).",
                 returns="1, -1 when it cannot be sent"),
        Function("is_incoming", handler="is_incoming", routes=_ANY,
                 doc="In event_route[network:msg]: whether the message was received (else it is being "
                     "sent).", returns="1 received, -1 sent"),
        Function("msg_iflag_set", handler="msg_iflag_set", args=(_fmt("flag"),), routes=_ANY,
                 doc="Sets an internal message flag: USE_UAC_FROM, USE_UAC_TO or UAC_AUTH.", returns="1"),
        Function("msg_iflag_reset", handler="msg_iflag_reset", args=(_fmt("flag"),), routes=_ANY,
                 doc="Resets an internal message flag.", returns="1, -1 for an unknown flag"),
        Function("msg_iflag_is_set", handler="msg_iflag_is_set", args=(_fmt("flag"),), routes=_ANY,
                 doc="Tests an internal message flag.", returns="1 set, -2 not set, -1 unknown flag"),
        Function("file_read", handler="file_read", args=(_fmt("path"), Arg("var", ArgKind.PVAR)),
                 routes=_ANY, doc="Reads the file at `path` into the pseudo-variable `var`.",
                 returns="1, -1 when it cannot be read"),
        Function("file_write", handler="file_write", args=(_fmt("path"), _fmt("content")), routes=_ANY,
                 doc="Writes `content` to the file at `path` (replacing it).",
                 returns="1, -1 when it cannot be written"),
        Function("setxflag", handler="setxflag", args=(_int("flag"),), routes=_ANY,
                 doc="Sets extended message flag `flag` (0..63).", returns="1, -1 beyond 63"),
        Function("resetxflag", handler="resetxflag", args=(_int("flag"),), routes=_ANY,
                 doc="Resets extended message flag `flag`.", returns="1, -1 beyond 63"),
        Function("isxflagset", handler="isxflagset", args=(_int("flag"),), routes=_ANY,
                 doc="Tests extended message flag `flag`.", returns="1 set, -1 not set"),
        Function("set_send_socket", handler="set_send_socket", args=(_fmt("saddr"),), routes=_ANY,
                 doc="Sends the message from the local socket `[proto:]addr[:port]` "
                     "(force_send_socket with a variable).", returns="1 (also when no socket matches)"),
        Function("set_send_socket_name", handler="set_send_socket_name", args=(_fmt("sname"),), routes=_ANY,
                 doc="Sends the message from the local socket named `sname`.", returns="1"),
        Function("set_recv_socket", handler="set_recv_socket", args=(_fmt("saddr"),), routes=_ANY,
                 doc="Makes the message look received on the local socket `[proto:]addr[:port]`.",
                 returns="1"),
        Function("set_recv_socket_name", handler="set_recv_socket_name", args=(_fmt("sname"),), routes=_ANY,
                 doc="Makes the message look received on the local socket named `sname`.", returns="1"),
        Function("set_source_address", handler="set_source_address", args=(_fmt("saddr"),), routes=_ANY,
                 doc="Makes the message look received from `[proto:]addr[:port]`.",
                 returns="1, -1 for an address that does not resolve"),
        Function("via_add_srvid", handler="via_add_srvid", args=(_int("flags"),), routes=_ANY,
                 doc="1: the Via kampy adds gets `;srvid=<server_id>`; 0: not.", returns="1"),
        Function("via_add_xavp_params", handler="via_add_xavp_params", args=(_int("flags"),), routes=_ANY,
                 doc="1: the Via kampy adds gets the fields of the xavp named by the core parameter "
                     "`xavp_via_params` as parameters.", returns="1"),
        Function("via_use_xavp_fields", handler="via_use_xavp_fields", args=(_int("flags"),), routes=_ANY,
                 doc="1: the Via kampy adds takes its address and port from the fields `address` and "
                     "`port` of the xavp named by the core parameter `xavp_via_fields`.", returns="1"),
        Function("is_faked_msg", handler="is_faked_msg", routes=_ANY,
                 doc="Whether the message is the core's faked one (an event route run by a timer).",
                 returns="1 faked, -1 not"),
        Function("is_socket_name", handler="is_socket_name", args=(_fmt("sockname"),), routes=_ANY,
                 doc="Whether a local socket has this name (`listen=... name \"x\"`).", returns="1, -1"),
    ),
    pvars=(
        PVClass("cfg", arg="required", handler="pv_cfg",
                doc="where in the config the action is: `line`, `file`/`name`, `route`"),
        PVClass("lsock", arg="required", handler="pv_lsock",
                doc="a local socket's attribute: `$lsock(n/name/listen)`; match by n(ame), l(isten), "
                    "a(dvertise) or i(ndex), field n(ame), l(isten), a(dvertise) or i(ndex)"),
    ),
    transforms=(TransformClass("sock", ("host", "port", "proto", "touri"), handler="tr_sock"),),
    rpc=(
        RpcMethod("corex.list_sockets", "rpc_list_sockets", doc="List listening sockets", array=True),
        RpcMethod("corex.list_aliases", "rpc_list_aliases", doc="List socket aliases", array=True),
        RpcMethod("corex.shm_status", "rpc_shm_status", doc="Trigger shm status dump to syslog"),
        RpcMethod("corex.shm_summary", "rpc_shm_summary", doc="Trigger shm summary dump to syslog"),
        RpcMethod("corex.pkg_summary", "rpc_pkg_summary", doc="Trigger shm summary dump to syslog",
                  params_fault=(400, "Selector and value not provided")),
        RpcMethod("corex.debug", "rpc_debug", doc="Control the global level of debug"),
        RpcMethod("shm.info", "rpc_shm_info", doc="Return details of the shared memory manager"),
        RpcMethod("shm.report", "rpc_shm_report", doc="Return shared memory report"),
        RpcMethod("shm.stats", "rpc_shm_stats", doc="Return shared memory stats"),
    ),
    event_routes=(
        EventRoute("network:msg", doc="with nio_intercept: every message received and sent, before it is "
                                      "parsed or after it is built"),
        EventRoute("corex:reply-out", doc="declared; Kamailio 5.6 never runs it (its callback passes no "
                                          "send information) and neither does kampy"),
    ),
    not_implemented=(
        Unimplemented("param", "evcb_reply_out", "a KEMI callback name: kampy runs no KEMI scripts",
                      types=(str,)),
    ),
    factory=CorexModule,
)
