"""The {re.subst} transformation (modules/textops/transforms.py)."""
from __future__ import annotations

import pytest

from kampy.api import Transform

from kampy.modules.textops.transforms import SubstError, parse_subst, re_subst_transform
from tests.pv_helpers import make_ctx, module


def subst(expr: str, value: object) -> object:
    ctx = make_ctx()
    fn = re_subst_transform(Transform("re", "subst", (expr,)), module(ctx).resolve)
    return fn(ctx, value)


def test_re_subst_replaces_first_match() -> None:
    assert subst("/a/x/", "banana") == "bxnana"


def test_re_subst_global_flag() -> None:
    assert subst("/a/x/g", "banana") == "bxnxnx"


def test_re_subst_ignore_case_flag() -> None:
    assert subst("/B/x/i", "abc") == "axc"


def test_re_subst_backreferences() -> None:
    assert subst(r"/^sip:([^@]+)@(.*)$/\2:\1/", "sip:alice@host") == "host:alice"


def test_re_subst_whole_match_reference() -> None:
    assert subst(r"/[0-9]+/<\0>/", "n=42") == "n=<42>"


def test_re_subst_no_match_keeps_value() -> None:
    assert subst("/z/x/", "abc") == "abc"


def test_re_subst_other_delimiter() -> None:
    assert subst("#/#_#g", "a/b/c") == "a_b_c"


def test_re_subst_pv_in_replacement() -> None:
    ctx = make_ctx()
    module(ctx).vars["d"] = "example.org"
    fn = re_subst_transform(Transform("re", "subst", (r"/@.*$/@$var(d)/",)), module(ctx).resolve)
    assert fn(ctx, "alice@host") == "alice@example.org"


def test_re_subst_expression_from_pv() -> None:
    ctx = make_ctx()
    module(ctx).vars["e"] = "/b/B/g"
    fn = re_subst_transform(Transform("re", "subst", ("$var(e)",)), module(ctx).resolve)
    assert fn(ctx, "abba") == "aBBa"


def test_re_subst_bad_expression_raises() -> None:
    with pytest.raises(SubstError):
        parse_subst("/a/b")
