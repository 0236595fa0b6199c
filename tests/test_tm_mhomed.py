"""mhomed=yes for tm: t_relay() sends from the socket on the address the system routes from to the
destination (Kamailio's get_out_socket()), as forward() does."""
from __future__ import annotations

from kampy.runtime.context import Socket, Source
from tests.support.runtime import make_server, request

ON_1 = Socket("udp", "127.0.0.1", 5060)
ON_2 = Socket("udp", "127.0.0.2", 5062)


def relayed_from(tmp_path, header: str, destination: str, arrived_on: Socket,
                 sockets: tuple[Socket, ...] = (ON_1, ON_2)) -> Socket | None:
    routes = f'request_route {{ $du = "sip:{destination}:5090"; t_relay(); }}'
    server = make_server(tmp_path, routes, modules=("pv", "tm"), header=header, sockets=list(sockets))
    outs = server.handle(request("MESSAGE"), Source("udp", "192.0.2.7", 5080, arrived_on))
    sent = [out for out in outs if out.port == 5090]
    return sent[0].local if sent else None


def test_t_relay_without_mhomed_sends_from_the_socket_the_request_came_in_on(tmp_path):
    assert relayed_from(tmp_path, "", "127.0.0.1", ON_2) == ON_2


def test_t_relay_with_mhomed_sends_from_the_socket_routed_to_the_destination(tmp_path):
    assert relayed_from(tmp_path, "mhomed = yes", "127.0.0.1", ON_2) == ON_1


def test_t_relay_with_mhomed_without_a_socket_on_the_routed_address_does_not_send(tmp_path):
    assert relayed_from(tmp_path, "mhomed = yes", "127.0.0.1", ON_2, sockets=(ON_2,)) is None
