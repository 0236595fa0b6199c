"""NAT traversal through the stock config (WITH_NAT, WITH_RTPENGINE, WITH_NATSIPPING): phones in
network namespaces of their own behind a NAT router namespace (tests/e2e/natworld.py)
register and call each other through the server's public address; the real rtpengine relays the
media. The Contact is fixed (the location row's received), the SDP carries rtpengine's address, media
flows both ways, in-dialog requests reach the phones through the NAT, SIP keepalives arrive every
natping_interval (30 s), and a call when rtpengine is stopped goes on without it (the instance marked
disabled)."""
from __future__ import annotations

import re
import time

from tests.e2e.natworld import NAT_PUBLIC_IP, SERVER_IP
from tests.e2e.stock.nat import behind_nat, phone
from tests.e2e.stock.scenario import on
from tests.e2e.stock.sipua import UA, Call
from tests.e2e.stock.world import DOMAIN, Stock

NAT = ("WITH_NAT", "WITH_RTPENGINE", "WITH_NATSIPPING")
NATPING_INTERVAL = 30  # modparam("nathelper", "natping_interval", 30)
FLB_NATB, FLB_NATSIPPING = 6, 7


def phones_registered(stock: Stock, *users: str) -> tuple[list[UA], object]:
    for user in users:
        stock.add_user(user, f"{user}-pw")
    world, relay = behind_nat(stock, *users)
    stock.start(*NAT)
    agents = [phone(stock, world, user) for user in users]
    for ua in agents:
        assert [r.status for r in ua.register()] == [401, 200]
    return agents, relay


def sdp_lines(body: bytes) -> dict[str, str]:
    lines = body.decode().split("\r\n")
    return {k: next(x for x in lines if x.startswith(k + "=")) for k in ("o", "c", "m")}


@on("kamailio", "kampy")
def test_a_phone_behind_nat_is_saved_with_its_nat_address(stock: Stock) -> None:
    phones_registered(stock, "alice", "bob")
    stock.stop()
    rows = sorted(stock.rows()["location"], key=lambda r: r["username"])
    assert [r["username"] for r in rows] == ["alice", "bob"]
    for row in rows:
        assert re.fullmatch(rf"sip:{re.escape(NAT_PUBLIC_IP)}:\d+", row["received"]), row["received"]
        assert row["contact"].startswith(f"sip:{row['username']}@10.")
        assert row["cflags"] == (1 << FLB_NATB) | (1 << FLB_NATSIPPING)
        assert row["keepalive"] == 1
    stock.observe("cflags", [r["cflags"] for r in rows])


@on("kamailio", "kampy")
def test_a_call_between_phones_behind_nat_goes_through_rtpengine(stock: Stock) -> None:
    (alice, bob), relay = phones_registered(stock, "alice", "bob")
    before = len(relay.commands())  # type: ignore[attr-defined]
    call = alice.invite(f"sip:bob@{DOMAIN}")
    invite = bob.wait_request("INVITE", timeout=10)
    offered = sdp_lines(invite.body)
    assert offered["c"] == f"c=IN IP4 {SERVER_IP}" and offered["o"].endswith(f"IN IP4 {SERVER_IP}")
    assert invite.ruri == bob.contact
    assert f";alias={NAT_PUBLIC_IP}~" in (invite.header("contact") or "")
    assert ";nat=yes" in (invite.header("record-route") or "")
    bob.reply(invite, 200, "OK", sdp=True)
    answer = call.final(timeout=10)
    assert answer.status == 200
    answered = sdp_lines(answer.body)
    assert answered["c"] == f"c=IN IP4 {SERVER_IP}"
    call.ack()
    bob.wait_request("ACK", timeout=10)
    bye_to_alice(call, bob)
    seen = alice.wait_request("BYE", timeout=10)
    assert seen.ruri == alice.contact
    alice.reply(seen, 200, "OK")
    assert [n for n, _ in relay.commands()[before:]] == ["offer", "answer", "delete"]  # type: ignore[attr-defined]
    stock.observe("caller saw", [r.first for r in call.replies])
    stock.observe("sdp", [offered["c"], answered["c"]])


def bye_to_alice(call: Call, bob: UA) -> None:
    """bob hangs up: a BYE to alice's Contact along the route set, through the NAT."""
    invite = call.invite
    contact = next(m.header("contact") for m in bob.seen if m.is_request and m.method == "INVITE")
    assert contact is not None
    target = re.search(r"<([^>]+)>", contact)
    assert target is not None
    bob.send_request("BYE", target.group(1), to=f"sip:alice@{DOMAIN}", call_id=invite.call_id, cseq=1,
                     from_tag=call.to_tag, to_tag=invite.from_tag,
                     headers=[f"Route: {r}" for r in reversed(call.route)])


@on("kamailio", "kampy", at_once=True)  # two natping intervals of 30 s: both servers wait together
def test_keepalives_reach_a_phone_behind_nat_every_natping_interval(stock: Stock) -> None:
    (alice,), _ = phones_registered(stock, "alice")
    first = alice.wait_request("OPTIONS", timeout=NATPING_INTERVAL + 5)
    at = time.monotonic()
    alice.reply(first, 200, "OK")
    second = alice.wait_request("OPTIONS", timeout=NATPING_INTERVAL + 5)
    gap = time.monotonic() - at
    assert NATPING_INTERVAL - 2 < gap < NATPING_INTERVAL + 2, gap
    for ping in (first, second):
        assert ping.ruri == alice.contact
        assert (ping.header("from") or "").startswith("sip:pinger@kamailio.org;tag=")
    stock.observe("keepalive", first.first)


@on("kamailio", "kampy")
def test_a_call_when_rtpengine_is_stopped_goes_on_without_it(stock: Stock) -> None:
    (alice, bob), relay = phones_registered(stock, "alice", "bob")
    relay.stop()  # type: ignore[attr-defined]
    call = alice.invite(f"sip:bob@{DOMAIN}")
    invite = bob.wait_request("INVITE", timeout=20)
    offered = sdp_lines(invite.body)
    assert offered["c"] == f"c=IN IP4 {alice.transport.local[0]}"  # unchanged: no media relay
    bob.reply(invite, 486, "Busy Here")
    assert call.final(timeout=10).status == 486
    shown = stock.kamcmd("rtpengine.show", "all")
    assert re.search(r"disabled:\s*1\b", shown), shown
    stock.observe("sdp", offered["c"])
