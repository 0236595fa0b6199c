"""Unit tsjson0001 of Kamailio's suite (sipjson: basic tests): sipsak's OPTIONS to alice, the
document of sj_serialize("0B") in the log, with the unit's config."""
from __future__ import annotations

from collections.abc import Callable

from tests.e2e.units.harness import UnitServer, status

CFG = """#!KAMAILIO
children=2

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "sipjson.so"

request_route {
	sj_serialize("0B", "$var(json)");
	xlog("===== json:\\n$var(json)\\n");
	sl_send_reply("200", "OK");
	exit;
}
"""


def test_tsjson0001_the_serialized_message_has_the_ruri_user(unit_server: Callable[..., UnitServer]) -> None:
    server = unit_server(CFG, "tsjson0001")
    server.start()
    assert status(server.sipsak("sip:alice@127.0.0.1")) == 200
    server.stop()
    assert 'rU":"alice' in server.log()
