"""tm: t_drop_replies() in failure_route: which replies received so far can still be picked."""
from __future__ import annotations

import pytest

from tests.tmkit import ALICE, BOB, lines, reply_to, request, server

ROUTES = """
request_route {{ t_on_failure("F"); t_relay(); }}
failure_route[F] {{
  # bob's branch has this failure_route: its reply picked again runs it again (Kamailio's
  # uac[picked].on_failure); that run keeps every reply, so the one picked is relayed
  if ($avp(step) == 2) {{ t_drop_replies("n"); exit; }}
  if ($avp(step) == $null) {{
    $avp(step) = 1; {first} $ru = "sip:carol@198.51.100.30:5090"; t_on_failure("F"); t_relay(); exit;
  }}
  $avp(step) = 2;
  {second}
  $ru = "sip:dave@198.51.100.40:5091";
  t_relay();
}}
"""


def final_reply(first: str, second: str, params: str = "") -> list[str]:
    """bob answers 603, carol (failure_route's first new branch) 500, dave (the second) 486."""
    srv = server(ROUTES.format(first=first, second=second), params)
    to_bob = srv.handle(request(), ALICE)[0]
    to_carol = srv.handle(reply_to(to_bob, 603, "Decline"), BOB)[0]
    to_dave = srv.handle(reply_to(to_carol, 500, "Oops"), BOB)[0]
    return lines(srv.handle(reply_to(to_dave, 486, "Busy"), BOB))


@pytest.mark.parametrize("first, second, expected", [
    ('t_drop_replies("n");', 't_drop_replies("n");', "SIP/2.0 603 Decline"),  # all kept: the 603 wins
    ('t_drop_replies("n");', "", "SIP/2.0 486 Busy"),  # failure_reply_mode 3 at the second step
    ('t_drop_replies("n");', 't_drop_replies("l");', "SIP/2.0 603 Decline"),  # only carol's 500 dropped
    ('t_drop_replies("n");', "t_drop_replies();", "SIP/2.0 486 Busy"),       # all dropped
    ('t_drop_replies("n");', 't_drop_replies("a");', "SIP/2.0 486 Busy"),
    ("", "", "SIP/2.0 486 Busy"),  # failure_reply_mode 3: a new branch drops the replies before it
])
def test_t_drop_replies_mode_decides_which_replies_can_still_win(first: str, second: str,
                                                                 expected: str) -> None:
    assert final_reply(first, second) == [expected]


def test_failure_reply_mode_2_drops_the_last_step_only() -> None:
    assert final_reply('t_drop_replies("n");', "",
                       'modparam("tm", "failure_reply_mode", 2)') == ["SIP/2.0 603 Decline"]


def test_t_drop_replies_n_overrides_failure_reply_mode_1() -> None:
    assert final_reply('t_drop_replies("n");', 't_drop_replies("n");',
                       'modparam("tm", "failure_reply_mode", 1)') == ["SIP/2.0 603 Decline"]
