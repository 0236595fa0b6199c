"""usrloc's per-domain statistics: declared as templates (`<domain>-expires`), registered per domain
when it is; `<domain>-expires` counts what the timer removed, can be reset, and is not counted by
db_mode 3's table-only timer (as Kamailio's db_timer_udomain)."""
from __future__ import annotations

import pytest

from kampy.db import connect, create_tables
from kampy.modules.usrloc import EXPORTS
from tests.reg_helpers import FakeClock, config, register, send, server


def expired(mode: int, url: str | None = None) -> object:
    clock = FakeClock()
    params = f'"timer_interval", 10;"db_mode", {mode}' + (f';"db_url", "{url}"' if url else "")
    srv = server(config(usrloc=params), clock)
    send(srv, register(expires=60))
    clock.advance(70)
    srv.run_timers()
    return srv


def test_the_per_domain_statistics_are_declared_as_templates() -> None:
    names = {s.name for s in EXPORTS.stats}
    assert {"<domain>-users", "<domain>-contacts", "<domain>-expires"} <= names


def test_a_template_is_not_registered_under_its_own_name() -> None:
    srv = expired(0)
    names = srv.core.stats.names()
    assert srv.core.stats.get("usrloc:location_expires") == 1
    assert "usrloc:location_expires" in names
    assert not any("<domain>" in n for n in names)


def test_expires_can_be_reset() -> None:
    srv = expired(0)
    assert srv.core.stats.reset("usrloc:location_expires")
    assert srv.core.stats.get("usrloc:location_expires") == 0
    assert not srv.core.stats.reset("usrloc:location_users")  # users and contacts cannot be reset


@pytest.fixture
def location_db(db_url: str) -> str:
    with connect(db_url) as db:
        create_tables(db, ["location"])
    return db_url


def test_db_mode_3_does_not_count_expired_rows(location_db: str) -> None:
    srv = expired(3, location_db)
    assert srv.core.stats.get("usrloc:location_expires") == 0
