"""Unit tulocx0001 of Kamailio's suite (user location - basic tests): the server started with no
`-f` (Debian's /etc/kamailio/kamailio.cfg, no `-A`: no authentication, usrloc in memory), then
`sipsak -U -i -l 15098 -H 127.0.0.1 -s sip:alice@127.0.0.1:5060` registers alice's contact; the
unit greps sipsak's output for the 200 OK."""
from __future__ import annotations

from collections.abc import Callable

from tests.e2e.units.harness import UnitServer, status


def test_tulocx0001_the_default_config_saves_a_registration_without_authentication(
        unit_server: Callable[..., UnitServer]) -> None:
    server = unit_server(None, "tulocx0001")
    server.start("-a", "no")
    reply = server.sipsak("sip:alice@127.0.0.1:5060", register_contact="sip:alice@127.0.0.1:15098")
    assert status(reply) == 200
    assert b"Contact: <sip:alice@127.0.0.1:15098>;expires=" in reply
    server.stop()
