"""htable, pike, counters and debugger beside Kamailio 5.6 running the same config: the same traffic
(a flood from one address, requests that count and set items), then the same `kamcmd` commands over
ctl must print the same replies (values that depend on the moment, such as expiry dates, masked)."""
from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest

from tests.e2e.beside import Server, both

FLOODER = "127.0.0.66"

# A sampling unit of a minute: the flood sent right after the start falls in the first unit on both
# servers, whatever the machine's load.
CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
children=2
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "kex.so"
loadmodule "ctl.so"
loadmodule "htable.so"
loadmodule "pike.so"
loadmodule "counters.so"
loadmodule "debugger.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
modparam("htable", "htable", "ipban=>size=8;autoexpire=300;")
modparam("htable", "htable", "a=>size=4;initval=5")
modparam("htable", "htable", "s=>size=2")
modparam("pike", "sampling_time_unit", 60)
modparam("pike", "reqs_density_per_unit", 16)
modparam("pike", "remove_latency", 120)
modparam("counters", "script_counter", "foo")
modparam("counters", "script_counter", "test.bar:my bar counter")
modparam("debugger", "mod_hash_size", 4)
modparam("debugger", "mod_level_mode", 1)
modparam("debugger", "mod_level", "tm=1")
event_route[htable:mod-init] {
  $sht(a=>x) = 1;
  $sht(a=>Hello) = "world";
  $sht(s=>k1) = "v1";
  $sht(s=>k2) = 2;
  $sht(s=>k3) = "v3";
  $sht(ipban=>1.2.3.4) = 1;
}
request_route {
  if ($sht(ipban=>$si) != $null) { exit; }
  cnt_inc("foo");
  cnt_add("test.bar", 3);
  if (!pike_check_req()) { $sht(ipban=>$si) = 1; exit; }
  $var(n) = $shtinc(a=>cnt);
  $sht(s=>$fU) = $var(n);
  sl_send_reply("200", "OK $var(n)");
}
"""


def flood(server: Server, count: int, host: str = FLOODER, user: str = "flood") -> int:
    """`count` OPTIONS from `host`, one after the other; how many were answered.

    Each is sent once the one before is answered or dropped (the first one dropped is given a second,
    for its ban to be in place), so that no two workers race on one source's count: with a burst a
    loaded machine lets a second worker pass the ban check before the first sets it, on either server."""
    answered: set[bytes] = set()
    dropped = False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        lport = s.getsockname()[1]
        for n in range(count):
            s.sendto((f"OPTIONS sip:x@127.0.0.1:{server.port} SIP/2.0\r\n"
                      f"Via: SIP/2.0/UDP {host}:{lport};branch=z9hG4bK-{user}-{n};rport\r\n"
                      f"From: <sip:{user}@{host}>;tag=t{n}\r\nTo: <sip:x@127.0.0.1>\r\n"
                      f"Call-ID: {user}-{n}@{host}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                      "Content-Length: 0\r\n\r\n").encode(), ("127.0.0.1", server.port))
            s.settimeout(0.1 if dropped else 2.0)
            try:
                answered.add(s.recv(4096).split(b"Call-ID: ", 1)[1].split(b"\r\n", 1)[0])
            except TimeoutError:
                dropped = True
        s.settimeout(0.5)
        try:
            while True:
                answered.add(s.recv(4096).split(b"Call-ID: ", 1)[1].split(b"\r\n", 1)[0])
        except TimeoutError:
            pass
    return len(answered)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server, dict[str, int]]]:
    with both(tmp_path_factory.mktemp("state"), CFG) as (kamailio, kampy):
        answered = {}
        for server in (kamailio, kampy):
            answered[server.name] = flood(server, 40)
            flood(server, 3, "127.0.0.1", "alice")
            flood(server, 2, "127.0.0.1", "bob")
        yield kamailio, kampy, answered


MASKED = {"expire", "expires"}


def masked(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        m = re.match(r"^(\t*)([^:{}]+): (.*)$", line)
        out.append(f"{m.group(1)}{m.group(2)}: <masked>" if m and m.group(2) in MASKED else line)
    return out


def test_the_flood_is_cut_off_after_the_same_number_of_requests(servers) -> None:
    _, _, answered = servers
    assert answered == {"kamailio": 21, "kampy": 21}


@pytest.mark.parametrize("command", [
    ["htable.dump", "ipban"], ["htable.dump", "a"], ["htable.dump", "s"], ["htable.dump", "nosuch"],
    ["htable.get", "a", "x"], ["htable.get", "a", "Hello"], ["htable.get", "ipban", FLOODER],
    ["htable.get", "a", "nope"], ["htable.get", "a"], ["htable.listTables"], ["htable.stats"],
    ["htable.sets", "s", "new", "abc"], ["htable.seti", "s", "num", "12"], ["htable.delete", "s", "nope"],
    ["htable.reload", "s"], ["htable.flush", "nosuch"],
    ["pike.top"], ["pike.top", "ALL"], ["pike.top", "WARM"], ["pike.top", "bogus"], ["pike.list", "HOT"],
    ["cnt.get", "script", "foo"], ["cnt.get", "test"], ["cnt.get", "test", "bar"], ["cnt.get", "nope", "x"],
    ["cnt.get"], ["cnt.help", "test", "bar"], ["cnt.help", "script", "foo"], ["cnt.get_vars", "pike"],
    ["cnt.list_vars", "test"], ["cnt.get_raw", "script", "foo"],
    ["dbg.get_mod_level", "tm"], ["dbg.get_mod_level", "core"], ["dbg.get_mod_facility", "core"],
    ["dbg.set_mod_level", "tm", "3"], ["dbg.set_mod_facility", "tm", "LOG_NOPE"],
    ["dbg.set_mod_facility", "tm", "LOG_LOCAL1"], ["dbg.reset_msgid"], ["dbg.trace", "sideways"],
    ["dbg.trace", "off"],
])
def test_kamcmd_prints_the_same_as_for_kamailio(servers, command: list[str]) -> None:
    kamailio, kampy, _ = servers
    assert masked(kampy.kamcmd(*command)) == masked(kamailio.kamcmd(*command))


def test_rpc_changes_show_in_the_tables_the_same_way(servers) -> None:
    kamailio, kampy, _ = servers
    for server in (kamailio, kampy):
        server.kamcmd("htable.setxs", "s", "tmp", "x", "60")
        server.kamcmd("htable.seti", "a", "x", "41")
        server.kamcmd("cnt.reset", "test", "bar")
    for command in (["htable.dump", "s"], ["htable.get", "a", "x"], ["cnt.get", "test", "bar"]):
        assert masked(kampy.kamcmd(*command)) == masked(kamailio.kamcmd(*command))
