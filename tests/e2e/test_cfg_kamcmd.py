"""The cfg framework and cfg_rpc beside Kamailio 5.6: the same config run by both servers (two workers
each), `kamcmd cfg.*` commands given to both in the same order print the same, and a change made
over the control socket is what every worker's next message sees, read with `$sel(cfg_get...)`, and
what tm's next transactions use (`tm.fr_timer`)."""
from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.beside import ctl, launch, pair
from tests.e2e.kampy_process import stop_process

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
children=2
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "siputils.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "ctl.so"
loadmodule "cfg_rpc.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
modparam("maxfwd", "max_limit", 50)
modparam("tm", "fr_inv_timer", 90000)
modparam("tm", "auto_inv_100_reason", "Trying")
modparam("registrar", "default_expires", 1800)
modparam("registrar", "realm_prefix", "sip.")
pstn.gw_ip = "" desc "PSTN GW Address"
pstn.gw_port = "5060" desc "PSTN GW Port"
my.x = 5 desc "my x"
my.n = 7
my[2].x = 9
request_route {
  if ($rU == "relay") { t_relay_to_udp("127.0.0.1", "SILENT"); exit; }
  if ($rU == "two") { cfg_select("my", 2); }
  sl_send_reply("200", "x=$sel(cfg_get.my.x) n=$sel(cfg_get.my.n) ip=$sel(cfg_get.pstn.gw_ip) "
                       "lim=$sel(cfg_get.maxfwd.max_limit) inst=$sel(cfg_selected.my)");
}
"""


@dataclass
class Server:
    name: str
    dir: Path
    port: int
    proc: subprocess.Popen[bytes]

    def kamcmd(self, *args: str) -> str:
        return ctl(self.dir, *args)

    def reason(self, user: str = "bob") -> str:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(5)
            lport = s.getsockname()[1]
            s.sendto((f"OPTIONS sip:{user}@127.0.0.1:{self.port} SIP/2.0\r\n"
                      f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK-{time.time_ns()}\r\n"
                      f"From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:{user}@127.0.0.1>\r\n"
                      f"Call-ID: cfg-{time.time_ns()}\r\nCSeq: 1 OPTIONS\r\n"
                      "Content-Length: 0\r\n\r\n").encode(),
                     ("127.0.0.1", self.port))
            return s.recv(4096).split(b"\r\n")[0].decode().split(" ", 2)[2]


    def timed_out_after(self) -> float:
        """Seconds until a MESSAGE relayed to the silent socket is answered (tm's 408)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(60)
            lport = s.getsockname()[1]
            started = time.monotonic()
            s.sendto((f"MESSAGE sip:relay@127.0.0.1:{self.port} SIP/2.0\r\n"
                      f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK-fr{time.time_ns()}\r\n"
                      f"From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:relay@127.0.0.1>\r\n"
                      f"Call-ID: fr-{time.time_ns()}\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n"
                      "Content-Length: 0\r\n\r\n").encode(), ("127.0.0.1", self.port))
            status = s.recv(4096).split(b"\r\n")[0]
            assert status == b"SIP/2.0 408 Request Timeout", status
            return time.monotonic() - started


def start(name: str, tmp: Path, silent: int) -> Server:
    """`silent`: the port "relay" requests go to (a socket that answers nothing)."""
    directory = tmp / name
    directory.mkdir()
    return Server(name, directory, *launch(name, directory, CFG, values={"SILENT": str(silent)}))


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    tmp = tmp_path_factory.mktemp("cfgrpc")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        yield from pair(lambda name: start(name, tmp, silent.getsockname()[1]),
                        lambda server: stop_process(server.proc))


def both(servers: tuple[Server, Server], *command: str) -> str:
    kamailio, kampy = servers
    theirs, ours = kamailio.kamcmd(*command), kampy.kamcmd(*command)
    assert ours == theirs, f"kamcmd {' '.join(command)}"
    return ours


# ------------------------------------------------------------------ reading (no change made)

READING = """
cfg.list
cfg.list my
cfg.list nope
cfg.get my
cfg.get my[2]
cfg.get pstn
cfg.get core
cfg.get tcp
cfg.get maxfwd
cfg.get registrar
cfg.get xlog
cfg.get tm
cfg.get tm auto_inv_100_reason
cfg.get tm fr_timer
cfg.get tm blst_methods_lookup
cfg.help tm fr_inv_timer
cfg.help tm ac_extra_hdrs
cfg.get siputils
cfg.get siputils ring_timeout
cfg.help siputils ring_timeout
cfg.get nope
cfg.get my x
cfg.get my[2] n
cfg.get registrar realm_pref
cfg.get core log_facility
cfg.get core nope
cfg.get my[9]
cfg.get my[9] x
cfg.get my[x] x
cfg.get
cfg.help my x
cfg.help my n
cfg.help pstn gw_ip
cfg.help core debug
cfg.help core log_facility
cfg.help registrar realm_pref
cfg.help nope x
cfg.diff
system.methodHelp cfg.set_delayed_int
system.methodHelp cfg.list
""".strip().splitlines()


@pytest.mark.parametrize("command", READING)
def test_reading_prints_what_kamailio_prints(servers, command):
    both(servers, *command.split())


def test_a_message_reads_the_config_values(servers):
    kamailio, kampy = servers
    assert kampy.reason() == kamailio.reason() == "x=5 n=7 ip= lim=50 inst="
    assert kampy.reason("two") == kamailio.reason("two") == "x=9 n=7 ip= lim=50 inst=2"


# ------------------------------------------------------------------ changing (one sequence, in order)

SEQUENCE = """
cfg.set_now_int my x 11
cfg.get my
cfg.get my[2]
cfg.seti my n 12
cfg.set_now_string pstn gw_ip 10.0.0.1
cfg.sets pstn gw_port 5080
cfg.set my x 13
cfg.set pstn gw_port x
cfg.set my x abc
cfg.set my x
cfg.set_now_string my x abc
cfg.set_now_int maxfwd max_limit 300
cfg.set_now_int maxfwd max_limit 30
cfg.set_now_int nope x 1
cfg.set_now_int my[3] x 1
cfg.set_now_int core log_facility 3
cfg.set_now_string core log_facility LOG_LOCAL3
cfg.set_now_int tcp async 0
cfg.set_now_int registrar default_expires 600
cfg.get registrar default_expires
cfg.set_now_int tm fr_timer 5000
cfg.set_now_int tm fr_timer abc
cfg.set_now_int tm cancel_b_method 3
cfg.set_now_int tm default_code 300
cfg.set_now_string tm auto_inv_100_reason Wait
cfg.set_now_string tm ac_extra_hdrs X-
cfg.get tm
cfg.set_now_int core debug 1
cfg.get core debug
cfg.set_now_int core debug 0
cfg.set_now_int siputils ring_timeout 0
cfg.set_now_int siputils ring_timeout 30
cfg.add_group_inst my[3]
cfg.add_group_inst my[3]
cfg.add_group_inst my
cfg.add_group_inst nope[1]
cfg.set_now_int my[3] x 33
cfg.get my[3]
cfg.add_group_inst registrar[1]
cfg.set_now_int registrar[1] default_expires 60
cfg.del_group_inst registrar[1]
cfg.set_delayed_int my x 21
cfg.set_delayed_string pstn gw_ip 10.0.0.2
cfg.set_delayed_int my[2] x 22
cfg.set_delayed my n 23
cfg.del_delayed my[3] x
cfg.set_delayed_int maxfwd max_limit 999
cfg.set_delayed_int tm fr_inv_timer 60000
cfg.set_delayed_int tm cancel_b_method 0
cfg.set_delayed_int siputils ring_timeout -1
cfg.set_delayed_int siputils ring_timeout 60
cfg.diff
cfg.get my
cfg.commit
cfg.diff
cfg.get my
cfg.get my[2]
cfg.get my[3]
cfg.get pstn
cfg.commit
cfg.set_delayed_int my x 31
cfg.diff
cfg.rollback
cfg.diff
cfg.get my x
cfg.del my[2] x
cfg.get my[2]
cfg.del my x
cfg.del my[77] x
cfg.del my[2] nope
cfg.del_group_inst my[3]
cfg.del_group_inst my[3]
cfg.del_group_inst my
cfg.get my[3]
cfg.set_now_int maxfwd max_limit 20
cfg.reset maxfwd
cfg.get maxfwd
cfg.reset registrar
cfg.get registrar
cfg.reset tm
cfg.get tm
cfg.diff
""".strip().splitlines()


def test_changes_print_what_kamailio_prints_and_every_worker_sees_them(servers):
    kamailio, kampy = servers
    for command in SEQUENCE:
        both(servers, *command.split())
    # the replies come from both workers of each server: every one sees the committed values
    replies = {(kamailio.reason(), kampy.reason()) for _ in range(8)}
    assert replies == {("x=21 n=23 ip=10.0.0.2 lim=50 inst=",) * 2}


def test_a_new_tm_fr_timer_applies_to_the_next_transaction_of_every_worker(servers):
    # fr_timer starts at Kamailio's 30 s: a 408 well before says the new value is what each worker used
    try:
        for server in servers:
            assert server.kamcmd("cfg.set_now_int", "tm", "fr_timer", "500") == ""
            waits = [server.timed_out_after() for _ in range(4)]  # whichever of the two workers takes it
            assert max(waits) < 10, (server.name, waits)
    finally:
        for server in servers:
            server.kamcmd("cfg.reset", "tm")
