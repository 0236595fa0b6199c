"""usrloc's close_expired_tcp: when the timer removes an expired contact registered over TCP, the
connection is closed by the worker that owns it (a send of no bytes with SND_F_CON_CLOSE, only on
that open connection); tests/e2e/test_usrloc_close_tcp_kamailio.py watches it on the wire beside
Kamailio 5.6."""
from __future__ import annotations

from kampy.api import SND_F_CON_CLOSE, SND_F_FORCE_CON_REUSE, Socket, Source
from tests.reg_helpers import FakeClock, config, register, send, server

TCP = Source("tcp", "127.0.0.1", 40001, Socket("tcp", "127.0.0.1", 5060), conn_id=(1 << 40) | 7)


def expire(close: int, src: Source = TCP) -> list:
    clock = FakeClock()
    srv = server(config(usrloc=f'"timer_interval", 10;"close_expired_tcp", {close}',
                        registrar='"min_expires", 1'), clock)
    send(srv, register(expires=30), src=src)
    clock.advance(40)
    return [o for o in srv.run_timers() + srv.core.take_outbox() if o.proto == "tcp"]


def test_an_expired_tcp_contact_gets_its_connection_closed() -> None:
    (out,) = expire(1)
    flags = SND_F_FORCE_CON_REUSE | SND_F_CON_CLOSE
    assert (out.conn_id, out.data, out.send_flags) == (TCP.conn_id, b"", flags)
    assert (out.host, out.port) == ("", 0)  # by id alone: never another connection to that address


def test_without_the_parameter_the_connection_is_left_open() -> None:
    assert expire(0) == []


def test_an_expired_udp_contact_closes_nothing() -> None:
    assert expire(1, src=Source("udp", "127.0.0.1", 5070, Socket("udp", "127.0.0.1", 5060))) == []


def test_a_contact_still_valid_keeps_its_connection() -> None:
    clock = FakeClock()
    srv = server(config(usrloc='"timer_interval", 10;"close_expired_tcp", 1',
                        registrar='"min_expires", 1'), clock)
    send(srv, register(expires=300), src=TCP)
    clock.advance(40)
    assert [o for o in srv.run_timers() + srv.core.take_outbox() if o.proto == "tcp"] == []
