"""pv module functions: pv_isset, pv_unset, is_int, typeof, not_empty, xavp helpers, RPC."""
from __future__ import annotations

import pytest

from kampy.api import RpcFault
from tests.pv_helpers import Spec, get, make_ctx, module, put


def test_pv_isset_true_for_value() -> None:
    ctx = make_ctx()
    put(ctx, "$avp(a)", 1)
    assert module(ctx).pv_isset(ctx, Spec(ctx, "$avp(a)")) == 1


def test_pv_isset_false_for_null() -> None:
    ctx = make_ctx()
    assert module(ctx).pv_isset(ctx, Spec(ctx, "$avp(nope)")) == -1


def test_pv_unset_deletes_avp() -> None:
    ctx = make_ctx()
    put(ctx, "$avp(a)", 1)
    module(ctx).pv_unset(ctx, Spec(ctx, "$avp(a)"))
    assert get(ctx, "$avp(a)") is None


def test_pv_unset_read_only_fails() -> None:
    ctx = make_ctx()
    assert module(ctx).pv_unset(ctx, Spec(ctx, "$ci").acc) == -1


def test_is_int_for_int_and_numeric_string() -> None:
    ctx = make_ctx()
    put(ctx, "$var(a)", 5)
    put(ctx, "$var(b)", "-12")
    mod = module(ctx)
    assert (mod.is_int(ctx, Spec(ctx, "$var(a)")), mod.is_int(ctx, Spec(ctx, "$var(b)"))) == (1, 1)


def test_is_int_false_for_text() -> None:
    ctx = make_ctx()
    put(ctx, "$var(a)", "12a")
    assert module(ctx).is_int(ctx, Spec(ctx, "$var(a)")) == -1


def test_typeof_matches_kind() -> None:
    ctx = make_ctx()
    put(ctx, "$var(a)", 5)
    mod = module(ctx)
    a = Spec(ctx, "$var(a)")
    assert (mod.typeof(ctx, a, "int"), mod.typeof(ctx, a, "str")) == (1, -1)
    assert mod.typeof(ctx, Spec(ctx, "$avp(none)"), "null") == 1


def test_not_empty() -> None:
    ctx = make_ctx()
    put(ctx, "$var(a)", "x")
    put(ctx, "$var(b)", "")
    mod = module(ctx)
    assert (mod.not_empty(ctx, Spec(ctx, "$var(a)")), mod.not_empty(ctx, Spec(ctx, "$var(b)"))) == (1, -1)


def test_xavp_child_sets_and_rm() -> None:
    ctx = make_ctx()
    mod = module(ctx)
    mod.xavp_child_sets(ctx, "r", "c", "v")
    assert get(ctx, "$xavp(r=>c)") == "v"
    mod.xavp_rm(ctx, "r")
    assert get(ctx, "$xavp(r=>c)") is None


def test_xavp_params_explode() -> None:
    ctx = make_ctx()
    module(ctx).xavp_params_explode(ctx, "a=1;b=2", "p")
    assert (get(ctx, "$xavp(p=>a)"), get(ctx, "$xavp(p=>b)")) == ("1", "2")


def test_rpc_shv_set_changes_a_variable_and_shv_get_reads_it_back() -> None:
    ctx = make_ctx()
    mod = module(ctx)
    mod.shvars["x"] = 1
    assert mod.rpc_shvSet("x", "int", 4) == "Ok. Variable set to new value."
    assert mod.rpc_shvGet("x") == {"name": "x", "type": "int", "value": 4}
    assert list(mod.rpc_shvGet()["items"].items()) == [("shv", {"name": "x", "type": "int", "value": 4})]


def test_rpc_shv_set_of_an_unknown_variable_is_fault_404() -> None:
    mod = module(make_ctx())
    with pytest.raises(RpcFault) as fault:
        mod.rpc_shvSet("nosuch", "str", "v")
    assert (fault.value.code, fault.value.message) == (404, "Variable not found")
