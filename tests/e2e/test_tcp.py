"""SIP over TCP: framing by Content-Length, keep-alives, timeouts, protocol errors."""
from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import OPTIONS_CFG
from tests.e2e.kampy_process import start_kampy
from tests.e2e.sip import TCPClient, call_id_of, status_of


@pytest.fixture(scope="module")
def short_lifetime_kampy(tmp_path_factory):
    """kampy with tcp_connection_lifetime=2."""
    kampy = start_kampy(OPTIONS_CFG, tmp_path_factory.mktemp("kampy"), args=("-A", "TCP_LIFETIME=2"))
    yield kampy
    kampy.stop()


def test_two_messages_in_one_segment_get_two_replies_in_order(options_kampy):
    client = TCPClient(options_kampy.addr)
    first, second = client.message(call_id="seg-1"), client.message(call_id="seg-2")
    client.send(first + second)
    assert [call_id_of(client.read_reply()), call_id_of(client.read_reply())] == ["seg-1", "seg-2"]
    client.close()


def test_message_split_over_several_writes_is_answered_once_complete(options_kampy):
    client = TCPClient(options_kampy.addr)
    message = client.message(call_id="split")
    for start in range(0, len(message), 17):
        client.send(message[start:start + 17])
        time.sleep(0.01)
    reply = client.read_reply()
    assert (status_of(reply), call_id_of(reply)) == (200, "split")
    client.close()


def test_reply_goes_back_on_the_connection_the_request_came_on(options_kampy):
    client = TCPClient(options_kampy.addr)
    client.send(client.message(call_id="same-conn"))
    assert call_id_of(client.read_reply()) == "same-conn"
    client.close()


def test_crlf_keepalive_ping_gets_a_crlf_pong(options_kampy):
    client = TCPClient(options_kampy.addr)
    client.send(b"\r\n\r\n")
    assert client.sock.recv(16) == b"\r\n"
    client.close()


def test_half_message_then_silence_does_not_block_another_connection(options_kampy):
    stalled = TCPClient(options_kampy.addr)
    stalled.send(stalled.message()[:40])
    other = TCPClient(options_kampy.addr, timeout=2)
    other.send(other.message(call_id="not-blocked"))
    assert call_id_of(other.read_reply()) == "not-blocked"
    stalled.close()
    other.close()


def test_half_message_then_silence_is_closed_once_idle(short_lifetime_kampy):
    client = TCPClient(short_lifetime_kampy.addr)
    client.send(client.message()[:40])
    assert client.closed_by_peer(within=6)
    client.close()


def test_message_trickled_byte_by_byte_is_closed_after_the_connection_lifetime(short_lifetime_kampy):
    # Kamailio 5.6 has no tcp_msg_read_timeout: an unfinished message is bounded by the lifetime too
    client = TCPClient(short_lifetime_kampy.addr)
    message = client.message()
    started = time.monotonic()
    closed = False
    for i in range(len(message) - 1):  # a byte every 0.25 s: never idle, never complete
        try:
            client.send(message[i:i + 1])
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        if client.closed_by_peer(within=0.25):
            closed = True
            break
        if time.monotonic() - started > 8:
            break
    assert closed
    assert 1.5 <= time.monotonic() - started <= 6
    client.close()


def test_idle_connection_is_closed_after_the_connection_lifetime(short_lifetime_kampy):
    client = TCPClient(short_lifetime_kampy.addr)
    client.send(client.message(call_id="then-idle"))
    assert call_id_of(client.read_reply()) == "then-idle"
    started = time.monotonic()
    assert client.closed_by_peer(within=6)
    assert time.monotonic() - started >= 1.0
    client.close()


def test_bad_message_on_tcp_gets_400_then_the_connection_is_closed(options_kampy):
    client = TCPClient(options_kampy.addr)
    bad = client.message(call_id="bad").replace(b"Max-Forwards:", b"Max Forwards:", 1)  # bad name
    client.send(bad)
    reply = client.read_reply()
    assert status_of(reply) == 400
    assert client.closed_by_peer(within=3)
    client.close()


def test_message_without_content_length_closes_the_connection(options_kampy):
    client = TCPClient(options_kampy.addr)
    client.send(client.message().replace(b"Content-Length: 0\r\n", b""))
    assert client.closed_by_peer(within=3)
    client.close()
