"""$xavu, $sbranch and the functions over parameter strings, xavus and the static branch, as
Kamailio 5.6 runs them (checked against Kamailio by tests/e2e/test_pv_more_e2e.py)."""
from __future__ import annotations

from typing import Any

from tests.pv_helpers import Spec, get, make_ctx, module, put


def pv(ctx: Any, text: str) -> Any:
    return Spec(ctx, text).acc


def test_xavu_assignment_replaces_the_value() -> None:
    ctx = make_ctx()
    put(ctx, "$xavu(k)", "one")
    put(ctx, "$xavu(k)", "uno")
    assert get(ctx, "$xavu(k)") == "uno"


def test_xavu_child_is_set_and_read() -> None:
    ctx = make_ctx()
    put(ctx, "$xavu(r=>a)", 5)
    put(ctx, "$xavu(r=>a)", 6)
    assert get(ctx, "$xavu(r=>a)") == 6


def test_xavu_assigned_null_is_removed() -> None:
    ctx = make_ctx()
    put(ctx, "$xavu(k)", "one")
    put(ctx, "$xavu(k)", None)
    assert get(ctx, "$xavu(k)") is None


def test_xavu_params_explode_puts_the_parameters_at_the_root_as_kamailio_5_6() -> None:
    ctx = make_ctx()
    assert module(ctx).xavu_params_explode(ctx, "x=1;y=two;z;", "u") == 1
    assert (get(ctx, "$xavu(x)"), get(ctx, "$xavu(z)"), get(ctx, "$xavu(u=>y)")) == ("1", "", "two")


def test_xavu_params_implode_of_children_serializes_them() -> None:
    ctx = make_ctx()
    put(ctx, "$xavu(r=>a)", "1")
    put(ctx, "$xavu(r=>b)", 2)
    assert module(ctx).xavu_params_implode(ctx, "r", pv(ctx, "$var(out)")) == 1
    assert get(ctx, "$var(out)") == "b=2;a=1;"


def test_xavu_params_implode_without_children_fails() -> None:
    ctx = make_ctx()
    module(ctx).xavu_params_explode(ctx, "x=1", "u")
    assert module(ctx).xavu_params_implode(ctx, "u", pv(ctx, "$var(out)")) == -1


def test_xavp_params_implode_gives_back_what_explode_took() -> None:
    ctx = make_ctx()
    module(ctx).xavp_params_explode(ctx, "a=1;b=2;c", "q")
    assert module(ctx).xavp_params_implode(ctx, "q", pv(ctx, "$var(out)")) == 1
    assert get(ctx, "$var(out)") == "a=1;b=2;c;"


def test_xavp_params_implode_of_a_missing_xavp_fails() -> None:
    ctx = make_ctx()
    assert module(ctx).xavp_params_implode(ctx, "none", pv(ctx, "$var(out)")) == -1


def test_xavp_slist_explode_splits_at_any_separator_trims_and_skips_empty_tokens() -> None:
    ctx = make_ctx()
    assert module(ctx).xavp_slist_explode(ctx, " a, b,,c ;d", ",;", "t", "sl") == 1
    assert [get(ctx, f"$xavp(sl=>v[{i}])") for i in range(4)] == ["a", "b", "c", "d"]


def test_xavp_slist_explode_without_trim_keeps_spaces() -> None:
    ctx = make_ctx()
    module(ctx).xavp_slist_explode(ctx, " a,b", ",", "n", "sl")
    assert get(ctx, "$xavp(sl=>v[0])") == " a"


def test_sbranch_is_null_until_set() -> None:
    assert get(make_ctx(), "$sbranch(uri)") is None


def test_sbranch_set_ruri_makes_it_branch_0() -> None:
    ctx = make_ctx()
    put(ctx, "$sbranch(uri)", "sip:s@sb.example")
    put(ctx, "$sbranch(dst_uri)", "sip:192.0.2.8:5071")
    put(ctx, "$sbranch(q)", 500)
    assert module(ctx).sbranch_set_ruri(ctx) == 1
    assert (ctx.ruri, ctx.dst_uri, ctx.ruri_q) == ("sip:s@sb.example", "sip:192.0.2.8:5071", 500)


def test_sbranch_append_adds_a_branch() -> None:
    ctx = make_ctx()
    put(ctx, "$sbranch(uri)", "sip:s@sb.example")
    assert module(ctx).sbranch_append(ctx) == 1
    assert [b.uri for b in ctx.branches] == ["sip:s@sb.example"]


def test_sbranch_functions_fail_without_a_uri() -> None:
    ctx = make_ctx()
    assert (module(ctx).sbranch_set_ruri(ctx), module(ctx).sbranch_append(ctx)) == (-1, -1)


def test_sbranch_reset_clears_it() -> None:
    ctx = make_ctx()
    put(ctx, "$sbranch(uri)", "sip:s@sb.example")
    module(ctx).sbranch_reset(ctx)
    assert get(ctx, "$sbranch(uri)") is None


def test_sbranch_is_kept_across_messages_of_the_process() -> None:
    ctx = make_ctx()
    put(ctx, "$sbranch(uri)", "sip:s@sb.example")
    other = make_ctx(core=ctx.core)
    assert get(other, "$sbranch(uri)") == "sip:s@sb.example"
