"""Matching messages to transactions (RFC 3261 17.1.3, 17.2.3, 9.2, RFC 2543 fallback); TimerConfig."""
from __future__ import annotations

import pytest

from kampy.sip.message import Request
from kampy.sip.transaction import (
    ClientTransaction,
    ServerTransaction,
    TimerConfig,
    TransactionError,
    TransactionTable,
    build_ack,
    build_cancel,
    client_key,
    server_key,
)
from tests.test_transaction_support import INVITE, MESSAGE, reply, request

OLD_VIA = b"Via: SIP/2.0/UDP proxy.atlanta.com;branch=z9hG4bK-px-1"
INVITE_2543 = INVITE.replace(OLD_VIA, b"Via: SIP/2.0/UDP proxy.atlanta.com")


def with_via(data: bytes, via: bytes) -> Request:
    return request(data.replace(OLD_VIA, via))


def server(data: bytes = INVITE,
           table: TransactionTable | None = None) -> tuple[TransactionTable, ServerTransaction]:
    table = table if table is not None else TransactionTable()
    tx, _ = ServerTransaction.new(data, reliable=False, now=0.0)
    table.add(tx)
    return table, tx


def client(data: bytes = INVITE,
           table: TransactionTable | None = None) -> tuple[TransactionTable, ClientTransaction]:
    table = table if table is not None else TransactionTable()
    tx, _ = ClientTransaction.new(data, reliable=False, now=0.0)
    table.add(tx)
    return table, tx


# --- client side (17.1.3) --------------------------------------------------------------------------

def test_client_key_is_branch_and_cseq_method():
    assert client_key(request()) == ("z9hG4bK-px-1", "INVITE")


def test_response_matches_client_transaction_by_branch_and_method():
    table, tx = client()
    assert table.match_response(reply(INVITE, 180)) is tx


def test_response_with_other_branch_matches_nothing():
    table, _ = client()
    resp = reply(INVITE.replace(b"z9hG4bK-px-1", b"z9hG4bK-px-9"), 180)
    assert table.match_response(resp) is None


def test_response_with_other_cseq_method_matches_nothing():
    table, _ = client()
    resp = reply(INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: 314159 BYE"), 200)
    assert table.match_response(resp) is None


def test_response_to_cancel_matches_the_cancel_not_the_invite():
    table, invite_tx = client()
    _, cancel_tx = client(build_cancel(request()).to_bytes(), table)
    assert table.match_response(reply(build_cancel(request()), 200)) is cancel_tx
    assert table.match_response(reply(INVITE, 487)) is invite_tx


def test_terminated_client_transaction_matches_nothing():
    table, tx = client()
    tx.terminate()
    assert table.match_response(reply(INVITE, 180)) is None


def test_removed_client_transaction_matches_nothing():
    table, tx = client()
    table.remove(tx)
    assert table.match_response(reply(INVITE, 180)) is None and len(table) == 0


# --- server side, RFC 3261 (17.2.3) ----------------------------------------------------------------

def test_server_key_is_branch_sent_by_and_method():
    assert server_key(request()) == ("3261", "z9hG4bK-px-1", "proxy.atlanta.com:5060", "INVITE")


def test_retransmitted_request_matches_server_transaction():
    table, tx = server()
    assert table.match_request(request()) is tx


def test_same_branch_from_other_sent_by_matches_nothing():
    table, _ = server()
    other = with_via(INVITE, b"Via: SIP/2.0/UDP evil.example.com;branch=z9hG4bK-px-1")
    assert table.match_request(other) is None


def test_sent_by_compares_host_case_insensitively_and_default_port():
    table, tx = server()
    same = with_via(INVITE, b"Via: SIP/2.0/UDP PROXY.atlanta.com:5060;branch=z9hG4bK-px-1;rport")
    assert table.match_request(same) is tx


def test_sent_by_default_port_for_tls_is_5061():
    tls = INVITE.replace(OLD_VIA, b"Via: SIP/2.0/TLS proxy.atlanta.com;branch=z9hG4bK-px-1")
    table, tx = server(tls)
    via = b"Via: SIP/2.0/TLS proxy.atlanta.com:%d;branch=z9hG4bK-px-1"
    assert table.match_request(with_via(INVITE, via % 5061)) is tx
    assert table.match_request(with_via(INVITE, via % 5060)) is None


def test_same_branch_other_method_matches_nothing():
    table, _ = server()
    bye = request(INVITE.replace(b"INVITE", b"BYE"))
    assert table.match_request(bye) is None


def test_new_request_matches_nothing():
    table, _ = server()
    assert table.match_request(request(MESSAGE)) is None


def test_ack_for_non_2xx_matches_invite_server_transaction():
    table, tx = server()
    tx.send_response(reply(INVITE, 486), 0.1)
    ack = build_ack(request(), reply(INVITE, 486))
    assert table.match_request(ack) is tx


def test_ack_still_matches_in_confirmed():
    table, tx = server()
    ack = build_ack(request(), reply(INVITE, 486))
    tx.send_response(reply(INVITE, 486), 0.1)
    tx.on_request(ack, 0.2)
    assert table.match_request(ack) is tx


def test_ack_for_2xx_with_new_branch_matches_nothing():
    table, tx = server()
    tx.send_response(reply(INVITE, 200), 0.1)
    ack = build_ack(with_via(INVITE, b"Via: SIP/2.0/UDP proxy.atlanta.com;branch=z9hG4bK-ack-2xx"),
                    reply(INVITE, 200))
    assert table.match_request(ack) is None


def test_ack_for_2xx_reusing_the_branch_is_left_to_the_tu():
    table, tx = server()
    tx.send_response(reply(INVITE, 200), 0.1)
    assert table.match_request(build_ack(request(), reply(INVITE, 200))) is None


def test_ack_before_a_final_response_matches_nothing():
    table, tx = server()
    tx.send_response(reply(INVITE, 180), 0.1)
    assert table.match_request(build_ack(request(), reply(INVITE, 486))) is None


def test_cancel_is_not_matched_to_the_invite_as_a_retransmission():
    table, _ = server()
    assert table.match_request(build_cancel(request())) is None


def test_cancel_finds_the_invite_it_cancels():
    table, tx = server()
    assert table.match_cancel(build_cancel(request())) is tx


def test_cancel_with_other_branch_finds_nothing():
    table, _ = server()
    cancel = build_cancel(with_via(INVITE, b"Via: SIP/2.0/UDP proxy.atlanta.com;branch=z9hG4bK-other"))
    assert table.match_cancel(cancel) is None


def test_cancel_retransmission_matches_the_cancel_transaction():
    table, invite_tx = server()
    cancel = build_cancel(request())
    _, cancel_tx = server(cancel.to_bytes(), table)
    assert cancel_tx is not invite_tx
    assert table.match_request(cancel) is cancel_tx
    assert table.match_cancel(cancel) is invite_tx


def test_terminated_server_transaction_matches_nothing():
    table, tx = server()
    tx.terminate()
    assert table.match_request(request()) is None and table.match_cancel(build_cancel(request())) is None


# --- server side, RFC 2543 fallback ----------------------------------------------------------------

def test_request_without_magic_cookie_gets_rfc2543_key():
    key = server_key(request(INVITE_2543))
    assert key == ("2543", "sip:bob@192.0.2.4", "1928301774", "a84b4c76e66710", "314159", "INVITE",
                   "SIP/2.0/UDP proxy.atlanta.com")


def test_branch_without_magic_cookie_uses_rfc2543_rules():
    data = INVITE.replace(b"branch=z9hG4bK-px-1", b"branch=old-1")
    assert server_key(request(data))[0] == "2543"


def test_rfc2543_retransmission_matches():
    table, tx = server(INVITE_2543)
    assert table.match_request(request(INVITE_2543)) is tx


@pytest.mark.parametrize("old, new", [
    (b"INVITE sip:bob@192.0.2.4 ", b"INVITE sip:bob@192.0.2.5 "),
    (b"To: Bob <sip:bob@biloxi.com>", b"To: Bob <sip:bob@biloxi.com>;tag=zz"),
    (b"tag=1928301774", b"tag=1928301775"),
    (b"Call-ID: a84b4c76e66710", b"Call-ID: other"),
    (b"CSeq: 314159 INVITE", b"CSeq: 314160 INVITE"),
    (b"Via: SIP/2.0/UDP proxy.atlanta.com\r\n", b"Via: SIP/2.0/UDP proxy2.atlanta.com\r\n"),
])
def test_rfc2543_any_differing_field_matches_nothing(old, new):
    table, _ = server(INVITE_2543)
    assert table.match_request(request(INVITE_2543.replace(old, new))) is None


def test_rfc2543_ack_matches_with_the_response_to_tag():
    table, tx = server(INVITE_2543)
    tx.send_response(reply(INVITE_2543, 486, to_tag="resp-tag"), 0.1)
    ack = build_ack(request(INVITE_2543), reply(INVITE_2543, 486, to_tag="resp-tag"))
    assert table.match_request(ack) is tx


def test_rfc2543_ack_with_other_to_tag_matches_nothing():
    table, tx = server(INVITE_2543)
    tx.send_response(reply(INVITE_2543, 486, to_tag="resp-tag"), 0.1)
    ack = build_ack(request(INVITE_2543), reply(INVITE_2543, 486, to_tag="other"))
    assert table.match_request(ack) is None


def test_rfc2543_ack_for_2xx_matches_nothing():
    table, tx = server(INVITE_2543)
    tx.send_response(reply(INVITE_2543, 200, to_tag="resp-tag"), 0.1)
    ack = build_ack(request(INVITE_2543), reply(INVITE_2543, 200, to_tag="resp-tag"))
    assert table.match_request(ack) is None


def test_rfc2543_cancel_finds_the_invite():
    table, tx = server(INVITE_2543)
    assert table.match_cancel(build_cancel(request(INVITE_2543))) is tx
    assert table.match_request(build_cancel(request(INVITE_2543))) is None


INVITE_2543_TAGGED = INVITE_2543.replace(b"To: Bob <sip:bob@biloxi.com>",
                                         b"To: Bob <sip:bob@biloxi.com>;tag=zz")


def test_rfc2543_request_differing_only_in_to_tag_is_a_second_transaction():
    table, first = server(INVITE_2543)
    _, second = server(INVITE_2543_TAGGED, table)
    assert table.match_request(request(INVITE_2543)) is first
    assert table.match_request(request(INVITE_2543_TAGGED)) is second


def test_rfc2543_second_transaction_outlives_the_first_removed():
    table, first = server(INVITE_2543)
    _, second = server(INVITE_2543_TAGGED, table)
    table.remove(first)
    assert table.match_request(request(INVITE_2543)) is None
    assert table.match_request(request(INVITE_2543_TAGGED)) is second
    assert len(table) == 1


def test_rfc2543_same_key_and_to_tag_is_refused_as_a_live_duplicate():
    table, _ = server(INVITE_2543)
    server(INVITE_2543_TAGGED, table)
    with pytest.raises(TransactionError):
        server(INVITE_2543_TAGGED, table)


# --- the table -------------------------------------------------------------------------------------

def test_table_refuses_a_second_live_transaction_with_the_same_key():
    table, _ = server()
    with pytest.raises(TransactionError):
        server(INVITE, table)


def test_table_replaces_a_terminated_transaction():
    table, old = server()
    old.terminate()
    _, new = server(INVITE, table)
    assert table.match_request(request()) is new and len(table) == 1


def test_table_keeps_client_and_server_transactions_apart():
    table, stx = server()
    _, ctx = client(INVITE, table)
    assert len(table) == 2
    assert table.match_request(request()) is stx and table.match_response(reply(INVITE, 180)) is ctx


def test_remove_of_a_replaced_transaction_keeps_the_new_one():
    table, old = server()
    old.terminate()
    _, new = server(INVITE, table)
    table.remove(old)
    assert table.match_request(request()) is new


def test_message_without_via_matches_nothing():
    table, _ = server()
    bare = Request("INVITE", "sip:bob@192.0.2.4", [("CSeq", "1 INVITE")])
    assert table.match_request(bare) is None and server_key(bare) is None


# --- TimerConfig -----------------------------------------------------------------------------------

def test_timer_config_rfc_defaults():
    cfg = TimerConfig()
    assert (cfg.t1, cfg.t2, cfg.t4) == (0.5, 4.0, 5.0)
    assert (cfg.timer_b, cfg.timer_f, cfg.timer_h) == (32.0, 32.0, 32.0)
    assert cfg.retr_timer1 == 0.5 and cfg.retr_timer2 == 4.0 and cfg.timer_d == 32.0


def test_timer_config_from_kamailio_modparams_in_ms():
    cfg = TimerConfig.from_kamailio(fr_timer=10000, fr_inv_timer=60000, retr_timer1=250, retr_timer2=2000,
                                    wt_timer=3000)
    assert (cfg.t1, cfg.t2, cfg.timer_b, cfg.timer_f, cfg.fr_inv_timer) == (0.25, 2.0, 10.0, 10.0, 60.0)
    assert cfg.wait(32.0) == 3.0


def test_timer_config_kamailio_defaults():
    cfg = TimerConfig.from_kamailio()
    assert (cfg.fr_timer, cfg.fr_inv_timer, cfg.t1, cfg.t2, cfg.wt_timer) == (30.0, 120.0, 0.5, 4.0, 5.0)


def test_timer_config_with_fr_like_t_set_fr():
    cfg = TimerConfig().with_fr(fr_inv_timer=45.0, fr_timer=8.0)
    assert cfg.fr_inv_timer == 45.0 and cfg.timer_b == 8.0 and cfg.t1 == 0.5
