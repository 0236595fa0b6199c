"""cfgutils and rtimer in a forked kampy (`kampy run`, several workers): what Kamailio keeps in
shared memory is seen by every worker, a lock taken in one worker holds off the others, and
rtimer's timers run in processes of their own beside the workers."""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path

from tests.e2e.kampy_process import running_kampy
from tests.e2e.sip import UDPClient, call_id_of, options, status_of
from tests.support.kamailio_cli import wait_until

CFG = """
children=3
debug=2
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "textops.so"
loadmodule "cfgutils.so"
loadmodule "rtimer.so"
modparam("cfgutils", "lock_set_size", 4)
modparam("rtimer", "timer", "name=ta;interval=1;mode=2")
modparam("rtimer", "timer", "name=tb;interval=1;mode=0")
modparam("rtimer", "exec", "timer=ta;route=TICK")
modparam("rtimer", "exec", "timer=tb;route=TICK")
request_route {
    append_to_reply("X-Pid: $pp\\r\\n");
    if (is_method("MESSAGE")) {
        set_gflag("3");
        rand_set_prob("100");
        sl_send_reply("200", "Set");
        exit;
    }
    if (is_method("INFO")) {
        lock("shared-key");
        usleep("800000");
        unlock("shared-key");
        sl_send_reply("200", "Held");
        exit;
    }
    if (is_method("PUBLISH")) {
        if (trylock("shared-key")) {
            unlock("shared-key");
            sl_send_reply("200", "Free");
        } else {
            sl_send_reply("409", "Held elsewhere");
        }
        exit;
    }
    if (is_gflag("3") && rand_event()) {
        sl_send_reply("200", "Flag set");
        exit;
    }
    sl_send_reply("404", "Flag not set");
}
route[TICK] {
    xlog("L_NOTICE", "rtimer tick pid=$pp worker=$rtimer_worker\\n");
}
"""


def pid_of(reply: bytes) -> str:
    m = re.search(rb"X-Pid: (\d+)", reply)
    assert m, reply
    return m.group(1).decode()


def reason_of(reply: bytes) -> str:
    return reply.split(b"\r\n", 1)[0].split(b" ", 2)[2].decode()


def burst(dest: tuple[str, int], count: int = 20) -> list[bytes]:
    """`count` OPTIONS sent at once, then their replies. While one worker handles one, the rest wait
    in the socket for the others; sent one at a time, the worker that has just answered takes the
    next as well, and on a quiet machine it takes them all."""
    ua = UDPClient()
    try:
        ids = [f"burst-{n}-{time.monotonic_ns()}" for n in range(count)]
        for call_id in ids:
            ua.sock.sendto(options(*dest, local=ua.local, call_id=call_id), dest)
        replies: dict[str | None, bytes] = {}
        while len(replies) < count:
            data, _ = ua.sock.recvfrom(70000)
            replies[call_id_of(data)] = data
        return [replies[call_id] for call_id in ids]
    finally:
        ua.close()


def answers_from_another_worker(dest: tuple[str, int], first: bytes) -> list[bytes]:
    """Bursts of requests until some are answered by another worker than the one that answered
    `first` (20 s at most)."""
    answers = burst(dest)
    deadline = time.monotonic() + 20
    while {pid_of(a) for a in answers} == {pid_of(first)} and time.monotonic() < deadline:
        answers += burst(dest)
    return answers


def test_a_global_flag_and_the_probability_set_in_one_worker_hold_in_every_worker(tmp_path: Path) -> None:
    with running_kampy(CFG, tmp_path, protos=("udp",)) as kampy:
        ua = UDPClient()
        try:
            assert status_of(ua.request(kampy.addr)) == 404
            setter = ua.request(kampy.addr, method="MESSAGE")
            assert status_of(setter) == 200
            answers = answers_from_another_worker(kampy.addr, setter)
        finally:
            ua.close()
        assert {reason_of(a) for a in answers} == {"Flag set"}
        assert {pid_of(a) for a in answers} - {pid_of(setter)}  # some were answered by another worker


def test_a_lock_held_by_one_worker_is_held_against_the_others(tmp_path: Path) -> None:
    with running_kampy(CFG, tmp_path, protos=("udp",)) as kampy:
        holder, other = UDPClient(), UDPClient()
        try:
            got: list[bytes] = []
            thread = threading.Thread(target=lambda: got.append(holder.request(kampy.addr, method="INFO")))
            thread.start()
            time.sleep(0.3)  # the INFO holds the lock for 0.8 s in its worker
            during = other.request(kampy.addr, method="PUBLISH")
            thread.join()
            after = other.request(kampy.addr, method="PUBLISH")
        finally:
            holder.close()
            other.close()
        assert reason_of(got[0]) == "Held"
        assert (status_of(during), reason_of(during)) == (409, "Held elsewhere")
        assert pid_of(during) != pid_of(got[0])
        assert reason_of(after) == "Free"


def test_rtimer_runs_its_timers_in_processes_beside_the_workers(tmp_path: Path) -> None:
    with running_kampy(CFG, tmp_path, protos=("udp",)) as kampy:
        assert "3 module processes: RTIMER EXEC child=0 timer=ta, RTIMER EXEC child=1 timer=ta, " \
               "rtimer timer (mode 0 timers)" in kampy.output()
        assert wait_until(lambda: len(set(re.findall(r"tick pid=(\d+) worker=\d", kampy.output()))) >= 3, 10)
        ua = UDPClient()
        try:
            worker_pids = {pid_of(ua.request(kampy.addr)) for _ in range(30)}
        finally:
            ua.close()
        children = {str(p) for p in kampy.worker_pids()}
    ticks = re.findall(r"tick pid=(\d+) worker=(\d)", kampy.output())
    tick_pids = {pid for pid, _ in ticks}
    assert len(children) == 3 + 3  # three workers, two processes of timer ta, one for the mode 0 timers
    assert tick_pids <= children and not tick_pids & worker_pids
    assert {worker for _, worker in ticks} == {"0", "1"}


DIALPLAN_CFG = """
children=3
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "db_sqlite.so"
loadmodule "dialplan.so"
modparam("dialplan", "db_url", "URL")
modparam("dialplan", "attrs_pvar", "$var(attrs)")
request_route {
    append_to_reply("X-Pid: $pp\\r\\n");
    if (is_method("MESSAGE")) {
        dp_reload();
        sl_send_reply("200", "Reloaded");
        exit;
    }
    $var(attrs) = "none";
    dp_match("1", "$rU");
    sl_send_reply("200", "$var(attrs)");
}
"""


def test_a_dialplan_reload_in_one_worker_is_seen_by_every_worker(tmp_path: Path) -> None:
    from kampy.db import connect, create_tables

    url = f"sqlite://{tmp_path}/dp.sqlite"
    with connect(url) as db:
        create_tables(db, ["dialplan"])
    with running_kampy(DIALPLAN_CFG.replace("URL", url), tmp_path, protos=("udp",)) as kampy:
        ua = UDPClient()
        try:
            assert reason_of(ua.request(kampy.addr)) == "none"
            with connect(url) as db:
                db.insert("dialplan", {"dpid": 1, "pr": 1, "match_op": 1, "match_exp": ".", "match_len": 0,
                                       "subst_exp": "", "repl_exp": "", "attrs": "new rule"})
            reloader = ua.request(kampy.addr, method="MESSAGE")
            answers = answers_from_another_worker(kampy.addr, reloader)
        finally:
            ua.close()
    assert reason_of(reloader) == "Reloaded"
    assert {reason_of(a) for a in answers} == {"new rule"}
    assert {pid_of(a) for a in answers} - {pid_of(reloader)}  # some answered by other workers
