"""tm: the Reason of the CANCELs it sends, the routes it runs for what it makes itself and for stray
replies, redirects, aggregated challenges and the other reply settings (Kamailio 5.6's tm)."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kampy.api import TMCB_LOCAL_COMPLETED, TMCB_LOCAL_RESPONSE_OUT
from kampy.config.pipeline import load_text
from kampy.runtime.context import Socket
from kampy.runtime.server import Server
from kampy.sip.message import Request, Response
from tests.tmkit import (
    ALICE,
    BOB,
    CAROL,
    HEADER,
    SOCKET,
    FakeClock,
    advance,
    lines,
    parsed,
    reply_to,
    request,
    two_workers,
)
from tests.tmkit import server as tm_server


def server(routes: str, params: str = "") -> Server:
    return tm_server(routes, 'loadmodule "corex"\nloadmodule "textops"\n' + params)


FORK = 'request_route { append_branch("sip:carol@198.51.100.30:5090"); t_relay(); }'


def _fork(srv, extra: str = ""):  # type: ignore[no-untyped-def]
    """An INVITE forked to Bob and Carol, both ringing: (Bob's INVITE, Carol's INVITE)."""
    out = srv.handle(request("INVITE", extra=extra), ALICE)
    invites = [o for o in out if o.data.startswith(b"INVITE")]
    srv.handle(reply_to(invites[0], 180, "Ringing"), BOB)
    srv.handle(reply_to(invites[1], 180, "Ringing", to_tag="ct1"), CAROL)
    return invites


def _cancels(out) -> list[Request]:  # type: ignore[no-untyped-def]
    return [m for m in map(parsed, out) if isinstance(m, Request) and m.method == "CANCEL"]


# ------------------------------------------------------------------ the Reason of a CANCEL


def test_a_cancel_sent_because_another_branch_answered_says_call_completed_elsewhere() -> None:
    srv = server(FORK)
    bob, _ = _fork(srv)
    out = srv.handle(reply_to(bob, 200, "OK"), BOB)
    [cancel] = _cancels(out)
    assert cancel.headers_named("reason") == ['SIP;cause=200;text="Call completed elsewhere"']


def test_a_cancel_sent_because_of_a_6xx_gives_its_code_as_cause() -> None:
    srv = server(FORK)
    bob, _ = _fork(srv)
    out = srv.handle(reply_to(bob, 603, "Decline"), BOB)
    [cancel] = _cancels(out)
    assert cancel.headers_named("reason") == ["SIP;cause=603"]


def test_local_cancel_reason_off_sends_the_cancel_without_a_reason() -> None:
    srv = server(FORK, 'modparam("tm", "local_cancel_reason", 0)')
    bob, _ = _fork(srv)
    [cancel] = _cancels(srv.handle(reply_to(bob, 200, "OK"), BOB))
    assert not cancel.has_header("reason")


CANCEL_REASON = "Reason: Q.850;cause=16;text=\"Normal call clearing\"\r\n"


def test_the_reason_of_a_cancel_received_is_copied_into_the_cancels_sent() -> None:
    srv = server(FORK)
    _fork(srv)
    cancels = _cancels(srv.handle(request("CANCEL", extra=CANCEL_REASON), ALICE))
    copied = ['Q.850;cause=16;text="Normal call clearing"']
    assert [c.headers_named("reason") for c in cancels] == [copied, copied]


def test_a_cancel_that_waited_for_a_provisional_carries_the_reason_received() -> None:
    srv = server("request_route { t_relay(); }")
    invite = srv.handle(request("INVITE"), ALICE)[1]
    assert lines(srv.handle(request("CANCEL", extra=CANCEL_REASON), ALICE)) == ["SIP/2.0 200 canceling"]
    [cancel] = _cancels(srv.handle(reply_to(invite, 180, "Ringing"), BOB))
    assert cancel.headers_named("reason") == ['Q.850;cause=16;text="Normal call clearing"']


def test_e2e_cancel_reason_off_keeps_the_reason_received_to_itself() -> None:
    srv = server(FORK, 'modparam("tm", "e2e_cancel_reason", 0)')
    _fork(srv)
    cancels = _cancels(srv.handle(request("CANCEL", extra=CANCEL_REASON), ALICE))
    assert len(cancels) == 2 and not any(c.has_header("reason") for c in cancels)


@pytest.mark.parametrize("function", ["t_set_no_e2e_cancel_reason", "t_disable_e2e_cancel_reason"])
def test_t_set_no_e2e_cancel_reason_on_the_invite_turns_the_copy_off(function: str) -> None:
    srv = server(f'request_route {{ if (method == "INVITE") {function}(1); '
                 'append_branch("sip:carol@198.51.100.30:5090"); t_relay(); }')
    _fork(srv)
    cancels = _cancels(srv.handle(request("CANCEL", extra=CANCEL_REASON), ALICE))
    assert len(cancels) == 2 and not any(c.has_header("reason") for c in cancels)


def test_t_set_no_e2e_cancel_reason_0_turns_the_copy_back_on() -> None:
    srv = server('request_route { if (method == "INVITE") t_set_no_e2e_cancel_reason(0); t_relay(); }',
                 'modparam("tm", "e2e_cancel_reason", 0)')
    invite = srv.handle(request("INVITE"), ALICE)[1]
    srv.handle(reply_to(invite, 180, "Ringing"), BOB)
    [cancel] = _cancels(srv.handle(request("CANCEL", extra=CANCEL_REASON), ALICE))
    assert cancel.has_header("reason")


# ------------------------------------------------------------------ the To of a CANCEL

REWRITE_TO = ('request_route { if (method == "INVITE") { '
              'subst_hf("To", "/bob@example.test/dave@example.test/", "a"); %s } t_relay(); }')


def test_a_cancel_has_the_to_of_the_invite_received() -> None:
    srv = server(REWRITE_TO % "")
    invite = srv.handle(request("INVITE"), ALICE)[1]
    assert "dave@" in parsed(invite).header("to")
    srv.handle(reply_to(invite, 180, "Ringing"), BOB)
    [cancel] = _cancels(srv.handle(request("CANCEL"), ALICE))
    assert cancel.header("to") == "<sip:bob@example.test>"


def test_t_use_uac_headers_gives_a_cancel_the_to_of_the_invite_sent() -> None:
    srv = server(REWRITE_TO % "t_use_uac_headers();")
    invite = srv.handle(request("INVITE"), ALICE)[1]
    srv.handle(reply_to(invite, 180, "Ringing"), BOB)
    [cancel] = _cancels(srv.handle(request("CANCEL"), ALICE))
    assert cancel.header("to") == "<sip:dave@example.test>"


# ------------------------------------------------------------------ event_route[tm:local-request]

UAC = ('request_route { t_uac_send("MESSAGE", "sip:bob@198.51.100.20:5080", "", "", '
       '"From: <sip:alice@example.test>\\r\\nTo: <sip:bob@example.test>", "hi"); '
       'sl_send_reply(200, "OK"); }\n')


def _local(srv):  # type: ignore[no-untyped-def]
    return [m for m in map(parsed, srv.handle(request("OPTIONS"), ALICE)) if isinstance(m, Request)]


def test_local_request_route_changes_the_request_tm_sends() -> None:
    srv = server(UAC + 'event_route[tm:local-request] { append_hf("X-Local: $rm to $du\\r\\n"); '
                 '$ru = "sip:robert@198.51.100.20:5080"; }')
    [message] = _local(srv)
    assert message.header("x-local") == "MESSAGE to sip:bob@198.51.100.20:5080"
    assert message.uri == "sip:robert@198.51.100.20:5080" and message.body == b"hi"


def test_local_request_route_ending_with_drop_keeps_the_request_from_going_out() -> None:
    srv = server(UAC + 'event_route[tm:local-request] { drop; }')
    assert _local(srv) == []


def test_t_set_fr_in_local_request_route_sets_the_timer_of_the_local_transaction() -> None:
    srv = server(UAC + 'event_route[tm:local-request] { t_set_fr(0, 2000); }')
    _local(srv)
    advance(srv, 2.1)
    assert [o for o in advance(srv, 10) if o.data.startswith(b"MESSAGE")] == []  # timed out: no more resends


# ------------------------------------------------------------------ event_route[tm:local-response]


def test_local_response_route_runs_with_the_reply_tm_sent() -> None:
    srv = server('request_route { if (method == "INVITE") { t_send_reply(486, "Busy Here"); exit; } '
                 'sl_send_reply(200, "r: $shv(code) $shv(seen)"); }\n'
                 'event_route[tm:local-response] { $shv(code) = $rs; $shv(seen) = $rr; }')
    srv.handle(request("INVITE"), ALICE)
    assert lines(srv.handle(request("MESSAGE", branch="z9hG4bK-m2", cseq=2), ALICE)) == [
        "SIP/2.0 200 r: 486 Busy Here"]


def test_local_response_route_runs_for_every_reply_of_tm_s_own() -> None:
    srv = server('modparam("pv", "shvset", "n=i:0")\n'
                 'request_route { if (method != "OPTIONS") { t_send_reply(480, "Later"); exit; } '
                 'sl_send_reply(200, "n=$shv(n)"); }\n'
                 'event_route[tm:local-response] { $shv(n) = $shv(n) + 1; }')
    srv.handle(request("INVITE"), ALICE)
    srv.handle(request("MESSAGE", branch="z9hG4bK-m2", cseq=2), ALICE)
    assert lines(srv.handle(request("OPTIONS", branch="z9hG4bK-o3", cseq=3), ALICE)) == ["SIP/2.0 200 n=2"]


# ------------------------------------------------------------------ on_sl_reply

STRAY = ("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-stray\r\n"
         "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-a1\r\nFrom: <sip:a@example.test>;tag=1\r\n"
         "To: <sip:b@example.test>;tag=2\r\nCall-ID: stray@x\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize(("body", "relayed"), [("drop;", False), ("return 0;", False), ("return 1;", True),
                                                ("exit;", True), ("xlog(\"stray\");", True)])
def test_on_sl_reply_route_decides_whether_a_stray_reply_is_relayed(body: str, relayed: bool) -> None:
    srv = server('request_route { t_relay(); }\nonreply_route[stray] { ' + body + ' }',
                 'loadmodule "xlog"\nmodparam("tm", "on_sl_reply", "stray")')
    out = srv.handle(STRAY.encode(), BOB)
    assert lines(out) == (["SIP/2.0 200 OK"] if relayed else [])


# ------------------------------------------------------------------ redirects


def test_a_3xx_t_reply_lists_the_destination_set_as_contact() -> None:
    srv = server('request_route { append_branch("sip:b2@example.test", "0.5"); t_newtran(); '
                 't_reply(302, "Moved"); }')
    [reply] = map(parsed, srv.handle(request("MESSAGE"), ALICE))
    assert reply.headers_named("contact") == ["<sip:b2@example.test>;q=0.5"]


def test_rich_redirect_1_adds_the_branch_flags() -> None:
    srv = server('request_route { $ru = "sip:b1@example.test"; setbflag(2); t_newtran(); '
                 't_reply(302, "Moved"); }',
                 'loadmodule "kex"\nmodparam("tm", "rich_redirect", 1)')
    [reply] = map(parsed, srv.handle(request("MESSAGE"), ALICE))
    assert reply.headers_named("contact") == ["<sip:b1@example.test>;flags=4"]


# ------------------------------------------------------------------ aggregated challenges

CHALLENGE = {401: 'WWW-Authenticate: Digest realm="bob.test", nonce="n1"\r\n',
             407: 'Proxy-Authenticate: Digest realm="carol.test", nonce="n2"\r\n'}


def _challenged(params: str = "") -> Response:
    srv = server(FORK, params)
    out = srv.handle(request("INVITE"), ALICE)
    bob, carol = [o for o in out if o.data.startswith(b"INVITE")]
    srv.handle(reply_to(bob, 401, "Unauthorized", extra=CHALLENGE[401]), BOB)
    out = srv.handle(reply_to(carol, 407, "Proxy Authentication Required", to_tag="ct1",
                              extra=CHALLENGE[407]), CAROL)
    [final] = [m for m in map(parsed, out) if isinstance(m, Response)]
    return final


def test_the_challenges_of_several_401_and_407_are_aggregated_in_one_reply() -> None:
    final = _challenged()
    assert (final.status, final.reason) == (401, "Unauthorized")
    assert final.headers_named("www-authenticate") == ['Digest realm="bob.test", nonce="n1"']
    assert final.headers_named("proxy-authenticate") == ['Digest realm="carol.test", nonce="n2"']


def test_aggregate_challenges_off_relays_the_picked_401_alone() -> None:
    final = _challenged('modparam("tm", "aggregate_challenges", 0)')
    assert final.status == 401 and not final.has_header("proxy-authenticate")
    assert final.header("to").endswith("tag=bt1")


# ------------------------------------------------------------------ pass_provisional_replies

PROBED = f'loadpath "{Path(__file__).parent / "support" / "modules"}"\nloadmodule "tmprobe"\n' \
         'modparam("tmprobe", "request_in", 0)\nmodparam("tmprobe", "local_request_in", 1)\n'
PROBE = PROBED + f'modparam("tmprobe", "types", {TMCB_LOCAL_RESPONSE_OUT})\n'
PROBE_COMPLETED = PROBED + f'modparam("tmprobe", "types", {TMCB_LOCAL_COMPLETED})\n'


@pytest.mark.parametrize(("mode", "seen"), [(1, [180]), (0, [])])
def test_pass_provisional_replies_runs_local_response_out_for_provisionals(mode: int,
                                                                           seen: list[int]) -> None:
    srv = server(RELAY, PROBE + f'modparam("tm", "pass_provisional_replies", {mode})')
    probe = srv.core.modules["tmprobe"]
    srv.core.offered("tm").t_request("MESSAGE", "sip:bob@198.51.100.20:5080", "sip:bob@example.test",
                                     "sip:alice@example.test", body=b"hi")
    sent = srv.core.take_outbox()[0]
    for code, reason in ((100, "Trying"), (180, "Ringing"), (200, "OK")):
        srv.handle(reply_to(sent, code, reason), BOB)
    assert [e.code for e in probe.events if e.type == "TMCB_LOCAL_RESPONSE_OUT"] == seen


# ------------------------------------------------------------------ t_save_lumps, exec_time_check

SAVE = '''request_route { t_newtran(); append_hf("hf1: one\\r\\n"); %s append_hf("hf2: two\\r\\n");
    t_on_failure("F"); t_relay(); }
failure_route[F] { $ru = "sip:carol@198.51.100.30:5090"; append_hf("hf3: three\\r\\n"); t_relay(); }'''


@pytest.mark.parametrize(("save", "kept"), [("t_save_lumps();", ["hf1", "hf3"]),
                                            ("", ["hf1", "hf2", "hf3"])])
def test_t_save_lumps_fixes_the_changes_failure_route_branches_start_from(save: str, kept: list[str]) -> None:
    srv = server(SAVE % save)
    invite = [o for o in srv.handle(request("INVITE"), ALICE) if o.data.startswith(b"INVITE")][0]
    out = srv.handle(reply_to(invite, 486, "Busy Here"), BOB)
    [second] = [m for m in map(parsed, out) if isinstance(m, Request) and m.method == "INVITE"]
    assert [h for h in ("hf1", "hf2", "hf3") if second.has_header(h)] == kept


def test_a_failure_route_running_past_exec_time_check_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    srv = server('request_route { t_on_failure("F"); t_relay(); }\nfailure_route[F] { t_reply(500, "F"); }',
                 'modparam("tm", "exec_time_check", 100)')
    invite = srv.handle(request("INVITE"), ALICE)[1]
    clock = srv.core.clock
    ticking = clock.monotonic

    def slow() -> float:
        clock.mono += 0.06
        return ticking()

    clock.monotonic = slow  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="kampy.tm"):
        srv.handle(reply_to(invite, 486, "Busy Here"), BOB)
    assert "failure route execution took too long" in caplog.text


# ------------------------------------------------------------------ the destination blocklist

BLST = 'use_dst_blocklist=1\nmodparam("tm", "blst_503", 1)\n'
RELAY = "request_route { t_relay(); }"


def _refused_503(srv, retry: str = "Retry-After: 30\r\n") -> None:  # type: ignore[no-untyped-def]
    invite = srv.handle(request("INVITE"), ALICE)[1]
    out = srv.handle(reply_to(invite, 503, "Service Unavailable", extra=retry), BOB)
    assert "SIP/2.0 500 Service Unavailable" in lines(out)


def test_a_503_with_retry_after_blocklists_its_source_and_the_next_branch_fails_there() -> None:
    srv = server(RELAY, BLST)
    _refused_503(srv)
    out = srv.handle(request("INVITE", branch="z9hG4bK-b2", cseq=2), ALICE)
    assert lines(out) == ["SIP/2.0 100 trying -- your call is important to us",
                          "SIP/2.0 477 Unfortunately error on sending to next hop occurred (477/TM)"]


def test_the_blocklist_entry_expires_after_the_retry_after() -> None:
    srv = server(RELAY, BLST)
    _refused_503(srv)
    advance(srv, 31)
    out = srv.handle(request("INVITE", branch="z9hG4bK-b2", cseq=2), ALICE)
    assert "INVITE sip:bob@198.51.100.20:5080 SIP/2.0" in lines(out)


@pytest.mark.parametrize("params", [
    'modparam("tm", "blst_503", 1)\n',                              # use_dst_blocklist is off
    'use_dst_blocklist=1\n',                                        # blst_503 is off
    BLST,                                                            # no Retry-After, no default
])
def test_a_503_blocklists_nothing_unless_both_switches_and_a_timeout_say_so(params: str) -> None:
    srv = server(RELAY, params)
    _refused_503(srv, retry="" if params == BLST else "Retry-After: 30\r\n")
    out = srv.handle(request("INVITE", branch="z9hG4bK-b2", cseq=2), ALICE)
    assert "INVITE sip:bob@198.51.100.20:5080 SIP/2.0" in lines(out)


def test_retry_after_is_bounded_by_blst_503_max_timeout() -> None:
    srv = server(RELAY, BLST + 'modparam("tm", "blst_503_max_timeout", 5)')
    _refused_503(srv, "Retry-After: 3600\r\n")
    advance(srv, 6)
    out = srv.handle(request("INVITE", branch="z9hG4bK-b2", cseq=2), ALICE)
    assert "INVITE sip:bob@198.51.100.20:5080 SIP/2.0" in lines(out)


def test_a_bye_is_sent_to_a_blocklisted_destination_by_default() -> None:
    srv = server(RELAY, BLST)
    _refused_503(srv)
    out = srv.handle(request("BYE", branch="z9hG4bK-b2", cseq=2, to_tag="t9"), ALICE)
    assert lines(out) == ["BYE sip:bob@198.51.100.20:5080 SIP/2.0"]


def test_an_invite_nobody_answered_blocklists_its_destination_per_blst_methods_add() -> None:
    srv = server(RELAY, 'use_dst_blocklist=1\ndst_blocklist_expire=10\n')
    srv.handle(request("MESSAGE"), ALICE)
    advance(srv, 31)  # a MESSAGE timing out: not in blst_methods_add (1: INVITE)
    assert "MESSAGE sip:bob@198.51.100.20:5080 SIP/2.0" in lines(
        srv.handle(request("MESSAGE", branch="z9hG4bK-m2", cseq=2), ALICE))
    srv.handle(request("INVITE", branch="z9hG4bK-i3", cseq=3), ALICE)
    advance(srv, 31)  # fr_timer: no reply at all
    assert "SIP/2.0 477 Unfortunately error on sending to next hop occurred (477/TM)" in lines(
        srv.handle(request("INVITE", branch="z9hG4bK-i4", cseq=4), ALICE))


# ------------------------------------------------------------------ reparse_invite, ac_extra_hdrs

ROUTED = ('request_route { if (method == "INVITE") { remove_hf("Route"); append_hf("X-Keep-A: 1\\r\\n"); '
          'append_hf("X-Other: 2\\r\\n"); } t_relay(); }')
PRELOADED = "Route: <sip:198.51.100.99;lr>\r\n"


def _cancel_and_ack(params: str) -> tuple[Request, Request]:
    """The CANCEL of a ringing branch (a CANCEL came) and the ACK of its 487."""
    srv = server(ROUTED, params)
    invite = srv.handle(request("INVITE", extra=PRELOADED), ALICE)[1]
    srv.handle(reply_to(invite, 180, "Ringing"), BOB)
    [cancel] = _cancels(srv.handle(request("CANCEL", extra=PRELOADED), ALICE))
    [ack] = [m for m in map(parsed, srv.handle(reply_to(invite, 487, "Request Terminated"), BOB))
             if isinstance(m, Request)]
    return cancel, ack


def test_cancel_and_negative_ack_are_built_from_the_invite_sent_by_default() -> None:
    cancel, ack = _cancel_and_ack("")
    assert ack.method == "ACK"
    for msg in (cancel, ack):
        assert not msg.has_header("route") and not msg.has_header("x-keep-a")


def test_ac_extra_hdrs_copies_the_headers_of_the_invite_sent_with_that_prefix() -> None:
    cancel, ack = _cancel_and_ack('modparam("tm", "ac_extra_hdrs", "x-keep-")')
    for msg in (cancel, ack):
        assert msg.header("x-keep-a") == "1" and not msg.has_header("x-other")


def test_reparse_invite_0_builds_them_from_the_invite_received() -> None:
    cancel, ack = _cancel_and_ack('modparam("tm", "reparse_invite", 0)')
    for msg in (cancel, ack):
        assert msg.headers_named("route") == ["<sip:198.51.100.99;lr>"]
        assert msg.uri == "sip:bob@198.51.100.20:5080" and msg.header("max-forwards") == "70"
    assert cancel.via.branch == ack.via.branch


def _names(msg: Request) -> list[str]:
    return [line.split(b":")[0].decode() for line in msg.to_bytes().split(b"\r\n\r\n")[0].split(b"\r\n")[1:]]


def test_cancel_and_negative_ack_keep_the_header_order_of_the_invite_sent() -> None:
    # Kamailio 5.6's build_local_reparse walks the INVITE sent line by line (its Route after CSeq here)
    srv = server("request_route { t_relay(); }")
    invite = srv.handle(request("INVITE", extra="Route: <sip:198.51.100.20:5080;lr>\r\nX-A: 1\r\n"), ALICE)[1]
    srv.handle(reply_to(invite, 180, "Ringing"), BOB)
    [cancel] = _cancels(srv.handle(request("CANCEL"), ALICE))
    [ack] = [m for m in map(parsed, srv.handle(reply_to(invite, 487, "Request Terminated"), BOB))
             if isinstance(m, Request)]
    order = ["Via", "Max-Forwards", "From", "To", "Call-ID", "CSeq", "Route", "Content-Length"]
    assert _names(cancel) == _names(ack) == order


@pytest.mark.parametrize(("params", "user_agent"), [
    ('user_agent_header="User-Agent: my ua"', "my ua"), ("server_signature=no", None)])
def test_reparse_invite_0_gives_a_local_invites_cancel_and_ack_the_user_agent(params: str,
                                                                              user_agent: str | None) -> None:
    srv = server("request_route { exit; }", f'{params}\nmodparam("tm", "reparse_invite", 0)')
    srv.core.rpc.call("tm.t_uac_start", ["INVITE", "sip:bob@198.51.100.20:5080", ".", ".",
                                         "From: <sip:k@example.test>\r\nTo: <sip:bob@example.test>\r\n"])
    invite = srv.core.take_outbox()[0]
    srv.handle(reply_to(invite, 180, "Ringing"), BOB)
    sent = parsed(invite)
    srv.core.rpc.call("tm.cancel", [sent.call_id, str(sent.cseq.num)])
    [cancel] = _cancels(srv.core.take_outbox())
    [ack] = [m for m in map(parsed, srv.handle(reply_to(invite, 487, "Request Terminated"), BOB))
             if isinstance(m, Request)]
    for msg in (cancel, ack):
        assert msg.header("user-agent") == user_agent
        assert _names(msg)[:6] == ["Via", "From", "Call-ID", "To", "CSeq", "Max-Forwards"]


# ------------------------------------------------------------------ failure_exec_mode

# 65,480 bytes received: with the proxy's Via the relayed request does not fit in a UDP datagram
HUGE = "x" * (65480 - len(request("MESSAGE", extra="Content-Type: text/plain\r\n")))
HELD = ('request_route { t_on_failure("F"); if (!t_relay()) { sl_send_reply(500, "relay failed"); } }\n'
        'failure_route[F] { if (t_branch_timeout()) { t_reply(503, "Held"); } }')


def test_a_branch_that_cannot_be_sent_fails_t_relay_by_default() -> None:
    srv = server(HELD)
    out = srv.handle(request("MESSAGE", body=HUGE, extra="Content-Type: text/plain\r\n"), ALICE)
    assert sorted(lines(out)) == ["SIP/2.0 477 Unfortunately error on sending to next hop occurred (477/TM)",
                                  "SIP/2.0 500 relay failed"]  # t_relay() returned false


def test_failure_exec_mode_keeps_it_on_hold_for_failure_route_after_the_timeout() -> None:
    srv = server(HELD, 'modparam("tm", "failure_exec_mode", 1)')
    assert srv.handle(request("MESSAGE", body=HUGE, extra="Content-Type: text/plain\r\n"), ALICE) == []
    out = advance(srv, 31)
    assert lines(out) == ["SIP/2.0 503 Held"]  # nothing went to the callee meanwhile


# ------------------------------------------------------------------ enable_uac_fr

UAC_FR = (UAC + 'event_route[tm:local-request] { if ($rU == "bob") t_on_failure("RETRY"); }\n'
          'failure_route[RETRY] { $ru = "sip:carol@198.51.100.30:5090"; t_relay(); }')


@pytest.mark.parametrize(("mode", "retried"), [(1, ["MESSAGE sip:carol@198.51.100.30:5090 SIP/2.0"]),
                                               (0, [])])
def test_enable_uac_fr_runs_failure_route_for_a_local_request(mode: int, retried: list[str]) -> None:
    srv = server(UAC_FR, f'modparam("tm", "enable_uac_fr", {mode})')
    [message] = [o for o in srv.handle(request("OPTIONS"), ALICE) if o.data.startswith(b"MESSAGE")]
    out = srv.handle(reply_to(message, 486, "Busy Here"), BOB)
    assert [line for line in lines(out) if line.startswith("MESSAGE")] == retried
    if mode:
        assert parsed(out[-1]).body == b"hi"
        assert srv.handle(reply_to(out[-1], 200, "OK"), CAROL) == []


def test_a_local_request_retried_by_failure_route_completes_with_the_new_branch() -> None:
    srv = server('request_route { t_relay(); }', PROBE_COMPLETED + 'modparam("tm", "enable_uac_fr", 1)\n'
                 'event_route[tm:local-request] { if ($rU == "bob") t_on_failure("RETRY"); }\n'
                 'failure_route[RETRY] { $ru = "sip:carol@198.51.100.30:5090"; t_relay(); }')
    probe = srv.core.modules["tmprobe"]
    srv.core.offered("tm").t_request("MESSAGE", "sip:bob@198.51.100.20:5080", "sip:bob@example.test",
                                     "sip:alice@example.test", body=b"hi")
    first = srv.core.take_outbox()[0]
    [retry] = srv.handle(reply_to(first, 486, "Busy Here"), BOB)
    srv.handle(reply_to(retry, 200, "OK", to_tag="ct1"), CAROL)
    assert [(e.type, e.code) for e in probe.events if e.type == "TMCB_LOCAL_COMPLETED"] == [
        ("TMCB_LOCAL_COMPLETED", 200)]


# ------------------------------------------------------------------ suspended replies, late 2xx

SUSPENDING = '''request_route { t_on_reply("R"); t_relay(); }
onreply_route[R] {
    if (t_is_retr_async_reply()) { xlog("L_INFO", "retransmission of $rs while suspended\\n"); drop; }
    if ($rs == 180) { t_suspend(); }
}'''


def test_t_is_retr_async_reply_is_true_while_a_reply_of_the_transaction_is_suspended(
        caplog: pytest.LogCaptureFixture) -> None:
    srv = server(SUSPENDING, 'loadmodule "xlog"\n')
    invite = srv.handle(request("INVITE"), ALICE)[1]
    with caplog.at_level(logging.INFO):
        assert srv.handle(reply_to(invite, 180, "Ringing"), BOB) == []  # suspended
        assert "retransmission" not in caplog.text
        assert srv.handle(reply_to(invite, 180, "Ringing"), BOB) == []  # dropped
    assert "retransmission of 180 while suspended" in caplog.text


PUSHED = '''request_route { t_on_reply("R"); t_relay(); }
onreply_route[R] { if ($rs == 183) { t_reply(486, "Busy Here"); } }'''


@pytest.mark.parametrize(("mode", "kept"), [(1, "SIP/2.0 486 Busy Here"), (0, "SIP/2.0 200 OK")])
def test_a_2xx_after_the_final_reply_is_relayed_and_reply_relay_mode_says_if_it_becomes_the_reply(
        mode: int, kept: str) -> None:
    srv = server(PUSHED, f'modparam("tm", "reply_relay_mode", {mode})')
    invite = srv.handle(request("INVITE"), ALICE)[1]
    assert "SIP/2.0 486 Busy Here" in lines(srv.handle(reply_to(invite, 183, "Progress"), BOB))
    assert "SIP/2.0 200 OK" in lines(srv.handle(reply_to(invite, 200, "OK"), BOB))
    assert lines(srv.handle(request("INVITE"), ALICE)) == [kept]  # what a retransmission gets


def test_a_socket_set_in_local_request_route_sends_the_request_from_it_with_its_via() -> None:
    other = Socket("udp", "127.0.0.2", 5070)
    compiled = load_text(HEADER + 'loadmodule "corex"\nloadmodule "textops"\n' + UAC
                         + 'event_route[tm:local-request] { $fs = "udp:127.0.0.2:5070"; }', "tm-test.cfg")
    srv = Server.from_config(compiled, sockets=[SOCKET, other], clock=FakeClock())
    [message] = [o for o in srv.handle(request("OPTIONS"), ALICE) if o.data.startswith(b"MESSAGE")]
    assert message.local == other
    via = parsed(message).via
    assert (via.host, via.port) == ("127.0.0.2", 5070) and via.branch.startswith("z9hG4bK")


def test_the_blocklist_is_shared_by_the_workers() -> None:
    with two_workers('loadmodule "corex"\nloadmodule "textops"\n' + RELAY, BLST) as (one, two):
        _refused_503(one)
        out = two.handle(request("INVITE", branch="z9hG4bK-w2", cseq=2), ALICE)
        assert "SIP/2.0 477 Unfortunately error on sending to next hop occurred (477/TM)" in lines(out)


def test_a_change_made_after_the_first_t_relay_is_not_in_failure_route_branches() -> None:
    srv = server(SAVE.replace("append_hf(\"hf2: two\\r\\n\");\n    t_on_failure(\"F\"); t_relay();",
                              "t_on_failure(\"F\"); t_relay(); append_hf(\"hf2: two\\r\\n\");") % "")
    invite = [o for o in srv.handle(request("INVITE"), ALICE) if o.data.startswith(b"INVITE")][0]
    out = srv.handle(reply_to(invite, 486, "Busy Here"), BOB)
    [second] = [m for m in map(parsed, out) if isinstance(m, Request) and m.method == "INVITE"]
    assert [h for h in ("hf1", "hf2", "hf3") if second.has_header(h)] == ["hf1", "hf3"]


def test_a_branch_that_could_not_be_sent_blocklists_its_destination() -> None:
    srv = server(HELD, 'use_dst_blocklist=1\n')
    srv.handle(request("MESSAGE", body=HUGE, extra="Content-Type: text/plain\r\n"), ALICE)
    out = srv.handle(request("MESSAGE", branch="z9hG4bK-m2", cseq=2), ALICE)
    assert "SIP/2.0 477 Unfortunately error on sending to next hop occurred (477/TM)" in lines(out)
