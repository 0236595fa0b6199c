"""tm's t_release(): a transaction the script ends without a reply is put on wait (absorbing
retransmissions) and freed after wt_timer, without Kamailio's "script writer didn't release
transaction" warning; and the To-tag of the replies a request gets (sl's get_reply_totag: tm's
t_get_reply_totag when it has a transaction)."""
from __future__ import annotations

import logging

import pytest

from kampy.api import MessageContext, Request, parse_message
from tests.support.runtime import SOURCE, make_server, request
from tests.tmkit import FakeClock, advance

TM = ("sl", "tm")


def test_a_released_transaction_is_freed_after_wt_timer_without_a_reply(tmp_path) -> None:
    srv = make_server(tmp_path, "request_route { t_newtran(); t_release(); exit; }", modules=TM,
                      clock=FakeClock())
    assert srv.handle(request("MESSAGE"), SOURCE) == []
    assert srv.core.modules["tm"].rpc_stats()["current"] == 1
    assert advance(srv, 5.1) == []
    assert srv.core.modules["tm"].rpc_stats()["current"] == 0


def test_t_release_spares_the_unreleased_transaction_warning(tmp_path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    srv = make_server(tmp_path, "request_route { t_newtran(); t_release(); exit; }", modules=TM,
                      clock=FakeClock())
    with caplog.at_level(logging.WARNING):
        srv.handle(request("MESSAGE"), SOURCE)
        advance(srv, 5.1)
    assert "script writer didn't release transaction" not in caplog.text


def test_a_retransmission_of_a_released_request_is_absorbed_while_it_waits(tmp_path) -> None:
    # a script run of the retransmission would reply 404 after t_newtran() fails
    cfg = 'request_route { if (!t_newtran()) { sl_send_reply("404", "again"); exit; } t_release(); exit; }'
    srv = make_server(tmp_path, cfg, modules=TM, clock=FakeClock())
    assert srv.handle(request("MESSAGE"), SOURCE) == []
    assert srv.handle(request("MESSAGE"), SOURCE) == []
    assert srv.core.modules["tm"].rpc_stats()["current"] == 1


def test_t_release_without_a_transaction_returns_1(tmp_path) -> None:
    cfg = 'request_route { if (t_release()) { sl_send_reply("200", "released"); } exit; }'
    srv = make_server(tmp_path, cfg, modules=TM, clock=FakeClock())
    [reply] = srv.handle(request("MESSAGE"), SOURCE)
    assert reply.data.startswith(b"SIP/2.0 200 released")


def test_the_reply_to_tag_is_tms_with_a_transaction_and_sls_without(tmp_path) -> None:
    srv = make_server(tmp_path, "request_route { exit; }", modules=TM, clock=FakeClock())
    tm, sl = srv.core.modules["tm"], srv.core.modules["sl"]
    msg = parse_message(request("MESSAGE"))
    assert isinstance(msg, Request)
    ctx = MessageContext(msg, SOURCE, srv.core)
    assert sl.get_reply_totag(ctx) == sl.to_tag(msg)
    assert tm.t_newtran(ctx) == 1
    assert sl.get_reply_totag(ctx) == tm.t_get_reply_totag(msg) != sl.to_tag(msg)
