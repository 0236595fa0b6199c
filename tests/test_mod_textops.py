"""textops: searches on the received message, edits through lumps, string helpers."""
from __future__ import annotations

import re

import pytest

from kampy.api import parse_message
from kampy.config.pipeline import load_text
from kampy.errors import ConfigError
from kampy.runtime.server import Server
from kampy.modules.textops import EXPORTS
from kampy.modules.textops.textops import SubstExpr
from tests.modkit import INVITE, LOCAL, OPTIONS, ctx_for, module

RE = re.IGNORECASE | re.MULTILINE  # Kamailio compiles with REG_EXTENDED|REG_ICASE|REG_NEWLINE


def setup(raw: bytes = INVITE):  # type: ignore[no-untyped-def]
    ctx = ctx_for(raw)
    return module(EXPORTS, ctx.core), ctx


def sent(ctx) -> bytes:  # type: ignore[no-untyped-def]
    return ctx.msg.to_bytes()


def test_is_method_accepts_alternatives() -> None:
    t, ctx = setup()
    assert t.is_method(ctx, "MESSAGE|INVITE") == 1
    assert t.is_method(ctx, "REGISTER") == -1


def test_is_method_on_reply_uses_cseq_method() -> None:
    t, ctx = setup(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
                   b"To: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n")
    assert t.is_method(ctx, "BYE") == 1


def test_has_body_with_and_without_type() -> None:
    t, ctx = setup()
    assert t.has_body(ctx) == 1
    assert t.has_body(ctx, "application/sdp") == 1
    assert t.has_body(ctx, "text/plain") == -1
    t2, ctx2 = setup(OPTIONS)
    assert t2.has_body(ctx2) == -1


def test_search_whole_message_and_body() -> None:
    t, ctx = setup()
    assert t.search(ctx, re.compile("^x-foo: one\r$", RE)) == 1
    assert t.search(ctx, re.compile("nothing-here", RE)) == -1
    assert t.search_body(ctx, re.compile("^m=audio", RE)) == 1
    assert t.search_body(ctx, re.compile("^Call-ID", RE)) == -1


def test_append_hf_adds_after_last_header() -> None:
    t, ctx = setup(OPTIONS)
    assert t.append_hf(ctx, "X-New: 1\r\n") == 1
    assert sent(ctx).endswith(b"Content-Length: 0\r\nX-New: 1\r\n\r\n")


def test_append_hf_after_missing_header_appends_at_the_end() -> None:
    t, ctx = setup(OPTIONS)  # add_hf_helper: no anchor line found -> after the last header
    assert t.append_hf(ctx, "X-New: 1\r\n", "X-Nope") == 1
    assert sent(ctx).endswith(b"Content-Length: 0\r\nX-New: 1\r\n\r\n")


def test_append_hf_with_anchor_goes_after_its_last_line() -> None:
    t, ctx = setup(OPTIONS)
    assert t.append_hf(ctx, "X-New: 1\r\n", "Max-Forwards") == 1
    lines = sent(ctx).split(b"\r\n")
    assert lines[lines.index(b"Max-Forwards: 70") + 1] == b"X-New: 1"


def test_insert_hf_with_anchor_goes_before_its_first_line() -> None:
    t, ctx = setup(OPTIONS)
    assert t.insert_hf(ctx, "X-A: 1\r\nX-B: 2\r\n", "From") == 1
    lines = sent(ctx).split(b"\r\n")
    assert lines[lines.index(b"X-A: 1"):lines.index(b"X-A: 1") + 3] == [
        b"X-A: 1", b"X-B: 2", b"From: <sip:alice@example.test>;tag=a1"]


def test_subst_rewrites_a_header_line_in_place() -> None:
    t, ctx = setup(OPTIONS)
    before = [line.partition(b":")[0] for line in OPTIONS.split(b"\r\n")]
    assert t.subst(ctx, t.fix_subst("/alice@example.test/carol@example.test/")) == 1
    out = sent(ctx)
    assert [line.partition(b":")[0] for line in out.split(b"\r\n")] == before
    assert b"From: <sip:carol@example.test>;tag=a1" in out


def test_two_substs_of_one_header_compose() -> None:
    t, ctx = setup(OPTIONS)
    assert t.subst(ctx, t.fix_subst("/alice/carol/")) == 1
    assert t.subst(ctx, t.fix_subst("/example.test>;tag=a1/example.org>;tag=a1/")) == 1
    assert b"From: <sip:carol@example.org>;tag=a1\r\n" in sent(ctx)


def test_replace_removing_a_whole_line_with_its_crlf() -> None:
    t, ctx = setup(OPTIONS)
    assert t.replace(ctx, re.compile("Max-Forwards: 70\r\n"), "") == 1
    assert b"Max-Forwards" not in sent(ctx)


def test_replace_removing_the_last_line_with_its_crlf() -> None:
    t, ctx = setup(OPTIONS.replace(b"Content-Length: 0\r\n", b"Content-Length: 0\r\nX-Last: 1\r\n"))
    assert t.replace(ctx, re.compile("X-Last: 1\r\n"), "") == 1
    assert b"X-Last" not in sent(ctx) and sent(ctx).endswith(b"Content-Length: 0\r\n\r\n")


def test_insert_hf_adds_before_first_header() -> None:
    t, ctx = setup(OPTIONS)
    assert t.insert_hf(ctx, "X-First: 1\r\n") == 1
    assert sent(ctx).split(b"\r\n")[1] == b"X-First: 1"


def test_edits_are_not_seen_until_applied() -> None:
    t, ctx = setup(OPTIONS)
    t.append_hf(ctx, "X-New: 1\r\n")
    assert t.is_present_hf(ctx, "X-New") == -1
    assert parse_message(sent(ctx)).header("X-New") == "1"


def test_remove_hf_counts_lines_and_knows_compact_names() -> None:
    t, ctx = setup()
    assert t.remove_hf(ctx, "v") == 2
    assert t.remove_hf(ctx, "X-Missing") == -1
    assert parse_message(sent(ctx)).vias == []


def test_remove_hf_re_and_exp_match_written_names() -> None:
    t, ctx = setup()
    assert t.remove_hf_re(ctx, re.compile("^x-", RE)) == 1
    assert t.remove_hf_exp(ctx, re.compile("^(Contact|Record-Route)$", RE), re.compile("^Contact$", RE)) == 1
    out = parse_message(sent(ctx))
    assert not out.has_header("X-Foo") and not out.has_header("Record-Route") and out.has_header("Contact")


def test_remove_hf_idx_removes_one_line() -> None:
    t, ctx = setup()
    assert t.remove_hf_idx(ctx, "Via", 1) == 1
    assert [v.host for v in parse_message(sent(ctx)).vias] == ["10.0.0.1"]


def test_is_present_hf_and_re() -> None:
    t, ctx = setup()
    assert t.is_present_hf(ctx, "l") == 1
    assert t.is_present_hf(ctx, "X-Bar") == -1
    assert t.is_present_hf_re(ctx, re.compile("^x-f", RE)) == 1


def test_subst_rewrites_a_header_in_place() -> None:
    t, ctx = setup()
    assert t.subst(ctx, t.fix_subst(r"/^X-Foo: (.*)$/X-Foo: new-\1/")) == 1
    data = sent(ctx)
    assert b"\r\nX-Foo: new-one\r\n" in data and b"X-Foo: one" not in data
    assert data.index(b"Contact:") < data.index(b"X-Foo")


def test_subst_and_append_hf_and_remove_hf_compose() -> None:
    # the same three edits Kamailio 5.6.3 applied and saw as "new-one|1|0" after msg_apply_changes()
    t, ctx = setup()
    t.subst(ctx, t.fix_subst(r"/^X-Foo: (.*)$/X-Foo: new-\1/"))
    t.append_hf(ctx, "X-Added: 1\r\n")
    t.remove_hf(ctx, "Contact")
    out = parse_message(sent(ctx))
    assert (out.header("X-Foo"), out.header("X-Added"), out.has_header("Contact")) == ("new-one", "1", False)


def test_subst_without_match_is_false() -> None:
    t, ctx = setup()
    assert t.subst(ctx, t.fix_subst("/nothing/x/")) == -1
    assert ctx.msg.changes == []


def test_subst_global_flag_replaces_every_match() -> None:
    assert SubstExpr("/o/0/g").sub("foo boo") == "f00 b00"
    assert SubstExpr("/o/0/").sub("foo boo") == "f0o boo"
    assert SubstExpr("/O/0/i").sub("foo") == "f0o"


def test_subst_uri_rewrites_request_uri() -> None:
    t, ctx = setup()
    assert t.subst_uri(ctx, t.fix_subst("/^sip:bob@(.*)$/sip:carol@\\1/")) == 1
    assert ctx.ruri == "sip:carol@example.test;transport=udp"
    assert sent(ctx).startswith(b"INVITE sip:carol@example.test;transport=udp SIP/2.0\r\n")


def test_subst_user_rewrites_only_the_user() -> None:
    t, ctx = setup()
    assert t.subst_user(ctx, t.fix_subst("/^b(.*)$/r\\1/")) == 1
    assert ctx.ruri == "sip:rob@example.test;transport=udp"


def test_subst_body_and_replace_body_update_content_length() -> None:
    t, ctx = setup()
    assert t.subst_body(ctx, t.fix_subst("/4000/5000/")) == 1
    out = parse_message(sent(ctx))
    assert b"m=audio 5000" in out.body and out.content_length == len(out.body)


def test_body_edits_compose() -> None:
    t, ctx = setup()
    t.replace_body(ctx, re.compile("4000", RE), "5000")
    t.replace_body_all(ctx, re.compile("10\\.0\\.0\\.1", RE), "192.0.2.1")
    body = parse_message(sent(ctx)).body
    assert b"5000" in body and b"10.0.0.1" not in body and body.count(b"192.0.2.1") == 2


def test_replace_first_match_in_whole_message() -> None:
    t, ctx = setup()
    assert t.replace(ctx, re.compile("X-Foo: one", RE), "X-Foo: two") == 1
    assert parse_message(sent(ctx)).header("X-Foo") == "two"


def test_replace_str_all_in_headers() -> None:
    t, ctx = setup()
    assert t.replace_hdrs_str(ctx, "example.test", "example.org", "a") == 1
    data = sent(ctx)
    assert b"example.test" not in data.split(b"\r\n\r\n")[0].split(b"\r\n", 1)[1]


def test_search_append_inserts_after_match() -> None:
    t, ctx = setup()
    assert t.search_append(ctx, re.compile("X-Foo: one", RE), "-more") == 1
    assert parse_message(sent(ctx)).header("X-Foo") == "one-more"


def test_append_to_reply_queues_header_for_sl() -> None:
    t, ctx = setup()
    assert t.append_to_reply(ctx, "X-R: 1\r\n") == 1
    assert ctx.reply_lumps == ["X-R: 1\r\n"]


def test_set_body_replaces_body_and_type() -> None:
    t, ctx = setup(OPTIONS)
    assert t.set_body(ctx, "hello", "text/plain") == 1
    out = parse_message(sent(ctx))
    assert (out.body, out.content_type.mime, out.content_length) == (b"hello", "text/plain", 5)


def test_append_urihf_uses_request_uri() -> None:
    t, ctx = setup()
    assert t.append_urihf(ctx, "X-Orig: <", ">\r\n") == 1
    assert parse_message(sent(ctx)).header("X-Orig") == "<sip:bob@example.test;transport=udp>"


def test_string_functions() -> None:
    t, ctx = setup()
    assert t.cmp_str(ctx, "abc", "abc") == 1 and t.cmp_str(ctx, "abc", "ABC") < 0
    assert t.cmp_istr(ctx, "abc", "ABC") == 1
    assert t.starts_with(ctx, "sip:alice", "sip:") == 1 and t.starts_with(ctx, "si", "sip:") == -1
    assert t.ends_with(ctx, "alice@x", "@x") == 1
    assert t.str_find(ctx, "abcabc", "ca") == 3 and t.str_find(ctx, "abc", "z") == -1
    assert t.str_ifind(ctx, "ABC", "b") == 2
    assert t.in_list(ctx, "b", "a,b,c", ",") == 1 and t.in_list(ctx, "d", "a,b,c", ",") == -1
    assert t.in_list_prefix(ctx, "4912345", "33,49", ",") == 1
    assert t.search_str(ctx, "hello", "l+") == 1


def test_append_time_writes_the_core_clocks_time() -> None:
    from kampy.runtime.core import Core
    from tests.modkit import LOCAL
    from tests.pv_helpers import FixedClock

    c = Core(clock=FixedClock(1_700_000_000.25), sockets=[LOCAL])
    mod, ctx = module(EXPORTS, c), ctx_for(INVITE, c)
    assert mod.append_time(ctx) == 1
    assert ctx.reply_lumps == ["Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n"]


def test_a_bad_substitution_is_refused_when_the_config_loads() -> None:
    compiled = load_text('loadmodule "textops"\nrequest_route {\n  subst("/a/b/q");\n}', "t.cfg")
    with pytest.raises(ConfigError) as info:
        Server.from_config(compiled, sockets=[LOCAL])
    (diag,) = info.value.diagnostics
    assert diag.pos.line == 3
    assert diag.message == "subst(): bad argument 1: bad substitution: unknown subst flag 'q' in '/a/b/q'"
