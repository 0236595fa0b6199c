"""sdpops: operations on the SDP body of a message (Kamailio's sdpops module)."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, PVClass, RouteType

from .sdpops import SdpopsModule

__all__ = ["EXPORTS", "SdpopsModule"]

ANY = RouteType.ANY
_MEDIA = Arg("media", ArgKind.FMT, doc="only the streams of this media type (`audio`, `video`...)")
_OK = "1, or -1 when the body is not SDP or does not parse"


def _codecs(name: str, what: str, by: str) -> Function:
    return Function(name, args=(Arg("codecs", ArgKind.FMT, doc=f"comma-separated codec {by}"), _MEDIA),
                    min_args=1, routes=ANY, doc=what, returns=_OK)


def _one(name: str, arg: str, doc: str, returns: str, kind: ArgKind = ArgKind.FMT) -> Function:
    return Function(name, args=(Arg(arg, kind),), routes=ANY, doc=doc, returns=returns)


EXPORTS = Exports(
    name="sdpops",
    doc="Checks and changes the SDP body: codecs by id or name, media streams, transports, lines; "
        "reads the SDP, its lines and its session version.",
    functions=(
        _codecs("sdp_remove_codecs_by_id",
                "Removes the codecs with these payload ids from the m= lines, and their a=rtpmap, "
                "a=fmtp and a=rtcp-fb lines.", "ids"),
        _codecs("sdp_remove_codecs_by_name",
                "Removes the codecs with these names (the static payload types' names, else the "
                "a=rtpmap encodings of the SDP), as sdp_remove_codecs_by_id does.", "names"),
        _codecs("sdp_keep_codecs_by_id", "Removes every codec but these payload ids.", "ids"),
        _codecs("sdp_keep_codecs_by_name", "Removes every codec but these names.", "names"),
        _one("sdp_with_media", "media", "Whether a stream has this media type (`m=<media> ...`).",
             "1 when one has, -1 when none has or the SDP does not parse"),
        _one("sdp_with_active_media", "media",
             "Whether a stream of this media type is active: port not 0 and not a=inactive.",
             "1 when one is, -1 otherwise"),
        _one("sdp_remove_media", "media", "Removes the streams of this media type.",
             "1 when one was removed, -1 otherwise"),
        _one("sdp_with_transport", "transport", "Whether a stream has this transport (`RTP/AVP`...).",
             "1 when one has, -1 otherwise"),
        _one("sdp_with_transport_like", "transport",
             "Whether a stream's transport contains this text (case-sensitive).",
             "1 when one does, -1 otherwise"),
        _one("sdp_remove_transport", "transport", "Removes the streams with this transport.",
             "1 when one was removed, -1 otherwise"),
        _one("sdp_transport", "avp",
             "Adds the transport common to every stream to the AVP (given as `$avp(name)`).",
             "1 (also without streams), -2 when the streams' transports differ, -1 on error",
             ArgKind.STR),
        _one("sdp_with_codecs_by_id", "codecs", "Whether the streams hold these payload ids.",
             "1 when each id is in each stream, 2 when some are, -1 when none is, -2 when the body "
             "is not SDP"),
        _one("sdp_with_codecs_by_name", "codecs", "Whether the streams hold these codec names.",
             "1 when each is in each stream, 2 when some are, -1 when none is or on error"),
        _one("sdp_print", "level",
             "Logs the SDP at this log level. Kamailio 5.6 logs only `no sdp body` here (it hands "
             "its printer no SDP), and so does kampy.", "1, or -1 when the SDP does not parse",
             ArgKind.INT),
        _one("sdp_get", "avp", "Adds the SDP to the AVP (given as `$avp(name)`).",
             "1, -2 without a body, -1 when it is not SDP", ArgKind.STR),
        Function("sdp_content", args=(Arg("sloppy", ArgKind.STR,
                                          doc="any value: the Content-Type alone decides"),),
                 min_args=0, routes=ANY,
                 doc="Whether the body is SDP: it parses as SDP, or (with an argument) the "
                     "Content-Type is application/sdp, missing, or multipart/mixed with an "
                     "application/sdp part.", returns="1 or -1"),
        Function("sdp_with_ice", routes=ANY, doc="Whether the body holds `a=candidate`.",
                 returns="1 or -1"),
        Function("sdp_get_line_startswith",
                 args=(Arg("avp", ArgKind.STR), Arg("line", ArgKind.FMT)), routes=ANY,
                 doc="Adds the first SDP line beginning with `line` (without its CRLF) to the AVP.",
                 returns="1 when found, -1 when not, -2 without a body"),
        Function("sdp_get_address_family", routes=ANY,
                 doc="The address family of the (last) session's c= line.",
                 returns="4 for IP4, 6 for IP6, -1 without a session c= line or on error"),
        Function("sdp_remove_line_by_prefix",
                 args=(Arg("prefix", ArgKind.FMT), _MEDIA), min_args=1, routes=ANY,
                 doc="Removes the SDP lines beginning with `prefix` (in the streams of `media` "
                     "only, when given).", returns="1, -1 when the body is not SDP"),
    ),
    pvars=(PVClass("sdp", handler="pv_sdp", arg="required", writable=True,
                   doc="`$sdp(body)`: the SDP; `$sdp(sess_version)`: the o= line's sess-version, "
                       "assigning an integer rewrites it (-1: one more than now)"),),
    factory=SdpopsModule,
)
