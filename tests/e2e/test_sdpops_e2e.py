"""sdpops on the wire, kampy beside Kamailio 5.6 running the same config (configs/sdpops.cfg): each
INVITE is changed by one or two of sdpops' functions and relayed statelessly to the test, which
compares the relayed SDP and Content-Length, and the functions' results, of both servers."""
from __future__ import annotations

import socket
from pathlib import Path


from tests.e2e import dualserver
from tests.e2e.dualserver import Server, Started, differences, relayed_by_each
from tests.e2e.proxy import Msg

CFG = dualserver.CONFIGS / "sdpops.cfg"

AV = ("v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n"
      "t=0 0\r\nm=audio 49170 RTP/AVP 0 8 18 101 13\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
      "a=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\na=rtpmap:101 telephone-event/8000\r\n"
      "a=fmtp:101 0-15\r\na=rtcp-fb:101 nack\r\na=ptime:20\r\na=sendrecv\r\n"
      "m=video 51372 RTP/AVPF 96 97\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 profile-level-id=42e01f\r\n"
      "a=rtcp-fb:96 nack pli\r\na=rtpmap:97 VP8/90000\r\na=rtcp-fb:97 ccm fir\r\n")
SAVP = ("v=0\r\no=- 7 9 IN IP6 2001:db8::1\r\ns=call\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\n"
        "m=audio 4000 RTP/SAVP 8 0\r\na=rtpmap:8 PCMA/8000\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 "
        "inline:abc\r\na=candidate:1 1 UDP 2130706431 2001:db8::1 4000 typ host\r\n"
        "m=image 0 udptl t38\r\na=T38FaxVersion:0\r\n")
HOLD = ("v=0\r\no=bob 5 99 IN IP4 192.0.2.20\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n"
        "c=IN IP4 192.0.2.20\r\nm=video 5000 RTP/AVP 31\r\nc=IN IP4 192.0.2.20\r\na=inactive\r\n"
        "m=audio 6000 RTP/AVP 8\r\nc=IN IP4 192.0.2.20\r\na=recvonly\n")
MIXED_BODY = ("--b1\r\nContent-Type: application/sdp\r\n\r\n" + AV + "\r\n--b1\r\n"
              "Content-Type: text/plain\r\n\r\nhello\r\n--b1--\r\n")
MIXED = "multipart/mixed;boundary=b1"
TWO = ("v=0\r\no=x 1 2 IN IP4 192.0.2.30\r\ns=-\r\nc=IN IP4 192.0.2.30\r\nt=0 0\r\n"
       "m=audio 7000 RTP/AVP 0 101 102\r\na=rtpmap:101 telephone-event/8000\r\n"
       "a=rtpmap:102 telephone-event/16000\r\na=rtpmap:7 LPC/8000\r\n"
       "m=audio 7002 RTP/AVP 8 101 0\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
       "a=rtpmap:0 PCMU/8000\r\n")
SDP = "application/sdp"

# (name, [(function, a, b), ...], body, Content-Type)
CASES = [
    ("rm-id", [("remove_codecs_by_id", "8,101", "")], AV, SDP),
    ("rm-id-media", [("remove_codecs_by_id2", "0,96", "video")], AV, SDP),
    ("rm-id-spaces", [("remove_codecs_by_id", " 8, 18 ,0", "")], AV, SDP),
    ("rm-id-first-last", [("remove_codecs_by_id", "0,13,97", "")], AV, SDP),
    ("rm-id-missing", [("remove_codecs_by_id", "3", "")], AV, SDP),
    ("rm-name", [("remove_codecs_by_name", "PCMA,telephone-event", "")], AV, SDP),
    ("rm-name-case", [("remove_codecs_by_name", "h264,g729", "")], AV, SDP),
    ("rm-name-cn-first", [("remove_codecs_by_name", "CN,PCMA", "")], AV, SDP),
    ("rm-name-media", [("remove_codecs_by_name2", "VP8,PCMU", "audio")], AV, SDP),
    ("rm-name-unknown", [("remove_codecs_by_name", "opus", "")], AV, SDP),
    ("keep-id", [("keep_codecs_by_id", "8,101", "")], AV, SDP),
    ("keep-id-media", [("keep_codecs_by_id2", "8", "audio")], AV, SDP),
    ("keep-name", [("keep_codecs_by_name", "PCMU,H264", "")], AV, SDP),
    ("keep-name-cn", [("keep_codecs_by_name", "PCMU,CN", "")], AV, SDP),
    ("keep-name-media", [("keep_codecs_by_name2", "G729", "audio")], AV, SDP),
    ("rm-then-keep", [("remove_codecs_by_id", "0,8", ""), ("keep_codecs_by_id", "8,101,96", "")], AV, SDP),
    ("with-media", [("with_media", "video", ""), ("with_media", "Audio", "")], AV, SDP),
    ("with-media-no", [("with_media", "image", "")], AV, SDP),
    ("active-media", [("with_active_media", "audio", ""), ("with_active_media", "video", "")], HOLD, SDP),
    ("active-media-image", [("with_active_media", "image", "")], SAVP, SDP),
    ("rm-media", [("remove_media", "video", "")], AV, SDP),
    ("rm-media-first", [("remove_media", "audio", "")], AV, SDP),
    ("rm-media-two", [("remove_media", "audio", "")], HOLD, SDP),
    ("rm-media-none", [("remove_media", "image", "")], AV, SDP),
    ("transport", [("with_transport", "rtp/avpf", ""), ("with_transport", "RTP", "")], AV, SDP),
    ("transport-like", [("with_transport_like", "SAVP", ""), ("with_transport_like", "savp", "")], SAVP, SDP),
    ("rm-transport", [("remove_transport", "udptl", "")], SAVP, SDP),
    ("rm-transport-none", [("remove_transport", "TCP/MSRP", "")], SAVP, SDP),
    ("common-transport", [("transport", "", "")], HOLD, SDP),
    ("no-common-transport", [("transport", "", "")], AV, SDP),
    ("with-id", [("with_codecs_by_id", "0,8", ""), ("with_codecs_by_id", "96", "")], AV, SDP),
    ("with-id-none", [("with_codecs_by_id", "3,4", "")], AV, SDP),
    ("with-name", [("with_codecs_by_name", "PCMA", ""), ("with_codecs_by_name", "VP8", "")], AV, SDP),
    ("with-name-none", [("with_codecs_by_name", "opus", "")], AV, SDP),
    ("print", [("print", "", ""), ("get", "", "")], AV, SDP),
    ("content", [("content", "", ""), ("content_sloppy", "", "")], AV, SDP),
    ("content-mixed", [("content", "", ""), ("content_sloppy", "", "")], MIXED_BODY, MIXED),
    ("content-text", [("content", "", ""), ("content_sloppy", "", "")], "hello\r\n", "text/plain"),
    ("ice", [("with_ice", "", ""), ("get_address_family", "", "")], SAVP, SDP),
    ("no-ice", [("with_ice", "", ""), ("get_address_family", "", "")], AV, SDP),
    ("family-none", [("get_address_family", "", "")], HOLD, SDP),
    ("line", [("get_line_startswith", "a=rtpmap:1", ""), ("get_line_startswith", "m=video", "")], AV, SDP),
    ("line-lf", [("get_line_startswith", "a=recv", ""), ("get_line_startswith", "b=", "")], HOLD, SDP),
    ("rm-prefix", [("remove_line_by_prefix", "a=rtcp-fb", "")], AV, SDP),
    ("rm-prefix-runs", [("remove_line_by_prefix", "a=rtpmap:", "")], AV, SDP),
    ("rm-prefix-media", [("remove_line_by_prefix2", "a=rtpmap", "video")], AV, SDP),
    ("rm-prefix-none", [("remove_line_by_prefix", "x=", "")], AV, SDP),
    ("sess-version", [("set_sess_version", "42", "")], AV, SDP),
    ("sess-version-inc", [("set_sess_version", "-1", "")], HOLD, SDP),  # no SDP parsed yet: an error
    ("sess-version-parsed", [("with_media", "audio", ""), ("set_sess_version", "-1", "")], HOLD, SDP),
    ("sess-version-and-codecs", [("remove_codecs_by_id", "8", ""), ("set_sess_version", "-1", "")], SAVP,
     SDP),
    ("sess-version-longer", [("with_media", "audio", ""), ("set_sess_version", "1234", "")], SAVP, SDP),
    ("sess-version-shorter", [("with_ice", "", ""), ("set_sess_version", "7", "")], HOLD, SDP),
    ("mixed-rm-id", [("remove_codecs_by_id", "18", ""), ("remove_media", "video", "")], MIXED_BODY, MIXED),
    ("two-rm-name", [("remove_codecs_by_name", "telephone-event", "")], TWO, SDP),
    ("two-keep-name", [("keep_codecs_by_name", "PCMA,telephone-event", "")], TWO, SDP),
    ("two-keep-unknown", [("keep_codecs_by_name", "opus", "")], TWO, SDP),
    ("two-rm-lpc", [("remove_codecs_by_name", "LPC", ""), ("with_codecs_by_name", "LPC", "")], TWO, SDP),
    ("two-with-id", [("with_codecs_by_id", "0,101", ""), ("with_codecs_by_id", "102", "")], TWO, SDP),
    ("two-rm-media", [("remove_media", "audio", ""), ("get_address_family", "", "")], TWO, SDP),
    ("two-rm-prefix-media", [("remove_line_by_prefix2", "a=rtpmap:101", "audio")], TWO, SDP),
    ("mixed-prefix", [("remove_line_by_prefix", "a=rtpmap", ""), ("get", "", "")], MIXED_BODY, MIXED),
    ("mixed-line", [("get_line_startswith", "Content-Type", ""), ("get_line_startswith", "t=", "")],
     MIXED_BODY, MIXED),
    ("no-body", [("remove_codecs_by_id", "0", ""), ("with_media", "audio", ""), ("get", "", ""),
                 ("transport", "", "")], "", ""),
    ("no-body-2", [("with_codecs_by_id", "0", ""), ("get_line_startswith", "m=", "")], "", ""),
    ("not-sdp", [("remove_media", "audio", ""), ("with_codecs_by_id", "0", "")], "hello\r\n", "text/plain"),
]



def relayed(server: Server, sender: socket.socket, capture: socket.socket, case: tuple) -> dict[str, str]:
    name, ops, body, ctype = case
    cport = capture.getsockname()[1]
    lines = ["INVITE sip:bob@example.test SIP/2.0", f"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-{name}",
             "From: <sip:alice@example.test>;tag=a", "To: <sip:bob@example.test>", f"Call-ID: {name}",
             "CSeq: 1 INVITE", "Max-Forwards: 70", f"X-To: 127.0.0.1:{cport}"]
    for i, (function, a, b) in enumerate(ops[:2], 1):
        lines += [f"X-F{i}: {function}", f"X-A{i}: {a or '-'}", f"X-B{i}: {b or '-'}"]
    if ctype:
        lines.append(f"Content-Type: {ctype}")
    lines.append(f"Content-Length: {len(body)}")
    sender.sendto(("\r\n".join(lines) + "\r\n\r\n" + body).encode(), server.addr)
    capture.settimeout(5)
    msg = Msg.parse(capture.recv(65536))
    return {"result": msg.header("x-result") or "", "body": msg.body.decode(),
            "length": msg.header("content-length") or ""}


def split(case: tuple) -> list[tuple]:
    """A case of more than two functions as several requests of two."""
    name, ops, body, ctype = case
    return [(f"{name}-{i}", ops[i:i + 2], body, ctype) for i in range(0, len(ops), 2)]


def test_the_functions_change_and_read_the_sdp_as_kamailio_does(tmp_path: Path,
                                                                dual_servers: Started) -> None:
    cases = [part for case in CASES for part in split(case)]
    seen = relayed_by_each(dual_servers, CFG, tmp_path, cases, relayed)
    differ = differences(seen, ("result", "body", "length"))
    assert not differ, "\n".join(differ)
    changed = [c[0] for c in cases if seen["kamailio"][c[0]]["body"] != c[2]]
    assert len(changed) > 15  # the cases do change bodies
