"""rtimer: the timers and the routes they run, in-process (the pytest plugin runs the timer
processes' jobs on its fake clock); tests/e2e/test_misc_modules_e2e.py shows them in processes of
their own."""
from __future__ import annotations

import logging
from typing import Any

import pytest

from kampy.runtime.engine import module_processes
from kampy.testing.harness import read_config
from kampy.config.compile import compile_config

HEAD = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "rtimer.so"
{params}
request_route {{
    sl_send_reply("200", "OK");
}}
route[TA] {{
    $shv(ta) = $shv(ta) + 1;
    $shv(worker) = $rtimer_worker;
    $shv(method) = $rm;
}}
route[TB] {{
    $shv(tb) = $shv(tb) + 1;
}}
"""


def server(kampy_cfg: Any, params: str) -> Any:
    return kampy_cfg(HEAD.format(params=params), db=None)


def shv(sip: Any, name: str) -> Any:
    return sip.core.rpc.call("pv.shvGet", [name])["value"]


def test_a_timer_runs_its_route_every_interval(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, 'modparam("rtimer", "timer", "name=ta;interval=10;mode=1;")\n'
                            'modparam("rtimer", "exec", "timer=ta;route=TA")')
    result = sip.advance(35)
    assert result.routes == ["route[TA]"] * 3
    assert shv(sip, "ta") == 3


def test_the_route_runs_with_the_faked_request(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, 'modparam("rtimer", "timer", "name=ta;interval=1;mode=1")\n'
                            'modparam("rtimer", "exec", "timer=ta;route=TA")')
    sip.advance(1)
    assert shv(sip, "method") == "OPTIONS"


def test_a_timer_without_interval_takes_default_interval(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, 'modparam("rtimer", "default_interval", 30)\n'
                            'modparam("rtimer", "timer", "name=ta;mode=1")\n'
                            'modparam("rtimer", "exec", "timer=ta;route=TA")')
    assert sip.advance(29).routes == []
    assert sip.advance(1).routes == ["route[TA]"]


def test_mode_0_timers_run_in_the_shared_timer_process_each_at_its_interval(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, 'modparam("rtimer", "timer", "name=ta;interval=2;mode=0")\n'
                            'modparam("rtimer", "timer", "name=tb;interval=3")\n'
                            'modparam("rtimer", "exec", "timer=ta;route=TA")\n'
                            'modparam("rtimer", "exec", "timer=tb;route=TB")')
    sip.advance(6)
    assert (shv(sip, "ta"), shv(sip, "tb")) == (3, 2)


def test_a_timer_runs_every_route_given_to_it(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, 'modparam("rtimer", "timer", "name=ta;interval=5;mode=1")\n'
                            'modparam("rtimer", "exec", "timer=ta;route=TA")\n'
                            'modparam("rtimer", "exec", "timer=ta;route=TB")')
    assert sorted(sip.advance(5).routes) == ["route[TA]", "route[TB]"]


def test_a_microsecond_interval_runs_that_often(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, 'modparam("rtimer", "timer", "name=ta;interval=100000u")\n'
                            'modparam("rtimer", "exec", "timer=ta;route=TB")')
    sip.advance(1.05)
    assert shv(sip, "tb") == 10


def test_mode_n_runs_the_timer_in_n_processes_with_their_worker_index() -> None:
    config = read_config(HEAD.format(params='modparam("rtimer", "timer", "name=ta;interval=10;mode=3")\n'
                                            'modparam("rtimer", "timer", "name=tb;interval=10;mode=0")\n'
                                            'modparam("rtimer", "exec", "timer=ta;route=TA")'), None)
    found = module_processes(compile_config(config))
    assert [(m, p.description, p.interval, p.args) for m, p in found] == [
        ("rtimer", "RTIMER EXEC child=0 timer=ta", 10.0, ("ta", 0)),
        ("rtimer", "RTIMER EXEC child=1 timer=ta", 10.0, ("ta", 1)),
        ("rtimer", "RTIMER EXEC child=2 timer=ta", 10.0, ("ta", 2)),
        ("rtimer", "rtimer timer (mode 0 timers)", 1.0, ())]


def test_worker_index_is_that_of_the_process(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, 'modparam("rtimer", "timer", "name=ta;interval=10;mode=2")\n'
                            'modparam("rtimer", "exec", "timer=ta;route=TA")')
    sip.advance(10)  # in-process, both processes' jobs run: the second one last
    assert shv(sip, "worker") == 1
    assert shv(sip, "ta") == 2


@pytest.mark.parametrize(("params", "message"), [
    ('modparam("rtimer", "timer", "interval=10")', "invalid timer name"),
    ('modparam("rtimer", "timer", "name=ta;interval=ten")', "invalid interval: ten"),
    ('modparam("rtimer", "timer", "name=ta")\nmodparam("rtimer", "timer", "name=TA")',
     "duplicate timer with same name: TA"),
    ('modparam("rtimer", "timer", "name=ta")\nmodparam("rtimer", "exec", "timer=tx;route=TA")',
     "timer not found - name: tx"),
])
def test_a_wrong_timer_or_exec_is_refused(kampy_cfg: Any, params: str, message: str) -> None:
    with pytest.raises(Exception, match=message):
        server(kampy_cfg, params)


def test_a_route_the_config_lacks_runs_nothing_as_in_kamailio(kampy_cfg: Any,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="kampy.rtimer"):
        sip = server(kampy_cfg, 'modparam("rtimer", "timer", "name=ta;interval=1")\n'
                                'modparam("rtimer", "exec", "timer=ta;route=NOPE")')
    assert "timer ta runs route[NOPE], which the config does not have: it does nothing" in caplog.text
    assert sip.advance(3).routes == []
