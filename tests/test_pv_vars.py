"""$var, $vz, $vn, $shv, $avp, $xavp and the module parameters varset/shvset."""
from __future__ import annotations

from tests.pv_helpers import get, make_ctx, module, put


def test_var_starts_as_int_zero() -> None:
    assert get(make_ctx(), "$var(fresh)") == 0


def test_var_keeps_assigned_value() -> None:
    ctx = make_ctx()
    put(ctx, "$var(x)", "abc")
    assert get(ctx, "$var(x)") == "abc"


def test_var_null_assignment_gives_zero() -> None:
    ctx = make_ctx()
    put(ctx, "$var(x)", "abc")
    put(ctx, "$var(x)", None)
    assert get(ctx, "$var(x)") == 0


def test_var_persists_across_messages_of_a_process() -> None:
    ctx = make_ctx()
    put(ctx, "$var(n)", 5)
    other = make_ctx(core=ctx.core)
    assert get(other, "$var(n)") == 5


def test_vz_shares_var_store() -> None:
    ctx = make_ctx()
    put(ctx, "$var(s)", 3)
    assert get(ctx, "$vz(s)") == 3


def test_vn_starts_null_and_can_be_reset_to_null() -> None:
    ctx = make_ctx()
    assert get(ctx, "$vn(z)") is None
    put(ctx, "$vn(z)", 1)
    put(ctx, "$vn(z)", None)
    assert get(ctx, "$vn(z)") is None


def test_shv_is_shared_store() -> None:
    ctx = make_ctx()
    put(ctx, "$shv(a)", "x")
    assert ctx.core.modules["pv"].shvars["a"] == "x"


def test_varset_and_shvset_params_initialise() -> None:
    ctx = make_ctx()
    module(ctx, {"varset": ["v1=i:10", "v2=s:hi"], "shvset": "s1=i:3"})
    assert (get(ctx, "$var(v1)"), get(ctx, "$var(v2)"), get(ctx, "$shv(s1)")) == (10, "hi", 3)


def test_avp_assign_adds_on_top() -> None:
    ctx = make_ctx()
    put(ctx, "$avp(a)", 1)
    put(ctx, "$avp(a)", 2)
    assert ctx.avps["a"] == [2, 1]
    assert get(ctx, "$avp(a)") == 2


def test_avp_index_zero_is_newest_and_minus_one_oldest() -> None:
    ctx = make_ctx()
    for v in ("x", "y", "z"):
        put(ctx, "$avp(a)", v)
    assert (get(ctx, "$(avp(a)[0])"), get(ctx, "$(avp(a)[-1])"), get(ctx, "$(avp(a)[1])")) == ("z", "x", "y")


def test_avp_all_joins_values() -> None:
    ctx = make_ctx()
    put(ctx, "$avp(a)", "x")
    put(ctx, "$avp(a)", 7)
    assert get(ctx, "$(avp(a)[*])") == "7, x"


def test_avp_null_deletes_newest_only() -> None:
    ctx = make_ctx()
    put(ctx, "$avp(a)", 1)
    put(ctx, "$avp(a)", 2)
    put(ctx, "$avp(a)", None)
    assert ctx.avps["a"] == [1]


def test_avp_all_null_deletes_every_value() -> None:
    ctx = make_ctx()
    put(ctx, "$avp(a)", 1)
    put(ctx, "$avp(a)", 2)
    put(ctx, "$(avp(a)[*])", None)
    assert "a" not in ctx.avps


def test_avp_all_assign_replaces_every_value() -> None:
    ctx = make_ctx()
    put(ctx, "$avp(a)", 1)
    put(ctx, "$avp(a)", 2)
    put(ctx, "$(avp(a)[*])", 9)
    assert ctx.avps["a"] == [9]


def test_avp_s_prefix_names_same_avp() -> None:
    ctx = make_ctx()
    put(ctx, "$avp(s:k)", "v")
    assert get(ctx, "$avp(k)") == "v"


def test_avp_name_from_var() -> None:
    ctx = make_ctx()
    put(ctx, "$var(n)", "dyn")
    put(ctx, "$avp($var(n))", "val")
    assert ctx.avps["dyn"] == ["val"]


def test_avp_alias() -> None:
    ctx = make_ctx()
    module(ctx, {"avp_aliases": "who=s:caller"})
    put(ctx, "$avp(who)", "me")
    assert ctx.avps["caller"] == ["me"]


def test_missing_avp_is_null() -> None:
    assert get(make_ctx(), "$avp(none)") is None


def test_xavp_field_assignment_creates_new_root_item() -> None:
    ctx = make_ctx()
    put(ctx, "$xavp(r=>a)", 1)
    put(ctx, "$xavp(r=>a)", 2)
    assert ctx.xavps["r"] == [{"a": [2]}, {"a": [1]}]


def test_xavp_indexed_root_adds_field_to_item() -> None:
    ctx = make_ctx()
    put(ctx, "$xavp(r=>a)", 1)
    put(ctx, "$xavp(r[0]=>b)", "x")
    assert (get(ctx, "$xavp(r=>a)"), get(ctx, "$xavp(r[0]=>b)")) == (1, "x")


def test_xavp_root_value_prints_as_xavp() -> None:
    ctx = make_ctx()
    put(ctx, "$xavp(r=>a)", 1)
    assert str(get(ctx, "$xavp(r)")).startswith("<<xavp:")


def test_xavp_null_removes_field() -> None:
    ctx = make_ctx()
    put(ctx, "$xavp(r=>a)", 1)
    put(ctx, "$xavp(r[0]=>b)", 2)
    put(ctx, "$xavp(r[0]=>a)", None)
    assert get(ctx, "$xavp(r=>a)") is None and get(ctx, "$xavp(r=>b)") == 2


def test_xavp_null_root_removes_item() -> None:
    ctx = make_ctx()
    put(ctx, "$xavp(r=>a)", 1)
    put(ctx, "$xavp(r)", None)
    assert "r" not in ctx.xavps


def test_cnt_counts_avp_values() -> None:
    ctx = make_ctx()
    put(ctx, "$avp(a)", 1)
    put(ctx, "$avp(a)", 2)
    assert get(ctx, "$cnt($avp(a))") == 2
