"""Unit tavpop0001 of Kamailio's suite (avpops: avp_subst() and avp_subst_pv()): a MESSAGE from
sipsak runs ten substitutions on $avp(src) (constant expressions, expressions with variables in
their replacement, expressions held by a variable or built by the script) and each must log
"testN: OK". The unit's config, as it is."""
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
loadmodule "avpops.so"
loadmodule "xlog.so"

modparam("jsonrpcs", "pretty_format", 1)

request_route {
    if (!is_method("MESSAGE")) exit;

    $(avp(src)[*]) = "testME";
    avp_subst("$avp(src)", "/test/xxxx/g");
    $var(res) = "xxxxME";
    route(CHECK);

    $(avp(src)[*]) = "testME";
    $var(x) = "yyy";
    avp_subst("$avp(src)", "/test/$var(x)/g");
    $var(res) = "yyyME";
    route(CHECK);

    $(avp(src)[*]) = "testME";
    $var(x) = "/test/yyy/g";
    avp_subst_pv("$avp(src)", "$var(x)");
    route(CHECK);

    $(avp(src)[*]) = "testME";
    avp_subst("$avp(src)", "/e/j/gi");
    $var(res) = "tjstMj";
    route(CHECK);

    $(avp(src)[*]) = "testME";
    $var(x) = "j";
    avp_subst("$avp(src)", "/e/$var(x)/gi");
    route(CHECK);

    $(avp(src)[*]) = "testME";
    $var(x) = "/e/j/gi";
    avp_subst_pv("$avp(src)", "$var(x)");
    route(CHECK);

    $(avp(src)[*]) = "testME";
    $var(z) = "j";
    $var(y) = "e";
    $var(x) = "/" + $var(y) + "/" + $var(z) + "/gi";
    avp_subst_pv("$avp(src)", "$var(x)");
    route(CHECK);

    $(avp(src)[*]) = "testME";
    $var(z) = "j";
    $var(y) = "e";
    avp_subst_pv("$avp(src)", "/$var(y)/$var(z)/gi");
    route(CHECK);

    $(avp(src)[*]) = "testME";
    $var(z) = "j";
    $var(y) = "e";
    avp_subst_pv("$avp(src)", "/" + $var(y) + "/" + $var(z) + "/gi");
    route(CHECK);

    $(avp(src)[*]) = "testME";
    avp_subst_pv("$avp(src)", "/e/j/gi");
    route(CHECK);

    send_reply("200", "OK");
}

route[CHECK] {
    if($avp(src) == $var(res)) {
        xlog("test$var(t): OK\\n");
    } else {
        xlog("test$var(t): $(avp(src)[*])\\n");
    }
    $var(t) = $var(t) + 1;
}
"""


def test_tavpop0001_every_substitution_gives_the_expected_value(
        unit_server: Callable[..., UnitServer]) -> None:
    server = unit_server(CFG, "tavpop0001")
    server.start()
    assert status(server.sipsak("sip:test1test@127.0.0.1", message=True)) == 200
    server.stop()
    log = server.log()
    for i in range(10):
        assert f"test{i}: OK" in log, log[-3000:]
