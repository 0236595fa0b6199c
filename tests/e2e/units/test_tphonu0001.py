"""Unit tphonu0001 of Kamailio's suite (phonenum module: basic tests): three numbers matched with
and without a country, their attributes logged. The unit's config also loads db_mysql, which
its routing does not use: it is left out here."""
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
loadmodule "phonenum.so"

request_route {
	$var(i) = 0;
	$var(cname) = "US";
	$var(pnum) = "1 (212) 937-7844";
	route(PHONENUM);
	$var(i) = $var(i) + 1;
	$var(cname) = "US";
	$var(pnum) = "1-484-555-8888";
	route(PHONENUM);
	$var(i) = $var(i) + 1;
	$var(cname) = "";
	$var(pnum) = "+49 800 330 1000";
	route(PHONENUM);
	sl_send_reply("200", "OK");
	exit;
}

route[PHONENUM] {
	if($(var(cname){s.len}) > 0) {
		phonenum_match_cn("$var(pnum)", "$var(cname)", "src");
		$var(rc) = $rc;
	} else {
		phonenum_match("$var(pnum)", "src");
		$var(rc) = $rc;
	}
	if($var(rc) > 0) {
		if($phn(src=>valid)==1) {
			xlog("$var(i) - number matched: $phn(src=>number)\\n");
			xlog("$var(i) - number valid: $phn(src=>valid)\\n");
			xlog("$var(i) - number normalized: $phn(src=>normalized)\\n");
			xlog("$var(i) - number cctel: $phn(src=>cctel)\\n");
			xlog("$var(i) - number ndesc: $phn(src=>ndesc)\\n");
			xlog("$var(i) - number ltype: $phn(src=>ltype)\\n");
		} else {
			xlog("$var(i) - number normalization error: $phn(src=>error)\\n");
		}
	} else {
		xlog("$var(i) - phonenum match failure\\n");
	}
}
"""


def test_tphonu0001_numbers_are_normalized(unit_server: Callable[..., UnitServer]) -> None:
    server = unit_server(CFG, "tphonu0001")
    server.start()
    assert status(server.sipsak("sip:alice@127.0.0.1")) == 200
    server.stop()
    log = server.log()
    assert "number normalized" in log
    for line in ("0 - number normalized: +12129377844", "1 - number ndesc: Pennsylvania",
                 "2 - number ltype: toll-free", "2 - number cctel: 49"):
        assert line in log
