"""Unit tsiput0001 of Kamailio's suite (siputils: basic tests): is_tel_number(), is_numeric(),
is_alphanum() and is_alphanumex() on the R-URI user and on "+24242424", with the unit's config."""
from __future__ import annotations

from collections.abc import Callable

from tests.e2e.units.harness import UnitServer, status

CFG = """#!KAMAILIO
children=2

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "jsonrpcs.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "siputils.so"

request_route {
	if (is_tel_number("$rU")) {
		xlog("ruri user $rU is tel number\\n");
	} else {
		xlog("ruri user $rU is not tel number\\n");
	}
	if (is_tel_number("+24242424")) {
		xlog("+24242424 is tel number\\n");
	} else {
		xlog("+24242424 is not tel number\\n");
	}
	if (is_numeric("$rU")) {
		xlog("ruri user $rU is numeric\\n");
	} else {
		xlog("ruri user $rU is not numeric\\n");
	}
	if (is_numeric("+24242424")) {
		xlog("+24242424 is numeric\\n");
	} else {
		xlog("+24242424 is not numeric\\n");
	}
	if (is_alphanum("$rU")) {
		xlog("ruri user $rU is alpha-numeric\\n");
	} else {
		xlog("ruri user $rU is not alpha-numeric\\n");
	}
	if (is_alphanum("+24242424")) {
		xlog("+24242424 is alpha-numeric\\n");
	} else {
		xlog("+24242424 is not alpha-numeric\\n");
	}
	if (is_alphanumex("$rU", "+.-_")) {
		xlog("ruri user $rU is extended alpha-numeric\\n");
	} else {
		xlog("ruri user $rU is not extended alpha-numeric\\n");
	}
	if (is_alphanumex("+24242424", "+.-_")) {
		xlog("+24242424 is extended alpha-numeric\\n");
	} else {
		xlog("+24242424 is not extended alpha-numeric\\n");
	}
	sl_send_reply("200", "OK");
	exit;
}
"""
EXPECTED = ("ruri user alice is not tel number", "+24242424 is tel number", "uri user alice is not numeric",
            "+24242424 is not numeric", "ruri user alice is alpha-numeric", "+24242424 is not alpha-numeric",
            "ruri user alice is extended alpha-numeric", "+24242424 is extended alpha-numeric")


def test_tsiput0001_the_character_class_checks(unit_server: Callable[..., UnitServer]) -> None:
    server = unit_server(CFG, "tsiput0001")
    server.start()
    assert status(server.sipsak("sip:alice@127.0.0.1")) == 200
    server.stop()
    log = server.log()
    for line in EXPECTED:
        assert line in log
