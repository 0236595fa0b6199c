"""Unit tasync0001 of Kamailio's suite (async routing - cfg variables tests): custom cfg variables
declared in the config (`info.var_loc = 1 desc ...`) and in an included file, read with @cfg_get
in request_route and in the route that async_task_route() runs for the request's transaction,
which replies. The unit's config and included file."""
from __future__ import annotations

from collections.abc import Callable

from tests.e2e.units.harness import UnitServer, status

INCLUDED = """#!KAMAILIO

info.var_inc = 1 desc "Var from included file"
"""

CFG = """#!KAMAILIO

children=2
async_workers=1

include_file "kamailio-tasync0001-inc.cfg"

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

info.var_loc = 1 desc "Info Variable"

request_route {
    if(@cfg_get.info.var_loc == 1) {
        xlog("request_route: var_loc is 1\\n");
    }
    if(@cfg_get.info.var_inc == 1) {
        xlog("request_route: var_inc is 1\\n");
    }

    if(t_newtran()) {
        async_task_route("ASYNC_REQUEST_ROUTE");
    }
    exit;
}

route[ASYNC_REQUEST_ROUTE] {
    if(@cfg_get.info.var_loc == 1) {
        xlog("async_route: var_loc is 1\\n");
    } else {
        $var(tmp) = @cfg_get.info.var_loc;
        xlog("async_route: var tmp is $var(tmp)\\n");
    }
    if(@cfg_get.info.var_inc == 1) {
        xlog("async_route: var_inc is 1\\n");
    }

    t_reply("200", "OK");
}
"""


def test_tasync0001_cfg_variables_are_read_in_the_request_route_and_in_the_async_task_route(
        unit_server: Callable[..., UnitServer]) -> None:
    server = unit_server(CFG, "tasync0001")
    (server.dir / "kamailio-tasync0001-inc.cfg").write_text(INCLUDED)
    server.start()
    assert status(server.sipsak("sip:test@127.0.0.1")) == 200
    server.stop()
    log = server.log()
    for line in ("request_route: var_loc is 1", "request_route: var_inc is 1",
                 "async_route: var_loc is 1", "async_route: var_inc is 1"):
        assert line in log
