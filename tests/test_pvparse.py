import pytest

from kampy.config.pvparse import Literal, PVSyntaxError, parse_format, parse_pv


def test_short_pv_has_class_only():
    pv = parse_pv("$rU")
    assert (pv.cls, pv.arg, pv.index, pv.transforms) == ("rU", None, None, ())


def test_pv_with_inner_name():
    pv = parse_pv("$avp(s:x)")
    assert (pv.cls, pv.arg) == ("avp", "s:x")


def test_inner_name_may_nest_pseudo_variables():
    pv = parse_pv("$sht(t=>$var(k))")
    assert (pv.cls, pv.arg) == ("sht", "t=>$var(k)")


def test_full_form_has_index_and_transformation_chain():
    pv = parse_pv("$(avp(x)[-1]{s.substr,0,$var(n)}{s.len})")
    assert pv.cls == "avp" and pv.index == "-1"
    assert [(t.cls, t.name, t.params) for t in pv.transforms] == [
        ("s", "substr", ("0", "$var(n)")), ("s", "len", ())]


def test_transformation_params_keep_quoted_commas():
    pv = parse_pv('$(var(x){s.select,1,","})')
    assert pv.transforms[0].params == ("1", '","')


def test_format_splits_text_and_pseudo_variables():
    parts = parse_format("*** User $rU is offline at $Ts")
    assert parts[0] == Literal("*** User ")
    assert parts[1].cls == "rU"
    assert parts[2] == Literal(" is offline at ")
    assert parts[3].cls == "Ts"


def test_format_short_name_stops_at_non_name_character():
    parts = parse_format("sip:$rU@$rd;x")
    assert [p.cls if not isinstance(p, Literal) else p.text for p in parts] == ["sip:", "rU", "@", "rd", ";x"]


def test_double_dollar_is_a_literal_dollar():
    assert parse_format("cost: $$5") == (Literal("cost: $5"),)


def test_lone_dollar_in_format_is_an_error():
    with pytest.raises(PVSyntaxError, match="not followed by a pseudo-variable name"):
        parse_format("price $ 5")


def test_unclosed_full_form_is_an_error():
    with pytest.raises(PVSyntaxError, match="expected '\\)'"):
        parse_pv("$(ru{uri.user}")


def test_empty_inner_name_is_an_error():
    with pytest.raises(PVSyntaxError, match="empty name"):
        parse_pv("$var()")
