"""Writable message pseudo-variables: R-URI parts, $du, $fs, From/To, flags, branches."""
from __future__ import annotations

from kampy.api import Branch, parse_message

from tests.pv_helpers import get, make_ctx, put


def test_assign_ru_sets_new_ruri() -> None:
    ctx = make_ctx()
    put(ctx, "$ru", "sip:carol@example.org")
    assert ctx.new_ruri == "sip:carol@example.org" and get(ctx, "$ru") == "sip:carol@example.org"


def test_assign_ru_rejects_null() -> None:
    ctx = make_ctx()
    put(ctx, "$ru", None)
    assert ctx.new_ruri is None


def test_assign_rU_rewrites_user() -> None:
    ctx = make_ctx()
    put(ctx, "$rU", "bob")
    assert ctx.new_ruri == "sip:bob@example.com:5080;transport=tcp"


def test_assign_rU_empty_removes_user() -> None:
    ctx = make_ctx()
    put(ctx, "$rU", "")
    assert ctx.new_ruri == "sip:example.com:5080;transport=tcp"


def test_assign_rd_rewrites_host() -> None:
    ctx = make_ctx()
    put(ctx, "$rd", "10.1.1.1")
    assert get(ctx, "$ru") == "sip:alice@10.1.1.1:5080;transport=tcp"


def test_assign_rp_null_removes_port() -> None:
    ctx = make_ctx()
    put(ctx, "$rp", None)
    assert get(ctx, "$ru") == "sip:alice@example.com;transport=tcp"


def test_assign_du_and_null_resets() -> None:
    ctx = make_ctx()
    put(ctx, "$du", "sip:10.0.0.9:5070")
    assert get(ctx, "$du") == "sip:10.0.0.9:5070"
    put(ctx, "$du", None)
    assert ctx.dst_uri is None


def test_du_parts() -> None:
    ctx = make_ctx()
    put(ctx, "$du", "sip:10.0.0.9:5070;transport=tcp")
    assert (get(ctx, "$dd"), get(ctx, "$dp"), get(ctx, "$dP")) == ("10.0.0.9", "5070", "tcp")


def test_assign_fs_picks_listening_socket() -> None:
    ctx = make_ctx()
    put(ctx, "$fs", "tcp:127.0.0.1:5060")
    assert str(ctx.force_socket) == "tcp:127.0.0.1:5060" and get(ctx, "$fs") == "tcp:127.0.0.1:5060"


def test_assign_fs_unknown_socket_is_ignored() -> None:
    ctx = make_ctx()
    put(ctx, "$fs", "udp:10.9.9.9:5060")
    assert ctx.force_socket is None


def _sent(ctx: object) -> object:
    return parse_message(ctx.msg.to_bytes())  # type: ignore[attr-defined]


def test_assign_fu_replaces_from_uri_keeping_tag() -> None:
    ctx = make_ctx()
    put(ctx, "$fu", "sip:anon@anonymous.invalid")
    out = _sent(ctx)
    assert str(out.from_.uri) == "sip:anon@anonymous.invalid" and out.from_.tag == "123"  # type: ignore


def test_two_from_writes_leave_one_from_header() -> None:
    ctx = make_ctx()
    put(ctx, "$fU", "x")
    put(ctx, "$fd", "y.org")
    out = _sent(ctx)
    assert out.get_all_raw("from") and len(out.get_all_raw("from")) == 1  # type: ignore
    assert str(out.from_.uri) == "sip:x@y.org"  # type: ignore


def test_assign_tn_sets_display_name() -> None:
    ctx = make_ctx()
    put(ctx, "$tn", "Alice")
    assert _sent(ctx).to.display == "Alice"  # type: ignore


def test_header_pv_shows_received_value_after_write() -> None:
    ctx = make_ctx()
    put(ctx, "$tU", "zed")
    assert get(ctx, "$tU") == "alice"


def test_message_flags_read_and_write() -> None:
    ctx = make_ctx()
    put(ctx, "$mf", 5)
    assert (get(ctx, "$mf"), get(ctx, "$mF")) == (5, "0x00000005")


def test_single_flag_pv() -> None:
    ctx = make_ctx()
    put(ctx, "$Mf(3)", 1)
    assert ctx.flags == 8 and get(ctx, "$Mf(3)") == 1


def test_branch_flags() -> None:
    ctx = make_ctx()
    put(ctx, "$bf", 2)
    assert ctx.bflags == 2 and get(ctx, "$Bf(1)") == 1


def test_script_flags_per_process() -> None:
    ctx = make_ctx()
    put(ctx, "$Sf(2)", 1)
    assert get(ctx, "$sf") == 4


def test_br_sets_first_branch() -> None:
    ctx = make_ctx()
    put(ctx, "$br", "sip:b1@x")
    assert ctx.branches[0].uri == "sip:b1@x" and get(ctx, "$br") == "sip:b1@x"


def test_branch_attributes() -> None:
    ctx = make_ctx()
    ctx.branches += [Branch("sip:a@x", dst_uri="sip:p1"), Branch("sip:b@x", q=500)]
    assert get(ctx, "$branch(count)") == 2
    assert get(ctx, "$(branch(uri)[1])") == "sip:b@x"
    assert get(ctx, "$branch(dst_uri)") == "sip:p1"
    assert get(ctx, "$(branch(q)[1])") == 500


def _header_names(data: bytes) -> list[bytes]:
    return [line.partition(b":")[0] for line in data.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]]


def test_assign_fu_rewrites_from_line_in_place() -> None:
    ctx = make_ctx()
    before = _header_names(ctx.msg.raw)
    put(ctx, "$fu", "sip:anon@anonymous.invalid")
    assert _header_names(ctx.msg.to_bytes()) == before


def test_second_from_write_replaces_the_first_change() -> None:
    ctx = make_ctx()
    put(ctx, "$fU", "x")
    put(ctx, "$fU", "z")
    assert len(ctx.msg.changes) == 1
    assert _sent(ctx).from_.uri.user == "z"  # type: ignore[attr-defined]
