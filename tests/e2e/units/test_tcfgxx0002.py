"""Unit tcfgxx0002 of Kamailio's suite (default config file - basic sip signaling): the server
started with no `-f` (Debian's /etc/kamailio/kamailio.cfg, no `-A`) as `kamailio -P PID -w RUN
-Y RUN -a no`, then `sipsak -v -s sip:127.0.0.1`, whose exit status is the unit's: an OPTIONS to
the server itself, answered by the config's keepalive reply."""
from __future__ import annotations

from collections.abc import Callable

from tests.e2e.units.harness import UnitServer, status


def test_tcfgxx0002_the_default_config_answers_an_options_to_the_server_itself(
        unit_server: Callable[..., UnitServer]) -> None:
    server = unit_server(None, "tcfgxx0002")
    server.start("-a", "no")
    reply = server.sipsak("sip:127.0.0.1")
    assert status(reply) == 200
    assert b"SIP/2.0 200 Keepalive\r\n" in reply
    server.stop()
