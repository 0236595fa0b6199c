"""rtpengine against the real relay (Debian's rtpengine daemon in user space), kampy beside Kamailio
5.6 running the same config (configs/rtpengine.cfg): a call's offer, answer and delete go to the
daemon and the SDP the UAs see is the daemon's; the ng commands kampy sends are Kamailio's, key for
key; a dead instance (an ng relay that stops answering, or the daemon stopped during a call) is
disabled, calls go on without a relay (the config's failure path), and the instance is probed back
once rtpengine_disable_tout has passed; sets and weights; WebSocket."""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.api import parse_message
from kampy.modules.rtpengine.request import next_via_branch

from tests.e2e import dualserver
from tests.e2e.dualserver import SERVERS, Server, Started, caller_and_callee
from tests.e2e.kampy_process import free_port
from tests.e2e.stock.sipua import UA, Call
from tests.support.rtpengine import NgTap, Rtpengine

CFG = dualserver.CONFIGS / "rtpengine.cfg"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rtpengine]:
    relay = Rtpengine(tmp_path_factory.mktemp("rtpengine")).start()
    yield relay
    relay.stop()


@pytest.fixture
def tap(daemon: Rtpengine) -> Iterator[NgTap]:
    relay = NgTap(("127.0.0.1", daemon.ng_port))
    yield relay
    relay.close()


def using(sock: str, **defines: str | None) -> dict[str, str | None]:
    """The config's defines for the rtpengine instances `sock`, and `defines`."""
    return {"RTPENGINE_SOCK": f'"{sock}"', **defines}


def sdp_of(body: bytes) -> dict[str, str]:
    lines = body.decode().split("\r\n")
    return {kind: next(x for x in lines if x.startswith(kind + "=")) for kind in ("o", "c", "m")}


def call(caller: UA, callee: UA, flags: str = "replace-origin replace-session-connection ICE=remove",
         headers: tuple[str, ...] = ()) -> tuple[Call, bytes, bytes, str]:
    """A call set up through the server: (call, SDP the callee got, SDP the caller got, X-Rtpengine)."""
    host, port = callee.transport.local
    sdp = (f"v=0\r\no=alice 1 1 IN IP4 {caller.transport.local[0]}\r\ns=-\r\n"
           f"c=IN IP4 {caller.transport.local[0]}\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n").encode()
    req = caller.send_request("INVITE", f"sip:bob@{host}:{port}", body=sdp, content_type="application/sdp",
                              headers=[f"X-Flags: {flags}", *headers])
    invite_call = Call(caller, req)
    invite = callee.wait_request("INVITE", timeout=10)
    callee.reply(invite, 200, "OK", sdp=True)
    answer = invite_call.final()
    assert answer.status == 200
    invite_call.ack()
    callee.wait_request("ACK")
    return invite_call, invite.body, answer.body, invite.header("x-rtpengine") or ""


def hang_up(call: Call, callee: UA) -> None:
    bye = call.send_bye()
    seen = callee.wait_request("BYE")
    callee.reply(seen, 200, "OK")
    assert call.ua.final(bye).status == 200


# ------------------------------------------------------------------ a call


@pytest.mark.parametrize("kind", SERVERS)
def test_a_call_goes_through_the_daemon(kind: str, tmp_path: Path, daemon: Rtpengine, tap: NgTap,
                                       dual_servers: Started) -> None:
    server = dual_servers.start(kind, CFG, tmp_path, using(tap.url))
    caller, callee = caller_and_callee(server)
    before = len(daemon.commands())
    c, offered, answered, header = call(caller, callee)
    hang_up(c, callee)
    assert header == f"1 {tap.url}"
    for sdp in (sdp_of(offered), sdp_of(answered)):
        assert sdp["c"] == "c=IN IP4 127.0.0.1"
        assert sdp["o"].endswith("IN IP4 127.0.0.1")
        port = int(sdp["m"].split()[1])
        assert daemon.port_min <= port <= daemon.port_max
    assert [cmd[b"command"] for cmd in tap.commands()] == [b"offer", b"answer", b"delete"]
    assert daemon.commands()[before:] == [
        ("offer", c.invite.call_id), ("answer", c.invite.call_id), ("delete", c.invite.call_id)]
    server.stop()


def test_kampy_sends_kamailios_commands(tmp_path: Path, daemon: Rtpengine, dual_servers: Started) -> None:
    seen = {}
    flags = "replace-origin replace-session-connection ICE=remove RTP/AVP direction=pub direction=priv " \
            "codec-strip-PCMA label=x TOS=184"
    for kind in SERVERS:
        tap = NgTap(("127.0.0.1", daemon.ng_port))
        try:
            (tmp_path / kind).mkdir()
            server = dual_servers.start(kind, CFG, tmp_path / kind, using(tap.url))
            caller, callee = caller_and_callee(server)
            c, _, _, _ = call(caller, callee, flags)
            hang_up(c, callee)
            server.stop()
            seen[kind] = [_normal(cmd, caller, callee) for cmd in tap.commands()]
        finally:
            tap.close()
    assert seen["kampy"] == seen["kamailio"]
    offer = seen["kampy"][0]
    assert [key for key, _ in offer][:5] == [b"supports", b"sdp", b"ICE", b"label", b"TOS"]
    assert dict(offer)[b"replace"] == repr([b"origin", b"session-connection"])
    assert dict(offer)[b"transport-protocol"] == repr(b"RTP/AVP")


@pytest.mark.parametrize("kind", SERVERS)
def test_via_branch_next_is_kamailios_branch_of_the_request(kind: str, tmp_path: Path, daemon: Rtpengine,
                                                            tap: NgTap, dual_servers: Started) -> None:
    """Kamailio's value (branch_builder over char_msg_val) computed from the INVITE as sent; the
    same body on both servers checks the formula against Kamailio and kampy against it."""
    server = dual_servers.start(kind, CFG, tmp_path, using(tap.url))
    caller, callee = caller_and_callee(server)
    c, _, _, _ = call(caller, callee, "replace-origin via-branch=next")
    hang_up(c, callee)
    server.stop()
    offer = tap.commands()[0]
    assert offer[b"command"] == b"offer"
    assert offer[b"via-branch"].decode() == next_via_branch(parse_message(c.invite.data), 0)


def _normal(cmd: dict, caller: UA, callee: UA) -> list:
    """A command with the test's own ports and addresses made alike for both servers."""
    out = []
    for key, value in cmd.items():
        text = repr(value)
        for ua, name in ((caller, "CALLER"), (callee, "CALLEE")):
            text = text.replace(str(ua.transport.local[1]), name)
        out.append((key, text))
    return out


# ------------------------------------------------------------------ a dead instance


@pytest.mark.parametrize("kind", SERVERS)
def test_a_dead_instance_is_disabled_then_probed_back(kind: str, tmp_path: Path, daemon: Rtpengine,
                                                      tap: NgTap, dual_servers: Started) -> None:
    server = dual_servers.start(kind, CFG, tmp_path, using(tap.url))
    caller, callee = caller_and_callee(server)
    tap.paused = True  # the daemon stops answering
    c, offered, _, header = call(caller, callee)
    assert header == f"-1 {tap.url}" or header == "-1 <null>"
    assert b"m=audio 40000 RTP/AVP 0" in offered  # the failure path: the call without a relay
    shown = server.kamcmd("rtpengine.show", "all")
    assert re.search(r"disabled:\s*1\b", shown), shown
    tap.paused = False
    time.sleep(2.5)  # rtpengine_disable_tout 2
    c2, offered2, _, header2 = call(caller, callee)
    assert header2 == f"1 {tap.url}"
    assert b"c=IN IP4 127.0.0.1" in offered2
    shown = server.kamcmd("rtpengine.show", "all")
    assert re.search(r"disabled:\s*0\b", shown), shown
    server.stop()


@pytest.mark.parametrize("kind", SERVERS)
def test_the_daemon_stopped_mid_call_then_started_again(kind: str, tmp_path: Path,
                                                        dual_servers: Started) -> None:
    relay = Rtpengine(tmp_path).start()
    try:
        server = dual_servers.start(kind, CFG, tmp_path, using(relay.url))
        caller, callee = caller_and_callee(server)
        c, _, _, header = call(caller, callee)
        assert header == f"1 {relay.url}"
        relay.stop()  # the daemon dies during the call
        hang_up(c, callee)  # rtpengine_delete() times out; the BYE goes on
        assert re.search(r"disabled:\s*1\b", server.kamcmd("rtpengine.show", "all"))
        _, offered, _, header = call(caller, callee)
        assert header.startswith("-1 ")  # the config's failure path: the call without a relay
        assert b"m=audio 40000 RTP/AVP 0" in offered
        relay.start()  # on the same port
        time.sleep(2.5)  # rtpengine_disable_tout 2
        c3, offered3, _, header3 = call(caller, callee)
        assert header3 == f"1 {relay.url}" and b"c=IN IP4 127.0.0.1" in offered3
        hang_up(c3, callee)
        assert re.search(r"disabled:\s*0\b", server.kamcmd("rtpengine.show", "all"))
        server.stop()
    finally:
        relay.stop()


@pytest.mark.parametrize("kind", SERVERS)
def test_enable_rpc_disables_for_good_and_pings_back(kind: str, tmp_path: Path, daemon: Rtpengine,
                                                     tap: NgTap, dual_servers: Started) -> None:
    server = dual_servers.start(kind, CFG, tmp_path, using(tap.url))
    assert re.search(r"status:\s*disable", server.kamcmd("rtpengine.enable", tap.url, "0"))
    assert re.search(r"disabled:\s*1\(permanent\)", server.kamcmd("rtpengine.show", tap.url))
    assert re.search(r"recheck_ticks:\s*N/A", server.kamcmd("rtpengine.show", "all"))
    assert re.search(r"status:\s*enable", server.kamcmd("rtpengine.enable", "all", "1"))
    assert re.search(r"status:\s*success", server.kamcmd("rtpengine.ping", tap.url))
    assert "error: 404 - Instance not found" in _kamcmd_any(server, "rtpengine.show", "udp:127.0.0.9:9")
    server.stop()


def _kamcmd_any(server: Server, *args: str) -> str:
    try:
        return server.kamcmd(*args)
    except AssertionError as exc:
        return str(exc)


# ------------------------------------------------------------------ sets, weights, WebSocket


@pytest.mark.parametrize("kind", SERVERS)
def test_a_call_uses_the_set_it_chooses(kind: str, tmp_path: Path, daemon: Rtpengine,
                                       dual_servers: Started) -> None:
    taps = [NgTap(("127.0.0.1", daemon.ng_port)) for _ in range(3)]
    try:
        server = dual_servers.start(kind, CFG, tmp_path, using(f"{taps[0].url}=1 {taps[1].url}=0",
                                                               RTPENGINE_SOCK2=f'"7 == {taps[2].url}"'))
        caller, callee = caller_and_callee(server)
        _, _, _, header = call(caller, callee)
        assert header == f"1 {taps[0].url}"  # weight 0: never chosen
        _, _, _, header = call(caller, callee, headers=("X-Set: 7",))
        assert header == f"1 {taps[2].url}"
        assert len(taps[1].commands()) == 0
        server.stop()
    finally:
        for t in taps:
            t.close()


@pytest.mark.parametrize("kind", ["kampy"])  # Debian's Kamailio packages have no lwsc module (wsapi)
def test_a_websocket_instance(kind: str, tmp_path: Path, dual_servers: Started) -> None:
    http_port = free_port()
    relay = Rtpengine(tmp_path, http_port=http_port).start()
    try:
        server = dual_servers.start(kind, CFG, tmp_path, using(f"ws://127.0.0.1:{http_port}/", WSAPI=None))
        caller, callee = caller_and_callee(server)
        c, offered, _, header = call(caller, callee)
        hang_up(c, callee)
        assert header == f"1 ws://127.0.0.1:{http_port}/"
        assert b"c=IN IP4 127.0.0.1" in offered
        assert [n for n, _ in relay.commands()] == ["offer", "answer", "delete"]
        server.stop()
    finally:
        relay.stop()
