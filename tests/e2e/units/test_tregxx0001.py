"""Unit tregxx0001 of Kamailio's suite (registrar: check xavp_rcd values): a REGISTER and a MESSAGE
looked up, with xavp_rcd_mask 0..7; $xavp(rcd[0]=>ruid/contact/expires) exist unless masked."""
from __future__ import annotations

from collections.abc import Callable

import pytest

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
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "xlog.so"

modparam("jsonrpcs", "pretty_format", 1)
modparam("registrar", "xavp_rcd", "rcd")
modparam("registrar", "xavp_rcd_mask", %d)

request_route {
    route(REGISTRAR);
    route(LOCATION);
    exit;
}

route[REGISTRAR] {
    if (!is_method("REGISTER")) return;
    xlog("registrar: $ru\\n");
    if (!save("location")) {
        sl_reply_error();
    }
    route(CHECK);
    exit;
}

route[LOCATION] {
    if (!is_method("MESSAGE")) return;
    if (!lookup("location", "sip:test@127.2.2.1:5066")) {
        $var(rc) = $rc;
        t_newtran();
        switch ($var(rc)) {
            case -1:
            case -3:
                send_reply("404", "Not Found");
                exit;
            case -2:
                send_reply("405", "Method Not Allowed");
                exit;
        }
    } else {
        send_reply("200", "OK");
    }
    route(CHECK);
    return;
}

route[CHECK] {
    pv_xavp_print();
    if(pv_isset("$xavp(rcd[0]=>ruid)")) {
        xlog("check[$rm]: ruid exists\\n");
    }
    if(pv_isset("$xavp(rcd[0]=>contact)")) {
        xlog("check[$rm]: contact exists\\n");
    }
    if(pv_isset("$xavp(rcd[0]=>expires)")) {
        xlog("check[$rm]: expires exists\\n");
    }
    if(pv_isset("$xavp(rcd[0]=>received)")) {
        xlog("check[$rm]: received exists\\n");
    }
    if(pv_isset("$xavp(rcd[0]=>path)")) {
        xlog("check[$rm]: path exists\\n");
    }
    return;
}
"""


@pytest.mark.parametrize("mask", range(8))
def test_tregxx0001_xavp_rcd_holds_what_xavp_rcd_mask_leaves_in(
        mask: int, unit_server: Callable[..., UnitServer]) -> None:
    server = unit_server(CFG % mask, "tregxx0001")
    server.start()
    assert status(server.sipsak("sip:test@127.0.0.1", register_contact="sip:test@127.2.2.1:5066")) == 200
    assert status(server.sipsak("sip:test@127.0.0.1", message=True)) == 200
    server.stop()
    log = server.log()
    for bit, name in ((1, "ruid"), (2, "contact"), (4, "expires")):
        for method in ("REGISTER", "MESSAGE"):
            assert (f"check[{method}]: {name} exists" in log) == (not mask & bit), (method, name)
    assert "received exists" not in log and "path exists" not in log
