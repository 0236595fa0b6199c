"""debugger: the config's running trace, logged assignments, per-module log levels and facilities, the
message dumps and the dbg.* RPCs. The expected lines are those Kamailio 5.6.3 logs for the same config
(file names aside)."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time

import pytest

from kampy.api import RpcFault
from kampy.cmdline.logsetup import KamailioFormatter, SyslogHandler
from kampy.runtime import loglevels
from kampy.testing import Harness

ROUTES = """
route[SUB] {
  return 2;
}
request_route {
  $var(temp) = 1;
  $avp(more_avp) = 2;
  $avp(more_avp) = 3;
  $xavp(x=>more) = "bye";
  $var(empty) = $null;
  route(SUB);
  if ($rc == 2) {
    xlog("L_INFO", "rc is 2\\n");
  } else {
    xlog("L_INFO", "no\\n");
  }
  append_hf("P-Hint: My hint\\r\\n");
  remove_hf("Contact");
  dbg_sip_msg("L_ERR");
  dbg_pv_dump(30, "L_INFO");
  dbg_breakpoint("1");
  switch($rm) {
    case "OPTIONS":
      $var(a) = "x";
      break;
    default:
      $var(a) = "y";
  }
  while($var(temp) < 3) { $var(temp) = $var(temp) + 1; }
  sl_send_reply("200", "OK");
  exit;
}
"""
MODULES = """loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "textops.so"
loadmodule "kex.so"
loadmodule "debugger.so"
"""


def config(*params: str) -> str:
    lines = "".join(f'modparam("debugger", {p})\n' for p in params)
    return MODULES + lines + ROUTES


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture):
    """The kampy log lines as Kamailio's stderr shows them (rank and pid left out)."""
    formatter = KamailioFormatter(process=False)
    caplog.set_level(logging.DEBUG, logger="kampy")

    def read() -> list[str]:
        return [formatter.format(r) for r in caplog.records]
    yield read
    for name in ("xlog", "script", "tm", "core"):
        loglevels.set_module_level(name, None)


def send(sip: Harness, method: str = "OPTIONS") -> None:
    sip.send_request(method, "sip:x@127.0.0.1", headers={"Contact": "<sip:alice@192.0.2.10>"})


TRACE = [  # (line, a=, n=) of the request above, as Kamailio prints them
    (6, 63, "assign"), (7, 63, "assign"), (8, 63, "assign"), (9, 63, "assign"), (10, 63, "assign"),
    (11, 5, "route"), (3, 2, "return"), (16, 16, "if"), (13, 26, "xlog"), (17, 25, "append_hf"),
    (18, 25, "remove_hf"), (19, 25, "dbg_sip_msg"), (20, 26, "dbg_pv_dump"), (21, 25, "dbg_breakpoint"),
    (28, 22, "case"), (24, 63, "assign"), (25, 2, "exit"), (29, 23, "while"), (29, 63, "assign"),
    (29, 63, "assign"), (30, 26, "sl_send_reply"), (31, 2, "exit")]
FIRST = len(MODULES.splitlines()) + 1  # the routes start after the module lines and one modparam


def traced(lines: list[str]) -> list[str]:
    return [line for line in lines if "cfgtrace" in line]


def test_cfgtrace_logs_each_action_as_kamailio(kampy_cfg, lines) -> None:
    sip = kampy_cfg(config('"cfgtrace", 1'))
    send(sip)
    route = {3: "SUB"}
    offset = FIRST
    assert traced(lines()) == [
        f"ERROR: *** cfgtrace:dbg_cfg_trace(): request_route=[{route.get(n, 'DEFAULT_ROUTE')}] "
        f"c=[<test cfg>] l={n + offset} a={a} n={name}" for n, a, name in TRACE]


def test_cfgtrace_format_1_leaves_out_the_file_and_log_level_name_replaces_the_level(kampy_cfg,
                                                                                      lines) -> None:
    sip = kampy_cfg(config('"cfgtrace", 1', '"cfgtrace_format", 1', '"log_level_name", "exec"',
                           '"log_prefix", "T:"'))
    send(sip)
    assert traced(lines()) == [] and lines()[0] == \
        f"exec: T:dbg_cfg_trace(): request_route=[DEFAULT_ROUTE] l={6 + FIRST + 3} a=63 n=assign"


def test_no_trace_without_cfgtrace(kampy_cfg, lines) -> None:
    sip = kampy_cfg(config('"cfgtrace", 0'))
    send(sip)
    assert traced(lines()) == []


def test_dbg_trace_switches_the_trace_of_every_worker(kampy_cfg, lines) -> None:
    sip = kampy_cfg(config('"cfgtrace", 0'))
    assert sip.core.rpc.call("dbg.trace", ["on"]) == "200 ok"
    send(sip)
    assert len(traced(lines())) == len(TRACE)
    sip.core.rpc.call("dbg.trace", ["off"])
    send(sip)
    assert len(traced(lines())) == len(TRACE)


@pytest.mark.parametrize(("params", "fault"), [
    ([], (500, "Config trace command missing")), (["maybe"], (500, "Unknown trace command")),
    (["on", 1], (500, "No such pid"))])
def test_dbg_trace_faults(kampy_cfg, params: list, fault: tuple[int, str]) -> None:
    sip = kampy_cfg(config('"cfgtrace", 0'))
    with pytest.raises(RpcFault) as caught:
        sip.core.rpc.call("dbg.trace", params)
    assert (caught.value.code, caught.value.message) == fault


def test_dbg_ls_lists_the_processes_with_their_flags(kampy_cfg) -> None:
    import os

    sip = kampy_cfg(config('"cfgtrace", 1'))
    assert sip.core.rpc.call("dbg.ls") == [
        {"entry": 0, "pid": os.getpid(), "set": 1, "state": 0, "in.pid": 0, "in.cmd": 0}]


def test_log_assign_logs_each_assigned_value(kampy_cfg, lines) -> None:
    sip = kampy_cfg(config('"log_assign", 1'))
    send(sip)
    assigned = [line.split("(): ", 1)[1] for line in lines() if "_dbg_log_assign_action_pvar" in line]
    assert assigned == ["$var(temp):1", "$avp(more_avp):2", "$avp(more_avp):3", '$xavp(x=>more):"bye"',
                        "$var(empty):0", '$var(a):"x"', "$var(temp):2", "$var(temp):3"]


def test_mod_level_sets_a_modules_log_level(kampy_cfg, lines) -> None:
    sip = kampy_cfg(config('"mod_hash_size", 4', '"mod_level_mode", 1', '"mod_level", "xlog=1"'))
    send(sip)
    assert not [line for line in lines() if "rc is 2" in line]
    assert sip.core.rpc.call("dbg.get_mod_level", ["xlog"]) == 1
    assert sip.core.rpc.call("dbg.set_mod_level", ["xlog", 3]) == "200 ok"
    send(sip)
    assert [line for line in lines() if "rc is 2" in line] == ["INFO: <script>: rc is 2"]


def test_without_mod_hash_size_module_levels_cannot_be_stored(kampy_cfg) -> None:
    sip = kampy_cfg(config('"cfgtrace", 0'))
    with pytest.raises(RpcFault) as caught:
        sip.core.rpc.call("dbg.set_mod_level", ["tm", 3])
    assert (caught.value.code, caught.value.message) == (500, "cannot store parameter")
    assert sip.core.rpc.call("dbg.get_mod_level", ["tm"]) == 0  # the core's debug (default L_WARN)
    assert sip.core.rpc.call("dbg.get_mod_facility", ["core"]) == "LOG_DAEMON"


def test_a_mod_level_without_mod_hash_size_is_a_config_error(kampy_cfg) -> None:
    from kampy.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot store parameter"):
        kampy_cfg(config('"mod_level", "tm=3"'))


def test_mod_facility_sends_a_modules_lines_to_its_syslog_facility(kampy_cfg, tmp_path) -> None:
    sip = kampy_cfg(config('"mod_hash_size", 4', '"mod_facility_mode", 1', '"mod_facility", "tm=LOG_LOCAL3"'))
    assert sip.core.rpc.call("dbg.get_mod_facility", ["tm"]) == "LOG_LOCAL3"
    path = str(tmp_path / "log.sock")
    sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sink.bind(path)
    handler = SyslogHandler("kampy", logging.handlers.SysLogHandler.LOG_DAEMON, path)
    handler.setFormatter(KamailioFormatter(process=False))
    try:
        handler.emit(logging.LogRecord("kampy.tm", logging.ERROR, __file__, 1, "x", (), None))
        handler.emit(logging.LogRecord("kampy.sl", logging.ERROR, __file__, 1, "y", (), None))
        pris = [sink.recv(4096).split(b">", 1)[0] for _ in range(2)]
    finally:
        handler.close()
        sink.close()
        loglevels.set_module_facility("tm", None)
    assert pris == [b"<%d" % (19 * 8 + 3), b"<%d" % (3 * 8 + 3)]  # LOG_LOCAL3 and LOG_DAEMON, LOG_ERR


def test_dbg_set_mod_facility_refuses_an_unknown_facility(kampy_cfg) -> None:
    sip = kampy_cfg(config('"mod_hash_size", 4'))
    with pytest.raises(RpcFault) as caught:
        sip.core.rpc.call("dbg.set_mod_facility", ["tm", "LOG_NOPE"])
    assert caught.value.message == "facility not found"


def test_dbg_sip_msg_logs_the_message_as_it_would_leave_and_its_changes(kampy_cfg, lines) -> None:
    sip = kampy_cfg(config('"cfgtrace", 0'))
    send(sip)
    dumped = next(line for line in lines() if "CONFIG LINE" in line)
    head, _, rest = dumped.partition("\n")
    assert head.startswith("ERROR: <debugger> [modules/debugger/debugger.py:")
    assert head.endswith(f"]: w_dbg_sip_msg(): CONFIG LINE {19 + FIRST}")
    assert rest.startswith("------------------------- START OF SIP message debug --------------------------\n"
                           "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n")
    assert "Contact:" not in rest.split("SIP header diffs")[0]
    assert rest.split("SIP header diffs -------------------------------\n")[1].startswith(
        "- Contact: <sip:alice@192.0.2.10>\r\nP-Hint: My hint\r\n"
        "------------------------------- SIP body diffs --------------------------------\n")
    assert rest.endswith("-------------------------- END OF SIP message debug ---------------------------\n")


def test_dbg_pv_dump_logs_the_configs_variables_as_json(kampy_cfg, lines) -> None:
    sip = kampy_cfg(config('"cfgtrace", 0'))
    send(sip)
    dumped = next(line for line in lines() if "dbg_dump_json()" in line)
    assert dumped.startswith("INFO: ")
    assert dumped.split("dbg_dump_json(): ", 1)[1] == (
        '{"$var(temp)":1,"$avp(more_avp)":[3,2],"$xavp(x)":[{"more":["bye"]}],"$var(empty)":0,'
        '"$rc":1,"$rm":"OPTIONS","$var(a)":0}')


def test_reset_msgid_makes_mi_count_from_1_again(kampy_cfg) -> None:
    sip = kampy_cfg(MODULES + 'modparam("debugger", "reset_msgid", 1)\n'
                    'request_route { sl_send_reply("200", "mi=$mi"); }')
    for expected in ("mi=1", "mi=2"):
        assert sip.send_request("OPTIONS", "sip:x@127.0.0.1").reply.data.split(b"\r\n")[0].endswith(
            expected.encode())
    assert sip.core.rpc.call("dbg.reset_msgid") == "200 ok"
    assert sip.send_request("OPTIONS", "sip:x@127.0.0.1").reply.data.split(b"\r\n")[0].endswith(b"mi=1")


def test_reset_msgid_must_be_enabled(kampy_cfg) -> None:
    sip = kampy_cfg(config('"cfgtrace", 0'))
    with pytest.raises(RpcFault) as caught:
        sip.core.rpc.call("dbg.reset_msgid")
    assert caught.value.message == "reset_msgid is 0. Set it to 1 to enable."


def test_dbg_breakpoint_never_stops(kampy_cfg) -> None:
    sip = kampy_cfg(config('"cfgtrace", 0'))
    result = sip.send_request("OPTIONS", "sip:x@127.0.0.1")
    assert result.codes("dbg_breakpoint") == [1]
    result.assert_reply(200)


def test_a_trace_switched_on_in_one_worker_shows_in_another(tmp_path) -> None:
    from kampy.config.pipeline import load_text
    from kampy.runtime.server import Server
    from kampy.runtime.shared import SharedStore
    from tests.support.runtime import SOCKET, SOURCE, request

    compiled = load_text(config('"cfgtrace", 0'), "dbg.cfg")
    store = SharedStore.create()
    try:
        one = Server.from_config(compiled, sockets=[SOCKET], shared=store, rank=1, workers=2)
        two = Server.from_config(compiled, sockets=[SOCKET], shared=store.reopen(), rank=2, workers=2)
        one.core.rpc.call("dbg.trace", ["on"])  # every process (both are this pid here)
        records: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = records.append  # type: ignore[method-assign]
        logging.getLogger("kampy.debugger").addHandler(handler)
        try:
            two.handle(request(), SOURCE)
        finally:
            logging.getLogger("kampy.debugger").removeHandler(handler)
        assert any("n=sl_send_reply" in r.getMessage() for r in records)
    finally:
        store.remove()


@pytest.mark.parametrize(("cases", "kind"), [((1,), 21), ((1, 2, 3), 21), ((1, 2, 3, 4), 20),
                                             ((1, 50, 99, 150), 21), ((1, 50, 99, 100, 5), 20)])
def test_an_integer_switch_is_a_jump_table_when_kamailio_makes_one(cases: tuple[int, ...], kind: int) -> None:
    from kampy.api import Action
    from kampy.modules.debugger.trace import action_type

    action = Action("switch", "switch", "f.cfg", 1, "request", None, int_cases=cases)
    assert action_type(action) == (kind, "switch")


# ------------------------------------------------------------ breakpoints (dbg.bp)

BREAK = ('"breakpoint", 1', '"step_usleep", 2000', '"step_loops", 2500')
LINE = 6 + FIRST + len(BREAK) - 1  # the request route's first action


class Stopped:
    """A request handled in a thread of its own, which stops at the breakpoints of this process."""

    def __init__(self, sip: Harness) -> None:
        self.sip = sip
        self.results: list = []
        self.thread = threading.Thread(target=lambda: self.results.append(send_result(sip)), daemon=True)
        self.thread.start()

    def state(self) -> int:
        return self.sip.core.rpc.call("dbg.ls", [os.getpid()])[0]["state"]

    def wait_stopped(self) -> None:
        deadline = time.monotonic() + 10
        while self.state() != 1:
            assert time.monotonic() < deadline, "the request never stopped at a breakpoint"
            time.sleep(0.005)

    def bp(self, *params: object) -> str:
        return self.sip.core.rpc.call("dbg.bp", list(params))

    def finished(self):
        self.thread.join(10)
        assert not self.thread.is_alive(), "the request is still stopped"
        return self.results[0]


def send_result(sip: Harness):
    return sip.send_request("OPTIONS", "sip:x@127.0.0.1", headers={"Contact": "<sip:alice@192.0.2.10>"})


def test_breakpoint_1_stops_a_request_at_its_first_action(kampy_cfg, lines) -> None:
    sip = kampy_cfg(config(*BREAK))
    stopped = Stopped(sip)
    stopped.wait_stopped()
    assert stopped.bp("show", os.getpid()) == f"at bkp [<test cfg>:{LINE}] a=63 n=assign"
    hit = f"breakpoint hit: p=[{os.getpid()}] c=[<test cfg>] l={LINE} a=63 n=assign"
    assert [line for line in lines() if "breakpoint" in line][0].endswith(hit)
    stopped.bp("move", os.getpid())
    stopped.finished().assert_reply(200)


def test_dbg_bp_next_runs_one_action_and_stops_at_the_next(kampy_cfg) -> None:
    sip = kampy_cfg(config(*BREAK))
    stopped = Stopped(sip)
    stopped.wait_stopped()
    pid = os.getpid()
    assert stopped.bp("next", pid) == f"exec [<test cfg>:{LINE}] a=63 n=assign"
    assert stopped.bp("show", pid) == f"at bkp [<test cfg>:{LINE + 1}] a=63 n=assign"
    assert stopped.bp("eval", pid, "$var(temp)") == "$var(temp) : t=int v=1"
    assert stopped.state() == 2  # DBG_STATE_NEXT
    stopped.bp("move", pid)
    stopped.finished().assert_reply(200)


def test_dbg_bp_eval_answers_a_pseudo_variables_type_and_value(kampy_cfg) -> None:
    sip = kampy_cfg(config(*BREAK))
    stopped = Stopped(sip)
    stopped.wait_stopped()
    pid = os.getpid()
    assert stopped.bp("eval", pid, "$rm") == "$rm : t=str v=OPTIONS"
    assert stopped.bp("eval", pid, "$avp(nothing)") == "$avp(nothing) : t=null"
    stopped.bp("move", pid)
    stopped.finished()


def test_dbg_bp_log_logs_the_value_and_the_process_stays(kampy_cfg, lines) -> None:
    sip = kampy_cfg(config(*BREAK))
    stopped = Stopped(sip)
    stopped.wait_stopped()
    assert stopped.bp("log", os.getpid(), "$rm") == "200 ok"
    deadline = time.monotonic() + 10
    while not any(line.endswith("breakpoint eval: $rm : t=str v=OPTIONS") for line in lines()):
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert stopped.state() == 1
    stopped.bp("move", os.getpid())
    stopped.finished()


def test_dbg_bp_move_lets_the_process_run_without_breakpoints(kampy_cfg) -> None:
    sip = kampy_cfg(config(*BREAK))
    stopped = Stopped(sip)
    stopped.wait_stopped()
    assert stopped.bp("move", os.getpid()) == "200 ok"
    stopped.finished().assert_reply(200)
    assert sip.core.rpc.call("dbg.ls") == [
        {"entry": 0, "pid": os.getpid(), "set": 0, "state": 0, "in.pid": 0, "in.cmd": 0}]
    send_result(sip).assert_reply(200)  # no stop any more


def test_dbg_bp_on_makes_a_process_stop_and_off_not(kampy_cfg) -> None:
    sip = kampy_cfg(config('"step_usleep", 2000'))
    assert sip.core.rpc.call("dbg.bp", ["on"]) == "200 ok"
    assert sip.core.rpc.call("dbg.ls")[0]["set"] == 2
    stopped = Stopped(sip)
    stopped.wait_stopped()
    stopped.bp("move", os.getpid())
    stopped.finished()
    sip.core.rpc.call("dbg.bp", ["on"])
    sip.core.rpc.call("dbg.bp", ["off"])
    send_result(sip).assert_reply(200)


def test_dbg_bp_release_keeps_the_breakpoints_of_a_stopped_process(kampy_cfg) -> None:
    sip = kampy_cfg(config(*BREAK))
    stopped = Stopped(sip)
    stopped.wait_stopped()
    assert stopped.bp("release") == "200 ok"
    assert sip.core.rpc.call("dbg.ls")[0]["set"] == 2
    stopped.bp("move", os.getpid())
    stopped.finished()


def test_a_command_without_an_answer_is_200_ok_after_step_loops(kampy_cfg) -> None:
    sip = kampy_cfg(config('"step_usleep", 1000', '"step_loops", 3'))
    assert sip.core.rpc.call("dbg.bp", ["show", os.getpid()]) == "200 ok"  # not stopped: no answer


@pytest.mark.parametrize(("params", "fault"), [
    ([], "Config breakpoint command missing"), (["next"], "Missing pid parameter"),
    (["on", 1], "No such pid"), (["jump", "PID"], "Unknown inner command"),
    (["eval", "PID"], "pv param missing"), (["eval", "PID", "$"], "invalid pv param"),
    (["log", "PID", "$" * 256], "invalid pv param")])
def test_dbg_bp_faults(kampy_cfg, params: list, fault: str) -> None:
    sip = kampy_cfg(config('"step_usleep", 1000', '"step_loops", 3'))
    params = [os.getpid() if p == "PID" else p for p in params]
    with pytest.raises(RpcFault) as caught:
        sip.core.rpc.call("dbg.bp", params)
    assert (caught.value.code, caught.value.message) == (500, fault)


def test_cfgpkgcheck_logs_kamailios_line_before_each_action(kampy_cfg, lines) -> None:
    sip = kampy_cfg(config('"cfgpkgcheck", 1'))
    send(sip)
    checks = [line for line in lines() if "cfg pkg check" in line]
    assert len(checks) == len(TRACE)
    assert checks[0].startswith("DEBUG: ") and \
        checks[0].endswith("cfg pkg check is disbled due to missing qm handler")


def test_no_pkg_check_line_without_cfgpkgcheck(kampy_cfg, lines) -> None:
    sip = kampy_cfg(config('"cfgpkgcheck", 0'))
    send(sip)
    assert not any("cfg pkg check" in line for line in lines())


def test_cfgtest_without_the_cfgt_module_is_a_config_error(kampy_cfg) -> None:
    from kampy.errors import ConfigError

    with pytest.raises(ConfigError, match="can't find cfgt module"):
        kampy_cfg(config('"cfgtest", 1'))


def test_cfgtest_0_needs_no_cfgt_module(kampy_cfg) -> None:
    send(kampy_cfg(config('"cfgtest", 0')))
