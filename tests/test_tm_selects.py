"""tm's selects in process (tests/e2e/test_tm_selects_kamailio.py compares their values with Kamailio's)."""
from __future__ import annotations

import pytest

from kampy.errors import ConfigError
from tests.tmkit import ALICE, lines, request, server


def test_a_message_without_a_transaction_has_tm_0_and_no_transaction_values() -> None:
    srv = server('request_route { $var(tm) = @tm; if (defined @tm.uac.count) { $var(count) = "defined"; } '
                 'sl_send_reply("404", "No"); }', 'loadmodule "sl"\n')
    srv.handle(request(), ALICE)
    assert srv.core.modules["pv"].vars["tm"] == "0"
    assert srv.core.modules["pv"].vars["count"] != "defined"


def test_a_new_transaction_has_tm_1_its_method_and_the_status_it_sent() -> None:
    srv = server('request_route { t_newtran(); t_reply("486", "Busy Here"); '
                 '$var(tm) = @tm + " " + @tm.method + " " + @tm.uas.status + " " + @tm.uac.count '
                 '+ " " + @tm.uac.relayed; }')
    assert lines(srv.handle(request(), ALICE)) == ["SIP/2.0 486 Busy Here"]
    assert srv.core.modules["pv"].vars["tm"] == "1 MESSAGE 486 0 -2"


@pytest.mark.parametrize("select", ["tm.uas", "tm.uac", "tm.uac[0]", "tm.nope", "tm.uas.status.x",
                                    "tm.uac[0].nope", "tm.uas.request.nope"])
def test_a_select_tm_does_not_have_is_refused_at_its_line(select) -> None:
    where = r"tm-test.cfg:\d+:\d+: error: bad select @"
    with pytest.raises(ConfigError, match=where + select.replace("[", r"\[").replace(".", r"\.")):
        server(f'request_route {{ if (@{select} == "1") {{ exit; }} }}')
