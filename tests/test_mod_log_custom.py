"""log_custom's log_udp(): the text to the address of log_engine_data, over UDP."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

CFG = """
%s
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "log_custom.so"
request_route {
    $avp(rc) = log_udp("R-URI is $ru\\n");
    sl_send_reply("200", "OK");
}
"""


@pytest.fixture
def target() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


def test_log_udp_sends_the_text_to_log_engine_data(kampy_cfg: Any, target: socket.socket) -> None:
    port = target.getsockname()[1]
    sip = kampy_cfg(CFG % f'log_engine_type="udp"\nlog_engine_data="127.0.0.1:{port}"')
    assert sip.send_request("OPTIONS", "sip:alice@example.test").avp("rc") == 1
    assert target.recv(65535) == b"R-URI is sip:alice@example.test\n"


def test_without_a_udp_log_engine_log_udp_does_nothing_and_succeeds(
        kampy_cfg: Any, target: socket.socket) -> None:
    sip = kampy_cfg(CFG % "")
    assert sip.send_request("OPTIONS", "sip:alice@example.test").avp("rc") == 1
    target.settimeout(0.2)
    with pytest.raises(TimeoutError):
        target.recv(65535)


def test_a_bad_log_engine_data_is_refused_at_start(kampy_cfg: Any) -> None:
    with pytest.raises(Exception, match="log_engine_data"):
        kampy_cfg(CFG % 'log_engine_type="udp"\nlog_engine_data="not a host:port:x"')
