"""The dialog module on the wire, beside Kamailio 5.6 running the same config: sipp callers and
callees through a record-routing proxy that tracks dialogs; the calls are listed by `kamcmd
dlg.list` while up and gone after the BYE, a profile refuses the third concurrent call, a dialog's
timeout and `dlg.end_dlg` send BYE to both sides, acc logs the call's CDR. Each check runs on both
servers and the results (sipp's counts, what `kamcmd dlg.list` prints, the CDR line, the dialog rows) must be
the same."""
from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.db import connect, create_tables
from kampy.testing import mariadb
from tests.e2e.beside import Server, both, start
from tests.e2e.kampy_process import SCENARIOS, free_port, start_server, stop_process

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
children=2
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "ctl.so"
loadmodule "kex.so"
loadmodule "dialog.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
modparam("dialog", "profiles_with_value", "callee")
modparam("dialog", "profiles_no_value", "calls")
modparam("dialog", "timeout_avp", "$avp(dlgto)")
request_route {
    if (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; }
    if (has_totag()) {
        if (loose_route()) { t_relay(); exit; }
        if (is_method("ACK")) { if (t_check_trans()) t_relay(); exit; }
        sl_send_reply("404", "Not here");
        exit;
    }
    if (is_method("INVITE")) {
        if ($rU == "short") { $avp(dlgto) = 2; $dlg_ctx(timeout_bye) = 1; }
        dlg_manage();
        set_dlg_profile("calls");
        set_dlg_profile("callee", "$rU");
        get_profile_size("callee", "$rU", "$var(n)");
        if ($var(n) > 2) { sl_send_reply("503", "Too many calls"); exit; }
        record_route();
    }
    t_relay();
}
"""


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    with both(tmp_path_factory.mktemp("dialog"), CFG) as pair:
        yield pair


class Callee:
    """A sipp callee (call_sdp_uas.xml) on a free port."""

    def __init__(self, sipp: str, workdir: Path) -> None:
        self.port = free_port()
        self.messages = workdir / f"callee-{self.port}.log"
        self.proc = start_server([sipp, "-sf", str(SCENARIOS / "call_sdp_uas.xml"), "-t", "u1", "-i",
                                  "127.0.0.1", "-p", str(self.port), "-nostdin", "-bind_local",
                                  "-trace_msg", "-message_file", str(self.messages)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
        self._wait_bound()  # before the first INVITE reaches it

    def _wait_bound(self, seconds: float = 10) -> None:
        """Until a UDP socket on 127.0.0.1:port exists (/proc/net/udp), as sipp binds it."""
        wanted = f"0100007F:{self.port:04X}"
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with open("/proc/net/udp") as table:
                if any(line.split()[1] == wanted for line in table.readlines()[1:]):
                    return
            time.sleep(0.05)

    def stop(self) -> None:
        stop_process(self.proc, timeout=5)

    def got(self, method: str, seconds: float = 3) -> int:
        """`received(method)` once it is not 0, or else once sipp stopped: sipp writes its message
        trace behind, in blocks (under load 15 s of waiting were seen to show nothing), and all of
        it when it exits."""
        deadline = time.monotonic() + seconds
        while True:
            count = self.received(method)
            if count:
                return count
            if time.monotonic() > deadline:
                self.stop()
                return self.received(method)
            time.sleep(0.1)

    def received(self, method: str) -> int:
        """How many `method` requests it received (sipp's message trace)."""
        try:
            text = self.messages.read_text(errors="replace")
        except OSError:
            return 0
        return len(re.findall(rf"message received \[\d+\] bytes :\n\n{method} ", text))


def caller(sipp: str, server: Server, callee: Callee, workdir: Path, scenario: str, *, user: str,
           calls: int = 1, pause_ms: int = 0) -> subprocess.Popen[str]:
    """A sipp caller sending to sip:<user>@<callee> through the server (-rsa), in the background."""
    cmd = [sipp, "-sf", str(SCENARIOS / scenario), "-t", "u1", "-i", "127.0.0.1", "-p", str(free_port()),
           "-m", str(calls), "-r", "20", "-l", str(calls), "-s", user, "-rsa", f"127.0.0.1:{server.port}",
           "-nostdin", "-timeout", "25s", "-d", str(pause_ms), "-trace_err"]
    cmd.append(f"127.0.0.1:{callee.port}")
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=workdir)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=40)
    return proc.returncode, out[-1500:]


def dialogs(server: Server) -> list[dict[str, str]]:
    """The dialogs `kamcmd dlg.list` prints: the top-level `name: value` lines of each."""
    found: list[dict[str, str]] = []
    for line in server.kamcmd("dlg.list").splitlines():
        m = re.match(r"^\t(\w[\w-]*): (.*)$", line)
        if line.strip() == "{" and line.startswith("{"):
            found.append({})
        elif m and found:
            found[-1].setdefault(m.group(1), m.group(2))
    return found


def wait_for(server: Server, states: list[str], seconds: float = 10) -> list[dict[str, str]]:
    deadline = time.monotonic() + seconds
    while True:
        listed = dialogs(server)
        if sorted(d.get("state", "") for d in listed) == states or time.monotonic() > deadline:
            return listed
        time.sleep(0.1)


# (duration: whole seconds since the start, 0 or 1 at the moment of listing, by chance)
VARYING = re.compile(r"^(\t+(?:h_entry|h_id|call-id|start_ts|init_ts|duration|timeout|tag|contact|socket|ref)"
                     r": ).*$", re.M)


def listing(server: Server) -> str:
    """`kamcmd dlg.list` as printed, the values that differ from run to run (ids, times, tags,
    addresses, Kamailio's reference count) blanked."""
    return VARYING.sub(r"\1*", server.kamcmd("dlg.list"))


def stat(server: Server, name: str) -> int:
    out = server.kamcmd("stats.get_statistics", "dialog:")
    m = re.search(rf"dialog:{name} = (\d+)", out)
    return int(m.group(1)) if m else -1


def tracked_call(sipp: str, server: Server, workdir: Path) -> dict[str, object]:
    callee = Callee(sipp, workdir)
    try:
        before = stat(server, "processed_dialogs")
        proc = caller(sipp, server, callee, workdir, "dialog_call_uac.xml", user="bob", pause_ms=2500)
        up = wait_for(server, ["4"])
        text = listing(server)
        size = server.kamcmd("dlg.profile_get_size", "callee", "bob").strip()
        code, out = finish(proc)
        gone = wait_for(server, [])
        return {"listing": text, "states": [d["state"] for d in up], "size": size,
                "sipp": code, "after": gone, "processed": stat(server, "processed_dialogs") - before,
                "active": stat(server, "active_dialogs"), "out": out if code else ""}
    finally:
        callee.stop()


def test_a_call_is_listed_while_up_and_gone_after_its_bye(servers, sipp, tmp_path):
    kamailio, kampy = servers
    seen = {s.name: tracked_call(sipp, s, tmp_path) for s in (kamailio, kampy)}
    assert seen["kamailio"]["states"] == ["4"] and seen["kamailio"]["sipp"] == 0, seen["kamailio"]
    assert seen["kampy"] == seen["kamailio"]


def third_call_refused(sipp: str, server: Server, workdir: Path) -> tuple[int, str, str]:
    callee = Callee(sipp, workdir)
    try:
        first = caller(sipp, server, callee, workdir, "dialog_call_uac.xml", user="carol", calls=2,
                       pause_ms=3000)
        wait_for(server, ["4", "4"])
        third = subprocess.run(
            [sipp, "-sf", str(SCENARIOS / "dialog_call_uac.xml"), "-t", "u1", "-i", "127.0.0.1", "-p",
             str(free_port()), "-m", "1", "-s", "carol", "-rsa", f"127.0.0.1:{server.port}", "-nostdin",
             "-timeout", "10s", f"127.0.0.1:{callee.port}"],
            capture_output=True, text=True, timeout=30, cwd=workdir)
        size = server.kamcmd("dlg.profile_get_size", "callee", "carol").strip()
        code, _ = finish(first)
        return code, "503" if "503" in third.stdout + third.stderr or third.returncode != 0 else "ok", size
    finally:
        callee.stop()


def test_a_profile_refuses_the_third_concurrent_call(servers, sipp, tmp_path):
    kamailio, kampy = servers
    seen = {s.name: third_call_refused(sipp, s, tmp_path) for s in (kamailio, kampy)}
    assert seen["kamailio"] == (0, "503", "2")
    assert seen["kampy"] == seen["kamailio"]


def ended_by_proxy(sipp: str, server: Server, workdir: Path, user: str,
                   end_dlg: bool) -> tuple[int, list, int, int]:
    callee = Callee(sipp, workdir)
    try:
        expired = stat(server, "expired_dialogs")
        proc = caller(sipp, server, callee, workdir, "dialog_wait_bye_uac.xml", user=user)
        up = wait_for(server, ["4"])
        if end_dlg and up:
            server.kamcmd("dlg.end_dlg", up[0]["h_entry"], up[0]["h_id"])
        code, _ = finish(proc)
        return code, wait_for(server, []), stat(server, "expired_dialogs") - expired, callee.got("BYE")
    finally:
        callee.stop()


def test_the_dialog_timeout_sends_bye_to_both_sides(servers, sipp, tmp_path):
    kamailio, kampy = servers
    seen = {s.name: ended_by_proxy(sipp, s, tmp_path, "short", False) for s in (kamailio, kampy)}
    assert seen["kamailio"] == (0, [], 1, 1)  # the caller answered its BYE, the callee got one
    assert seen["kampy"] == seen["kamailio"]


def test_dlg_end_dlg_sends_bye_to_both_sides(servers, sipp, tmp_path):
    kamailio, kampy = servers
    seen = {s.name: ended_by_proxy(sipp, s, tmp_path, "bob", True) for s in (kamailio, kampy)}
    assert seen["kamailio"] == (0, [], 0, 1)
    assert seen["kampy"] == seen["kamailio"]


CDR_CFG = CFG.replace("children=2\n", "children=2\ndebug=2\n")
CDR_CFG = CDR_CFG.replace('loadmodule "dialog.so"\n', '''loadmodule "dialog.so"
loadmodule "acc.so"
modparam("acc", "cdr_enable", 1)
modparam("acc", "cdr_extra", "caller=$fU;callee=$tU;cid=$ci")
''')


def cdr_lines(server: Server, seconds: float = 10) -> list[str]:
    """The CDR lines the server logged (Kamailio's log_write_cdr text), once there is one."""
    deadline = time.monotonic() + seconds
    while True:
        text = (server.dir / "log").read_text(errors="replace")
        found = re.findall(r"(start_time=\S*; end_time=\S*; duration=\S*; caller=.*)", text)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_a_call_gets_the_same_cdr_line_as_kamailios(sipp, tmp_path):
    with both(tmp_path, CDR_CFG) as (kamailio, kampy):
        seen = {}
        for server in (kamailio, kampy):
            callee = Callee(sipp, tmp_path)
            try:
                code, out = finish(caller(sipp, server, callee, tmp_path, "dialog_call_uac.xml", user="bob",
                                          pause_ms=1200))
            finally:
                callee.stop()
            assert code == 0, out
            lines = cdr_lines(server)
            assert len(lines) == 1, lines
            m = re.fullmatch(r"start_time=(\d+)\.(\d{3}); end_time=(\d+)\.(\d{3}); duration=(\d+)\.(\d{3}); "
                             r"caller=caller; callee=bob; cid=(\S+)", lines[0].strip())
            assert m is not None, lines[0]
            duration = float(f"{m.group(5)}.{m.group(6)}")
            assert 1.0 <= duration < 3.0, lines[0]
            seen[server.name] = re.sub(r"\d", "N", lines[0].strip().split("; cid=")[0])
        assert seen["kampy"] == seen["kamailio"]


DB_CFG = CFG.replace('loadmodule "dialog.so"\n', '''loadmodule "db_mysql.so"
loadmodule "dialog.so"
modparam("dialog", "db_mode", 1)
modparam("dialog", "db_url", "DBURL")
''').replace("        record_route();\n", '        $dlg_var(color) = "blue";\n        record_route();\n')
DEFAULT_TIMEOUT = 43200  # dialog's default_timeout: the configs leave it at 12 hours
ROW = ("state", "from_uri", "to_uri", "caller_cseq", "callee_cseq", "caller_route_set", "callee_route_set",
       "sflags", "iflags", "toroute_name", "req_uri", "start_time", "timeout")


def confirmed_rows(url: str, seconds: float = 3) -> tuple[list[dict[str, object]], list[tuple]]:
    """The dialog and dialog_vars rows once the row says confirmed (4): both servers change the
    dialog's state in memory before they write it (dlg_onroute, then update_dialog_dbinfo), so a
    reader that saw state 4 listed may still find the 3 of the 200 OK in the table for a moment."""
    deadline = time.monotonic() + seconds
    while True:
        with connect(url) as db:
            rows = [dict(zip(ROW, r, strict=True)) for r in db.query("dialog", list(ROW))]
            vars_ = db.query("dialog_vars", ["dialog_key", "dialog_value"])
        if [str(r["state"]) for r in rows] == ["4"] or time.monotonic() > deadline:
            return rows, vars_
        time.sleep(0.05)


def db_rows(server: Server, sipp: str, workdir: Path, url: str) -> dict[str, object]:
    """The dialog and dialog_vars rows while a call through `server` is up, and after its BYE."""
    callee = Callee(sipp, workdir)
    try:
        proc = caller(sipp, server, callee, workdir, "dialog_call_uac.xml", user="bob", pause_ms=2500)
        wait_for(server, ["4"])
        rows, vars_ = confirmed_rows(url)
        code, out = finish(proc)
        assert code == 0, out
        wait_for(server, [])
        with connect(url) as db:
            after = db.query("dialog", ["callid"]) + db.query("dialog_vars", ["dialog_key"])
    finally:
        callee.stop()
    for row in rows:  # the values that depend on the run: the lifetime and ports stay
        # the ACK restarts the timer (dlg_onroute, both servers): a second after the 200 OK that set
        # start_time when the two straddle a second's boundary
        lifetime = int(row["timeout"]) - int(row["start_time"])
        row["timeout"] = "default_timeout" if lifetime in (DEFAULT_TIMEOUT, DEFAULT_TIMEOUT + 1) else lifetime
        row["start_time"] = "N"
        row["req_uri"] = re.sub(r":\d+$", ":PORT", str(row["req_uri"]))
    return {"rows": rows, "vars": [tuple(v) for v in vars_], "after": list(after)}


def test_db_mode_1_writes_the_rows_kamailio_writes(sipp, tmp_path, mariadb_server):
    seen = {}
    for name in ("kamailio", "kampy"):
        with mariadb.fresh_database(mariadb_server) as url:
            with connect(url) as db:
                create_tables(db, ["dialog", "dialog_vars"])
            server = start(name, tmp_path, DB_CFG.replace("DBURL", url))
            try:
                seen[name] = db_rows(server, sipp, tmp_path, url)
            finally:
                stop_process(server.proc)
    assert len(seen["kamailio"]["rows"]) == 1 and seen["kamailio"]["after"] == [], seen["kamailio"]
    assert seen["kampy"] == seen["kamailio"], (seen["kampy"], seen["kamailio"])
