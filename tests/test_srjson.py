"""kampy.srjson writes JSON as Kamailio's jsonrpcs prints it (srjson, its cJSON printer): the text
kamctl's line-oriented filters read. The layouts here are those Kamailio 5.6 printed for the same
values (tests/e2e/test_kamctl.py compares the two servers' text on the wire)."""
from __future__ import annotations

from kampy import srjson
from kampy.binrpc import RpcStruct


def test_an_object_has_one_member_a_line_with_a_tab_after_each_colon():
    assert srjson.dumps({"a": 1, "b": "x"}) == '{\n\t"a":\t1,\n\t"b":\t"x"\n}'


def test_a_nested_object_is_indented_one_tab_deeper_and_closes_at_its_parents_depth():
    assert srjson.dumps({"r": {"u": 2}}) == '{\n\t"r":\t{\n\t\t"u":\t2\n\t}\n}'


def test_an_array_stays_on_one_line_its_objects_opening_where_the_previous_closed():
    assert srjson.dumps({"r": [{"a": 1}, {"a": 2}]}) == \
        '{\n\t"r":\t[{\n\t\t\t"a":\t1\n\t\t}, {\n\t\t\t"a":\t2\n\t\t}]\n}'


def test_unformatted_output_has_no_whitespace():
    assert srjson.dumps({"a": [1, "b"], "c": {"d": None}}, pretty=False) == '{"a":[1,"b"],"c":{"d":null}}'


def test_a_whole_double_prints_as_an_integer_and_a_fraction_with_six_decimals():
    assert [srjson.number(v) for v in (-1.0, 3, 2.5, 2**40)] == ["-1", "3", "2.500000", "1099511627776"]


def test_tiny_and_huge_fractions_print_in_exponent_form():
    assert srjson.number(1.5e-7) == "1.500000e-07" and srjson.number(1.5e10 + 0.5) == "1.500000e+10"


def test_strings_escape_quotes_backslashes_and_control_characters_only():
    assert srjson.string('a"b\\c\n\x01é') == '"a\\"b\\\\c\\n\\u0001é"'


def test_a_struct_with_repeated_member_names_shows_every_member():
    assert srjson.dumps(RpcStruct([("shv", 1), ("shv", 2)]), pretty=False) == '{"shv":1,"shv":2}'
