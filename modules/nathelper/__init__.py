"""nathelper: NAT traversal helpers and NAT keepalives (Kamailio's nathelper module)."""
from __future__ import annotations

from kampy.api import (
    Arg,
    ArgKind,
    Exports,
    Function,
    Need,
    Param,
    PVClass,
    RouteType,
    RpcMethod,
    Timer,
    UsrlocAPI,
)

from .nathelper import NathelperModule

__all__ = ["EXPORTS", "NathelperModule"]

R, F, RPL, B, L = (RouteType.REQUEST, RouteType.FAILURE, RouteType.ONREPLY, RouteType.BRANCH,
                   RouteType.LOCAL)
CONTACT_ROUTES = R | RPL | B | L

EXPORTS = Exports(
    name="nathelper",
    doc="NAT traversal helpers: detection of a UA behind NAT, Contact and SDP rewriting, the alias "
        "parameter of Contact and R-URI, the received address for registrar, and NAT keepalives "
        "(UDP or SIP requests) to the contacts usrloc holds.",
    params=(
        Param("natping_interval", (int,), 0,
              doc="seconds between two pings of one contact; 0: no NAT pings"),
        Param("ping_nated_only", (int,), 0,
              doc="1: ping only contacts with usrloc's nat_bflag set"),
        Param("nortpproxy_str", (str,), "a=nortpproxy:yes",
              doc="the SDP line fix_nated_sdp() flag 4 adds (trailing line ends dropped; empty: none)"),
        Param("received_avp", (str,), None,
              doc="the AVP fix_nated_register() stores the source URI in; the same as registrar's"),
        Param("force_socket", (str,), None, doc="the local socket NAT pings are sent from"),
        Param("sipping_from", (str,), None, doc="the From URI of SIP keepalives"),
        Param("sipping_method", (str,), "OPTIONS", doc="the method of SIP keepalives"),
        Param("sipping_bflag", (int,), -1,
              doc="branch flag of contacts to ping with a SIP request instead of a UDP packet"),
        Param("natping_disable_bflag", (int,), -1, doc="branch flag of contacts never pinged"),
        Param("natping_processes", (int,), 1,
              doc="how many pinging processes share the contacts (each one is a worker's timer)"),
        Param("natping_socket", (str,), None,
              doc="the source address `ip:port` UDP pings are spoofed from (a raw socket)"),
        Param("keepalive_timeout", (int,), 0,
              doc="seconds without an answer to SIP keepalives after which a UDP contact expires"),
        Param("udpping_from_path", (int,), 0,
              doc="send UDP pings from the address of the contact's Path (a raw socket)"),
        Param("append_sdp_oldmediaip", (int,), 1,
              doc="fix_nated_sdp() adds `a=oldmediaip:` lines with the addresses it replaced"),
        Param("filter_server_id", (int,), 0, doc="ping only contacts saved with this server_id"),
        Param("nat_addr_mode", (int,), 1,
              doc="1: 192.0.0.0/24 counts as private too (besides RFC 1918, 6598 and 7335's /29)"),
        Param("alias_name", (str,), "alias", doc="the name of the alias URI parameter"),
    ),
    functions=(
        Function("fix_nated_contact", routes=CONTACT_ROUTES,
                 doc="Rewrites the Contact URI's host and port with the source address of the message "
                     "(a maddr parameter is removed).",
                 returns="1 on success, -1 without a Contact or when it was rewritten already"),
        Function("add_contact_alias", routes=CONTACT_ROUTES,
                 doc="Adds `;alias=ip~port~proto` with the source address to the Contact URI when the "
                     "URI does not hold it already (angle brackets added when missing).",
                 returns="1 added, 2 not needed or no Contact, -1 on error"),
        Function("add_contact_alias",
                 args=(Arg("ip_addr"), Arg("port"), Arg("proto")), routes=R | RPL | B | F,
                 doc="Adds `;alias=ip~port~proto` with the address given to the Contact URI.",
                 returns="1 added, 2 no Contact, -1 on error"),
        Function("set_contact_alias", args=(Arg("trim", ArgKind.INT),), min_args=0, routes=CONTACT_ROUTES,
                 doc="Adds `;alias=ip~port~proto` with the source address to the Contact URI, in "
                     "angle brackets; with `trim` 1 an alias parameter already there is removed "
                     "first.",
                 returns="1 on success, -1 on error"),
        Function("handle_ruri_alias", args=(Arg("mode", ArgKind.INT),), min_args=0, routes=R | B | L,
                 doc="Sets $du from the R-URI's alias parameter (the first one, or with `mode` other "
                     "than 0 the last one) and removes it from the R-URI.",
                 returns="1 done, 2 no alias parameter, -1 on error"),
        Function("fix_nated_sdp", args=(Arg("flags", ArgKind.INT), Arg("ip_address")), min_args=1,
                 routes=R | F | RPL | B | L,
                 doc="Changes the SDP: flag 1 adds `a=direction:active`, 2 rewrites the c= "
                     "addresses, 4 adds the nortpproxy_str line, 8 rewrites the o= address (a=rtcp "
                     "addresses with 2 or 8), with `ip_address` or the source address.",
                 returns="1 when addresses were replaced, 2 when none was, -1 on error"),
        Function("nat_uac_test", args=(Arg("flags", ArgKind.INT),), routes=R | F | RPL | B | L,
                 doc="Whether the sender seems to be behind NAT, by the tests the flags select: 1 "
                     "private Contact, 2 Via address is not the source, 4 private Via, 8 private "
                     "SDP address, 16 Via port is not the source port, 32 private source, 64 "
                     "WebSocket, 128 Contact port is not the source port, 256 SDP c= is not the "
                     "source, 512 the destination differs from R-URI (or 2nd Via).",
                 returns="1 when one test holds, -1 otherwise"),
        Function("fix_nated_register", routes=R, args=(), fixup="fixup_fix_nated_register",
                 doc="Stores the source address as a URI in received_avp, for registrar's save(); a "
                     "config calling it without received_avp is refused at start-up.", returns="1"),
        Function("add_rcv_param", args=(Arg("flag", ArgKind.INT),), min_args=0, routes=R,
                 doc="Adds a received parameter with the source URI to each contact: to the header "
                     "(default), or with `flag` other than 0 to the URI (UDP only).",
                 returns="1 on success, -1 on error"),
        Function("is_rfc1918", args=(Arg("ip_address"),), routes=RouteType.ANY,
                 doc="Whether the address is private (RFC 1918, 6598, 7335).",
                 returns="1 private, -1 not, -2 empty"),
        Function("set_alias_to_pv", args=(Arg("target_pv", ArgKind.STR),), routes=RouteType.ANY,
                 doc="Writes `sip:host:port;transport=proto` from the alias parameter of the (only) "
                     "Contact to the pseudo-variable named.",
                 returns="1 on success, -1 on error"),
    ),
    pvars=(
        PVClass("rr_count", handler="pv_rr_count", doc="how many Record-Route entries the message has"),
        PVClass("rr_top_count", handler="pv_rr_top_count",
                doc="2 when the first Record-Route URI has an r2 parameter, 1 without, 0 without one"),
    ),
    rpc=(RpcMethod("nathelper.enable_ping", "rpc_enable_ping", doc="Set (enable/disable) nat ping",
                   params_fault=(500, "No parameter")),),
    timers=(Timer("nh_timer", "nh_timer", interval=1,
                  doc="each second, the pinging processes' partition of the contacts is pinged"),),
    needs=(Need("usrloc", UsrlocAPI, optional=True,
                doc="the contacts NAT keepalives go to (natping_interval > 0)"),),
    factory=NathelperModule,
)
