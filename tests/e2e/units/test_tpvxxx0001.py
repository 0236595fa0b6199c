"""Unit tpvxxx0001 of Kamailio's suite (pv: $xavi() tests): a MESSAGE sets $xavi(FOO=>val), reads
it back as $xavi(fOo=>VAl), removes it with xavi_rm("foo") and finds it unset."""
from __future__ import annotations

from collections.abc import Callable

from tests.e2e.units.harness import UnitServer, status

CFG = """#!KAMAILIO
children=1

loadmodule "kex.so"
loadmodule "jsonrpcs.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "xlog.so"

modparam("jsonrpcs", "pretty_format", 1)

request_route {
    if (!is_method("MESSAGE")) exit;
    pv_unset("$xavi(FOO)");
    $(xavi(FOO=>val)) = "testME";
    pv_xavi_print();
    if($xavi(fOo=>VAl) == "testME") {
        xlog("test$var(t): OK\\n");
    } else {
        xlog("test$var(t): $(xavi(FOO=>val[*]))\\n");
    }
    $var(t) = $var(t) + 1;
    xavi_rm("foo");
    pv_xavi_print();
    if(!pv_isset("$xavi(FOO=>val)")) {
        xlog("test$var(t): OK\\n");
    } else {
        xlog("test$var(t): $(xavi(FOO=>val[*]))\\n");
    }
    $var(t) = $var(t) + 1;
    send_reply("200", "OK");
}
"""


def test_tpvxxx0001_xavi_names_match_without_regard_to_case(unit_server: Callable[..., UnitServer]) -> None:
    server = unit_server(CFG, "tpvxxx0001")
    server.start()
    assert status(server.sipsak("sip:test1test@127.0.0.1", message=True)) == 200
    server.stop()
    log = server.log()
    for i in (0, 1):
        assert f"test{i}: OK" in log
