"""Steps the scenarios share: users registered, a call ringing, answered, hung up."""
from __future__ import annotations

from tests.e2e.proxy import Msg
from tests.e2e.stock.sipua import UA, Call
from tests.e2e.stock.world import DOMAIN, Stock


def registered(stock: Stock, *users: str, defines: tuple[str, ...] = (), domain: str = DOMAIN,
               transport: str = "udp") -> list[UA]:
    """The users added (password `<user>-pw`), the server started with `defines` (unless it runs),
    and a user agent registered for each (401, then 200)."""
    for user in users:
        stock.add_user(user, f"{user}-pw", domain)
    if stock.server is None:
        stock.start(*defines)
    agents = [stock.ua(user, domain, transport=transport) for user in users]
    for ua in agents:
        assert [r.status for r in ua.register()] == [401, 200]
    return agents


def ringing(caller: UA, callee: UA, target: str | None = None) -> tuple[Call, Msg]:
    """caller INVITEs `target` (the callee's AoR by default), answering a 407; the callee gets the
    INVITE and rings."""
    call = caller.invite(target or callee.aor)
    invite = callee.wait_request("INVITE")
    callee.reply(invite, 180, "Ringing")
    call.wait(180)
    return call, invite


def answered(caller: UA, callee: UA, target: str | None = None) -> Call:
    """A call rung, answered 200 with SDP and ACKed (the callee got the ACK)."""
    call, invite = ringing(caller, callee, target)
    callee.reply(invite, 200, "OK", sdp=True)
    assert call.final().status == 200
    call.ack()
    callee.wait_request("ACK")
    return call


def hang_up(call: Call, callee: UA) -> Msg:
    """The caller's BYE, answered 200 by the callee; returns the BYE the callee got."""
    bye = call.send_bye()
    got = callee.wait_request("BYE")
    callee.reply(got, 200, "OK")
    assert call.ua.final(bye).status == 200
    return got
