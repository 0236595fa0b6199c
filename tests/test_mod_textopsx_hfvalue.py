"""textopsx: the header value functions (`hname[idx].param` references), the header and body-line
iterators and their PVs (the exact bytes are checked against Kamailio 5.6 in
tests/e2e/test_textops_kamailio.py)."""
from __future__ import annotations

import pytest

from kampy.errors import ConfigError

from kampy.modules.textopsx import EXPORTS
from kampy.modules.textopsx.hfedit import HeaderRef, parse_header_ref
from tests.modkit import ctx_for, module

HEADERS = ["X-List: one, two,three", "X-List: four", "X-Other: a, b, c", "X-Single: only",
           'Contact: "A" <sip:a@10.0.0.1>;expires=30;q=0.7, <sip:b@h>',
           'Authorization: Digest username="alice", realm="example.com", nonce="abc"']
BODY = "v=0\r\nc=IN IP4 10.0.0.1\r\na=rm\r\nm=audio 4000 RTP/AVP 0\r\n"


def request(*headers: str, body: str = "") -> bytes:
    lines = ["INVITE sip:bob@example.test SIP/2.0", "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1",
             "From: <sip:a@example.test>;tag=1", "To: <sip:bob@example.test>", "Call-ID: hv-1",
             "CSeq: 1 INVITE", *headers, f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def setup(*headers: str, body: str = ""):  # type: ignore[no-untyped-def]
    ctx = ctx_for(request(*(headers or HEADERS), body=body))
    return module(EXPORTS, ctx.core), ctx


def lines(ctx, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    out = ctx.msg.to_bytes().decode().split("\r\n\r\n")[0].split("\r\n")
    return [line for line in out if line.lower().startswith(name.lower() + ":")]


@pytest.mark.parametrize(("text", "ref"), [
    ("x-list", HeaderRef("x-list")),
    ("x-list[2]", HeaderRef("x-list", indexed=True, idx=2)),
    (" contact [ -1 ] . expires", HeaderRef("contact", indexed=True, idx=-1, param="expires")),
    ("x-p[*].tag", HeaderRef("x-p", indexed=True, every=True, param="tag")),
])
def test_header_references_parse_as_kamailio_reads_them(text: str, ref: HeaderRef) -> None:
    assert parse_header_ref(text) == ref


@pytest.mark.parametrize("text", ["", "x-list[", "x-list[a]", "x-list.", "x-list:x"])
def test_a_bad_header_reference_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_header_ref(text)


def test_append_hf_value_without_an_index_adds_a_header_at_the_end() -> None:
    x, ctx = setup()
    assert x.append_hf_value(ctx, x.fix_append_ref("foo"), "v;p=1") == 1
    assert ctx.msg.to_bytes().endswith(b"Content-Length: 0\r\nfoo: v;p=1\r\n\r\n")


def test_append_hf_value_with_an_index_goes_after_that_value() -> None:
    x, ctx = setup()
    x.append_hf_value(ctx, x.fix_append_ref("x-list[1]"), "ins")
    x.append_hf_value(ctx, x.fix_append_ref("x-list[-1]"), "last")
    assert lines(ctx, "X-List") == ["X-List: one,ins, two,three", "X-List: four,last"]


def test_append_hf_value_refuses_an_asterisk_or_a_param() -> None:
    x, _ = setup()
    for text in ("x[*]", "x.p"):
        with pytest.raises(ValueError):
            x.fix_append_ref(text)


def test_insert_hf_value_without_an_index_adds_a_header_before_the_first() -> None:
    x, ctx = setup()
    assert x.insert_hf_value(ctx, x.fix_insert_ref("x-list"), "first") == 1
    assert lines(ctx, "X-List") == ["x-list: first", "X-List: one, two,three", "X-List: four"]


def test_insert_hf_value_beyond_the_values_fails_unless_the_index_is_1() -> None:
    x, ctx = setup()
    assert x.insert_hf_value(ctx, x.fix_insert_ref("x-new[2]"), "v") == -1
    assert x.insert_hf_value(ctx, x.fix_insert_ref("x-new[1]"), "v") == 1
    assert lines(ctx, "x-new") == ["x-new: v"]


def test_remove_hf_value_of_the_last_value_takes_its_comma() -> None:
    x, ctx = setup()
    assert x.remove_hf_value(ctx, x.fix_remove_ref("x-other[-1]")) == 1
    assert lines(ctx, "X-Other") == ["X-Other: a, b"]


def test_remove_hf_value_of_the_only_value_removes_the_header() -> None:
    x, ctx = setup()
    x.remove_hf_value(ctx, x.fix_remove_ref("x-single"))
    assert lines(ctx, "X-Single") == []


def test_remove_hf_value_of_a_param() -> None:
    x, ctx = setup()
    x.remove_hf_value(ctx, x.fix_remove_ref("contact[1].expires"))
    assert lines(ctx, "Contact") == ['Contact: "A" <sip:a@10.0.0.1>;q=0.7, <sip:b@h>']


def test_remove_hf_value_of_a_missing_value_fails() -> None:
    x, ctx = setup()
    assert x.remove_hf_value(ctx, x.fix_remove_ref("x-single[3]")) == -1


def test_assign_hf_value_replaces_a_value_and_sets_or_adds_params() -> None:
    x, ctx = setup()
    x.assign_hf_value(ctx, x.fix_assign_ref("x-list[2]"), "new2")
    x.assign_hf_value(ctx, x.fix_assign_ref("contact[1].expires"), "60")
    x.assign_hf_value(ctx, x.fix_assign_ref("contact[2].q"), "0.5")
    assert lines(ctx, "X-List")[0] == "X-List: one, new2,three"
    assert lines(ctx, "Contact") == ['Contact: "A" <sip:a@10.0.0.1>;expires=60;q=0.7, <sip:b@h>;q=0.5']


def test_assign_hf_value_refuses_an_asterisk_without_a_param() -> None:
    x, _ = setup()
    with pytest.raises(ValueError):
        x.fix_assign_ref("x[*]")


def test_the_value2_functions_work_on_name_value_params_of_the_line() -> None:
    x, ctx = setup()
    x.assign_hf_value2(ctx, x.fix_assign_ref("authorization.realm"), "r2")
    x.remove_hf_value2(ctx, x.fix_remove_ref("authorization.nonce"))
    x.assign_hf_value2(ctx, x.fix_assign_ref("authorization.opaque"), "op")
    assert lines(ctx, "Authorization") == ['Authorization: Digest username="alice", realm=r2,opaque=op']


def test_remove_hf_value2_removes_the_whole_line() -> None:
    x, ctx = setup()
    x.remove_hf_value2(ctx, x.fix_remove_ref("x-list[-1]"))
    assert lines(ctx, "X-List") == ["X-List: one, two,three"]


def test_include_hf_value_adds_a_missing_value_to_the_first_line() -> None:
    x, ctx = setup()
    assert x.include_hf_value(ctx, x.fix_plain_ref("x-list"), "ONE") == 1
    assert x.include_hf_value(ctx, x.fix_plain_ref("x-list"), "five") == 1
    assert lines(ctx, "X-List") == ["X-List: one, two,three,five", "X-List: four"]


def test_exclude_hf_value_removes_every_equal_value() -> None:
    x, ctx = setup()
    assert x.exclude_hf_value(ctx, x.fix_plain_ref("x-other"), "B") == 1
    assert lines(ctx, "X-Other") == ["X-Other: a, c"]


def test_hf_value_exists_compares_without_case() -> None:
    x, ctx = setup()
    assert x.hf_value_exists(ctx, x.fix_plain_ref("x-list"), "TWO") == 1
    assert x.hf_value_exists(ctx, x.fix_plain_ref("x-list"), "nine") == -1


def test_include_and_exists_refuse_an_index_or_a_param() -> None:
    x, _ = setup()
    for text in ("x[1]", "x.p"):
        with pytest.raises(ValueError):
            x.fix_plain_ref(text)


ITERATOR_CFG = r"""
loadmodule "textops.so"
loadmodule "textopsx.so"
loadmodule "pv.so"
request_route {
  $var(names) = "";
  hf_iterator_start("i");
  while (hf_iterator_next("i")) {
    $var(names) = $var(names) + $hfitname(i) + ",";
    if ($hfitname(i) == "X-Rm") { hf_iterator_rm("i"); }
    if ($hfitname(i) == "X-A") { hf_iterator_append("i", "X-After: $hfitbody(i)\r\n"); }
  }
  hf_iterator_end("i");
  bl_iterator_start("b");
  while (bl_iterator_next("b")) {
    if ($blitval(b) =~ "^a=rm") { bl_iterator_rm("b"); }
    if ($blitval(b) =~ "^m=") { bl_iterator_insert("b", "i=x\r\n"); }
  }
  bl_iterator_end("b");
  append_hf("X-Names: $var(names)\r\n");
  $du = "sip:127.0.0.1:5090";
  forward();
}
"""


def test_the_iterators_walk_the_headers_and_body_lines_and_edit_them(kampy_cfg) -> None:  # type: ignore[no-untyped-def]
    sip = kampy_cfg(ITERATOR_CFG)
    result = sip.send(request("X-A: alpha", "X-Rm: gone", body=BODY))
    data = result.forwarded[0].data
    assert b"X-A: alpha\r\nX-After: alpha\r\n" in data and b"X-Rm: gone" not in data
    assert data.endswith(b"\r\n\r\nv=0\r\nc=IN IP4 10.0.0.1\r\ni=x\r\nm=audio 4000 RTP/AVP 0\r\n")
    assert b"X-Names: Via,From,To,Call-ID,CSeq,X-A,X-Rm,Content-Length,\r\n" in data


def test_hf_iterator_prev_steps_back() -> None:
    x, ctx = setup()
    x.hf_iterator_start(ctx, "i")
    for _ in range(3):
        x.hf_iterator_next(ctx, "i")
    assert x.pv_hfitname(_Spec("i")).get(ctx) == "To"
    assert x.hf_iterator_prev(ctx, "i") == 1
    assert x.pv_hfitname(_Spec("i")).get(ctx) == "From"


def test_an_unknown_iterator_is_minus_1_and_its_pv_null() -> None:
    x, ctx = setup()
    assert x.hf_iterator_next(ctx, "nope") == -1
    assert x.pv_hfitbody(_Spec("nope")).get(ctx) is None
    assert x.bl_iterator_next(ctx, "nope") == -1


def test_at_most_four_iterators_of_a_kind() -> None:
    x, ctx = setup()
    assert [x.hf_iterator_start(ctx, f"i{n}") for n in range(5)] == [1, 1, 1, 1, -1]


def test_an_iterator_name_of_32_characters_is_refused() -> None:
    x, ctx = setup()
    assert x.bl_iterator_start(ctx, "n" * 32) == -1


def test_the_iterator_ends_after_the_last_header() -> None:
    x, ctx = setup("X-One: 1")
    x.hf_iterator_start(ctx, "i")
    count = 0
    while x.hf_iterator_next(ctx, "i") == 1:
        count += 1
    assert count == 7
    assert x.hf_iterator_next(ctx, "i") == -1
    assert x.pv_hfitname(_Spec("i")).get(ctx) is None


class _Spec:
    def __init__(self, arg: str) -> None:
        self.arg = arg


def test_a_bad_header_reference_is_a_config_error_at_its_argument(kampy_cfg) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=r"3:19: error: append_hf_value\(\): bad argument 1: asterisk"):
        kampy_cfg('loadmodule "textopsx.so"\nrequest_route {\n  append_hf_value("x[*]", "v");\n}\n')
