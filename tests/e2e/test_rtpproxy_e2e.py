"""rtpproxy on the wire, kampy beside Kamailio 5.6 running the same config (configs/rtpproxy.cfg),
against the RTPProxy stand-in of tests/support/rtpproxy.py (no RTPProxy is packaged here): the U, L
and D commands of a call over UDP and over a unix socket are Kamailio's, byte for byte, and so is
the SDP the user agents get; prompts, recording and $rtpstat; a proxy that does not answer is
disabled and the call goes on unchanged."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e import dualserver
from tests.e2e.dualserver import SERVERS, Started, caller_and_callee
from tests.e2e.stock.sipua import UA, Call
from tests.support.rtpproxy import Responder

CFG = dualserver.CONFIGS / "rtpproxy.cfg"


def using(url: str) -> dict[str, str | None]:
    """The config's defines for the RTPProxy at `url`."""
    return {"RTPPROXY_SOCK": f'"{url}"'}


SDP = ("v=0\r\no=alice 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"
       "m=audio 40000 RTP/AVP 0 8 101\r\na=rtcp:40001\r\nm=video 40010 RTP/AVP 96\r\n")


def call(caller: UA, callee: UA, headers: tuple[str, ...] = ()) -> tuple[Call, str, str, str, str]:
    """(call, SDP the callee got, SDP the caller got, X-Rtpproxy, X-Rtpstat)."""
    host, port = callee.transport.local
    req = caller.send_request("INVITE", f"sip:bob@{host}:{port}", body=SDP.encode(),
                              content_type="application/sdp", headers=list(headers))
    c = Call(caller, req)
    invite = callee.wait_request("INVITE", timeout=10)
    callee.reply(invite, 200, "OK", sdp=True)
    answer = c.final(timeout=10)
    assert answer.status == 200
    c.ack()
    callee.wait_request("ACK")
    bye = c.send_bye()
    seen = callee.wait_request("BYE")
    callee.reply(seen, 200, "OK")
    assert caller.final(bye).status == 200
    return (c, invite.body.decode(), answer.body.decode(), invite.header("x-rtpproxy") or "",
            answer.header("x-rtpstat") or "")


def normal(text: str, caller: UA, callee: UA) -> str:
    for ua, name in ((caller, "CALLER"), (callee, "CALLEE")):
        text = text.replace(str(ua.transport.local[1]), name)
    return re.sub(r"z9hG4bK[^ ;]+", "BRANCH", text)


@pytest.mark.parametrize("mode", ["udp", "unix"])
def test_the_commands_and_the_sdp_are_kamailios(mode: str, tmp_path: Path, dual_servers: Started) -> None:
    outcome = {}
    for kind in SERVERS:
        responder = Responder(unix_path=tmp_path / f"{kind}.sock" if mode == "unix" else None)
        try:
            server = dual_servers.start(kind, CFG, tmp_path / kind, using(responder.url))
            caller, callee = caller_and_callee(server)
            _, offered, answered, header, stat = call(caller, callee, ("X-Flags: co",))
            server.stop()
            outcome[kind] = (normal("\n".join(responder.seen()), caller, callee), offered, answered,
                             header.replace(responder.url, "URL"), stat)
        finally:
            responder.close()
    assert outcome["kampy"] == outcome["kamailio"]
    commands, offered, answered, header, stat = outcome["kampy"]
    assert commands.split("\n")[:2] == ["Uc0,8,101 alice-1@127.0.0.1 127.0.0.1 40000 alice-1;1",
                                         "Uc96 alice-1@127.0.0.1 127.0.0.1 40010 alice-1;2"]
    assert "m=audio 35000 RTP/AVP 0 8 101\r\na=rtcp:35001\r\n" in offered
    assert "c=IN IP4 127.0.0.1" in offered and "a=nortpproxy:yes" in offered
    assert header == "1 URL"
    assert stat == "60 0 0 0 0"


def test_prompts_and_recording_are_kamailios(tmp_path: Path, dual_servers: Started) -> None:
    seen = {}
    for kind in SERVERS:
        responder = Responder()
        try:
            server = dual_servers.start(kind, CFG, tmp_path / kind, using(responder.url))
            caller, callee = caller_and_callee(server)
            call(caller, callee, ("X-Stream: /var/prompts/hello", "X-Fn: offer", "X-Flags: co"))
            server.stop()
            seen[kind] = normal("\n".join(responder.seen()), caller, callee)
        finally:
            responder.close()
    assert seen["kampy"] == seen["kamailio"]
    assert "P-1 alice-1@127.0.0.1 /var/prompts/hello session alice-1;1" in seen["kampy"].split("\n")


@pytest.mark.parametrize("kind", SERVERS)
def test_a_silent_proxy_is_disabled_and_the_call_goes_on(kind: str, tmp_path: Path,
                                                         dual_servers: Started) -> None:
    responder = Responder()
    try:
        server = dual_servers.start(kind, CFG, tmp_path, using(responder.url))
        caller, callee = caller_and_callee(server)
        responder.silent = True
        _, offered, _, header, _ = call(caller, callee, ("X-Flags: co",))
        assert header.startswith("-3")  # no proxy
        assert offered == SDP
        listed = server.kamcmd("rtpproxy.list")
        assert re.search(r"disabled:\s*1", listed), listed
        server.kamcmd("rtpproxy.enable", responder.url, "1")
        assert re.search(r"disabled:\s*0", server.kamcmd("rtpproxy.list"))
        server.stop()
    finally:
        responder.close()
