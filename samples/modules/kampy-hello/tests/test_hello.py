"""Tests of the hello module, run in-process with kampy's pytest plugin (the `kampy_cfg` fixture)."""
from pathlib import Path

import pytest

from kampy.testing import Harness

HERE = Path(__file__).parent
# Where kampy finds the module before it is installed: the distribution's folder holds kampy_hello/.
CFG = f'loadpath "{HERE.parent}"\n' + (HERE / "hello.cfg").read_text()


@pytest.fixture
def sip(kampy_cfg) -> Harness:
    return kampy_cfg(CFG)


def test_hello_answers_with_the_greeting(sip: Harness) -> None:
    result = sip.send_request("OPTIONS", "sip:hello@127.0.0.1", from_="sip:alice@example.test")
    reply = result.assert_reply(200, "Hi, alice")
    assert reply.header("X-Hello") == "Hi, alice"
    assert result.codes("hello") == [1]
    assert result.routes == ["request_route", "event_route[hello:greeting]"]
    assert sip.stat("hello:greeted") == 1


def test_a_drop_in_the_greeting_event_route_stops_the_greeting(sip: Harness) -> None:
    result = sip.send_request("OPTIONS", "sip:hello@127.0.0.1", from_="sip:mallory@example.test")
    result.assert_reply(403, "Not greeted")
    assert result.codes("hello") == [-1]
    assert sip.stat("hello:greeted") == 0


def test_other_requests_are_not_greeted(sip: Harness) -> None:
    sip.send_request("MESSAGE", "sip:hello@127.0.0.1", body="hi").assert_reply(404)
    assert sip.stat("hello:greeted") == 0


def test_rpc_method_reports_the_count(sip: Harness) -> None:
    sip.send_request("OPTIONS", "sip:hello@127.0.0.1")
    assert sip.core.rpc.call("hello.greeted") == {"greeted": 1}


def test_timer_ticks_every_tick_interval_and_runs_its_event_route(sip: Harness) -> None:
    result = sip.advance(35)
    assert sip.stat("hello:ticks") == 3
    assert result.routes == ["event_route[hello:tick]"] * 3


def test_other_modules_get_the_greeting_through_the_offered_api(sip: Harness) -> None:
    assert sip.core.offered("hello").greeting("bob") == "Hi, bob"
