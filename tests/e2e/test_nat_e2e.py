"""Phones behind a NAT (tests/e2e/natworld.py: their own network namespaces, a masquerading router
namespace, the server in a namespace of its own), the NAT parts of Debian's kamailio.cfg
(configs/nat.cfg) run by Kamailio 5.6 and by kampy, the real rtpengine beside the server: the
registered Contact is fixed (received), a call's media addresses are rewritten by rtpengine and
media flows both ways through it, in-dialog requests reach the phones through the NAT, and SIP
keepalives arrive on schedule. The same body runs against both servers."""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e import dualserver
from tests.e2e.dualserver import Server
from tests.e2e.natworld import NAT_PUBLIC_IP, SERVER_IP, NatWorld, ServerNamespace
from tests.e2e.stock.sipua import UA, Call
from tests.e2e.stock.transport import UDP
from tests.support.rtpengine import Rtpengine

CFG = dualserver.CONFIGS / "nat.cfg"
SERVERS = ("kamailio", "kampy")
NATPING_INTERVAL = 3


@dataclass
class Site:
    server: Server
    world: NatWorld
    relay: Rtpengine
    alice: UA
    bob: UA


@pytest.fixture(params=SERVERS)
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    """A server behind which nothing, and two phones behind a NAT, registered."""
    kind = request.param
    ns = ServerNamespace()
    world = relay = server = None
    try:
        world = NatWorld(ns.prefix(), ns.pid)
        relay = Rtpengine(tmp_path, interface=SERVER_IP, ng_port=2223, prefix=ns.prefix(),
                          make_socket=ns.socket).start()
        server = dualserver.start(kind, CFG, tmp_path, {"NATPING_INTERVAL": str(NATPING_INTERVAL)},
                                  host=SERVER_IP, port=5060, prefix=ns.prefix())
        dualserver.wait_answering(server, 30, ns.socket)
        phones = [UA(name, SERVER_IP, UDP(world.phones[name].socket, (world.phones[name].address, 5070),
                                          (SERVER_IP, 5060))) for name in ("alice", "bob")]
        for ua in phones:
            assert [r.status for r in ua.register(expires=600)] == [200]
        yield Site(server, world, relay, *phones)
    finally:
        for part in (server, relay):
            if part is not None:
                part.stop()
        if world is not None:
            world.close()
        ns.close()


def sdp_lines(body: bytes) -> dict[str, str]:
    lines = body.decode().split("\r\n")
    return {k: next(x for x in lines if x.startswith(k + "=")) for k in ("o", "c", "m")}


def contacts(server: Server) -> dict[str, str]:
    """AoR -> received of the location table (ul.dump)."""
    dump = server.kamcmd("ul.dump")
    found = {}
    for aor, received in re.findall(r"AoR: (\w+).*?Received: (\S+)", dump, re.S):
        found[aor] = received
    return found


def test_the_registered_contact_is_the_nat_address(site: Site) -> None:
    found = contacts(site.server)
    assert set(found) == {"alice", "bob"}
    for received in found.values():
        assert re.fullmatch(rf"sip:{re.escape(NAT_PUBLIC_IP)}:\d+", received), received


def rtp(seq: int) -> bytes:
    return bytes([0x80, 0, seq >> 8, seq & 0xFF, 0, 0, 0, seq, 0, 0, 0, 1]) + bytes(160)


def test_a_call_through_the_nat_with_media_relayed_by_rtpengine(site: Site) -> None:
    alice, bob = site.alice, site.bob
    before = len(site.relay.commands())
    call = alice.invite(f"sip:bob@{SERVER_IP}", authenticate=False)
    invite = bob.wait_request("INVITE", timeout=10)
    offered = sdp_lines(invite.body)
    assert offered["c"] == f"c=IN IP4 {SERVER_IP}" and offered["o"].endswith(f"IN IP4 {SERVER_IP}")
    assert ";nat=yes" in (invite.header("record-route") or "")
    assert f";alias={NAT_PUBLIC_IP}~" in (invite.header("contact") or "")
    bob.reply(invite, 200, "OK", sdp=True)
    answer = call.final(timeout=10)
    assert answer.status == 200
    answered = sdp_lines(answer.body)
    assert answered["c"] == f"c=IN IP4 {SERVER_IP}"
    call.ack()
    bob.wait_request("ACK", timeout=10)
    media_flows(site, int(answered["m"].split()[1]), int(offered["m"].split()[1]))
    bye = bob_hangs_up(call, bob)
    assert alice.wait_request("BYE", timeout=10).call_id == bye
    assert [name for name, _ in site.relay.commands()[before:]] == ["offer", "answer", "delete"]


def media_flows(site: Site, alice_port: int, bob_port: int) -> None:
    """Each phone sends RTP to the port rtpengine gave it and gets the other's through the NAT."""
    a = site.world.phones["alice"].socket()
    b = site.world.phones["bob"].socket()
    try:
        a.bind((site.world.phones["alice"].address, 40000))
        b.bind((site.world.phones["bob"].address, 40002))
        got_a = got_b = False
        for seq in range(50):
            a.sendto(rtp(seq), (SERVER_IP, alice_port))
            b.sendto(rtp(seq), (SERVER_IP, bob_port))
            time.sleep(0.02)
            for sock, mark in ((a, "a"), (b, "b")):
                sock.setblocking(False)
                try:
                    while sock.recv(2048):
                        if mark == "a":
                            got_a = True
                        else:
                            got_b = True
                except (BlockingIOError, OSError):
                    pass
            if got_a and got_b:
                break
        assert got_a and got_b, (got_a, got_b)
    finally:
        a.close()
        b.close()


def bob_hangs_up(call: Call, bob: UA) -> str:
    """bob sends the BYE of alice's call (to her Contact, along the route set): it must reach her
    through the NAT."""
    invite = call.invite
    route = list(reversed(call.route))
    target = next(m.header("contact") for m in bob.seen if m.is_request and m.method == "INVITE")
    assert target is not None
    remote = re.search(r"<([^>]+)>", target)
    assert remote is not None
    bob.send_request("BYE", remote.group(1), to=f"sip:alice@{SERVER_IP}", call_id=invite.call_id,
                     cseq=1, from_tag=call.to_tag, to_tag=invite.from_tag,
                     headers=[f"Route: {r}" for r in route])
    return invite.call_id


def test_keepalives_arrive_on_schedule(site: Site) -> None:
    alice = site.alice
    pings = []
    deadline = time.monotonic() + NATPING_INTERVAL * 4
    while len(pings) < 3 and time.monotonic() < deadline:
        msg = alice.wait_request("OPTIONS", timeout=NATPING_INTERVAL * 2)
        pings.append((time.monotonic(), msg))
        alice.reply(msg, 200, "OK")
    assert len(pings) == 3
    gaps = [b[0] - a[0] for a, b in zip(pings, pings[1:], strict=False)]
    assert all(NATPING_INTERVAL - 1 < gap < NATPING_INTERVAL + 1 for gap in gaps), gaps
    first = pings[0][1]
    assert first.ruri == alice.contact
    assert (first.header("from") or "").startswith("sip:pinger@kamailio.org;tag=")
