"""maxfwd: Kamailio's return codes and the Max-Forwards header written to the forwarded request."""
from __future__ import annotations

from kampy.api import parse_message
from kampy.modules.maxfwd import EXPORTS
from tests.modkit import OPTIONS, ctx_for, module


def setup(raw: bytes, **params: object):  # type: ignore[no-untyped-def]
    ctx = ctx_for(raw)
    return module(EXPORTS, ctx.core, **params), ctx


def test_decrements_and_returns_1() -> None:
    mf, ctx = setup(OPTIONS)
    assert mf.mf_process_maxfwd_header(ctx, 10) == 1
    assert parse_message(ctx.msg.to_bytes()).max_forwards == 69


def test_script_still_sees_received_value_until_changes_applied() -> None:
    mf, ctx = setup(OPTIONS)
    mf.mf_process_maxfwd_header(ctx, 10)
    assert ctx.msg.max_forwards == 70


def test_missing_header_is_added_first_and_returns_2() -> None:
    mf, ctx = setup(OPTIONS.replace(b"Max-Forwards: 70\r\n", b""))
    assert mf.mf_process_maxfwd_header(ctx, 10) == 2
    sent = ctx.msg.to_bytes()
    assert sent.split(b"\r\n")[1] == b"Max-Forwards: 10"


def test_zero_returns_minus_1_for_483() -> None:
    mf, ctx = setup(OPTIONS.replace(b"Max-Forwards: 70", b"Max-Forwards: 0"))
    assert mf.mf_process_maxfwd_header(ctx, 10) == -1
    assert ctx.msg.changes == []


def test_value_above_max_limit_is_lowered_to_limit() -> None:
    mf, ctx = setup(OPTIONS.replace(b"Max-Forwards: 70", b"Max-Forwards: 200"), max_limit=16)
    assert mf.maxfwd_process(ctx, 10) == 1
    assert parse_message(ctx.msg.to_bytes()).max_forwards == 16


def test_unparsable_value_is_error_minus_2() -> None:
    mf, ctx = setup(OPTIONS.replace(b"Max-Forwards: 70", b"Max-Forwards: x"))
    assert mf.process_maxfwd(ctx, 10) == -2


def test_is_maxfwd_lt() -> None:
    mf, ctx = setup(OPTIONS.replace(b"Max-Forwards: 70", b"Max-Forwards: 3"))
    assert mf.is_maxfwd_lt(ctx, 5) == 1
    assert mf.is_maxfwd_lt(ctx, 3) == -1


def test_is_maxfwd_lt_without_header_is_minus_2() -> None:
    mf, ctx = setup(OPTIONS.replace(b"Max-Forwards: 70\r\n", b""))
    assert mf.is_maxfwd_lt(ctx, 5) == -2


def test_is_maxfwd_lt_sees_decremented_value() -> None:
    mf, ctx = setup(OPTIONS.replace(b"Max-Forwards: 70", b"Max-Forwards: 5"))
    mf.mf_process_maxfwd_header(ctx, 10)
    assert mf.is_maxfwd_lt(ctx, 5) == 1


def test_limit_out_of_range_is_false() -> None:
    mf, ctx = setup(OPTIONS)
    assert mf.mf_process_maxfwd_header(ctx, 256) == -1


def test_decrement_keeps_the_header_in_place() -> None:
    mf, ctx = setup(OPTIONS)
    mf.mf_process_maxfwd_header(ctx, 10)
    assert ctx.msg.to_bytes().split(b"\r\n")[2] == b"Max-Forwards: 69"
    assert ctx.msg.to_bytes().split(b"\r\n")[1:2] == OPTIONS.split(b"\r\n")[1:2]


def test_decrement_pads_shorter_value_like_kamailio() -> None:
    mf, ctx = setup(OPTIONS.replace(b"Max-Forwards: 70", b"Max-Forwards: 10"))
    mf.mf_process_maxfwd_header(ctx, 10)
    assert ctx.msg.to_bytes().split(b"\r\n")[2] == b"Max-Forwards:  9"


def test_second_decrement_in_one_pass_composes() -> None:
    mf, ctx = setup(OPTIONS)
    mf.mf_process_maxfwd_header(ctx, 10)
    mf.mf_process_maxfwd_header(ctx, 10)
    assert parse_message(ctx.msg.to_bytes()).max_forwards == 68


def test_a_limit_from_a_pseudo_variable_holding_a_string_makes_the_function_fail(kampy_cfg) -> None:  # type: ignore[no-untyped-def]
    # fixup_var_int_1 (beside Kamailio 5.6: -1 for "10", 2 for 10 when the header is missing)
    sip = kampy_cfg('loadmodule "sl"\nloadmodule "pv"\nloadmodule "maxfwd"\n'
                    'request_route { $var(s) = "10"; $var(i) = 10; '
                    '$var(a) = mf_process_maxfwd_header("$var(s)"); '
                    '$var(b) = mf_process_maxfwd_header("$var(i)"); '
                    'sl_send_reply("200", "r=$var(a) $var(b)"); }')
    reply = sip.send(OPTIONS.decode().replace("Max-Forwards: 70\r\n", ""))
    assert reply.replies[0].msg.reason == "r=-1 2"
