"""rtpproxy in-process, against the RTPProxy stand-in of tests/support/rtpproxy.py (no RTPProxy is
packaged here; the stand-in answers the control protocol as RTPProxy's documentation describes it):
the U/L/D/R/P/S/Q commands each function sends (flags, tags in the message's direction, via-branch,
payload lists), the SDP rewritten (ports, addresses, session c=, o=, ICE relay candidates, the
nortpproxy line), rtpproxy_manage by message, sets (constant and pseudo-variable), weights, a silent
proxy disabled and tried again, the database of proxies, $rtpstat, rtp_inst_pvar and the RPC
commands. tests/e2e/test_rtpproxy_e2e.py compares the commands and SDP with Kamailio's on the wire."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kampy.testing import Answer, Harness
from tests.support.rtpproxy import Responder

SDP = ("v=0\r\no=alice 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"
       "m=audio 40000 RTP/AVP 0 8 101\r\na=rtcp:40001\r\nm=video 40010 RTP/AVP 96\r\n")
SDP6 = SDP.replace("IN IP4 10.0.0.5", "IN IP6 2001:db8::5")
SRC = "192.0.2.10"

CFG = """
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "rtpproxy.so"
modparam("rtpproxy", "rtpproxy_sock", "{sock}")
modparam("rtpproxy", "rtpproxy_tout", 1)
modparam("rtpproxy", "rtpproxy_retr", 1)
modparam("rtpproxy", "rtp_inst_pvar", "$avp(inst)")
{extra}

request_route {{
    $var(rc) = "none";
    $var(f) = $hdr(X-Flags);
    if ($hdr(X-Set) != $null) {{ $var(set) = $(hdr(X-Set){{s.int}}); set_rtp_proxy_set("$var(set)"); }}
    if ($hdr(X-Test) == "offer") {{ rtpproxy_offer("$var(f)"); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "offer_ip") {{ rtpproxy_offer("$var(f)", "203.0.113.7"); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "answer") {{ rtpproxy_answer("$var(f)"); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "unforce") {{ unforce_rtp_proxy("$var(f)"); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "destroy") {{ rtpproxy_destroy("$var(f)"); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "manage") {{ rtpproxy_manage("$var(f)"); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "record") {{ start_recording(); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "uac") {{ rtpproxy_stream2uac("/p/hello", "3"); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "uas") {{ rtpproxy_stream2uas("/p/hello", "-1"); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "stop_uac") {{ rtpproxy_stop_stream2uac(); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "stop_uas") {{ rtpproxy_stop_stream2uas(); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "rtpstat") {{ $var(rc) = $rtpstat; }}
    if ($hdr(X-Test) == "rtppstat") {{ $var(rc) = $rtppstat; }}
    if ($hdr(X-Test) == "relay") {{
        record_route();
        rtpproxy_manage("$var(f)");
        t_on_reply("REPLY");
        t_on_failure("FAILED");
        t_relay();
        exit;
    }}
    append_to_reply("X-Rc: $var(rc)\\r\\nX-Inst: $avp(inst)\\r\\n");
    sl_send_reply("200", "OK");
}}

onreply_route[REPLY] {{ rtpproxy_manage("$var(f)"); }}
failure_route[FAILED] {{ rtpproxy_manage(); }}
"""


@pytest.fixture
def proxy() -> Iterator[Responder]:
    responder = Responder()
    yield responder
    responder.close()


def load(kampy_cfg: Callable[..., Harness], sock: str, extra: str = "", **kwargs: object) -> Harness:
    return kampy_cfg(CFG.format(sock=sock, extra=extra), **({"db": None} | kwargs))


@pytest.fixture
def sip(kampy_cfg: Callable[..., Harness], proxy: Responder) -> Harness:
    return load(kampy_cfg, proxy.url)


def send(sip: Harness, test: str, *, flags: str = "", body: str = SDP, headers: str = "",
         method: str = "INVITE", to_tag: str = "", callid: str = "call-1") -> dict[str, str]:
    """A request from SRC answered by the config: the function's result (X-Rc) and the proxy used
    (X-Inst); `offered` gives the SDP a relayed request leaves with."""
    lines = [f"{method} sip:bob@192.0.2.20:5062 SIP/2.0",
             f"Via: SIP/2.0/UDP {SRC}:5060;branch=z9hG4bK-v1",
             "Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-v2",
             "From: <sip:alice@example.test>;tag=ftag",
             "To: <sip:bob@example.test>" + (f";tag={to_tag}" if to_tag else ""),
             f"Call-ID: {callid}", f"CSeq: 1 {method}", "Max-Forwards: 70",
             f"X-Test: {test}", f"X-Flags: {flags}"]
    lines += [h for h in headers.split("\n") if h]
    if body:
        lines.append("Content-Type: application/sdp")
    result = sip.send("\n".join(lines) + "\n\n" + body, src=f"{SRC}:5060")
    if method == "ACK":  # sl_send_reply answers no ACK
        return {}
    assert result.reply is not None, result
    return {k: result.reply.header(k) or "" for k in ("X-Rc", "X-Inst")}


def offered(sip: Harness, flags: str = "", body: str = SDP, headers: dict[str, str] | None = None) -> str:
    """The SDP of an INVITE relayed after rtpproxy_manage(flags)."""
    result = sip.send_request("INVITE", "sip:bob@192.0.2.20:5062", body=body, content_type="application/sdp",
                              headers={"X-Test": "relay", "X-Flags": flags, **(headers or {})})
    sent = result.requests("INVITE")
    assert sent, result
    return sent[0].body.decode()


# ------------------------------------------------------------------ U and the SDP


def test_an_offer_creates_a_session_per_stream_and_rewrites_the_sdp(sip: Harness, proxy: Responder) -> None:
    body = offered(sip)
    callid = proxy.seen()[0].split()[1]
    assert proxy.seen() == [f"Uc0,8,101 {callid} {SRC} 40000 " + proxy.seen()[0].split()[4],
                            f"Uc96 {callid} {SRC} 40010 " + proxy.seen()[1].split()[4]]
    assert proxy.seen()[0].endswith(";1") and proxy.seen()[1].endswith(";2")
    assert body == ("v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                    "m=audio 35000 RTP/AVP 0 8 101\r\na=rtcp:35001\r\nm=video 35002 RTP/AVP 96\r\n"
                    "a=nortpproxy:yes\r\n")  # extract_body trims the last line end


def test_the_offer_of_a_request_names_the_source_and_the_from_tag(sip: Harness, proxy: Responder) -> None:
    assert send(sip, "offer")["X-Rc"] == "1"
    assert proxy.seen() == [f"Uc0,8,101 call-1 {SRC} 40000 ftag;1", f"Uc96 call-1 {SRC} 40010 ftag;2"]


def test_the_to_tag_follows_the_from_tag(sip: Harness, proxy: Responder) -> None:
    send(sip, "offer", to_tag="ttag", method="UPDATE")
    assert proxy.seen()[0] == f"Uc0,8,101 call-1 {SRC} 40000 ftag;1 ttag;1"


@pytest.mark.parametrize(("flags", "head"), [
    ("ie", "UIE"), ("a", "UA"), ("w", "US"), ("z20", "UZ20"), ("x", "UIE"), ("ai", "UAI"),
])
def test_flags_become_command_modifiers(sip: Harness, proxy: Responder, flags: str, head: str) -> None:
    assert send(sip, "offer", flags=flags)["X-Rc"] == "1"
    assert proxy.seen()[0].startswith(head + "c0,8,101 ")


def test_an_ipv6_stream_is_marked_and_bridged(sip: Harness, proxy: Responder) -> None:
    send(sip, "offer", flags="x", body=SDP6)
    assert proxy.seen()[0].startswith("UEI6c0,8,101 call-1 ")
    assert proxy.seen()[1].startswith("UEI66c96 ")  # Kamailio adds the 6 again for each stream


def test_r_trusts_the_sdp_address(sip: Harness, proxy: Responder) -> None:
    send(sip, "offer", flags="r")
    assert proxy.seen()[0] == "Uc0,8,101 call-1 10.0.0.5 40000 ftag;1"


def test_via_branch_and_lookup_flags(sip: Harness, proxy: Responder) -> None:
    send(sip, "offer", flags="1")
    assert proxy.seen()[-1].split()[1] == "call-1;z9hG4bK-v1"
    send(sip, "offer", flags="2")
    assert proxy.seen()[-1].split()[1] == "call-1;z9hG4bK-v2"
    send(sip, "offer", flags="l", to_tag="ttag")  # lookup only: L, the tags swapped in a request
    assert proxy.seen()[-2:] == [f"Lc0,8,101 call-1 {SRC} 40000 ttag;1 ftag;1",
                                 f"Lc96 call-1 {SRC} 40010 ttag;2 ftag;2"]


@pytest.mark.parametrize(("flags", "rc"), [("q", "-1"), ("l", "-1")])
def test_bad_flags_fail(sip: Harness, proxy: Responder, flags: str, rc: str) -> None:
    test = "answer" if flags == "l" else "offer"
    assert send(sip, test, flags=flags, method="ACK" if test == "answer" else "INVITE").get("X-Rc", rc) == rc
    assert proxy.seen() == []


def test_c_and_o_rewrite_the_session_address_and_the_origin(sip: Harness) -> None:
    body = offered(sip, "co", SDP.replace("m=audio 40000 RTP/AVP 0 8 101\r\n",
                                          "m=audio 40000 RTP/AVP 0 8 101\r\nc=IN IP4 10.0.0.7\r\n"))
    assert "o=alice 1 1 IN IP4 127.0.0.1\r\n" in body
    assert body.count("c=IN IP4 127.0.0.1") == 2 and "10.0.0" not in body


def test_a_given_address_is_written_whatever_the_proxy_says(sip: Harness) -> None:
    result = sip.send_request("INVITE", "sip:bob@192.0.2.20:5062", body=SDP, content_type="application/sdp",
                              headers={"X-Test": "offer_ip", "X-Flags": ""})
    assert result.reply is not None and result.reply.header("X-Rc") == "1"


def test_an_sdp_already_relayed_is_left_alone_unless_forced(sip: Harness, proxy: Responder) -> None:
    marked = SDP + "a=nortpproxy:yes\r\n"
    assert send(sip, "offer", body=marked)["X-Rc"] == "-2"
    assert proxy.seen() == []
    assert send(sip, "offer", body=marked, flags="f")["X-Rc"] == "1"
    body = offered(sip, "f", marked)
    assert body.count("a=nortpproxy:yes") == 1


def test_no_nortpproxy_line_when_the_parameter_is_empty(kampy_cfg: Callable[..., Harness],
                                                          proxy: Responder) -> None:
    sip = load(kampy_cfg, proxy.url, 'modparam("rtpproxy", "nortpproxy_str", "")')
    assert "nortpproxy" not in offered(sip)


def test_a_message_without_sdp_fails(sip: Harness, proxy: Responder) -> None:
    assert send(sip, "offer", body="")["X-Rc"] == "-1"
    assert proxy.seen() == []


@pytest.mark.parametrize(("value", "low", "high"), [
    (None, "16777214", "16777215"), (2, "16777214", "16777215"), (1, "2197815294", "2197815295"),
])
def test_relay_candidates_for_ice(kampy_cfg: Callable[..., Harness], proxy: Responder, value: int | None,
                                  low: str, high: str) -> None:
    cfg = CFG.format(sock=proxy.url, extra='modparam("rtpproxy", "ice_candidate_priority_avp", "$avp(ice)")')
    if value is not None:
        cfg = cfg.replace('$var(rc) = "none";', f'$var(rc) = "none";\n    $avp(ice) = {value};')
    sip = kampy_cfg(cfg, db=None)
    ice = SDP.replace("m=video 40010 RTP/AVP 96\r\n",
                      "a=candidate:1 1 UDP 2130706431 10.0.0.5 40000 typ host\r\n")
    body = offered(sip, "", ice)
    assert (f"a=rtcp:35001\r\na=candidate:127001 2 UDP {low} 127.0.0.1 35001 typ relay\r\n"
            f"a=candidate:127001 1 UDP {high} 127.0.0.1 35000 typ relay\r\n"
            "a=candidate:1 1 UDP 2130706431 10.0.0.5 40000 typ host\r\n") in body


# ------------------------------------------------------------------ L, D, R, P, S, Q


def test_an_answer_is_refused_in_a_request_other_than_ack(sip: Harness, proxy: Responder) -> None:
    assert send(sip, "answer", to_tag="ttag", method="UPDATE")["X-Rc"] == "-1"
    send(sip, "answer", to_tag="ttag", method="ACK")
    # no session: L on an unknown call gets 0, the answer fails at its first stream
    assert proxy.seen() == [f"Lc0,8,101 call-1 {SRC} 40000 ttag;1 ftag;1"]
    send(sip, "offer", to_tag="", callid="call-1")
    send(sip, "answer", to_tag="ttag", method="ACK")
    assert proxy.seen()[-2:] == [f"Lc0,8,101 call-1 {SRC} 40000 ttag;1 ftag;1",
                                 f"Lc96 call-1 {SRC} 40010 ttag;2 ftag;2"]


def test_unforce_deletes_the_session(sip: Harness, proxy: Responder) -> None:
    assert send(sip, "unforce", method="BYE", body="", to_tag="ttag")["X-Rc"] == "1"
    send(sip, "unforce", method="BYE", body="", to_tag="ttag", flags="t")
    send(sip, "unforce", method="BYE", body="", to_tag="ttag", flags="1")
    assert proxy.seen() == ["D call-1 ftag ttag", "D call-1 ftag", "D call-1;z9hG4bK-v1 ftag ttag"]
    assert send(sip, "unforce", method="BYE", body="", flags="q")["X-Rc"] == "-1"


def test_rtpproxy_destroy_deletes_the_session_as_unforce_does(sip: Harness, proxy: Responder) -> None:
    assert send(sip, "destroy", method="BYE", body="", to_tag="ttag")["X-Rc"] == "1"
    send(sip, "destroy", method="BYE", body="", to_tag="ttag", flags="t")
    assert proxy.seen() == ["D call-1 ftag ttag", "D call-1 ftag"]


def test_timeout_socket_ends_an_update_with_both_tags(kampy_cfg: Callable[..., Harness],
                                                      proxy: Responder) -> None:
    sip = load(kampy_cfg, proxy.url, 'modparam("rtpproxy", "timeout_socket", "unix:/run/kamailio/timeout")')
    send(sip, "offer", to_tag="ttag")  # a re-INVITE: both tags
    send(sip, "offer", callid="call-2")  # no To tag: no socket
    assert proxy.seen()[0] == f"Uc0,8,101 call-1 {SRC} 40000 ftag;1 ttag;1 unix:/run/kamailio/timeout"
    assert proxy.seen()[2] == f"Uc0,8,101 call-2 {SRC} 40000 ftag;1"


def test_the_b_flag_adds_extra_id_pv_to_the_call_id(kampy_cfg: Callable[..., Harness],
                                                    proxy: Responder) -> None:
    sip = load(kampy_cfg, proxy.url, 'modparam("rtpproxy", "extra_id_pv", "$hdr(X-Leg)")')
    send(sip, "offer", flags="b", headers="X-Leg: leg-7")
    assert proxy.seen()[0].split()[1] == "call-1;leg-7"


def test_recording_prompts_and_statistics(sip: Harness, proxy: Responder) -> None:
    send(sip, "record", method="INFO", body="", to_tag="ttag")
    send(sip, "uac", method="INFO", body="", to_tag="ttag")
    send(sip, "uas", method="INFO", body="", to_tag="ttag")
    send(sip, "stop_uac", method="INFO", body="", to_tag="ttag")
    send(sip, "stop_uas", method="INFO", body="", to_tag="ttag")
    assert send(sip, "uas", method="INFO", body="")["X-Rc"] == "-1"  # no To tag: no callee
    got = send(sip, "rtpstat", method="INFO", body="", to_tag="ttag")
    assert proxy.seen() == ["R call-1 ftag ttag", "P3 call-1 /p/hello session ftag;1 ttag;1",
                            "P-1 call-1 /p/hello session ttag;1 ftag;1", "S call-1 ftag;1 ttag;1",
                            "S call-1 ttag;1 ftag;1", "Q call-1 ftag;1 ttag"]
    assert got["X-Rc"] == "60 0 0 0 0"
    assert send(sip, "rtppstat", method="INFO", body="", to_tag="ttag")["X-Rc"] == "60 0 0 0 0"


# ------------------------------------------------------------------ rtpproxy_manage


def test_manage_offers_answers_and_deletes_a_call(sip: Harness, proxy: Responder) -> None:
    sip.ua("sip:bob@example.test", "192.0.2.20:5062",
           answer=Answer(200, headers={"Content-Type": "application/sdp"}, body=SDP.encode()))
    result = sip.send_request("INVITE", "sip:bob@192.0.2.20:5062", body=SDP, content_type="application/sdp",
                              headers={"X-Test": "relay", "X-Flags": ""})
    assert [c[0] for c in proxy.seen()] == ["U", "U", "L", "L"]
    assert result.reply is not None and b"m=audio 35000 " in result.reply.body


def test_manage_offers_in_the_200_when_the_invite_had_no_sdp(sip: Harness, proxy: Responder) -> None:
    sip.ua("sip:bob@example.test", "192.0.2.20:5062",
           answer=Answer(200, headers={"Content-Type": "application/sdp"}, body=SDP.encode()))
    sip.send_request("INVITE", "sip:bob@192.0.2.20:5062", headers={"X-Test": "relay", "X-Flags": ""})
    assert [c[0] for c in proxy.seen()] == ["U", "U"]


def test_manage_deletes_on_a_failure(sip: Harness, proxy: Responder) -> None:
    sip.ua("sip:bob@example.test", "192.0.2.20:5062", answer=486)
    sip.send_request("INVITE", "sip:bob@192.0.2.20:5062", body=SDP, content_type="application/sdp",
                     headers={"X-Test": "relay", "X-Flags": ""})
    assert [c[0] for c in proxy.seen()] == ["U", "U", "D", "D"]  # the 486 in onreply_route, failure_route


@pytest.mark.parametrize(("method", "body", "expected", "rc"), [
    ("BYE", "", ["D"], "1"), ("CANCEL", "", ["D"], "1"), ("UPDATE", SDP, ["U", "U"], "1"),
    ("PRACK", SDP, ["U", "U"], "1"), ("INVITE", "", [], "-1"), ("MESSAGE", SDP, [], "-1"),
])
def test_manage_by_method(sip: Harness, proxy: Responder, method: str, body: str, expected: list[str],
                          rc: str) -> None:
    got = send(sip, "manage", method=method, body=body, to_tag="ttag")
    assert [c[0] for c in proxy.seen()] == expected
    assert got["X-Rc"] == rc


# ------------------------------------------------------------------ sets, weights, proxies


def test_set_rtp_proxy_set_chooses_the_set(kampy_cfg: Callable[..., Harness], proxy: Responder) -> None:
    other = Responder()
    try:
        sip = load(kampy_cfg, proxy.url, f'modparam("rtpproxy", "rtpproxy_sock", "4 == {other.url}")')
        assert send(sip, "offer", headers="X-Set: 4") == {"X-Rc": "1", "X-Inst": other.url}
        assert send(sip, "offer")["X-Inst"] == proxy.url
        assert send(sip, "offer", headers="X-Set: 7")["X-Inst"] == proxy.url  # unknown: -1, the default
    finally:
        other.close()


def test_an_unknown_constant_set_is_a_config_error(kampy_cfg: Callable[..., Harness],
                                                    proxy: Responder) -> None:
    with pytest.raises(Exception, match="rtpp_proxy set 3 not configured"):
        kampy_cfg(CFG.format(sock=proxy.url, extra="").replace('set_rtp_proxy_set("$var(set)")',
                                                                 'set_rtp_proxy_set("3")'), db=None)


def test_weights_share_calls(kampy_cfg: Callable[..., Harness]) -> None:
    heavy, light = Responder(), Responder()
    try:
        sip = load(kampy_cfg, f"{heavy.url}=3 {light.url}=1")
        used = [send(sip, "offer", callid=f"c{n}")["X-Inst"] for n in range(40)]
        # the Call-ID's byte sum modulo the weights' sum: 3 of 4 values go to the first proxy
        expected = [heavy.url if sum(f"c{n}".encode()) % 4 < 3 else light.url for n in range(40)]
        assert used == expected
    finally:
        heavy.close()
        light.close()


def test_a_silent_proxy_is_disabled_and_tried_again(kampy_cfg: Callable[..., Harness],
                                                     proxy: Responder) -> None:
    sip = load(kampy_cfg, proxy.url, 'modparam("rtpproxy", "rtpproxy_disable_tout", 30)')
    proxy.silent = True
    assert send(sip, "offer")["X-Rc"] == "-3"
    listed = sip.core.rpc.call("rtpproxy.list")
    assert listed[0]["disabled"] == 1 and listed[0]["recheck"] > 0
    proxy.silent = False
    before = len(proxy.commands)
    assert send(sip, "offer")["X-Rc"] == "-3"  # not tried before the time is up
    assert len(proxy.commands) == before
    sip.advance(31)
    assert send(sip, "offer")["X-Rc"] == "1"
    assert sip.core.rpc.call("rtpproxy.list")[0]["disabled"] == 0


def test_the_rpc_commands(sip: Harness, proxy: Responder) -> None:
    rpc = sip.core.rpc
    assert rpc.call("rtpproxy.list") == [{"setid": 0, "url": proxy.url, "index": 0, "disabled": 0,
                                          "weight": 1, "recheck": 0}]
    rpc.call("rtpproxy.enable", [proxy.url, 0])
    assert rpc.call("rtpproxy.list")[0]["disabled"] == 1
    assert send(sip, "offer")["X-Rc"] == "-3"
    rpc.call("rtpproxy.enable", [proxy.url, 1])
    assert send(sip, "offer")["X-Rc"] == "1"
    with pytest.raises(Exception, match="RTPProxy not found"):
        rpc.call("rtpproxy.enable", ["udp:127.0.0.1:1", 1])


def test_a_unix_socket_proxy(kampy_cfg: Callable[..., Harness], tmp_path: Path) -> None:
    responder = Responder(unix_path=tmp_path / "rtpp.sock")
    try:
        sip = load(kampy_cfg, responder.url)
        assert send(sip, "offer")["X-Rc"] == "1"
        assert responder.seen()[0] == f"Uc0,8,101 call-1 {SRC} 40000 ftag;1"
    finally:
        responder.close()


def test_proxies_from_the_database(kampy_cfg: Callable[..., Harness], tmp_path: Path) -> None:
    from kampy.testing.db import Tables

    one, two = Responder(), Responder()
    url = f"sqlite://{tmp_path / 'rtpproxy.sqlite'}"
    Tables.create(url)
    tables = Tables(url)
    try:
        tables["rtpproxy"].insert({"setid": "0", "url": one.url, "weight": 1, "flags": 0})
        tables["rtpproxy"].insert({"setid": "2", "url": two.url, "weight": 1, "flags": 0})
        tables["rtpproxy"].insert({"setid": "bad", "url": "udp:127.0.0.1:9", "weight": 1, "flags": 0})
        cfg = CFG.format(sock="", extra='modparam("rtpproxy", "db_url", "mysql://unused/x")').replace(
            'modparam("rtpproxy", "rtpproxy_sock", "")\n', "")
        sip = kampy_cfg(cfg, db=url)
        assert [(n["setid"], n["url"]) for n in sip.core.rpc.call("rtpproxy.list")] == [(0, one.url),
                                                                                        (2, two.url)]
        assert send(sip, "offer", headers="X-Set: 2")["X-Inst"] == two.url
    finally:
        tables.close()
        one.close()
        two.close()
