"""textopsx: msg_apply_changes() makes later reads see the edits; reply status; body; keep_hf."""
from __future__ import annotations

import re

from kampy.api import FL_BODY_MULTIPART, FL_SDP_BODY

from kampy.modules.textops import EXPORTS as TEXTOPS
from kampy.modules.textopsx import EXPORTS
from tests.modkit import INVITE, OPTIONS, ctx_for, module

REPLY = (b"SIP/2.0 183 Session Progress\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
         b"To: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 3 INVITE\r\nContent-Length: 0\r\n\r\n")
FINAL = REPLY.replace(b"183 Session Progress", b"486 Busy Here")


def test_apply_changes_makes_edits_visible() -> None:
    ctx = ctx_for(OPTIONS)
    t, x = module(TEXTOPS, ctx.core), module(EXPORTS, ctx.core)
    t.append_hf(ctx, "X-New: 1\r\n")
    assert t.is_present_hf(ctx, "X-New") == -1
    assert x.msg_apply_changes(ctx) == 1
    assert t.is_present_hf(ctx, "X-New") == 1
    assert ctx.msg.changes == []


def test_apply_changes_lets_a_header_be_edited_twice() -> None:
    ctx = ctx_for(INVITE)
    t, x = module(TEXTOPS, ctx.core), module(EXPORTS, ctx.core)
    t.subst(ctx, t.fix_subst("/X-Foo: one/X-Foo: two/"))
    # refused: the line was already rewritten
    assert t.subst(ctx, t.fix_subst("/X-Foo: one/X-Foo: three/")) == -1
    x.msg_apply_changes(ctx)
    assert t.subst(ctx, t.fix_subst("/X-Foo: two/X-Foo: three/")) == 1
    x.msg_apply_changes(ctx)
    assert ctx.msg.header("X-Foo") == "three"


def test_change_reply_status_keeps_class_rules() -> None:
    ctx = ctx_for(FINAL)
    x = module(EXPORTS, ctx.core)
    assert x.change_reply_status(ctx, "404", "Not Here") == 1
    assert ctx.msg.status == 404 and ctx.msg.to_bytes().startswith(b"SIP/2.0 404 Not Here\r\n")
    assert x.change_reply_status(ctx, "200", "OK") == -1


def test_provisional_reply_class_cannot_change() -> None:
    ctx = ctx_for(REPLY)
    x = module(EXPORTS, ctx.core)
    assert x.change_reply_status_code(ctx, 180) == 1
    assert ctx.msg.reason == "Session Progress"
    assert x.change_reply_status_code(ctx, 200) == -1


def test_remove_body() -> None:
    ctx = ctx_for(INVITE)
    assert module(EXPORTS, ctx.core).remove_body(ctx) == 1
    assert ctx.msg.to_bytes().endswith(b"Content-Length: 0\r\n\r\n")


def test_keep_hf_keeps_mandatory_and_matching_headers() -> None:
    ctx = ctx_for(INVITE.replace(b"X-Foo: one", b"X-Foo: one\r\nX-Keep: 1\r\nSubject: s"))
    x = module(EXPORTS, ctx.core)
    assert x.keep_hf(ctx, re.compile("^X-Keep$", re.I)) == -1  # as Kamailio, always -1
    x.msg_apply_changes(ctx)
    names = ctx.msg.header_names
    assert "x-keep" in names and "x-foo" not in names and "subject" not in names
    assert {"via", "from", "to", "call-id", "cseq", "contact", "record-route", "max-forwards"} <= set(names)


def test_fnmatch_with_case_flag() -> None:
    ctx = ctx_for(OPTIONS)
    x = module(EXPORTS, ctx.core)
    assert x.fnmatch(ctx, "alice@example", "ali*") == 1
    assert x.fnmatch(ctx, "ALICE", "ali*") == -1
    assert x.fnmatch(ctx, "ALICE", "ali*", "i") == 1


def test_msg_set_buffer_replaces_message() -> None:
    ctx = ctx_for(OPTIONS)
    x = module(EXPORTS, ctx.core)
    assert x.msg_set_buffer(ctx, INVITE.decode()) == 1
    assert ctx.msg.method == "INVITE"
    assert x.msg_set_buffer(ctx, "garbage") == -1


def test_apply_changes_keeps_the_message_flags() -> None:
    ctx = ctx_for(INVITE)
    x = module(EXPORTS, ctx.core)
    ctx.msg.msg_flags = FL_SDP_BODY
    module(TEXTOPS, ctx.core).append_hf(ctx, "X-New: 1\r\n")
    x.msg_apply_changes(ctx)
    assert ctx.msg.msg_flags == FL_SDP_BODY


def test_apply_changes_closes_the_boundaries_of_a_body_made_multipart() -> None:
    ctx = ctx_for(INVITE)
    t, x = module(TEXTOPS, ctx.core), module(EXPORTS, ctx.core)
    assert t.set_body_multipart(ctx, "hello", "text/plain", "b2") == 1
    assert ctx.msg.current_body.endswith(b"hello\r\n--b2\r\n")
    x.msg_apply_changes(ctx)
    assert ctx.msg.body.endswith(b"hello\r\n--b2--\r\n")
    assert not ctx.msg.msg_flags & FL_BODY_MULTIPART


def test_change_reply_status_fails_for_a_code_pseudo_variable_holding_a_string(kampy_cfg) -> None:  # type: ignore[no-untyped-def]
    # change_reply_status_fixup is fixup_var_int_12: "404" in $var is no integer, 404 is
    sip = kampy_cfg('loadmodule "pv"\nloadmodule "textopsx"\nrequest_route { drop; }\n'
                    'reply_route { $var(s) = "404"; $var(i) = 404; '
                    'change_reply_status("$var(s)", "Gone"); change_reply_status("$var(i)", "Gone"); }')
    result = sip.send(FINAL.replace(b"Via: SIP/2.0/UDP h;", b"Via: SIP/2.0/UDP 127.0.0.1:5060;"))
    assert result.codes("change_reply_status") == [-1, 1]
