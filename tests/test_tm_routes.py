"""tm: t_reply with tm's To-tag, branch_route and onreply_route."""
from __future__ import annotations

from kampy.sip.message import Request
from kampy.modules.tm.tags import crc_suffix, tag_prefix
from tests.tmkit import ALICE, BOB, lines, parsed, reply_to, request, server
from kampy.version import SERVER_HEADER

SERVER = SERVER_HEADER.encode()


def test_t_reply_sends_reply_with_tm_to_tag() -> None:
    srv = server('request_route { t_newtran(); t_reply("404", "Not Here"); }')
    out = srv.handle(request(), ALICE)
    tag = (tag_prefix(srv.core, "SER-TM/tags") + "-" + crc_suffix([b"192.0.2.10", b"5070", b"z9hG4bK-a1"])
           + crc_suffix([b"5070", b"192.0.2.10", b"call-1@192.0.2.10"]))
    assert out[0].data == (
        b"SIP/2.0 404 Not Here\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-a1;rport=5070;received=192.0.2.10\r\n"
        b"From: <sip:alice@example.test>;tag=al1\r\n"
        b"To: <sip:bob@example.test>;tag=" + tag.encode() + b"\r\n"
        b"Call-ID: call-1@192.0.2.10\r\n"
        b"CSeq: 1 MESSAGE\r\n"
        b"Server: " + SERVER + b"\r\n"
        b"Content-Length: 0\r\n\r\n")


def test_t_reply_without_transaction_fails() -> None:
    srv = server('request_route { if (!t_reply("404", "Not Here")) { $var(r) = "failed"; } }')
    assert srv.handle(request(), ALICE) == [] and srv.core.modules["pv"].vars["r"] == "failed"


def test_send_reply_of_sl_replies_statefully_within_a_transaction() -> None:
    srv = server('request_route { t_newtran(); send_reply("480", "Later"); }')
    out = srv.handle(request(), ALICE)
    assert lines(out) == ["SIP/2.0 480 Later"]
    assert lines(srv.handle(request(), ALICE)) == ["SIP/2.0 480 Later"]  # absorbed by the transaction


def test_branch_route_runs_per_branch_and_drop_cancels_that_branch() -> None:
    srv = server('''
loadmodule "corex"
request_route { append_branch("sip:carol@198.51.100.30:5090"); t_on_branch("B"); t_relay(); }
branch_route[B] {
    if ($ru =~ "carol") { drop; }
    $var(idx) = $T_branch_idx;
}
''')
    out = srv.handle(request(), ALICE)
    assert [(o.host, o.port) for o in out] == [("198.51.100.20", 5080)]
    assert srv.core.modules["pv"].vars["idx"] == 0


def test_branch_route_can_rewrite_that_branch_only() -> None:
    srv = server('''
loadmodule "corex"
request_route { append_branch("sip:carol@198.51.100.30:5090"); t_on_branch("B"); t_relay(); }
branch_route[B] { if ($T_branch_idx == 1) { $ru = "sip:dave@198.51.100.31:5091"; } }
''')
    out = srv.handle(request(), ALICE)
    assert [parsed(o).uri for o in out if isinstance(parsed(o), Request)] == [
        "sip:bob@198.51.100.20:5080", "sip:dave@198.51.100.31:5091"]
    assert (out[1].host, out[1].port) == ("198.51.100.31", 5091)


def test_onreply_route_sees_the_reply_and_can_drop_a_provisional() -> None:
    srv = server('''
request_route { t_on_reply("R"); t_relay(); }
onreply_route[R] { $var(code) = $T_reply_code; if (status == "183") { drop; } }
''')
    invite = srv.handle(request("INVITE"), ALICE)[1]
    assert srv.handle(reply_to(invite, 183, "Progress"), BOB) == []
    assert srv.core.modules["pv"].vars["code"] == 183
    assert lines(srv.handle(reply_to(invite, 180, "Ringing"), BOB)) == ["SIP/2.0 180 Ringing"]
    assert lines(srv.handle(reply_to(invite, 200, "OK"), BOB)) == ["SIP/2.0 200 OK"]
    assert srv.core.modules["pv"].vars["code"] == 200


def test_t_req_in_onreply_route_reads_the_request() -> None:
    srv = server('''
request_route { t_on_reply("R"); t_relay(); }
onreply_route[R] { $var(m) = $T_req($rm); }
''')
    fwd = srv.handle(request(), ALICE)[0]
    srv.handle(reply_to(fwd, 200, "OK"), BOB)
    assert srv.core.modules["pv"].vars["m"] == "MESSAGE"


def test_onreply_route_sees_and_keeps_the_transaction_s_flags_and_avps_and_the_branch_flags() -> None:
    srv = server('''
request_route { setflag(3); setbflag(4); $avp(x) = "kept"; t_on_reply("R"); t_relay(); }
onreply_route[R] {
    if (isflagset(3)) { $var(f) = "flag"; }
    if (isbflagset(4)) { $var(b) = "bflag"; }
    $var(a) = $avp(x);
    if (isflagset(5)) { $var(again) = "kept"; }
    setflag(5);
}
''', 'loadmodule "kex.so"\n')
    fwd = srv.handle(request(), ALICE)[0]
    srv.handle(reply_to(fwd, 180, "Ringing"), BOB)
    assert {k: srv.core.modules["pv"].vars.get(k) for k in ("f", "b", "a", "again")} == \
        {"f": "flag", "b": "bflag", "a": "kept", "again": 0}
    srv.handle(reply_to(fwd, 200, "OK"), BOB)
    assert srv.core.modules["pv"].vars.get("again") == "kept"  # a flag set there stays on the transaction
