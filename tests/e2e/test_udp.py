"""SIP over UDP on IPv4 and IPv6 loopback; workers sharing the socket."""
from __future__ import annotations

import socket
import threading

import pytest

from tests.e2e.sip import UDPClient, options, status_of

SLOW_CFG = """#!KAMAILIO
children=2
max_while_loops=100000000
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
request_route {
    if (is_method("INFO")) {
        $var(i) = 0;
        while ($var(i) < 1000000) { $var(i) = $var(i) + 1; }
    }
    sl_send_reply("200", "OK");
}
"""


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_options_over_udp_ipv4_gets_200(options_kampy):
    client = UDPClient()
    assert status_of(client.request(options_kampy.addr)) == 200
    client.close()


def test_max_forwards_0_over_udp_gets_483(options_kampy):
    client = UDPClient()
    assert status_of(client.request(options_kampy.addr, max_forwards=0)) == 483
    client.close()


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
def test_options_over_udp_ipv6_gets_200(running_kampy):
    kampy = running_kampy(host="::1")
    client = UDPClient("::1")
    assert status_of(client.request(kampy.addr)) == 200
    client.close()


def test_reply_goes_to_the_source_port_when_via_asks_for_rport(options_kampy):
    client = UDPClient()
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    # the Via names `other`'s port but asks for rport: the reply comes back to `client`
    client.sock.sendto(options(*options_kampy.addr, local=other.getsockname()), options_kampy.addr)
    data, _ = client.sock.recvfrom(65535)
    assert status_of(data) == 200
    other.close()
    client.close()


def test_fork_no_serves_from_one_process(running_kampy):
    kampy = running_kampy(args=("-D",))
    client = UDPClient()
    assert status_of(client.request(kampy.addr)) == 200
    assert kampy.worker_pids() == []
    client.close()


def test_children_2_starts_two_worker_processes(running_kampy):
    kampy = running_kampy(args=("-n", "2"))
    assert len(kampy.worker_pids()) == 2


def test_a_slow_request_in_one_worker_does_not_stop_another_from_answering(running_kampy):
    kampy = running_kampy(SLOW_CFG, protos=("udp",))
    slow = UDPClient(timeout=30)
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(status_of(slow.request(kampy.addr,
                                                                                   method="INFO"))))
    thread.start()
    fast = UDPClient(timeout=1)
    assert status_of(fast.request(kampy.addr)) == 200  # answered by the other worker, quickly
    assert thread.is_alive(), "the slow request was not slow enough to show anything"
    thread.join(30)
    assert result == [200]
    slow.close()
    fast.close()
