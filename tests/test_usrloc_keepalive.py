"""usrloc's own keepalives (ka_mode, ka_from, ka_domain, ka_method, ka_filter, ka_timeout,
ka_loglevel, ka_logmsg), as Kamailio 5.6's ul_keepalive.c: the request the timer sends to each
contact, and what a reply to it does."""
from __future__ import annotations

import pytest

from kampy.api import Source
from kampy.runtime.server import Server
from tests.reg_helpers import SOCKET, FakeClock, config, register, send, server

PHONE = Source("udp", "10.0.0.1", 5070, SOCKET)


def ka_server(params: str, clock: FakeClock) -> Server:
    srv = server(config(usrloc='"timer_interval", 10;' + params), clock)
    send(srv, register())
    return srv


def keepalives(srv: Server, clock: FakeClock) -> list[str]:
    clock.advance(10)
    return [o.data.decode() for o in srv.run_timers() if o.data.startswith((b"OPTIONS", b"INFO"))]


def answer(srv: Server, request: str) -> None:
    head = [line for line in request.split("\r\n")
            if line.split(":", 1)[0] in ("Via", "From", "To", "Call-ID", "CSeq")]
    reply = "SIP/2.0 200 OK\r\n" + "\r\n".join(head) + "\r\nContent-Length: 0\r\n\r\n"
    srv.handle(reply.encode(), PHONE)


def test_ka_mode_1_sends_a_keepalive_to_each_contact_on_the_timer() -> None:
    clock = FakeClock()
    (req,) = keepalives(ka_server('"ka_mode", 1', clock), clock)
    lines = req.split("\r\n")
    assert lines[0] == "OPTIONS sip:alice@10.0.0.1:5070 SIP/2.0"
    assert lines[1] == "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx.1.1.0"
    assert lines[2].startswith("From: <sip:server@kamailio.org>;tag=uloc-")
    assert lines[3] == "To: <sip:alice@kamailio.org>" and lines[4].startswith("Call-ID: ksrulka-")
    assert lines[5:7] == ["CSeq: 80 OPTIONS", "Content-Length: 0"]


def test_ka_from_ka_domain_and_ka_method_shape_the_request() -> None:
    clock = FakeClock()
    srv = ka_server('"ka_mode", 1;"ka_from", "sip:ka@proxy.test";"ka_domain", "proxy.test";'
                    '"ka_method", "INFO"', clock)
    (req,) = keepalives(srv, clock)
    assert req.startswith("INFO sip:alice@10.0.0.1:5070 SIP/2.0\r\n")
    assert "From: <sip:ka@proxy.test>;tag=" in req and "To: <sip:alice@proxy.test>\r\n" in req
    assert "CSeq: 80 INFO\r\n" in req


def test_without_ka_mode_usrloc_sends_no_keepalive() -> None:
    clock = FakeClock()
    assert keepalives(ka_server("", clock), clock) == []


def test_ka_mode_2_pings_only_contacts_with_the_nat_flag() -> None:
    clock = FakeClock()
    assert keepalives(ka_server('"ka_mode", 3;"nat_bflag", 6', clock), clock) == []


def test_ka_mode_4_pings_only_udp_contacts() -> None:
    clock = FakeClock()
    srv = server(config(usrloc='"timer_interval", 10;"ka_mode", 5'), clock)
    send(srv, register(contact="<sip:alice@10.0.0.1:5070;transport=tcp>"))
    assert keepalives(srv, clock) == []


def test_ka_filter_1_pings_only_contacts_of_this_server_id() -> None:
    clock = FakeClock()
    srv = ka_server('"ka_mode", 1;"ka_filter", 1', clock)
    ul = srv.core.modules["usrloc"]
    (c,) = ul.contacts("alice")
    ul.update_contact("location", c.copy(server_id=9))
    assert keepalives(srv, clock) == []


def test_ka_timeout_expires_a_contact_that_does_not_answer() -> None:
    clock = FakeClock()
    srv = ka_server('"ka_mode", 1;"ka_timeout", 25', clock)
    keepalives(srv, clock)
    keepalives(srv, clock)
    assert keepalives(srv, clock) == []  # 30 s silent: no keepalive, it expires in 10 s
    (c,) = srv.core.modules["usrloc"].contacts("alice")
    assert c.expires == int(clock.now) + 10


def test_a_reply_to_a_keepalive_keeps_the_contact() -> None:
    clock = FakeClock()
    srv = ka_server('"ka_mode", 1;"ka_timeout", 25', clock)
    for _ in range(4):
        (req,) = keepalives(srv, clock)
        answer(srv, req)
    (c,) = srv.core.modules["usrloc"].contacts("alice")
    assert c.expires > clock.now + 3000 and c.last_keepalive == int(clock.now)


def test_ka_loglevel_logs_the_roundtrip_with_ka_logmsg(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    srv = ka_server('"ka_mode", 1;"ka_loglevel", 2;"ka_logmsg", " to [$tu]"', clock)
    (req,) = keepalives(srv, clock)
    with caplog.at_level("INFO"):
        answer(srv, req)
    (line,) = [r.getMessage() for r in caplog.records if "keepalive roundtrip" in r.getMessage()]
    assert line.startswith("keepalive roundtrip: 0.") and line.endswith("] to [sip:alice@kamailio.org]")
    assert "- ruid [uloc-" in line


def test_usrloc_loads_without_pv_when_keepalives_are_off() -> None:
    # ka_logmsg's default names pv's $tu; Kamailio parses it only with ka_mode set, so a config
    # without pv loads usrloc (the daemon tests' config does)
    from kampy.testing import Harness

    with Harness.load('loadmodule "usrloc.so"\nrequest_route {\n    exit;\n}\n') as sip:
        assert sip.core.modules.get("usrloc") is not None
