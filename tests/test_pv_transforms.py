"""Transformations {s.*}, {uri.*}, {nameaddr.*}, {tobody.*}, {param.*}, {line.*}."""
from __future__ import annotations

import pytest

from tests.pv_helpers import get, make_ctx, put


def tr(expr: str, value: object) -> object:
    ctx = make_ctx()
    put(ctx, "$var(in)", value)
    return get(ctx, f"$(var(in){expr})")


@pytest.mark.parametrize(("expr", "value", "want"), [
    ("{s.len}", "hello", 5),
    ("{s.len}", 1234, 4),
    ("{s.int}", "42abc", 42),
    ("{s.int}", "-7", -7),
    ("{s.int}", "abc", 0),
    ("{s.md5}", "abc", "900150983cd24fb0d6963f7d28e17f72"),
    ("{s.tolower}", "AbC", "abc"),
    ("{s.toupper}", "AbC", "ABC"),
    ("{s.substr,1,3}", "abcdef", "bcd"),
    ("{s.substr,2,0}", "abcdef", "cdef"),
    ("{s.substr,-2,0}", "abcdef", "ef"),
    ("{s.substr,-3,1}", "abcdef", "d"),
    ("{s.select,1,;}", "a;b;c", "b"),
    ("{s.select,-1,,}", "a,b,c", "c"),
    ("{s.strip,2}", "abcdef", "cdef"),
    ("{s.striptail,2}", "abcdef", "abcd"),
    ("{s.stripto,@}", "user@host", "@host"),
    ("{s.prefixes}", "123", "1,12,123"),
    ("{s.prefixes,2}", "123", "1,12"),
    ("{s.prefixes.quoted}", "12", "'1','12'"),
    ("{s.replace,a,x}", "banana", "bxnxnx"),
    ("{s.rm,an}", "banana", "ba"),
    ("{s.encode.hexa}", "AB", "4142"),
    ("{s.decode.hexa}", "4142", "AB"),
    ("{s.encode.base64}", "hello", "aGVsbG8="),
    ("{s.decode.base64}", "aGVsbG8=", "hello"),
    ("{s.encode.base64t}", "hello", "aGVsbG8"),
    ("{s.escape.common}", "a'b\"c", "a\\'b\\\"c"),
    ("{s.unescape.common}", "a\\'b", "a'b"),
    ("{s.escape.user}", "a b@c", "a%20b%40c"),
    ("{s.unescape.user}", "a%20b", "a b"),
    ("{s.escape.param}", "a;b", "a%3Bb"),
    ("{s.trim}", "  x  ", "x"),
    ("{s.ltrim}", "  x  ", "x  "),
    ("{s.rtrim}", "  x  ", "  x"),
    ("{s.unquote}", '"quoted"', "quoted"),
    ("{s.unbracket}", "<sip:a@b>", "sip:a@b"),
    ("{s.numeric}", "+1 (555) 123", "1555123"),
    ("{s.before,@}", "user@host", "user"),
    ("{s.after,@}", "user@host", "host"),
    ("{s.rbefore,.}", "a.b.c", "a.b"),
    ("{s.rafter,.}", "a.b.c", "c"),
    ("{s.count,a}", "banana", 3),
    ("{s.sha256}", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
])
def test_s_transformation(expr: str, value: object, want: object) -> None:
    assert tr(expr, value) == want


def test_s_substr_out_of_range_is_null() -> None:
    assert tr("{s.substr,10,1}", "abc") is None


def test_s_select_out_of_range_is_null() -> None:
    assert tr("{s.select,5,;}", "a;b") is None


def test_transformation_chain() -> None:
    assert tr("{s.substr,0,3}{s.toupper}", "abcdef") == "ABC"


def test_transformation_param_from_pv() -> None:
    ctx = make_ctx()
    put(ctx, "$var(n)", 2)
    put(ctx, "$var(in)", "abcdef")
    assert get(ctx, "$(var(in){s.substr,$var(n),0})") == "cdef"


def test_s_ftime_formats_timestamp() -> None:
    assert tr("{s.ftime,%Y}", 1_700_000_000) in ("2023", "2023")


@pytest.mark.parametrize(("expr", "want"), [
    ("{uri.user}", "alice"),
    ("{uri.host}", "example.com"),
    ("{uri.domain}", "example.com"),
    ("{uri.port}", "5080"),
    ("{uri.params}", "transport=tcp;lr"),
    ("{uri.param,transport}", "tcp"),
    ("{uri.transport}", "tcp"),
    ("{uri.scheme}", "sip"),
    ("{uri.saor}", "alice@example.com"),
    ("{uri.suri}", "sip:alice@example.com:5080"),
    ("{uri.duri}", "sip:example.com:5080;transport=tcp"),
    ("{uri.tosocket}", "tcp:example.com:5080"),
    ("{uri.passwd}", ""),
    ("{uri.headers}", ""),
])
def test_uri_transformation(expr: str, want: str) -> None:
    assert tr(expr, "sip:alice@example.com:5080;transport=tcp;lr") == want


def test_uri_transformation_of_bad_uri_is_null() -> None:
    assert tr("{uri.user}", "not a uri") is None


def test_ru_with_uri_user() -> None:
    assert get(make_ctx(), "$(ru{uri.user})") == "alice"


def test_nameaddr_uri_and_name() -> None:
    value = '"Bob B" <sip:bob@b.com>;tag=1'
    assert (tr("{nameaddr.uri}", value), tr("{nameaddr.name}", value)) == ("sip:bob@b.com", '"Bob B"')


def test_nameaddr_len() -> None:
    assert tr("{nameaddr.len}", '"B" <sip:b@c>;tag=1') == len('"B" <sip:b@c>')


def test_tobody_parts() -> None:
    value = '"Bob" <sip:bob@b.com>;tag=abc'
    got = [tr(f"{{tobody.{n}}}", value) for n in ("uri", "tag", "user", "host", "params", "display")]
    assert got == ["sip:bob@b.com", "abc", "bob", "b.com", "tag=abc", '"Bob"']


def test_hdr_from_tobody_tag() -> None:
    assert get(make_ctx(), "$(hdr(From){tobody.tag})") == "123"


@pytest.mark.parametrize(("expr", "want"), [
    ("{param.value,b}", "2"),
    ("{param.value,z}", ""),
    ("{param.in,a}", 1),
    ("{param.in,z}", 0),
    ("{param.valueat,2}", "3"),
    ("{param.name,1}", "b"),
    ("{param.count}", 3),
])
def test_param_transformation(expr: str, want: object) -> None:
    assert tr(expr, ";a=1;b=2;c=3") == want


def test_param_with_separator() -> None:
    assert tr("{param.value,b,&}", "a=1&b=2") == "2"


def test_line_transformations() -> None:
    text = "first\r\nsecond\r\nthird"
    assert (tr("{line.count}", text), tr("{line.at,1}", text), tr("{line.at,-1}", text),
            tr("{line.sw,sec}", text)) == (3, "second", "third", "second")


def test_transform_of_null_is_null() -> None:
    ctx = make_ctx()
    assert get(ctx, "$(avp(none){s.len})") is None
