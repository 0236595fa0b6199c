"""rtpproxy: media relaying through RTPProxy over its text control protocol."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Need, Param, PVClass, RouteType, RpcMethod, TmAPI

from .rtpproxy import RtpproxyModule

__all__ = ["EXPORTS", "RtpproxyModule"]

ANY = RouteType.ANY
FLAGS = Arg("flags", doc="letters: 1/2/3 via-branch, a asymmetric, b extra id, i/e direction, l lookup "
                         "only, f force, r trust the SDP address, c session c=, o o= line, x IPv4/6 "
                         "bridge, w symmetric, zNN repacketize, t no To tag (delete)")
IP = Arg("ip_address", doc="the address to write in the SDP instead of the proxy's")

EXPORTS = Exports(
    name="rtpproxy",
    doc="Media relaying through RTPProxy: its text control protocol over UDP or a unix socket, sets "
        "of proxies with weights, dead proxies disabled and tried again, SDP rewritten with the "
        "proxy's ports and addresses, recording, playback to the parties, statistics.",
    params=(
        Param("nortpproxy_str", (str,), "a=nortpproxy:yes",
              doc="the SDP line marking an SDP a proxy rewrote (trailing line ends dropped; empty: none)"),
        Param("rtpproxy_sock", (str,), None, multi=True,
              doc="`[<set> ==] url[=weight] ...`: the proxies (udp:, udp6:, unix: or a path)"),
        Param("rtpproxy_disable_tout", (int,), 60, doc="seconds before a failed proxy is tried again"),
        Param("rtpproxy_retr", (int,), 5, doc="how often a UDP command is sent before giving up"),
        Param("rtpproxy_tout", (int,), 1, doc="seconds to wait for each reply"),
        Param("timeout_socket", (str,), None, doc="the notification socket given to U commands"),
        Param("ice_candidate_priority_avp", (str,), None,
              doc="an AVP (0, 1 or 2; 2 when unset) choosing the priority of the relay ICE candidates added"),
        Param("extra_id_pv", (str,), None, doc="the format the `b` flag adds to the Call-ID"),
        Param("db_url", (str,), None, doc="the database of the proxies (then the table, not rtpproxy_sock)"),
        Param("table_name", (str,), "rtpproxy"),
        Param("rtp_inst_pvar", (str,), None, doc="a pseudo-variable that gets the URL of the proxy used"),
    ),
    functions=(
        Function("set_rtp_proxy_set", args=(Arg("setid", ArgKind.STR, fixup="fix_set_id"),), routes=ANY,
                 doc="The set (a number, or a pseudo-variable holding one) the next commands of the "
                     "message use.", returns="1, or -1 when the set is unknown"),
        Function("unforce_rtp_proxy", args=(FLAGS,), min_args=0, routes=ANY,
                 doc="Deletes the session (D command).", returns="1, -1 on error"),
        Function("rtpproxy_destroy", args=(FLAGS,), min_args=0, routes=ANY,
                 doc="The same as unforce_rtp_proxy().", returns="1, -1 on error"),
        Function("start_recording", routes=ANY, doc="Starts recording the session (R command).",
                 returns="1, -1 on error"),
        Function("rtpproxy_offer", args=(FLAGS, IP), min_args=0, routes=ANY,
                 doc="Creates or updates the session (U command) for each media stream and rewrites "
                     "the SDP.", returns="1, -1 error, -2 the SDP was relayed already, -3 no proxy"),
        Function("rtpproxy_answer", args=(FLAGS, IP), min_args=0, routes=ANY,
                 doc="Looks the session up (L command) for each media stream and rewrites the SDP (in "
                     "requests only for ACK).",
                 returns="1, -1 error, -2 the SDP was relayed already, -3 no proxy"),
        Function("rtpproxy_stream2uac", args=(Arg("prompt_name"), Arg("count", ArgKind.INT)), routes=ANY,
                 doc="Plays a prompt to the caller (P command), `count` times (-1: forever).",
                 returns="1, -1 on error"),
        Function("rtpproxy_stream2uas", args=(Arg("prompt_name"), Arg("count", ArgKind.INT)), routes=ANY,
                 doc="Plays a prompt to the callee (P command).", returns="1, -1 on error"),
        Function("rtpproxy_stop_stream2uac", routes=ANY, doc="Stops a prompt to the caller (S command).",
                 returns="1, -1 on error"),
        Function("rtpproxy_stop_stream2uas", routes=ANY, doc="Stops a prompt to the callee (S command).",
                 returns="1, -1 on error"),
        Function("rtpproxy_manage", args=(FLAGS, IP), min_args=0, routes=ANY,
                 doc="Offer, answer or delete, as the message is: INVITE with SDP offer (delete in "
                     "failure_route), ACK with SDP answer, PRACK/UPDATE with SDP offer, BYE/CANCEL and "
                     "replies >= 300 delete, replies with SDP answer (offer when the INVITE had none).",
                 returns="as rtpproxy_offer()"),
    ),
    pvars=(
        PVClass("rtpstat", handler="pv_rtpstat", doc="the session's statistics (Q command)"),
        PVClass("rtppstat", handler="pv_rtpstat", doc="the same as $rtpstat"),
    ),
    rpc=(
        RpcMethod("rtpproxy.list", "rpc_list", doc="List rtp proxies.", array=True),
        RpcMethod("rtpproxy.enable", "rpc_enable", doc="Set state (enable/disable) for a rtp proxy.",
                  params_fault=(500, "Not enough parameters")),
    ),
    needs=(Need("tm", TmAPI, optional=True,
                doc="rtpproxy_manage() marks the transaction of an INVITE with SDP"),),
    factory=RtpproxyModule,
)
