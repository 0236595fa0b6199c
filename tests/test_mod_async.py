"""async: a request's transaction suspended and its processing resumed after a delay, with the
statements after async_sleep(), or in an asynchronous task; data handed to task routes."""
from __future__ import annotations

from typing import Any

import pytest

HEAD = """
async_workers=1
%s
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "async.so"
%s
"""


def load(kampy_cfg: Any, routes: str, params: str = "", core: str = "") -> Any:
    return kampy_cfg(HEAD % (core, params) + routes)


def invite(sip: Any) -> Any:
    return sip.send_request("INVITE", "sip:bob@example.test")


def test_async_task_route_answers_from_the_task_route(kampy_cfg: Any) -> None:
    sip = load(kampy_cfg, """
request_route { if (t_newtran()) { async_task_route("TASK"); } $avp(after) = "reached"; exit; }
route[TASK] { t_reply("200", "From the task"); }
""")
    result = invite(sip)
    assert result.codes("async_task_route") == [0]
    assert result.avp("after") is None  # return 0: the script stopped there
    sent = sip.advance(0).sent
    assert [(s.status, s.reason) for s in sent if s.status == 200] == [(200, "From the task")]


def test_async_task_route_without_async_workers_fails(kampy_cfg: Any) -> None:
    sip = kampy_cfg(HEAD.replace("async_workers=1", "") % ("", "") + """
request_route { $avp(rc) = async_task_route("TASK"); sl_send_reply("500", "No task"); }
route[TASK] { t_reply("200", "OK"); }
""")
    result = invite(sip)
    assert (result.avp("rc"), result.status) == (-1, 500)


def test_async_route_waits_the_seconds_then_runs_the_route(kampy_cfg: Any) -> None:
    sip = load(kampy_cfg, """
request_route { async_route("RESUME", "2"); }
route[RESUME] { t_reply("404", "Not found"); exit; }
""")
    assert [r.status for r in invite(sip).replies if r.status >= 200] == []
    assert [s.status for s in sip.advance(1.5).sent if s.status and s.status >= 200] == []
    # the 404 and, half a second later, its retransmission (no ACK comes)
    assert [s.status for s in sip.advance(1).sent if s.status and s.status >= 200][:1] == [404]


def test_the_suspended_transaction_keeps_the_messages_avps(kampy_cfg: Any) -> None:
    sip = load(kampy_cfg, """
request_route { $avp(x) = "kept"; async_route("RESUME", "1"); }
route[RESUME] { t_reply("200", "$avp(x)"); }
""")
    invite(sip)
    assert [s.reason for s in sip.advance(1).sent if s.status == 200] == ["kept"]


def test_async_sleep_continues_with_the_rest_of_its_block(kampy_cfg: Any) -> None:
    sip = load(kampy_cfg, """
request_route {
    if ($rm == "INVITE") {
        async_sleep("1");
        t_reply("486", "Busy after sleep");
    }
    t_reply("500", "Not the rest of the route");
}
""")
    invite(sip)
    assert [s.status for s in sip.advance(1).sent if s.status and s.status >= 200] == [486]


def test_async_sleep_as_the_last_statement_of_a_block_fails(kampy_cfg: Any) -> None:
    sip = load(kampy_cfg, """
request_route { if ($rm == "INVITE") { async_sleep("1"); } $avp(rc) = $rc; sl_send_reply("500", "x"); }
""")
    assert invite(sip).avp("rc") == -1


@pytest.mark.parametrize("seconds", ["0", "100"])
def test_sleeps_out_of_1_to_99_seconds_fail(kampy_cfg: Any, seconds: str) -> None:
    sip = load(kampy_cfg, f"""
request_route {{ $avp(rc) = async_route("R", "{seconds}"); sl_send_reply("500", "x"); }}
route[R] {{ exit; }}
""")
    assert invite(sip).avp("rc") == -1


def test_async_ms_route_needs_ms_timer(kampy_cfg: Any) -> None:
    routes = """
request_route { $avp(rc) = async_ms_route("R", "250"); sl_send_reply("500", "x"); }
route[R] { t_reply("200", "ms"); }
"""
    assert invite(load(kampy_cfg, routes)).avp("rc") == -1
    sip = load(kampy_cfg, routes, 'modparam("async", "ms_timer", 100)')
    invite(sip)
    assert [s.status for s in sip.advance(0.25).sent if s.status and s.status >= 200] == []
    assert [s.status for s in sip.advance(0.05).sent if s.status and s.status >= 200] == [200]


def test_async_ms_sleep_continues_after_the_milliseconds(kampy_cfg: Any) -> None:
    sip = load(kampy_cfg, """
request_route { async_ms_sleep("20"); t_reply("202", "Later"); }
""", 'modparam("async", "ms_timer", 10)')
    invite(sip)
    assert [s.status for s in sip.advance(0.02).sent if s.status and s.status >= 200] == [202]


def test_return_1_lets_the_script_go_on(kampy_cfg: Any) -> None:
    sip = load(kampy_cfg, """
request_route { async_route("R", "1"); $avp(after) = "yes"; }
route[R] { t_reply("200", "OK"); }
""", 'modparam("async", "return", 1)')
    assert invite(sip).avp("after") == "yes"


def test_workers_0_turns_the_timed_functions_off(kampy_cfg: Any) -> None:
    sip = load(kampy_cfg, """
request_route { $avp(rc) = async_route("R", "1"); sl_send_reply("500", "x"); }
route[R] { exit; }
""", 'modparam("async", "workers", 0)')
    assert invite(sip).avp("rc") == -1


def test_async_task_data_runs_the_route_with_the_data(
        kampy_cfg: Any, caplog: pytest.LogCaptureFixture) -> None:
    sip = load(kampy_cfg, """
request_route { async_task_data("DATA", "caller: $fU"); sl_send_reply("200", "Going on"); }
route[DATA] { xlog("L_ERR", "task got [$async(data)] in [$async(gname)] for $rm\\n"); }
""")
    assert invite(sip).status == 200
    sip.advance(0)
    assert any("task got [caller: alice] in [default] for OPTIONS" in r.getMessage() for r in caplog.records)


def test_a_task_group_must_be_defined(kampy_cfg: Any) -> None:
    routes = """
request_route { $avp(rc) = async_task_group_data("R", "abc", "x"); sl_send_reply("200", "OK"); }
route[R] { exit; }
"""
    assert invite(load(kampy_cfg, routes)).avp("rc") == -1
    sip = load(kampy_cfg, routes, core='async_workers_group="name=abc;workers=2;nonblock=0;usleep=0"')
    assert invite(sip).avp("rc") == 1


def test_async_task_group_route_runs_in_the_named_group(kampy_cfg: Any) -> None:
    sip = load(kampy_cfg, """
request_route { async_task_group_route("R", "abc"); }
route[R] { t_reply("200", "$async(gname)"); }
""", core='async_workers_group="name=abc;workers=2"')
    invite(sip)
    assert [s.reason for s in sip.advance(0).sent if s.status == 200] == ["abc"]
