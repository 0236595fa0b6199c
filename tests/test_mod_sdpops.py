"""sdpops in-process: the SDP each function relays and what it returns, as Kamailio 5.6's sdpops does
(tests/e2e/test_sdpops_e2e.py compares many more cases with Kamailio on the wire)."""
from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from kampy.api import L_NOTICE, python_level
from kampy.testing import Harness

CFG = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "sdpops.so"

request_route {
    $var(r) = "none";
    $var(x) = "";
    if ($hdr(X-Test) == "rm_id") { sdp_remove_codecs_by_id("$hdr(X-Arg)"); $var(r) = $rc; }
    if ($hdr(X-Test) == "rm_id_video") { sdp_remove_codecs_by_id("$hdr(X-Arg)", "video"); $var(r) = $rc; }
    if ($hdr(X-Test) == "keep_name") { sdp_keep_codecs_by_name("$hdr(X-Arg)"); $var(r) = $rc; }
    if ($hdr(X-Test) == "rm_twice") {
        sdp_remove_codecs_by_id("8");
        sdp_remove_media("audio"); $var(r) = $rc;
    }
    if ($hdr(X-Test) == "with_id") { sdp_with_codecs_by_id("$hdr(X-Arg)"); $var(r) = $rc; }
    if ($hdr(X-Test) == "get") { sdp_get("$avp(s)"); $var(r) = $rc; $var(x) = " " + $(avp(s){s.len}); }
    if ($hdr(X-Test) == "line") {
        sdp_get_line_startswith("$avp(l)", "a=rtpmap:8"); $var(r) = $rc; $var(x) = " " + $avp(l);
    }
    if ($hdr(X-Test) == "bad_avp") { sdp_get("$var(x)"); $var(r) = $rc; }
    if ($hdr(X-Test) == "version") {
        $var(old) = $sdp(sess_version);
        $sdp(sess_version) = -1;
        $var(r) = $var(old);
    }
    if ($hdr(X-Test) == "prefix") { sdp_remove_line_by_prefix("a=rtpmap"); $var(r) = $rc; }
    if ($hdr(X-Test) == "family") { sdp_get_address_family(); $var(r) = $rc; }
    if ($hdr(X-Test) == "print") { sdp_print("1"); $var(r) = $rc; }
    append_hf("X-Result: $var(r)$var(x)\\r\\n");
    forward("192.0.2.99", "5099");
}
"""

SDP = ("v=0\r\no=alice 1 41 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
       "m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
       "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"
       "m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n")


@pytest.fixture
def sip(kampy_cfg: Callable[..., Harness]) -> Harness:
    return kampy_cfg(CFG)


def relay(sip: Harness, test: str, arg: str = "", body: str = SDP) -> tuple[str, str]:
    """(X-Result, body) of the relayed request."""
    lines = ["INVITE sip:bob@example.test SIP/2.0", f"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-{test}",
             "From: <sip:alice@example.test>;tag=a", "To: <sip:bob@example.test>", f"Call-ID: {test}",
             "CSeq: 1 INVITE", "Max-Forwards: 70", f"X-Test: {test}", f"X-Arg: {arg}"]
    if body:
        lines.append("Content-Type: application/sdp")
    sent = sip.send("\n".join(lines) + "\n\n" + body, src="192.0.2.1:5060").forwarded
    assert len(sent) == 1
    head, _, relayed = sent[0].data.partition(b"\r\n\r\n")
    fields = {name.strip().lower(): value.strip() for name, _, value in
              (line.partition(b":") for line in head.split(b"\r\n")[1:])}
    result, length = fields[b"x-result"], fields[b"content-length"]
    assert int(length) == len(relayed)
    return result.decode(), relayed.decode()


def test_remove_codecs_by_id_drops_the_ids_and_their_attribute_lines(sip: Harness) -> None:
    result, body = relay(sip, "rm_id", "8,101")
    assert result == "1"
    assert body == SDP.replace(" 8 101", "").replace("a=rtpmap:8 PCMA/8000\r\n", "").replace(
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n", "")


def test_remove_codecs_by_id_with_a_media_type_changes_only_those_streams(sip: Harness) -> None:
    expected = SDP.replace(" 96", "").replace("a=rtpmap:96 H264/90000\r\n", "")
    assert relay(sip, "rm_id_video", "0,96")[1] == expected


def test_keep_codecs_by_name_removes_every_other_codec(sip: Harness) -> None:
    _, body = relay(sip, "keep_name", "PCMA")
    assert "m=audio 4000 RTP/AVP 8\r\n" in body and "m=video 5000 RTP/AVP\r\n" in body
    assert "PCMU" not in body and "H264" not in body


def test_deletions_of_two_functions_on_the_same_bytes_are_merged(sip: Harness) -> None:
    result, body = relay(sip, "rm_twice")
    assert result == "1"
    assert body == SDP[:SDP.index("m=audio")] + SDP[SDP.index("m=video"):]


AUDIO = SDP[:SDP.index("m=video")]


@pytest.mark.parametrize(("ids", "body", "expected"), [
    ("0,8", AUDIO, "1"),      # each id in each stream
    ("0,8", SDP, "2"),        # not in the video stream
    ("0,96", AUDIO, "2"),
    ("3", SDP, "-1"),
])
def test_with_codecs_by_id_says_whether_all_some_or_none_are_there(sip: Harness, ids: str, body: str,
                                                                   expected: str) -> None:
    assert relay(sip, "with_id", ids, body=body)[0] == expected


def test_with_codecs_by_id_without_a_body_returns_minus_2(sip: Harness) -> None:
    assert relay(sip, "with_id", "0", body="")[0] == "-2"


def test_sdp_get_puts_the_whole_body_in_the_avp(sip: Harness) -> None:
    assert relay(sip, "get")[0] == f"1 {len(SDP)}"


def test_get_line_startswith_gives_the_line_without_its_crlf(sip: Harness) -> None:
    assert relay(sip, "line")[0] == "1 a=rtpmap:8 PCMA/8000"


def test_an_avp_argument_that_is_not_an_avp_fails(sip: Harness) -> None:
    assert relay(sip, "bad_avp")[0] == "-1"


def test_sess_version_reads_and_increments_the_origin_line(sip: Harness) -> None:
    result, body = relay(sip, "version")
    assert result == "41"
    assert body.startswith("v=0\r\no=alice 1 42 IN IP4")


def test_remove_line_by_prefix_removes_every_matching_line(sip: Harness) -> None:
    result, body = relay(sip, "prefix")
    assert result == "1" and "a=rtpmap" not in body and "a=fmtp:101 0-15\r\n" in body


def test_address_family_comes_from_the_session_connection_line(sip: Harness) -> None:
    assert relay(sip, "family")[0] == "4"
    assert relay(sip, "family", body=SDP.replace("IN IP4 192.0.2.10", "IN IP6 ::1"))[0] == "6"


def test_sdp_print_logs_what_kamailio_56_logs(sip: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert relay(sip, "print")[0] == "1"
    assert [(r.levelno, r.getMessage()) for r in caplog.records if r.name.endswith("sdpops")] == [
        (python_level(L_NOTICE), "no sdp body")]
