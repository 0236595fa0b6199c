"""`avpflags NAME, ...` and setavpflag()/resetavpflag()/isavpflagset(), as Kamailio 5.6 runs them
(each expectation below was seen on Kamailio 5.6.3 with the same route)."""
from __future__ import annotations

from typing import Any

import pytest

from kampy.errors import ConfigError
from tests.tmkit import ALICE, BOB, reply_to, request, server

CFG = """
avpflags f1, F2;
loadmodule "pv.so"
loadmodule "sl.so"
request_route {
    $avp(x) = 1;
    %s
    sl_send_reply("200", "OK");
}
"""


def codes(kampy_cfg: Any, body: str) -> list[int | None]:
    result = kampy_cfg(CFG % body).send_request("OPTIONS", "sip:a@example.test")
    return [c.code for c in result.calls if c.function in ("setavpflag", "resetavpflag", "isavpflagset")]


def test_a_set_flag_is_seen_by_name_without_regard_to_case(kampy_cfg: Any) -> None:
    assert codes(kampy_cfg, 'setavpflag($x, f1); isavpflagset("x", "F1"); isavpflagset("s:x", f2);') \
        == [1, 1, -1]


def test_resetavpflag_returns_false_as_the_flag_is_then_unset(kampy_cfg: Any) -> None:
    assert codes(kampy_cfg, "setavpflag($x, f1); resetavpflag($x, f1); isavpflagset($x, f1);") == [1, -1, -1]


def test_an_avp_with_several_values_is_not_found(kampy_cfg: Any) -> None:
    assert codes(kampy_cfg, "setavpflag($x, f2); $avp(x) = 2; isavpflagset($x, f2); setavpflag($x, f1);") \
        == [1, -1, -1]


def test_the_flags_stay_with_their_value_when_a_newer_one_is_removed(kampy_cfg: Any) -> None:
    assert codes(kampy_cfg, "setavpflag($x, f2); $avp(x) = 2; $avp(x) = $null; isavpflagset($x, f2);") \
        == [1, 1]


def test_a_new_value_after_removal_has_no_flags(kampy_cfg: Any) -> None:
    assert codes(kampy_cfg, "setavpflag($x, f2); $avp(x) = $null; $avp(x) = 5; isavpflagset($x, f2);") \
        == [1, -1]


def test_a_missing_avp_is_false(kampy_cfg: Any) -> None:
    assert codes(kampy_cfg, "isavpflagset($nope, f1); setavpflag(\"nope\", f1);") == [-1, -1]


def test_avpflag_names_are_not_message_flags(kampy_cfg: Any) -> None:
    with pytest.raises(ConfigError, match="unknown flag name"):
        kampy_cfg(CFG % "setflag(f1);")


@pytest.mark.parametrize("call, message", [
    ("setavpflag($x, f9);", "avpflag not declared"),
    ("setavpflag($avp(x), f1);", "error parsing first parameter"),
])
def test_a_bad_avpflag_call_is_refused_at_load_with_its_place(kampy_cfg: Any, call: str,
                                                               message: str) -> None:
    with pytest.raises(ConfigError) as error:
        kampy_cfg(CFG % call)
    text = str(error.value)
    assert message in text and ":7:" in text and call.split(";")[0] in text


def test_the_flags_go_with_the_avps_into_failure_route() -> None:
    srv = server('''avpflags f1;
request_route { $avp(x) = 1; setavpflag($x, f1); t_on_failure("F"); t_relay(); }
failure_route[F] { if (isavpflagset($x, f1)) $var(seen) = 1; else $var(seen) = 0; }
''')
    fwd = srv.handle(request(), ALICE)[0]
    srv.handle(reply_to(fwd, 486, "Busy Here"), BOB)
    assert srv.core.modules["pv"].vars["seen"] == 1
