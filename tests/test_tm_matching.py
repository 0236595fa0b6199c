"""tm: what transaction matching compares (ruri_matching, via1_matching, callid_matching,
callid_cseq_matching), and t_reply's default_code / default_reason."""
from __future__ import annotations

import pytest

from kampy.runtime.context import Outgoing
from kampy.api import hash2_raw
from tests.tmkit import ALICE, BOB, lines, parsed, reply_to, request, server

LOOKUP = ('request_route { if (t_lookup_request()) { sl_send_reply("299", "Known"); exit; } '
          't_newtran(); t_reply("404", "New"); }')
OLD = "old-1"  # an RFC 2543 branch: no z9hG4bK cookie


def _again(params: str, first: bytes, second: bytes) -> list[str]:
    srv = server(LOOKUP, params)
    assert lines(srv.handle(first, ALICE)) == ["SIP/2.0 404 New"]
    return lines(srv.handle(second, ALICE))


@pytest.mark.parametrize(("params", "expected"), [
    ("", "SIP/2.0 404 New"), ('modparam("tm", "ruri_matching", 0)\n', "SIP/2.0 299 Known")])
def test_ruri_matching_decides_whether_an_old_style_request_with_another_ruri_matches(
        params: str, expected: str) -> None:
    first = request(branch=OLD)
    second = request(ruri="sip:carol@198.51.100.30:5090", branch=OLD)
    assert _again(params, first, second) == [expected]


@pytest.mark.parametrize(("params", "expected"), [
    ("", "SIP/2.0 404 New"), ('modparam("tm", "via1_matching", 0)\n', "SIP/2.0 299 Known")])
def test_via1_matching_decides_whether_an_old_style_request_with_another_via_matches(
        params: str, expected: str) -> None:
    first = request(branch=OLD)
    second = request(branch="old-2")
    assert _again(params, first, second) == [expected]


def test_without_ruri_and_via1_matching_the_other_fields_still_count() -> None:
    params = 'modparam("tm", "ruri_matching", 0)\nmodparam("tm", "via1_matching", 0)\n'
    assert _again(params, request(branch=OLD), request(branch="old-2", cseq=2)) == ["SIP/2.0 404 New"]


def test_a_request_with_another_call_id_is_looked_for_in_another_hash_slot() -> None:
    first = request()
    second = first.replace(b"Call-ID: call-1@", b"Call-ID: call-9@")
    assert _again("", first, second) == ["SIP/2.0 404 New"]


def test_a_request_with_a_live_transactions_branch_and_another_cseq_number_is_a_new_transaction() -> None:
    # it goes to another hash slot in Kamailio: the RFC 3261 key alone does not make it the same
    assert _again("", request(cseq=1), request(cseq=2)) == ["SIP/2.0 404 New"]


def test_a_request_with_a_live_transactions_branch_and_another_cseq_number_is_relayed() -> None:
    srv = server("request_route { t_relay(); }")
    relayed = ["REGISTER sip:bob@198.51.100.20:5080 SIP/2.0"]
    assert lines(srv.handle(request("REGISTER", cseq=1), ALICE)) == relayed
    assert lines(srv.handle(request("REGISTER", cseq=2), ALICE)) == relayed


# a Call-ID whose hash slot (with CSeq 1) is call-1@192.0.2.10's: hash2_raw(...) & 0xFFFF
SAME_SLOT = b"Call-ID: call-37298x@"


@pytest.mark.parametrize(("params", "expected"), [
    ("", "SIP/2.0 299 Known"), ('modparam("tm", "callid_matching", 1)\n', "SIP/2.0 404 New")])
def test_callid_matching_decides_whether_a_request_with_another_call_id_of_its_slot_matches(
        params: str, expected: str) -> None:
    first = request()
    second = first.replace(b"Call-ID: call-1@", SAME_SLOT)
    assert hash2_raw("call-1@192.0.2.10", "1") & 0xFFFF == hash2_raw("call-37298x@192.0.2.10", "1") & 0xFFFF
    assert _again(params, first, second) == [expected]


def _relayed_invite(params: str):  # noqa: ANN202
    srv = server("request_route { t_relay(); }", params)
    return srv, srv.handle(request("INVITE"), ALICE)[1]


def test_a_reply_with_a_mangled_call_id_matches_without_callid_matching() -> None:
    srv, invite = _relayed_invite("")
    busy = reply_to(invite, 486, "Busy Here").replace(b"Call-ID: call-1@", b"Call-ID: call-9@")
    assert lines(srv.handle(busy, BOB))[0].startswith("ACK ")  # tm's hop-by-hop ACK


def test_a_reply_with_a_mangled_call_id_does_not_match_with_callid_matching() -> None:
    srv, invite = _relayed_invite('modparam("tm", "callid_matching", 1)\n')
    busy = reply_to(invite, 486, "Busy Here").replace(b"Call-ID: call-1@", b"Call-ID: call-9@")
    assert not any(line.startswith("ACK ") for line in lines(srv.handle(busy, BOB)))


def _mangled_md5(invite: Outgoing, code: int) -> bytes:
    branch = parsed(invite).via.branch
    prefix, md5, index = branch.split(".")
    return reply_to(invite, code, "Busy Here").replace(branch.encode(),
                                                             f"{prefix}.{'f' * 32}.{index}".encode())


def test_a_reply_whose_branch_md5_changed_does_not_match_by_default() -> None:
    srv, invite = _relayed_invite("")
    assert not any(line.startswith("ACK ") for line in lines(srv.handle(_mangled_md5(invite, 486), BOB)))


def test_callid_cseq_matching_matches_a_reply_by_call_id_and_cseq_instead_of_the_md5() -> None:
    srv, invite = _relayed_invite('modparam("tm", "callid_cseq_matching", 1)\n')
    out = lines(srv.handle(_mangled_md5(invite, 486), BOB))
    assert out == ["ACK sip:bob@198.51.100.20:5080 SIP/2.0", "SIP/2.0 486 Busy Here"]


def test_callid_cseq_matching_wants_the_call_id_and_cseq_of_the_transaction() -> None:
    srv, invite = _relayed_invite('modparam("tm", "callid_cseq_matching", 1)\n')
    busy = _mangled_md5(invite, 486).replace(b"CSeq: 1 INVITE", b"CSeq: 7 INVITE")
    assert not any(line.startswith("ACK ") for line in lines(srv.handle(busy, BOB)))


def test_matching_follows_a_cfg_change_at_run_time() -> None:
    srv = server(LOOKUP, 'loadmodule "cfg_rpc"\n')
    srv.core.rpc.call("cfg.set_now_int", ["tm", "ruri_matching", 0])
    srv.handle(request(branch=OLD), ALICE)
    assert lines(srv.handle(request(ruri="sip:carol@198.51.100.30:5090", branch=OLD), ALICE)) == [
        "SIP/2.0 299 Known"]


DEFAULTS = 'modparam("tm", "default_code", 503)\nmodparam("tm", "default_reason", "Try Later")\n'


def test_t_reply_with_unset_code_and_reason_sends_default_code_and_reason() -> None:
    srv = server('request_route { t_newtran(); t_reply("$avp(code)", "$avp(reason)"); }', DEFAULTS)
    assert lines(srv.handle(request(), ALICE)) == ["SIP/2.0 503 Try Later"]


def test_t_reply_with_a_code_that_is_not_a_number_sends_default_code() -> None:
    srv = server('request_route { $var(code) = "abc"; t_send_reply("$var(code)", "Odd"); }', DEFAULTS)
    assert lines(srv.handle(request(), ALICE)) == ["SIP/2.0 503 Odd"]


def test_t_reply_defaults_are_kamailios() -> None:
    srv = server('request_route { t_send_reply("$avp(code)", "$avp(reason)"); }')
    assert lines(srv.handle(request(), ALICE)) == ["SIP/2.0 500 Server Internal Error"]


def test_t_reply_with_set_pseudo_variables_uses_their_values() -> None:
    srv = server('request_route { $avp(code) = 486; $avp(reason) = "Busy"; '
                 't_send_reply("$avp(code)", "$avp(reason)"); }', DEFAULTS)
    assert lines(srv.handle(request(), ALICE)) == ["SIP/2.0 486 Busy"]
