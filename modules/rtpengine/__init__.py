"""rtpengine: media relaying through Sipwise rtpengine over its ng control protocol."""
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
    TmAPI,
)

from .rtpengine import RtpengineModule
from .stats import all_params

__all__ = ["EXPORTS", "RtpengineModule"]

ANY = RouteType.ANY
FLAGS = Arg("flags", doc="the flags string (may hold pseudo-variables)")


def _command(name: str, doc: str, returns: str = "1 on success, -1 on failure", optional: bool = True,
             handler: str = "") -> Function:
    return Function(name, handler=handler, args=(FLAGS,), min_args=0 if optional else 1, routes=ANY,
                    doc=doc, returns=returns)


MOS_PARAMS = tuple(Param(name, (str,), None, doc="the pseudo-variable that gets this MOS figure of a "
                                                 "query or delete (see the README)")
                   for name in all_params())

EXPORTS = Exports(
    name="rtpengine",
    doc="Media relaying through Sipwise rtpengine (the ng protocol: bencoded commands over UDP, a "
        "unix socket or WebSocket): offer/answer/delete with SDP rewritten by rtpengine, sets of "
        "instances with weights, dead instances disabled and probed back, recording, media and DTMF "
        "control, statistics.",
    params=(
        Param("rtpengine_sock", (str,), None, multi=True,
              doc="`[<set> ==] url[=weight] ...`: the instances (udp:, udp6:, unix:, ws://, wss://)"),
        Param("rtpengine_disable_tout", (int,), 60, doc="seconds before a failed instance is tried again"),
        Param("aggressive_redetection", (int,), 1,
              doc="1: ping every instance of the set when none is usable"),
        Param("rtpengine_retr", (int,), 5, doc="how often a UDP command is sent before giving up"),
        Param("queried_nodes_limit", (int,), 30, doc="instances tried for one command, at most"),
        Param("rtpengine_tout_ms", (int,), 1000, doc="milliseconds to wait for each reply"),
        Param("rtpengine_allow_op", (int,), 0,
              doc="1: commands of a call go on to its disabled instance; 2: only to one disabled by RPC"),
        Param("control_cmd_tos", (int,), -1, doc="the TOS of control packets (0-255; else none)"),
        Param("db_url", (str,), None,
              doc="the database of the instances (then the table, not rtpengine_sock)"),
        Param("table_name", (str,), "rtpengine"),
        Param("setid_col", (str,), "setid"),
        Param("url_col", (str,), "url"),
        Param("weight_col", (str,), "weight"),
        Param("disabled_col", (str,), "disabled"),
        Param("extra_id_pv", (str,), None, doc="the format via-branch=extra sends"),
        Param("setid_avp", (str,), None, doc="an AVP holding the set to use"),
        Param("force_send_interface", (str,), None, doc="the local address control packets are sent from"),
        Param("rtp_inst_pvar", (str,), None, doc="a pseudo-variable that gets the URL of the instance used"),
        Param("write_sdp_pv", (str,), None, doc="where offer/answer put rtpengine's SDP instead of the body"),
        Param("read_sdp_pv", (str,), None, doc="where offer/answer take the SDP from instead of the body"),
        Param("hash_table_tout", (int,), 3600, doc="seconds a call stays tied to its instance"),
        Param("hash_table_size", (int,), 256, doc="the initial size of the table of calls"),
        Param("setid_default", (int,), 0, doc="the set used when none was chosen"),
        Param("media_duration", (str,), None, doc="a pseudo-variable that gets play_media()'s duration"),
        Param("hash_algo", (int,), 0,
              doc="how a call picks its instance: 0 sum of the Call-ID, 1 SHA-1, 2 CRC32"),
        *MOS_PARAMS,
        Param("wsapi", (str,), None, doc="`lwsc`: ws:// and wss:// instances may be used"),
    ),
    functions=(
        Function("set_rtpengine_set", args=(Arg("setid", ArgKind.STR, fixup="fix_set_id"),
                                             Arg("setid2", ArgKind.STR, fixup="fix_set_id")),
                 min_args=1, routes=ANY,
                 doc="The set (a number, or a pseudo-variable holding one) the next commands of the "
                     "message use; a second set daisy-chains two instances.",
                 returns="1 (or the number of active instances of a set from a pseudo-variable), -1 "
                         "error, -2 no active instance"),
        _command("start_recording", "Starts recording the call."),
        _command("stop_recording", "Stops recording the call."),
        _command("block_dtmf", "Blocks DTMF events (of a party with `directional`, from-tag=, address=)."),
        _command("unblock_dtmf", "Unblocks DTMF events."),
        _command("block_media", "Blocks media."),
        _command("unblock_media", "Unblocks media."),
        _command("silence_media", "Replaces media with silence."),
        _command("unsilence_media", "Ends silence_media()."),
        _command("start_forwarding", "Starts PCM forwarding."),
        _command("stop_forwarding", "Stops PCM forwarding."),
        _command("play_media", "Plays a media file (file=, blob=, db-id=) to a party.", optional=False),
        _command("stop_media", "Stops play_media()."),
        _command("play_dtmf", "Injects a DTMF event (code=, duration=, volume=, pause=).", optional=False),
        _command("rtpengine_offer", "Sends the SDP as an offer and puts rtpengine's SDP in the message."),
        _command("rtpengine_answer", "Sends the SDP as an answer and puts rtpengine's SDP in the message "
                 "(in requests only for ACK and PRACK)."),
        _command("rtpengine_info", "Sends the SDP as an updated offer (trickle ICE in INFO); the message "
                 "is not changed."),
        _command("rtpengine_manage", "Offer, answer or delete, as the message is: INVITE with SDP offer "
                 "(delete in failure_route), ACK/PRACK with SDP answer, BYE/CANCEL and replies >= 300 "
                 "delete, replies with SDP answer (offer when the INVITE had none)."),
        _command("rtpengine_delete",
                 "Deletes the call (or its via-branch) and fills the MOS pseudo-variables."),
        _command("rtpengine_query", "Queries the call and fills the MOS pseudo-variables."),
        Function("rtpengine_query_v", args=(Arg("fmt"), Arg("var", ArgKind.PVAR, fixup="fix_query_var")),
                 routes=ANY, doc="Writes the query's reply as JSON (`j` compact, `jp` pretty) to `var`.",
                 returns="1 on success, -1 on failure"),
    ),
    pvars=(
        PVClass("rtpstat", handler="pv_rtpstat", doc="the call's RTP and RTCP counters (a query)"),
        PVClass("rtpestat", handler="pv_rtpstat", doc="the same as $rtpstat"),
    ),
    rpc=(
        RpcMethod("rtpengine.reload", "rpc_reload", doc="Reload rtpengine proxies from database"),
        RpcMethod("rtpengine.ping", "rpc_ping", doc="Ping an rtpengine instance",
                  params_fault=(500, "Not enough parameters")),
        RpcMethod("rtpengine.show", "rpc_show", doc="Get details about an rtpengine instance", array=True,
                  params_fault=(500, "Not enough parameters")),
        RpcMethod("rtpengine.enable", "rpc_enable", doc="Enable or disable an rtpengine instance",
                  params_fault=(500, "Not enough parameters")),
        RpcMethod("rtpengine.get_hash_total", "rpc_get_hash_total",
                  doc="Get total number of entries in hash table"),
    ),
    timers=(Timer("rtpengine_calls", "expire_calls", interval=10,
                  doc="drops the calls of the table whose hash_table_tout passed"),),
    needs=(Need("tm", TmAPI, optional=True,
                doc="rtpengine_manage() marks the transaction of an INVITE with SDP; via-branch=next"),),
    factory=RtpengineModule,
)
