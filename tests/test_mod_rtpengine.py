"""rtpengine in-process, against a scripted ng peer (tests/support/ngfake.py): the request each
function sends (flags, tags, via-branch, received-from, in Kamailio's key order), what rtpengine_manage
does for each message, sets (constant, pseudo-variable, setid_avp, a daisy chain of two), the
SDP's way in and out (body, read_sdp_pv, write_sdp_pv), replies Kamailio handles specially (load
limit, session limit, errors, no answer), the call table that keeps a call on its instance, MOS
figures, $rtpstat, rtpengine_query_v's JSON, the database of instances and the RPC commands.
tests/e2e/test_rtpengine_e2e.py runs the same against the real daemon and beside Kamailio."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kampy.testing import Answer, Harness
from tests.support.ngfake import NgFake

SDP = ("v=0\r\no=alice 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"
       "m=audio 40000 RTP/AVP 0\r\n")

CFG = """
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "kex.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "rtpengine.so"
modparam("rtpengine", "rtpengine_sock", "{sock}")
modparam("rtpengine", "rtpengine_tout_ms", 100)
modparam("rtpengine", "rtpengine_retr", 2)
modparam("rtpengine", "rtp_inst_pvar", "$avp(inst)")
{extra}

request_route {{
    $var(rc) = "none";
    $var(f) = $hdr(X-Flags);
    if ($hdr(X-Set) != $null) {{ $var(set) = $(hdr(X-Set){{s.int}}); set_rtpengine_set("$var(set)"); }}
    if ($hdr(X-Test) == "offer") {{ rtpengine_offer("$var(f)"); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "answer") {{ rtpengine_answer("$var(f)"); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "delete") {{ rtpengine_delete("$var(f)"); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "query") {{ rtpengine_query(); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "manage") {{ rtpengine_manage("$var(f)"); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "block_dtmf") {{ block_dtmf("$var(f)"); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "play_media") {{ play_media("$var(f)"); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "query_v") {{ rtpengine_query_v("$hdr(X-Fmt)", "$var(json)"); $var(rc) = $rc; }}
    if ($hdr(X-Test) == "rtpstat") {{ $var(rc) = $rtpstat; }}
    if ($hdr(X-Test) == "rtpestat") {{ $var(rc) = $rtpestat; }}
    if ($hdr(X-Test) == "relay") {{
        record_route();
        rtpengine_manage("$var(f)");
        t_on_reply("REPLY");
        t_on_failure("FAILED");
        t_relay();
        exit;
    }}
    if (has_totag() && loose_route()) {{ rtpengine_manage(); t_relay(); exit; }}
    append_to_reply("X-Rc: $var(rc)\\r\\nX-Inst: $avp(inst)\\r\\n");
    append_to_reply("X-Sdp: $(var(sdp){{line.sw,c=}})\\r\\nX-Json: $var(json)\\r\\n");
    sl_send_reply("200", "OK");
}}

onreply_route[REPLY] {{ rtpengine_manage(); }}
failure_route[FAILED] {{ rtpengine_manage(); }}
"""


@pytest.fixture
def ng() -> Iterator[NgFake]:
    fake = NgFake()
    yield fake
    fake.close()


def load(kampy_cfg: Callable[..., Harness], sock: str, extra: str = "") -> Harness:
    return kampy_cfg(CFG.format(sock=sock, extra=extra), db=None)  # instances from rtpengine_sock


@pytest.fixture
def sip(kampy_cfg: Callable[..., Harness], ng: NgFake) -> Harness:
    return load(kampy_cfg, ng.url)


def send(sip: Harness, test: str, *, flags: str = "", body: str = SDP, headers: str = "",
         method: str = "INVITE", to_tag: str = "", src: str = "192.0.2.10:5060", callid: str = "call-1",
         ) -> dict[str, str]:
    lines = [f"{method} sip:bob@192.0.2.20:5062 SIP/2.0",
             "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-v1",
             "Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-v2",
             "From: <sip:alice@example.test>;tag=ftag",
             "To: <sip:bob@example.test>" + (f";tag={to_tag}" if to_tag else ""),
             f"Call-ID: {callid}", f"CSeq: 1 {method}", "Max-Forwards: 70",
             f"X-Test: {test}", f"X-Flags: {flags}"]
    lines += [h for h in headers.split("\n") if h]
    if body:
        lines.append("Content-Type: application/sdp")
    result = sip.send("\n".join(lines) + "\n\n" + body, src=src)
    reply = result.reply
    if method == "ACK":  # sl_send_reply answers no ACK
        return {}
    assert reply is not None, result
    return {k: reply.header(k) or "" for k in ("X-Rc", "X-Inst", "X-Sdp", "X-Json")} | {"body": ""}


# ------------------------------------------------------------------ the request


def test_an_offer_sends_kamailios_dictionary(sip: Harness, ng: NgFake) -> None:
    got = send(sip, "offer", flags="replace-origin replace-session-connection ICE=remove RTP/AVP "
                                   "direction=priv direction=pub label=a TOS=184 delete-delay=5 "
                                   "codec-strip-PCMA transcode-G722 SDES-off rtcp-mux-demux T38-decode")
    assert got["X-Rc"] == "1" and got["X-Inst"] == ng.url
    cmd = ng.last("offer")
    assert list(cmd) == [b"supports", b"sdp", b"ICE", b"label", b"TOS", b"delete delay", b"delete-delay",
                         b"direction", b"replace", b"codec", b"transport-protocol", b"rtcp-mux", b"SDES",
                         b"T.38", b"call-id", b"received-from", b"from-tag", b"command"]
    assert cmd[b"supports"] == [b"load limit"]
    assert cmd[b"sdp"] == SDP.encode()
    assert (cmd[b"ICE"], cmd[b"TOS"], cmd[b"delete delay"]) == (b"remove", 184, 5)
    assert cmd[b"direction"] == [b"priv", b"pub"]
    assert cmd[b"replace"] == [b"origin", b"session-connection"]
    assert cmd[b"codec"] == {b"strip": [b"PCMA"], b"transcode": [b"G722"]}
    assert (cmd[b"rtcp-mux"], cmd[b"SDES"], cmd[b"T.38"]) == ([b"demux"], [b"off"], [b"decode"])
    assert cmd[b"received-from"] == [b"IP4", b"192.0.2.10"]
    assert (cmd[b"call-id"], cmd[b"from-tag"], cmd[b"command"]) == (b"call-1", b"ftag", b"offer")


def test_the_offer_s_sdp_replaces_the_body(sip: Harness, ng: NgFake) -> None:
    result = sip.send_request("INVITE", "sip:bob@192.0.2.20:5062", body=SDP, content_type="application/sdp",
                              headers={"X-Test": "relay", "X-Flags": ""})
    sent = result.requests("INVITE")
    assert sent and b"c=IN IP4 192.0.2.100" in sent[0].body


@pytest.mark.parametrize(("flags", "key", "value"), [
    ("SIP-source-address", b"flags", [b"SIP-source-address"]),
    ("RTP/SAVPF", b"transport-protocol", b"RTP/SAVPF"),
    ("SRTP AVPF", b"transport-protocol", b"RTP/SAVPF"),
    ("UDP/TLS/RTP/SAVP", b"transport-protocol", b"UDP/TLS/RTP/SAVP"),
    ("internal external", b"direction", [b"internal", b"external"]),
    ("repacketize=30", b"repacketize", 30),
    ("call-id=other", b"call-id", b"other"),
    ("from-tag=x", b"from-tag", b"x"),
    ("via-branch=1", b"via-branch", b"z9hG4bK-v1"),
    ("via-branch=2", b"via-branch", b"z9hG4bK-v2"),
    ("via-branch=auto", b"via-branch", b"z9hG4bK-v1"),
    ("replace=origin", b"replace", [b"origin"]),
])
def test_a_flag_has_its_place(sip: Harness, ng: NgFake, flags: str, key: bytes, value: object) -> None:
    assert send(sip, "offer", flags=flags)["X-Rc"] == "1"
    assert ng.last("offer")[key] == value


@pytest.mark.parametrize("flags", ["via-branch=nope", "call-id", "force-answer-x=1 via-branch=",
                                   "repacketize=x"])
def test_a_flag_kamailio_refuses_fails_the_function(sip: Harness, ng: NgFake, flags: str) -> None:
    assert send(sip, "offer", flags=flags)["X-Rc"] == "-1"
    assert ng.seen() == []


def test_force_answer_turns_an_offer_into_an_answer(sip: Harness, ng: NgFake) -> None:
    send(sip, "offer", flags="force-answer", to_tag="ttag")
    cmd = ng.last("answer")
    assert (cmd[b"from-tag"], cmd[b"to-tag"]) == (b"ttag", b"ftag")  # a request's answer: tags swapped


def test_an_answer_in_a_request_other_than_ack_is_refused(sip: Harness, ng: NgFake) -> None:
    assert send(sip, "answer", to_tag="ttag")["X-Rc"] == "-1"
    assert ng.seen() == []


def test_a_delete_carries_the_to_tag_only_when_asked(sip: Harness, ng: NgFake) -> None:
    send(sip, "delete", method="BYE", body="", to_tag="ttag")
    assert b"to-tag" not in ng.last("delete")
    send(sip, "delete", method="BYE", body="", to_tag="ttag", flags="to-tag")
    assert ng.last("delete")[b"to-tag"] == b"ttag"


def test_directional_commands_send_the_from_tag_only_when_asked(sip: Harness, ng: NgFake) -> None:
    send(sip, "block_dtmf", method="INFO", body="")
    assert b"from-tag" not in ng.last("block DTMF")
    send(sip, "block_dtmf", method="INFO", body="", flags="directional")
    assert ng.last("block DTMF")[b"from-tag"] == b"ftag"


SIMPLE = [("start_recording", "start recording"), ("stop_recording", "stop recording"),
          ("block_dtmf", "block DTMF"), ("unblock_dtmf", "unblock DTMF"), ("block_media", "block media"),
          ("unblock_media", "unblock media"), ("silence_media", "silence media"),
          ("unsilence_media", "unsilence media"), ("start_forwarding", "start forwarding"),
          ("stop_forwarding", "stop forwarding"), ("stop_media", "stop media"),
          ("play_dtmf", "play DTMF"), ("rtpengine_info", "offer")]


@pytest.mark.parametrize(("function", "command"), SIMPLE)
def test_each_media_function_sends_its_command(kampy_cfg: Callable[..., Harness], ng: NgFake,
                                               function: str, command: str) -> None:
    line = "" if function == "block_dtmf" else \
        f'if ($hdr(X-Test) == "{function}") {{ {function}("$var(f)"); $var(rc) = $rc; }}\n    '
    cfg = CFG.format(sock=ng.url, extra="").replace('if ($hdr(X-Test) == "block_dtmf")',
                                                     line + 'if ($hdr(X-Test) == "block_dtmf")', 1)
    sip = kampy_cfg(cfg, db=None)
    got = send(sip, function, method="INFO", flags="code=5" if function == "play_dtmf" else "")
    assert got["X-Rc"] == "1" and ng.seen() == [command]
    cmd = ng.last(command)
    assert (cmd[b"call-id"], cmd[b"from-tag"] if command == "offer" else b"ftag") == (b"call-1", b"ftag")
    if function == "play_dtmf":
        assert cmd[b"code"] == b"5"


def test_rtpengine_info_leaves_the_message_as_it_is(kampy_cfg: Callable[..., Harness], ng: NgFake) -> None:
    cfg = CFG.format(sock=ng.url, extra="").replace(
        'if ($hdr(X-Test) == "block_dtmf")',
        'if ($hdr(X-Test) == "info") { rtpengine_info(); $var(rc) = $rc; $var(sdp) = $rb; }\n    '
        'if ($hdr(X-Test) == "block_dtmf")', 1)
    sip = kampy_cfg(cfg, db=None)
    got = send(sip, "info", method="INFO")
    assert got["X-Rc"] == "1" and ng.last("offer")[b"sdp"] == SDP.encode()
    assert got["X-Sdp"] == "c=IN IP4 10.0.0.5"  # the relay's 192.0.2.100 not put in


# ------------------------------------------------------------------ rtpengine_manage


def test_manage_offers_in_the_invite_and_answers_in_the_200(sip: Harness, ng: NgFake) -> None:
    sip.ua("sip:bob@example.test", "192.0.2.20:5062",
           answer=Answer(200, headers={"Content-Type": "application/sdp"},
                         body=SDP.replace("10.0.0.5", "10.0.0.6").encode()))
    result = sip.send_request("INVITE", "sip:bob@192.0.2.20:5062", body=SDP, content_type="application/sdp",
                              headers={"X-Test": "relay", "X-Flags": "replace-origin"})
    assert ng.seen() == ["offer", "answer"]
    answer = ng.last("answer")
    assert answer[b"from-tag"] == result.reply.msg.from_.tag.encode()  # type: ignore[union-attr]
    assert result.reply is not None and b"c=IN IP4 192.0.2.100" in result.reply.body


def test_manage_offers_in_the_200_when_the_invite_had_no_sdp(sip: Harness, ng: NgFake) -> None:
    sip.ua("sip:bob@example.test", "192.0.2.20:5062",
           answer=Answer(200, headers={"Content-Type": "application/sdp"}, body=SDP.encode()))
    sip.send_request("INVITE", "sip:bob@192.0.2.20:5062", headers={"X-Test": "relay", "X-Flags": ""})
    assert ng.seen() == ["offer"]
    offer = ng.last("offer")
    assert offer[b"from-tag"] != b"" and b"to-tag" in offer


def test_manage_deletes_on_a_failure(sip: Harness, ng: NgFake) -> None:
    sip.ua("sip:bob@example.test", "192.0.2.20:5062", answer=486)
    sip.send_request("INVITE", "sip:bob@192.0.2.20:5062", body=SDP, content_type="application/sdp",
                     headers={"X-Test": "relay", "X-Flags": ""})
    assert ng.seen() == ["offer", "delete", "delete"]  # the 486 in onreply_route, then failure_route


@pytest.mark.parametrize(("method", "body", "expected", "rc"), [
    ("BYE", "", ["delete"], "1"), ("CANCEL", "", ["delete"], "1"), ("ACK", SDP, ["answer"], "1"),
    ("PRACK", SDP, ["answer"], "1"), ("UPDATE", SDP, ["offer"], "1"), ("INVITE", "", [], "-1"),
    ("MESSAGE", SDP, [], "-1"), ("ACK", "", [], "-1"),
])
def test_manage_by_method(sip: Harness, ng: NgFake, method: str, body: str, expected: list[str],
                          rc: str) -> None:
    got = send(sip, "manage", method=method, body=body, to_tag="ttag")
    assert ng.seen() == expected
    assert got.get("X-Rc", rc) == rc


# ------------------------------------------------------------------ replies and instances


def test_a_load_limit_moves_the_call_to_the_next_instance(kampy_cfg: Callable[..., Harness]) -> None:
    busy, free = NgFake({"offer": {"result": "load limit"}}), NgFake()
    try:
        sip = load(kampy_cfg, f"{busy.url}=1 {free.url}=1")
        for n in range(4):  # whichever the hash picks first, the call ends on the free one
            got = send(sip, "offer", headers=f"X-N: {n}")
            assert got["X-Rc"] == "1" and got["X-Inst"] == free.url
    finally:
        busy.close()
        free.close()


@pytest.mark.parametrize("reason", ["Parallel session limit reached", "Ran out of ports"])
def test_a_full_instance_moves_the_call_to_the_next(kampy_cfg: Callable[..., Harness], reason: str) -> None:
    full, free = NgFake({"offer": {"result": "error", "error-reason": reason}}), NgFake()
    try:
        sip = load(kampy_cfg, f"{full.url} {free.url}")
        assert send(sip, "offer")["X-Inst"] == free.url
    finally:
        full.close()
        free.close()


def test_an_error_fails_the_function(kampy_cfg: Callable[..., Harness]) -> None:
    fake = NgFake({"offer": {"result": "error", "error-reason": "bad SDP"}})
    try:
        sip = load(kampy_cfg, fake.url)
        assert send(sip, "offer")["X-Rc"] == "-1"
    finally:
        fake.close()


def test_a_silent_instance_is_disabled_and_retried_later(kampy_cfg: Callable[..., Harness]) -> None:
    fake = NgFake({"offer": None})
    try:
        sip = load(kampy_cfg, fake.url, 'modparam("rtpengine", "rtpengine_disable_tout", 20)\n'
                                        'modparam("rtpengine", "aggressive_redetection", 0)')
        assert send(sip, "offer")["X-Rc"] == "-1"
        assert sip.core.rpc.call("rtpengine.show", ["all"])[0]["disabled"] == 1
        fake.replies["offer"] = NgFake._sdp
        sip.advance(10)
        assert send(sip, "offer")["X-Rc"] == "-1"  # still disabled, nothing sent
        sip.advance(11)
        assert send(sip, "offer")["X-Rc"] == "1"  # pinged back
        assert sip.core.rpc.call("rtpengine.show", ["all"])[0]["disabled"] == 0
    finally:
        fake.close()


def test_a_call_stays_on_its_instance(kampy_cfg: Callable[..., Harness]) -> None:
    one, two = NgFake(), NgFake()
    try:
        sip = load(kampy_cfg, f"{one.url} {two.url}")
        first = send(sip, "offer")["X-Inst"]
        assert sip.core.rpc.call("rtpengine.get_hash_total") == 1
        for _ in range(3):
            assert send(sip, "offer")["X-Inst"] == first
        send(sip, "delete", method="BYE", body="")
        assert sip.core.rpc.call("rtpengine.get_hash_total") == 0
    finally:
        one.close()
        two.close()


def test_a_call_is_forgotten_after_hash_table_tout(kampy_cfg: Callable[..., Harness], ng: NgFake) -> None:
    sip = load(kampy_cfg, ng.url, 'modparam("rtpengine", "hash_table_tout", 5)\n'
                                  'modparam("rtpengine", "hash_table_size", 16)')
    send(sip, "offer")
    assert sip.core.rpc.call("rtpengine.get_hash_total") == 1
    sip.advance(16)  # past the timeout and the next 10 s cleaning
    assert sip.core.rpc.call("rtpengine.get_hash_total") == 0


@pytest.mark.parametrize(("limit", "tried"), [(1, 1), (30, 3)])
def test_queried_nodes_limit_bounds_the_instances_one_command_tries(
        kampy_cfg: Callable[..., Harness], limit: int, tried: int) -> None:
    fakes = [NgFake({"offer": None}) for _ in range(3)]
    try:
        sip = load(kampy_cfg, " ".join(f.url for f in fakes),
                   f'modparam("rtpengine", "queried_nodes_limit", {limit})\n'
                   'modparam("rtpengine", "aggressive_redetection", 0)')
        assert send(sip, "offer")["X-Rc"] == "-1"
        assert sum(1 for f in fakes if "offer" in f.seen()) == tried
    finally:
        for f in fakes:
            f.close()


@pytest.mark.parametrize(("allow_op", "rc"), [(0, "-1"), (1, "1"), (2, "1")])
def test_rtpengine_allow_op_lets_a_call_reach_its_instance_disabled_by_rpc(
        kampy_cfg: Callable[..., Harness], ng: NgFake, allow_op: int, rc: str) -> None:
    sip = load(kampy_cfg, ng.url, f'modparam("rtpengine", "rtpengine_allow_op", {allow_op})')
    assert send(sip, "offer")["X-Rc"] == "1"
    sip.core.rpc.call("rtpengine.enable", [ng.url, 0])
    assert send(sip, "delete", method="BYE", body="")["X-Rc"] == rc
    assert ng.seen() == (["offer", "delete"] if rc == "1" else ["offer"])


def test_extra_id_pv_is_the_via_branch_of_via_branch_extra(kampy_cfg: Callable[..., Harness],
                                                           ng: NgFake) -> None:
    sip = load(kampy_cfg, ng.url, 'modparam("rtpengine", "extra_id_pv", "$hdr(X-Leg)")')
    send(sip, "offer", flags="via-branch=extra", headers="X-Leg: leg-7")
    assert ng.last("offer")[b"via-branch"] == b"leg-7"


def test_force_send_interface_is_the_source_of_the_commands(kampy_cfg: Callable[..., Harness],
                                                            ng: NgFake) -> None:
    sip = load(kampy_cfg, ng.url, 'modparam("rtpengine", "force_send_interface", "127.0.0.2")')
    assert send(sip, "offer")["X-Rc"] == "1"
    assert ng.sources and set(ng.sources) == {"127.0.0.2"}


@pytest.mark.parametrize(("tos", "seen"), [(184, {184}), (-1, {0})])
def test_control_cmd_tos_marks_the_commands(kampy_cfg: Callable[..., Harness], ng: NgFake, tos: int,
                                            seen: set[int]) -> None:
    sip = load(kampy_cfg, ng.url, f'modparam("rtpengine", "control_cmd_tos", {tos})')
    assert send(sip, "offer")["X-Rc"] == "1"
    assert ng.tos and set(ng.tos) == seen


@pytest.mark.parametrize("algo", [0, 1, 2])
def test_the_hash_algorithm_picks_the_instance(kampy_cfg: Callable[..., Harness], algo: int) -> None:
    import hashlib
    import zlib

    fakes = [NgFake(), NgFake(), NgFake()]
    try:
        sip = load(kampy_cfg, " ".join(f.url for f in fakes), f'modparam("rtpengine", "hash_algo", {algo})')
        data = b"call-1"
        total = {0: sum(data) & 0xFF, 1: sum(x - 256 if x > 127 else x for x in hashlib.sha1(data).digest())
                 & 0xFFFFFFFF, 2: zlib.crc32(data)}[algo]
        assert send(sip, "offer")["X-Inst"] == fakes[total % 3].url
    finally:
        for f in fakes:
            f.close()


def test_a_unix_socket_instance(kampy_cfg: Callable[..., Harness], tmp_path: Path) -> None:
    fake = NgFake(unix_path=tmp_path / "ng.sock")
    try:
        sip = load(kampy_cfg, fake.url)
        assert send(sip, "offer")["X-Rc"] == "1"
        assert fake.seen() == ["offer"]
    finally:
        fake.close()


# ------------------------------------------------------------------ sets


def test_set_rtpengine_set_chooses_the_set(kampy_cfg: Callable[..., Harness]) -> None:
    default, other = NgFake(), NgFake()
    try:
        sip = load(kampy_cfg, default.url, f'modparam("rtpengine", "rtpengine_sock", "5 == {other.url}")')
        assert send(sip, "offer", headers="X-Set: 5")["X-Inst"] == other.url
        assert send(sip, "offer")["X-Inst"] == default.url  # the next message: the default set again
    finally:
        default.close()
        other.close()


def test_an_unknown_set_is_a_config_error(kampy_cfg: Callable[..., Harness], ng: NgFake) -> None:
    with pytest.raises(Exception, match="rtpp_proxy set 9 not configured"):
        kampy_cfg(CFG.format(sock=ng.url, extra="").replace('set_rtpengine_set("$var(set)")',
                                                              'set_rtpengine_set("9")'), db=None)


def test_setid_avp_chooses_the_set(kampy_cfg: Callable[..., Harness]) -> None:
    default, other = NgFake(), NgFake()
    try:
        cfg = CFG.format(sock=default.url,
                         extra=f'modparam("rtpengine", "rtpengine_sock", "3 == {other.url}")\n'
                               'modparam("rtpengine", "setid_avp", "$avp(setid)")')
        cfg = cfg.replace('$var(rc) = "none";', '$var(rc) = "none";\n    $avp(setid) = 3;')
        sip = kampy_cfg(cfg, db=None)
        assert send(sip, "offer")["X-Inst"] == other.url
    finally:
        default.close()
        other.close()


def test_two_sets_daisy_chain_the_sdp(kampy_cfg: Callable[..., Harness]) -> None:
    def rewrite(old: bytes, new: bytes) -> Callable[[dict], dict]:
        return lambda c: {"result": "ok", "sdp": c[b"sdp"].replace(old, new)}

    first = NgFake({"offer": rewrite(b"10.0.0.5", b"192.0.2.1")})
    second = NgFake({"offer": rewrite(b"192.0.2.1", b"192.0.2.2")})
    try:
        cfg = CFG.format(sock=f"1 == {first.url}",
                         extra=f'modparam("rtpengine", "rtpengine_sock", "2 == {second.url}")\n'
                               'modparam("rtpengine", "setid_default", 1)')
        sip = kampy_cfg(cfg.replace('set_rtpengine_set("$var(set)")', 'set_rtpengine_set("1", "2")'), db=None)
        result = sip.send_request("INVITE", "sip:bob@192.0.2.20:5062", body=SDP,
                                  content_type="application/sdp",
                                  headers={"X-Test": "relay", "X-Flags": "", "X-Set": "1"})
        assert second.last("offer")[b"sdp"].count(b"192.0.2.1") == 2  # the first set's SDP
        assert b"c=IN IP4 192.0.2.2" in result.requests("INVITE")[0].body
    finally:
        first.close()
        second.close()


# ------------------------------------------------------------------ SDP in variables, statistics


def test_read_and_write_sdp_pv(kampy_cfg: Callable[..., Harness], ng: NgFake) -> None:
    cfg = CFG.format(sock=ng.url, extra='modparam("rtpengine", "read_sdp_pv", "$var(insdp)")\n'
                                        'modparam("rtpengine", "write_sdp_pv", "$var(sdp)")')
    cfg = cfg.replace('$var(rc) = "none";',
                      '$var(rc) = "none";\n    $var(insdp) = "v=0\\r\\nc=IN IP4 10.0.0.6\\r\\n";')
    sip = kampy_cfg(cfg, db=None)
    got = send(sip, "offer")
    assert ng.last("offer")[b"sdp"] == b"v=0\r\nc=IN IP4 10.0.0.6\r\n"
    assert got["X-Sdp"] == "c=IN IP4 192.0.2.100"


def test_mos_figures_of_a_delete(kampy_cfg: Callable[..., Harness]) -> None:
    reply = {"result": "ok", "created": 1000, "SSRC": {
        "1234": {"average MOS": {"MOS": 43, "packet loss": 1, "jitter": 2, "round-trip time": 300,
                                 "round-trip time leg": 150, "samples": 10},
                 "highest MOS": {"MOS": 45, "reported at": 1030, "packet loss": 0, "jitter": 1,
                                 "round-trip time": 200, "round-trip time leg": 100, "samples": 1},
                 "lowest MOS": {"MOS": 38, "reported at": 1095, "packet loss": 5, "jitter": 9,
                                "round-trip time": 500, "round-trip time leg": 250, "samples": 1}}}}
    fake = NgFake({"delete": reply})
    try:
        extra = "\n".join(f'modparam("rtpengine", "mos_{n}_pv", "$avp({n})")'
                          for n in ("average", "max", "max_at", "min", "min_at", "min_packetloss",
                                    "average_samples", "average_roundtrip_leg"))
        cfg = CFG.format(sock=fake.url, extra=extra).replace(
            'X-Json: $var(json)', 'X-Json: $avp(average) $avp(max) $avp(max_at) $avp(min) $avp(min_at) '
                                  '$avp(min_packetloss) $avp(average_samples) $avp(average_roundtrip_leg)')
        sip = kampy_cfg(cfg, db=None)
        assert send(sip, "delete", method="BYE", body="")["X-Json"] == "4.3 4.5 0:30 3.8 1:35 5 10 150"
    finally:
        fake.close()


def test_rtpstat_and_query_v(kampy_cfg: Callable[..., Harness]) -> None:
    reply = {"result": "ok", "totals": {"RTP": {"packets": 5, "bytes": 860, "errors": 0},
                                        "RTCP": {"packets": 1, "bytes": 52, "errors": 0}},
             "created": 1796594613, "tags": {}, "list": [1, "a"]}
    fake = NgFake({"query": reply})
    try:
        sip = load(kampy_cfg, fake.url)
        got = send(sip, "rtpstat", method="INFO", body="")
        assert got["X-Rc"] == "RTP: 860 bytes, 5 packets, 0 errors; RTCP: 52 bytes, 1 packets, 0 errors"
        got = send(sip, "rtpestat", method="INFO", body="")  # the same under its other name
        assert got["X-Rc"] == "RTP: 860 bytes, 5 packets, 0 errors; RTCP: 52 bytes, 1 packets, 0 errors"
        got = send(sip, "query_v", method="INFO", body="", headers="X-Fmt: j")
        assert got["X-Json"] == ('{"result":"ok","totals":{"RTP":{"packets":5,"bytes":860,"errors":0},'
                                 '"RTCP":{"packets":1,"bytes":52,"errors":0}},"created":1796594613,'
                                 '"tags":{},"list":[1,"a"]}')
    finally:
        fake.close()


def test_play_media_sets_media_duration(kampy_cfg: Callable[..., Harness]) -> None:
    fake = NgFake({"play media": {"result": "ok", "duration": 2500}})
    try:
        cfg = CFG.format(sock=fake.url, extra='modparam("rtpengine", "media_duration", "$var(json)")')
        sip = kampy_cfg(cfg, db=None)
        got = send(sip, "play_media", method="INFO", body="", flags="file=/tmp/x.wav", to_tag="t")
        assert got["X-Json"] == "2500"
        assert fake.last("play media")[b"file"] == b"/tmp/x.wav"
    finally:
        fake.close()


# ------------------------------------------------------------------ the database of instances


def test_instances_from_the_database_and_reload(kampy_cfg: Callable[..., Harness], tmp_path: Path) -> None:
    from kampy.testing.db import Tables

    one, two = NgFake(), NgFake()
    url = f"sqlite://{tmp_path / 'rtpengine.sqlite'}"
    Tables.create(url)
    tables = Tables(url)
    try:
        tables["rtpengine"].insert({"setid": 0, "url": one.url, "weight": 1, "disabled": 0})
        cfg = CFG.format(sock="", extra='modparam("rtpengine", "db_url", "mysql://unused/x")').replace(
            'modparam("rtpengine", "rtpengine_sock", "")\n', "")
        sip = kampy_cfg(cfg, db=url)
        shown = sip.core.rpc.call("rtpengine.show", ["all"])
        assert [(n["url"], n["set"]) for n in shown] == [(one.url, 0)]
        assert send(sip, "offer")["X-Inst"] == one.url
        tables["rtpengine"].delete({"url": one.url})
        tables["rtpengine"].insert({"setid": 0, "url": two.url, "weight": 1, "disabled": 0})
        sip.advance(11)
        assert sip.core.rpc.call("rtpengine.reload") == "Ok. Reload successful."
        assert [n["url"] for n in sip.core.rpc.call("rtpengine.show", ["all"])] == [two.url]
        # a new call: call-1 stays on its instance, now disabled and hidden, as in Kamailio
        assert send(sip, "offer")["X-Rc"] == "-1"
        assert send(sip, "offer", callid="call-2")["X-Inst"] == two.url
        with pytest.raises(Exception, match="Too short reload interval"):
            sip.core.rpc.call("rtpengine.reload")
    finally:
        tables.close()
        one.close()
        two.close()


def test_the_table_and_its_columns_are_parameters(kampy_cfg: Callable[..., Harness], tmp_path: Path,
                                                  ng: NgFake) -> None:
    import sqlite3

    from kampy.testing.db import Tables

    url = f"sqlite://{tmp_path / 'rtpengine.sqlite'}"
    Tables.create(url)
    with sqlite3.connect(tmp_path / "rtpengine.sqlite") as db:
        db.execute("CREATE TABLE relays (id INTEGER PRIMARY KEY, grp INTEGER, addr TEXT, w INTEGER, "
                   "off INTEGER)")
        db.execute("INSERT INTO version (table_name, table_version) VALUES ('relays', 1)")
        db.execute("INSERT INTO relays (grp, addr, w, off) VALUES (3, ?, 1, 0)", (ng.url,))
    names = {"table_name": "relays", "setid_col": "grp", "url_col": "addr", "weight_col": "w",
             "disabled_col": "off", "db_url": "mysql://unused/x"}
    extra = "\n".join(f'modparam("rtpengine", "{k}", "{v}")' for k, v in names.items())
    cfg = CFG.format(sock="", extra=extra).replace('modparam("rtpengine", "rtpengine_sock", "")\n', "")
    sip = kampy_cfg(cfg, db=url)
    assert [(n["url"], n["set"]) for n in sip.core.rpc.call("rtpengine.show", ["all"])] == [(ng.url, 3)]
    assert send(sip, "offer", headers="X-Set: 3")["X-Inst"] == ng.url


def test_the_rpc_commands(sip: Harness, ng: NgFake) -> None:
    rpc = sip.core.rpc
    assert rpc.call("rtpengine.ping", ["all"]) == {"url": "all", "status": "success"}
    assert rpc.call("rtpengine.enable", [ng.url, 0]) == {"url": ng.url, "status": "disable"}
    assert rpc.call("rtpengine.show", [ng.url])[0]["disabled"] == "1(permanent)"
    assert send(sip, "offer")["X-Rc"] == "-1"
    assert rpc.call("rtpengine.enable", [ng.url, 1]) == {"url": ng.url, "status": "enable"}
    assert send(sip, "offer")["X-Rc"] == "1"
    with pytest.raises(Exception, match="Instance not found"):
        rpc.call("rtpengine.show", ["udp:127.0.0.1:1"])
    with pytest.raises(Exception, match="No Database URL"):
        rpc.call("rtpengine.reload")
