"""event_route[usrloc:contact-expired] (registrar, run by usrloc's timer) and registrar's
event_callback, as Kamailio 5.6's reg_ul_expired_contact."""
from __future__ import annotations

import pytest

from kampy.db import connect, create_tables
from kampy.runtime.server import Server
from tests.reg_helpers import FakeClock, config, register, send, server

EVENT = r'''
event_route[usrloc:contact-expired] {
    xlog("L_INFO", "expired $ulc(exp=>aor) $ulc(exp=>addr) $ulc(exp=>callid) $ulc(exp=>domain)\n");
}
'''


def expiring_server(usrloc: str = "", registrar: str = "", event: str = EVENT) -> Server:
    clock = FakeClock()
    srv = server(config(usrloc='"timer_interval", 10' + (";" + usrloc if usrloc else ""),
                        registrar=registrar) + event, clock)
    send(srv, register(expires=60))
    send(srv, register(user="bob", contact="<sip:bob@10.0.0.2>", callid="b", expires=3600))
    clock.advance(70)
    return srv


ALICE_EXPIRED = "<script>: expired alice sip:alice@10.0.0.1:5070 reg-1@10.0.0.1 location"


def expired_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "expired " in r.getMessage()]


def test_contact_expired_route_runs_once_per_expired_contact_with_ulc_exp(
        caplog: pytest.LogCaptureFixture) -> None:
    srv = expiring_server()
    with caplog.at_level("INFO"):
        srv.run_timers()
    assert expired_lines(caplog) == [ALICE_EXPIRED]


def test_event_callback_replaces_the_event_route(caplog: pytest.LogCaptureFixture) -> None:
    srv = expiring_server(registrar='"event_callback", "ksr_registrar_event"')
    with caplog.at_level("INFO"):
        srv.run_timers()
    assert expired_lines(caplog) == []
    assert srv.core.modules["usrloc"].contacts("alice") == []


@pytest.fixture
def location_db(db_url: str) -> str:
    with connect(db_url) as db:
        create_tables(db, ["location"])
    return db_url


@pytest.mark.parametrize("mode", [1, 3])
def test_contact_expired_route_runs_in_db_modes_1_and_3(location_db: str, mode: int,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    srv = expiring_server(f'"db_mode", {mode};"db_url", "{location_db}"')
    with caplog.at_level("INFO"):
        srv.run_timers()
    assert expired_lines(caplog) == [ALICE_EXPIRED]
