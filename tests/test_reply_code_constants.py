"""The reply code of sl_send_reply()/send_reply()/t_reply()/t_send_reply() as Kamailio's
fixup_var_int_12 takes a constant (FPARAM_INT, str2sint): a sign and digits only, within a 32-bit
int; anything else stops Kamailio 5.6 at startup, and kampy refuses it at load with its place
(each verdict below seen by starting Kamailio 5.6.3 with the same route)."""
from __future__ import annotations

from typing import Any

import pytest

from kampy.errors import ConfigError

CFG = """loadmodule "tm.so"
loadmodule "sl.so"
request_route {
    %s(%s, "R");
}
"""


@pytest.mark.parametrize("function", ["sl_send_reply", "t_reply"])
@pytest.mark.parametrize("code", ['" 404 "', '"404 "', '" 404"', '"0x194"', '"2147483648"', '"abc"', '" "',
                                  '"4$x"'])
def test_a_code_that_is_no_plain_integer_is_refused_at_load(kampy_cfg: Any, function: str, code: str) -> None:
    with pytest.raises(ConfigError) as error:
        kampy_cfg(CFG % (function, code))
    text = str(error.value)
    column = 5 + len(function) + 1
    assert f":4:{column}: error: {function}() argument 1 must be an integer" in text
    assert f'{function}({code}, "R");' in text  # the excerpt


@pytest.mark.parametrize("function", ["sl_send_reply", "t_reply"])
@pytest.mark.parametrize("code", ['"+404"', '"0404"', '"-1"', '"700"', '""', '"-2147483648"', "404"])
def test_a_signed_integer_code_is_accepted(kampy_cfg: Any, function: str, code: str) -> None:
    kampy_cfg(CFG % (function, code))
