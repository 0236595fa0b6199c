"""grep_socket(): the local socket a `proto:host:port` text names, by Kamailio's grep_sock_info()
and find_si() (src/core/socket_info.c); force_send_socket() is checked against Kamailio 5.6 in
tests/e2e/test_force_send_socket_e2e.py."""
from __future__ import annotations

from kampy.runtime.context import Socket
from kampy.runtime.sockets import grep_socket

UDP = Socket("udp", "127.0.0.1", 5070)
ADV = Socket("udp", "10.0.0.1", 5062, "203.0.113.9", 5999)
TCP = Socket("tcp", "127.0.0.2", 5060)
V6 = Socket("udp", "::1", 5060)
NAMED = Socket("udp", "Proxy.Example.Test", 5060)


def test_host_and_port():
    assert grep_socket([UDP, ADV], "127.0.0.1", 5070, "udp") is UDP


def test_no_port_means_any_port():
    assert grep_socket([UDP], "127.0.0.1") is UDP


def test_other_port_does_not_match():
    assert grep_socket([UDP], "127.0.0.1", 5060) is None


def test_advertised_host_matches():
    assert grep_socket([UDP, ADV], "203.0.113.9", 5062) is ADV


def test_advertised_port_matches():
    assert grep_socket([ADV], "203.0.113.9", 5999) is ADV


def test_find_si_does_not_match_the_advertised_port():
    assert grep_socket([ADV], "203.0.113.9", 5999, advertised_port=False) is None


def test_proto_restricts():
    assert grep_socket([TCP], "127.0.0.2", 5060, "udp") is None


def test_no_proto_searches_udp_before_tcp():
    udp = Socket("udp", "127.0.0.2", 5060)
    assert grep_socket([TCP, udp], "127.0.0.2") is udp


def test_ws_uses_the_tcp_sockets():
    assert grep_socket([TCP], "127.0.0.2", 5060, "ws") is TCP


def test_ipv6_in_brackets():
    assert grep_socket([V6], "[::1]", 5060) is V6


def test_ipv6_other_spelling():
    assert grep_socket([V6], "0:0::0:1") is V6


def test_name_ignores_case():
    assert grep_socket([NAMED], "proxy.example.test") is NAMED
