"""WITH_ANTIFLOOD: pike counts each source's requests (16 per 2 s unit); a source over the limit is
banned in the `ipban` htable (5 minutes) and its requests are dropped without a reply."""
from __future__ import annotations

import time

from tests.e2e.proxy import Msg
from tests.e2e.stock.scenario import on
from tests.e2e.stock.sipua import UA
from tests.e2e.stock.world import DOMAIN, Stock

FLOODER = "127.0.0.66"
BURST = 100


def _burst(flooder: UA, count: int) -> int:
    """`count` OPTIONS to the server as fast as they go; how many were answered 200."""
    for n in range(count):
        flooder.send_request("OPTIONS", f"sip:{DOMAIN}", call_id=f"flood-{n}@{FLOODER}")
    answered = set()
    deadline = time.monotonic() + 2
    while (left := deadline - time.monotonic()) > 0:
        msg = flooder.recv(left)
        if msg is not None and msg.status == 200:
            answered.add(msg.call_id)
    return len(answered)


def _ipban(stock: Stock) -> list[str]:
    """The names in the ipban table, from `kamcmd htable.dump ipban`."""
    return sorted(line.split(":", 1)[1].strip() for line in stock.kamcmd("htable.dump", "ipban").splitlines()
                  if line.strip().startswith("name:"))


@on("kamailio", "kampy")
def test_a_flood_from_one_source_is_cut_off_by_pike_and_banned_in_htable(stock: Stock) -> None:
    stock.start("WITH_ANTIFLOOD")
    flooder = stock.ua("flood", host=FLOODER)
    answered = _burst(flooder, BURST)
    assert 0 < answered < BURST
    assert _ipban(stock) == [FLOODER]
    assert "ALERT: pike blocking OPTIONS from sip:flood@127.0.0.1 (IP:127.0.0.66:5070)" in stock.output()
    flooder.send_request("OPTIONS", f"sip:{DOMAIN}", call_id=f"after@{FLOODER}")
    assert flooder.recv(1.0) is None
    other: Msg = stock.ua("alice").options(f"sip:{DOMAIN}")
    assert other.status == 200
    stock.observe("banned", _ipban(stock))
