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


@pytest.mark.parametrize("code, status", [('""', b"000"), ('"99"', b"099"), ('"700"', b"700"),
                                          ('"-1"', b"295"), ('"1000"', b"000"), ('"+404"', b"404")])
def test_sl_sends_any_code_as_its_last_three_digits(kampy_cfg: Any, code: str, status: bytes) -> None:
    result = kampy_cfg(CFG % ("sl_send_reply", code)).send_request("OPTIONS", "sip:a@example.test")
    assert [s.data.split(b"\r\n")[0] for s in result.sent] == [b"SIP/2.0 " + status + b" R"]
    assert result.codes("sl_send_reply") == [1]


TM_CFG = """loadmodule "tm.so"
loadmodule "sl.so"
request_route {
    t_newtran();
    %s
}
"""


def tm_statuses(kampy_cfg: Any, body: str) -> tuple[list[bytes], list[int | None]]:
    result = kampy_cfg(TM_CFG % body).send_request("OPTIONS", "sip:a@example.test")
    return [s.data.split(b"\r\n")[0] for s in result.sent], result.codes("t_reply")


def test_t_reply_below_100_is_provisional_and_sent_as_three_digits(kampy_cfg: Any) -> None:
    assert tm_statuses(kampy_cfg, 't_reply("99", "R"); t_reply("200", "T");') == \
        ([b"SIP/2.0 099 R", b"SIP/2.0 200 T"], [1, 1])


def test_t_reply_minus_one_is_a_final_reply_as_kamailios_unsigned_code(kampy_cfg: Any) -> None:
    assert tm_statuses(kampy_cfg, 't_reply("-1", "R"); t_reply("180", "S"); t_reply("200", "T");') == \
        ([b"SIP/2.0 295 R"], [1, -1, -1])
