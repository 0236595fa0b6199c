"""$hdr, $hdrc, $hfl, $hflc with indexes."""
from __future__ import annotations

from tests.pv_helpers import get, make_ctx, module


def test_hdr_gives_first_header_body() -> None:
    assert get(make_ctx(), "$hdr(X-Foo)") == "one"


def test_hdr_name_is_case_insensitive_and_compact() -> None:
    ctx = make_ctx()
    assert get(ctx, "$hdr(call-id)") == get(ctx, "$hdr(i)") == "abc@host"


def test_hdr_index_selects_header_line() -> None:
    assert get(make_ctx(), "$(hdr(X-Foo)[1])") == "two"


def test_hdr_negative_index_counts_from_last() -> None:
    assert get(make_ctx(), "$(hdr(X-Foo)[-1])") == "two"


def test_hdr_all_joins_with_comma_space() -> None:
    assert get(make_ctx(), "$(hdr(X-Foo)[*])") == "one, two"


def test_hdr_keeps_whole_line_of_list_header() -> None:
    assert get(make_ctx(), "$(hdr(Via)[1])") == "SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2, SIP/2.0/UDP 10.0.0.3"


def test_hdr_missing_is_null() -> None:
    assert get(make_ctx(), "$hdr(X-None)") is None


def test_hdr_index_out_of_range_is_null() -> None:
    assert get(make_ctx(), "$(hdr(X-Foo)[5])") is None


def test_hdrc_counts_header_lines() -> None:
    ctx = make_ctx()
    assert (get(ctx, "$hdrc(Via)"), get(ctx, "$hdrc(X-None)")) == (2, 0)


def test_hflc_counts_list_elements() -> None:
    assert get(make_ctx(), "$hflc(Via)") == 3


def test_hfl_index_selects_element() -> None:
    assert get(make_ctx(), "$(hfl(Via)[2])") == "SIP/2.0/UDP 10.0.0.3"


def test_hdr_name_from_pv() -> None:
    ctx = make_ctx()
    module(ctx).vars["h"] = "User-Agent"
    assert get(ctx, "$hdr($var(h))") == "phone/1.0"


def test_hdr_index_from_pv() -> None:
    ctx = make_ctx()
    module(ctx).vars["i"] = 1
    assert get(ctx, "$(hdr(X-Foo)[$var(i)])") == "two"
