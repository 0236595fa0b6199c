"""`$x = f()` stores the function's return code, as Kamailio's lval_assign() does; in a larger
expression a call is true (1) or false (0)."""
from __future__ import annotations

from typing import Any

CFG = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
request_route {
    %s
    sl_send_reply("200", "OK");
}
"""


def test_a_lone_call_assigns_its_return_code(kampy_cfg: Any) -> None:
    result = kampy_cfg(CFG % '$avp(r) = is_method("INVITE");').send_request("OPTIONS", "sip:a@example.test")
    assert result.avp("r") == -1


def test_a_call_inside_an_expression_counts_as_true_or_false(kampy_cfg: Any) -> None:
    sip = kampy_cfg(CFG % '$avp(r) = is_method("INVITE") + 0;')
    result = sip.send_request("OPTIONS", "sip:a@example.test")
    assert result.avp("r") == 0
