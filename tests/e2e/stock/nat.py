"""Phones behind a NAT for the stock scenarios: the router and phone namespaces of
tests/e2e/natworld.py wired to the run's namespace (the server's public address 198.51.100.1 beside
its 127.0.0.1), and the rtpengine daemon where the stock config's WITH_RTPENGINE looks for it
(udp:127.0.0.1:2223 in the run's namespace), relaying media on the public address. Both must exist
before the server starts: Kamailio binds the interfaces it finds at start-up."""
from __future__ import annotations

from tests.e2e.natworld import SERVER_IP, NatWorld
from tests.e2e.stock.sipua import UA
from tests.e2e.stock.world import Stock
from tests.support.rtpengine import Rtpengine

RTPENGINE_NG = 2223  # modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:2223")


def behind_nat(stock: Stock, *users: str) -> tuple[NatWorld, Rtpengine]:
    """A NAT with a phone namespace per user, and the media relay; both closed with the run."""
    world = NatWorld(stock.ns.run_prefix(), stock.ns.pid, phones=users)
    stock.on_close(world.close)
    relay = Rtpengine(stock.workdir, interface=SERVER_IP, ng_port=RTPENGINE_NG, prefix=stock.ns.run_prefix(),
                      make_socket=stock.ns.socket)
    relay.start()
    stock.on_close(relay.stop)
    return world, relay


def phone(stock: Stock, world: NatWorld, user: str) -> UA:
    """`user`'s phone behind the NAT, sending to the server's public address."""
    place = world.phones[user]
    return stock.ua(user, host=place.address, server=(SERVER_IP, 5060), sockets=place.socket)
