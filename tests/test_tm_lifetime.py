"""tm: a transaction's lifetime (max_inv_lifetime, max_noninv_lifetime, t_set_max_lifetime,
t_reset_max_lifetime, t_is_expired) and the fr timer AVPs, with a fake clock."""
from __future__ import annotations

import pytest

from tests.tmkit import ALICE, BOB, advance, lines, reply_to, request, server

RELAY = "request_route { t_relay(); }"


def _ringing(srv, ruri: str = "sip:bob@198.51.100.20:5080"):  # noqa: ANN001, ANN202
    invite = srv.handle(request("INVITE", ruri), ALICE)[1]
    srv.handle(reply_to(invite, 180, "Ringing"), BOB)
    return invite


def test_max_inv_lifetime_ends_a_ringing_branch_that_provisionals_keep_alive() -> None:
    srv = server(RELAY, 'modparam("tm", "fr_inv_timer", 10000)\nmodparam("tm", "max_inv_lifetime", 5000)\n')
    invite = _ringing(srv)
    for _ in range(4):  # each 180 restarts fr_inv (restart_fr_on_each_reply), not the lifetime
        advance(srv, 1)
        srv.handle(reply_to(invite, 180, "Ringing"), BOB)
    assert advance(srv, 0.9) == []
    assert lines(advance(srv, 0.2)) == ["CANCEL sip:bob@198.51.100.20:5080 SIP/2.0",
                                        "SIP/2.0 408 Request Timeout"]


def test_max_noninv_lifetime_ends_a_branch_before_its_fr_timer() -> None:
    srv = server(RELAY, 'modparam("tm", "fr_timer", 30000)\nmodparam("tm", "max_noninv_lifetime", 2000)\n')
    srv.handle(request(), ALICE)
    assert "SIP/2.0 408 Request Timeout" not in lines(advance(srv, 1.9))
    assert lines(advance(srv, 0.2))[-1:] == ["SIP/2.0 408 Request Timeout"]


def test_t_set_max_lifetime_before_the_transaction_sets_its_lifetime() -> None:
    srv = server("request_route { t_set_max_lifetime(3000, 1000); t_relay(); }")
    srv.handle(request(), ALICE)
    assert "SIP/2.0 408 Request Timeout" in lines(advance(srv, 1.1))


def test_t_set_max_lifetime_on_a_transaction_brings_its_branch_timers_forward() -> None:
    srv = server("request_route { t_on_reply(\"R\"); t_relay(); }\n"
                 "onreply_route[R] { if (status == \"180\") t_set_max_lifetime(2000, 0); }",
                 'modparam("tm", "fr_inv_timer", 60000)\n')
    _ringing(srv)
    assert advance(srv, 1.9) == []
    assert lines(advance(srv, 0.2))[-1] == "SIP/2.0 408 Request Timeout"


def test_t_reset_max_lifetime_drops_what_t_set_max_lifetime_set() -> None:
    srv = server("request_route { t_set_max_lifetime(0, 1000); t_reset_max_lifetime(); t_relay(); }",
                 'modparam("tm", "fr_timer", 5000)\n')
    srv.handle(request(), ALICE)
    assert "SIP/2.0 408 Request Timeout" not in lines(advance(srv, 4.9))
    assert "SIP/2.0 408 Request Timeout" in lines(advance(srv, 0.2))


EXPIRED = ('request_route { t_on_failure("F"); t_relay(); }\n'
           'failure_route[F] { if (t_is_expired()) t_reply("500", "Expired"); '
           'else t_reply("501", "Alive"); }')


def test_t_is_expired_is_true_once_the_lifetime_is_over() -> None:
    srv = server(EXPIRED, 'modparam("tm", "max_noninv_lifetime", 1000)\n')
    srv.handle(request(), ALICE)
    assert "SIP/2.0 500 Expired" in lines(advance(srv, 1.1))


def test_t_is_expired_is_false_while_the_lifetime_lasts() -> None:
    srv = server(EXPIRED, 'modparam("tm", "fr_timer", 1000)\n')
    srv.handle(request(), ALICE)
    assert "SIP/2.0 501 Alive" in lines(advance(srv, 1.1))


def test_t_is_expired_without_a_transaction_is_false() -> None:
    srv = server('request_route { if (t_is_expired()) sl_send_reply("500", "Yes"); '
                 'else sl_send_reply("404", "No"); }')
    assert lines(srv.handle(request(), ALICE)) == ["SIP/2.0 404 No"]


def test_fr_timer_avp_gives_the_transaction_its_fr_timer_in_seconds() -> None:
    srv = server("request_route { $avp(frt) = 2; t_relay(); }",
                 'modparam("tm", "fr_timer_avp", "$avp(frt)")\n')
    srv.handle(request(), ALICE)
    assert "SIP/2.0 408 Request Timeout" not in lines(advance(srv, 1.9))
    assert "SIP/2.0 408 Request Timeout" in lines(advance(srv, 0.2))


def test_fr_inv_timer_avp_in_ser_form_gives_the_fr_inv_timer() -> None:
    srv = server('request_route { $avp(s:frinv) = "1"; t_relay(); }',
                 'modparam("tm", "fr_inv_timer_avp", "s:frinv")\n')
    _ringing(srv)
    assert lines(advance(srv, 1.1)) == ["CANCEL sip:bob@198.51.100.20:5080 SIP/2.0",
                                        "SIP/2.0 408 Request Timeout"]


def test_an_unset_or_zero_fr_timer_avp_keeps_the_default() -> None:
    srv = server("request_route { $avp(frt) = 0; t_relay(); }",
                 'modparam("tm", "fr_timer_avp", "$avp(frt)")\nmodparam("tm", "fr_timer", 3000)\n')
    srv.handle(request(), ALICE)
    assert "SIP/2.0 408 Request Timeout" not in lines(advance(srv, 2.9))
    assert "SIP/2.0 408 Request Timeout" in lines(advance(srv, 0.2))


def test_t_set_fr_wins_over_the_fr_timer_avp() -> None:
    srv = server("request_route { $avp(frt) = 10; t_set_fr(0, 1000); t_relay(); }",
                 'modparam("tm", "fr_timer_avp", "$avp(frt)")\n')
    srv.handle(request(), ALICE)
    assert "SIP/2.0 408 Request Timeout" in lines(advance(srv, 1.1))


@pytest.mark.parametrize(("route", "expected"), [
    ("t_relay();", []),  # noisy_ctimer 0: an unanswered INVITE is dropped silently
    ("$avp(frinv) = 30; t_relay();", ["SIP/2.0 408 Request Timeout"])])
def test_an_fr_inv_timer_avp_makes_the_timeout_of_its_transaction_replied(route: str,
                                                                         expected: list[str]) -> None:
    srv = server(f"request_route {{ {route} }}",
                 'modparam("tm", "noisy_ctimer", 0)\nmodparam("tm", "fr_timer", 1000)\n'
                 'modparam("tm", "fr_inv_timer_avp", "$avp(frinv)")\n')
    srv.handle(request("INVITE"), ALICE)
    assert [line for line in lines(advance(srv, 1.1)) if line.startswith("SIP/")] == expected


def test_a_lifetime_changed_at_run_time_applies_to_the_next_transaction() -> None:
    srv = server(RELAY, 'loadmodule "cfg_rpc"\nmodparam("tm", "fr_timer", 30000)\n')
    srv.core.rpc.call("cfg.set_now_int", ["tm", "max_noninv_lifetime", 1000])
    srv.handle(request(), ALICE)
    assert "SIP/2.0 408 Request Timeout" in lines(advance(srv, 1.1))
