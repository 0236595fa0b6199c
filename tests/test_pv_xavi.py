"""$xavi and its functions: xavps whose names match without regard to case (pv module)."""
from __future__ import annotations

from typing import Any

import pytest

from tests.tmkit import ALICE, BOB, lines, reply_to, request, server

HEAD = """
loadmodule "sl.so"
loadmodule "pv.so"
request_route {
%s
    sl_send_reply("200", "OK");
}
"""


@pytest.fixture
def run(kampy_cfg: Any) -> Any:
    def go(body: str) -> Any:
        return kampy_cfg(HEAD % body).send_request("OPTIONS", "sip:a@example.test")
    return go


def test_a_child_written_in_one_case_is_read_in_another(run: Any) -> None:
    result = run('$xavi(FOO=>val) = "x"; $avp(r) = $xavi(fOo=>VAL);')
    assert result.avp("r") == "x"


def test_xavi_rm_removes_the_list_whatever_the_case_of_its_name(run: Any) -> None:
    result = run('$xavi(Foo=>a) = 1; xavi_rm("FOO"); if (!pv_isset("$xavi(foo=>a)")) { $avp(r) = "gone"; }')
    assert result.avp("r") == "gone"


def test_xavi_child_sets_and_seti_set_children_of_the_first_item(run: Any) -> None:
    result = run('xavi_child_sets("Rec", "Name", "bob"); xavi_child_seti("REC", "N", "7");'
                 '$avp(s) = $xavi(rec=>name); $avp(i) = $xavi(rec=>n);')
    assert (result.avp("s"), result.avp("i")) == ("bob", 7)


def test_xavi_child_rm_removes_one_child(run: Any) -> None:
    result = run('xavi_child_sets("r", "a", "1"); xavi_child_sets("r", "b", "2"); xavi_child_rm("R", "A");'
                 'if (!pv_isset("$xavi(r=>a)")) { $avp(a) = "gone"; } $avp(b) = $xavi(r=>B);')
    assert (result.avp("a"), result.avp("b")) == ("gone", "2")


def test_xavi_and_xavp_are_separate_lists(run: Any) -> None:
    result = run('$xavi(x=>v) = "i"; $xavp(x=>v) = "p"; $avp(i) = $xavi(X=>V); $avp(p) = $xavp(x=>v);')
    assert (result.avp("i"), result.avp("p")) == ("i", "p")


def test_a_new_root_item_goes_on_top_and_index_reaches_older_ones(run: Any) -> None:
    result = run('$xavi(l=>v) = "old"; $xavi(L=>v) = "new";'
                 '$avp(a) = $xavi(l[0]=>v); $avp(b) = $xavi(l[1]=>v);')
    assert (result.avp("a"), result.avp("b")) == ("new", "old")


XAVI_ROUTES = '''
request_route { $xavi(Call=>Step) = "requested"; t_on_branch("B"); t_on_failure("F"); t_relay(); }
branch_route[B] { $var(branch) = $xavi(call=>step); }
failure_route[F] { t_reply("202", "$xavi(CALL=>STEP)"); }
'''


def test_xavi_set_in_request_route_is_seen_in_branch_and_failure_routes() -> None:
    srv = server(XAVI_ROUTES)
    fwd = srv.handle(request(), ALICE)[0]
    out = srv.handle(reply_to(fwd, 486, "Busy"), BOB)
    assert lines(out) == ["SIP/2.0 202 requested"]
    assert srv.core.modules["pv"].vars["branch"] == "requested"
