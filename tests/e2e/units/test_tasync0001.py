"""Unit tasync0001 of Kamailio's suite (async routing - cfg variables tests): a request's
transaction handed to async_task_route(), whose route replies. The unit also reads custom cfg
variables (`info.var_loc = 1 desc ...`, one from an included file) with @cfg_get in both routes;
kampy has no cfg framework selects yet, so here the routes log fixed lines in their place."""
from __future__ import annotations

from collections.abc import Callable

from tests.e2e.units.harness import UnitServer, status

CFG = """#!KAMAILIO
children=2
async_workers=1

loadmodule "kex.so"
loadmodule "jsonrpcs.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "async.so"
loadmodule "xlog.so"

modparam("jsonrpcs", "pretty_format", 1)

request_route {
    xlog("request_route: in worker $pp\\n");
    if(t_newtran()) {
        async_task_route("ASYNC_REQUEST_ROUTE");
    }
    xlog("request_route: not reached\\n");
    exit;
}

route[ASYNC_REQUEST_ROUTE] {
    xlog("async_route: resumed $rm $ru\\n");
    t_reply("200", "OK");
}
"""


def test_tasync0001_the_async_task_route_replies(unit_server: Callable[..., UnitServer]) -> None:
    server = unit_server(CFG, "tasync0001")
    server.start()
    assert status(server.sipsak("sip:test@127.0.0.1")) == 200
    server.stop()
    log = server.log()
    assert "async_route: resumed OPTIONS sip:test@127.0.0.1" in log
    assert "request_route: not reached" not in log
