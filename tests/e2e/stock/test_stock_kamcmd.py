"""`kamcmd` against the server's ctl socket: the statistics two registrations and a call leave."""
from __future__ import annotations

import time

from tests.e2e.stock.scenario import on
from tests.e2e.stock.steps import answered, hang_up, registered
from tests.e2e.stock.world import Stock

# counters (not gauges of memory or of transactions waiting to be freed) the scenario moves
COUNTERS = ("core:rcv_requests_register", "core:rcv_requests_invite", "core:rcv_requests_ack",
            "core:rcv_requests_bye", "core:fwd_requests", "core:rcv_replies_18x", "core:rcv_replies_2xx",
            "registrar:accepted_regs", "registrar:rejected_regs", "sl:200_replies", "sl:401_replies",
            "sl:407_replies", "sl:sent_replies", "sl:received_ACKs", "tmx:UAS_transactions",
            "tmx:2xx_transactions", "tmx:rpl_received", "tmx:rpl_relayed", "tmx:rpl_sent",
            "usrloc:location_users", "usrloc:location_contacts", "usrloc:registered_users")


def settled(stock: Stock, names: tuple[str, ...], timeout: float = 15) -> dict[str, int]:
    """The statistics `names` once two reads agree. Kamailio's tmx and sl compute theirs at most every
    other second in the process that answers kamcmd, so the reads are 2.1 s apart (and a worker counts
    a reply only after sending it)."""
    def read() -> dict[str, int]:
        found = stock.statistics()
        return {name: found[name] for name in names}

    last = read()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(2.1)
        now = read()
        if now == last:
            return now
        last = now
    raise AssertionError(f"the statistics still move after {timeout}s")


@on("kamailio", "kampy")
def test_kamcmd_reads_the_statistics_of_registrations_and_a_call(stock: Stock) -> None:
    alice, bob = registered(stock, "alice", "bob")
    hang_up(answered(alice, bob), bob)
    counted = settled(stock, (*COUNTERS, "core:rcv_requests_options"))
    # the readiness probes of the harness (OPTIONS answered `200 Keepalive`) counted apart
    probes = counted.pop("core:rcv_requests_options")
    counted["sl:200_replies"] -= probes
    counted["sl:sent_replies"] -= probes
    assert counted == {
        "core:rcv_requests_register": 4, "core:rcv_requests_invite": 2, "core:rcv_requests_ack": 1,
        "core:rcv_requests_bye": 1, "core:fwd_requests": 1, "core:rcv_replies_18x": 1,
        "core:rcv_replies_2xx": 2, "registrar:accepted_regs": 2, "registrar:rejected_regs": 0,
        "sl:200_replies": 2, "sl:401_replies": 2, "sl:407_replies": 1, "sl:sent_replies": 5,
        "sl:received_ACKs": 1, "tmx:UAS_transactions": 2, "tmx:2xx_transactions": 2, "tmx:rpl_received": 3,
        "tmx:rpl_relayed": 3, "tmx:rpl_sent": 4, "usrloc:location_users": 2, "usrloc:location_contacts": 2,
        "usrloc:registered_users": 2}
    stock.observe("statistics", counted)
