"""dispatcher beside Kamailio 5.6: the same config and destination list in both servers; the same
requests pick the same destinations by every deterministic algorithm (hashes over Call-ID, From,
To, R-URI, auth username and a PV, round robin, priority, call load, latency round robin, parallel
forking), weight and relative weight give the same shares of a hundred calls (random, 6, is only
checked in-process), the XAVPs hold the same records, and kamcmd prints the same dispatcher.list and
dispatcher.hash."""

from __future__ import annotations

import itertools
from collections import Counter
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.beside import Server, both, start
from tests.e2e.kampy_process import stop_process

LIST = """\
# set 1: three destinations of one priority (Kamailio lists them in reverse order)
1 sip:127.0.0.1:5071 0 0
1 sip:127.0.0.1:5072 0 0
1 sip:127.0.0.1:5073;transport=tcp 0 0 duid=c;ping_from=sip:me@x
# set 2: priorities, attributes
2 sip:127.0.0.1:5081 0 10 duid=a;maxload=2
2 sip:127.0.0.1:5082 0 20 duid=b;weight=50
2 sip:127.0.0.1:5083 0 5 duid=x;my=1
7 sip:example.test:5090 16 0
3 sip:127.0.0.1:5091 0 1
"""

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
children=1
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "ctl.so"
loadmodule "dispatcher.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
modparam("dispatcher", "list_file", "LISTFILE")
modparam("dispatcher", "flags", 2)
modparam("dispatcher", "hash_pvar", "$hdr(X-Key)")
modparam("dispatcher", "ds_hash_size", 4)
modparam("dispatcher", "setid_pvname", "$var(setid)")
modparam("dispatcher", "attrs_pvname", "$var(attrs)")
modparam("dispatcher", "ds_attrs_none", 1)
request_route {
  # Kamailio's integer parameters take a variable holding an integer (not a header's text)
  $var(set) = $(hdr(X-Set){s.int});
  $var(alg) = $(hdr(X-Alg){s.int});
  $var(limit) = $(hdr(X-Limit){s.int});
  if ($rU == "exists") {
    ds_list_exists("$var(set)"); $var(a) = $rc;
    ds_is_active("$var(set)"); $var(b) = $rc;
    ds_is_from_list(); $var(c) = $rc;
    ds_is_from_list("-1", "0", "sip:127.0.0.1:5082"); $var(d) = $rc;
    ds_is_from_list("2", "3", "sip:127.0.0.1:9"); $var(e) = $rc;
    ds_is_from_list("1", "0", "sip:127.0.0.1:5073;transport=tcp"); $var(f) = $rc;
    ds_is_from_list("1", "0", "sip:127.0.0.1:5073"); $var(g) = $rc;
    ds_is_from_list("-1", "0"); $var(h) = $rc;
    ds_is_from_list("-1", "1", "sip:127.0.0.1"); $var(i) = $rc;
    ds_is_from_list("1", "4", "sip:127.0.0.1:5071;transport=udp"); $var(j) = $rc;
    sl_send_reply("200", "r $var(a) $var(b) $var(c) $var(d) $var(e) $var(f) $var(g) $var(h) $var(i) $var(j) "
                  "$var(setid) $var(attrs)");
    exit;
  }
  if ($rU == "fork") {
    ds_select_dst("$var(set)", "$var(alg)");
    sl_send_reply("200", "du=$du b0=$(branch(dst_uri)[0]) b1=$(branch(dst_uri)[1]) b2=$(branch(dst_uri)[2])");
    exit;
  }
  if ($rU == "routes") {
    if (!ds_select_routes("$hdr(X-Rules)", "$hdr(X-Mode)", "$var(limit)")) {
      sl_send_reply("500", "no routes"); exit;
    }
  } else if ($rU == "domain") {
    if (!ds_select_domain("$var(set)", "$var(alg)")) { sl_send_reply("500", "no domain"); exit; }
  } else if (!ds_select_dst("$var(set)", "$var(alg)", "$var(limit)")) {
    sl_send_reply("500", "none"); exit;
  }
  $var(i) = 0;
  $var(all) = "";
  while ($xavp(_dsdst_[$var(i)]=>uri) != $null) {
    $var(all) = $var(all) + " " + $xavp(_dsdst_[$var(i)]=>uri) + "/" + $xavp(_dsdst_[$var(i)]=>grp);
    $var(i) = $var(i) + 1;
  }
  sl_send_reply("200", "du=$du ru=$ru cnt=$xavp(_dsctx_=>cnt) dstid=$xavp(_dsdst_=>dstid) "
                "attrs=$xavp(_dsdst_=>attrs)$var(all)");
}
"""

_serial = itertools.count()


def reason(
    server: Server,
    user: str = "x",
    headers: dict[str, str] | None = None,
    *,
    call_id: str | None = None,
    from_uri: str = "sip:alice@example.com",
    to_uri: str = "sip:bob@example.org",
) -> str:
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    call_id = call_id or f"ds-{next(_serial)}-{time.time_ns()}"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        lport = s.getsockname()[1]
        s.sendto(
            (
                f"INVITE sip:{user}@ruri.example.net SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK-{time.time_ns()}\r\n"
                f"From: <{from_uri}>;tag=1\r\nTo: <{to_uri}>\r\n"
                f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\n{extra}"
                "Content-Length: 0\r\n\r\n"
            ).encode(),
            ("127.0.0.1", server.port),
        )
        line = s.recv(4096).split(b"\r\n")[0].decode()
    return line.replace(str(server.port), "PORT")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    tmp = tmp_path_factory.mktemp("dispatcher")
    listfile = tmp / "dispatcher.list"
    listfile.write_text(LIST)
    with both(tmp, CFG.replace("LISTFILE", str(listfile))) as pair:
        yield pair


def same(servers: tuple[Server, Server], *args: object, **kwargs: object) -> str:
    kamailio, kampy = servers
    expected = reason(kamailio, *args, **kwargs)  # type: ignore[arg-type]
    assert reason(kampy, *args, **kwargs) == expected  # type: ignore[arg-type]
    return expected


@pytest.mark.parametrize("alg", ["0", "1", "2", "3", "7"])
def test_the_hash_algorithms_pick_what_kamailio_picks(servers: tuple[Server, Server], alg: str) -> None:
    picked = set()
    for n in range(12):
        picked.add(
            same(
                servers,
                f"u{n}",
                {"X-Set": "1", "X-Alg": alg, "X-Key": f"key-{n}-\u00e9"},
                call_id=f"call-{n}-{alg}",
                from_uri=f"sip:user{n}@example{n}.com:{5060 + n}",
                to_uri=f"sip:to{n * 7}@example.org",
            )
        )
    assert len(picked) > 1  # the hash spreads the requests


def test_auth_username_hash_and_its_round_robin_fallback(servers: tuple[Server, Server]) -> None:
    for n in range(5):
        same(
            servers,
            headers={
                "X-Set": "1",
                "X-Alg": "5",
                "Proxy-Authorization": f'Digest username="user{n}", realm="r", nonce="n", '
                'uri="sip:x", response="0"',
            },
        )
    for _ in range(4):
        same(servers, headers={"X-Set": "2", "X-Alg": "5"})


@pytest.mark.parametrize("alg", ["4", "8", "13"])
def test_round_robin_priority_and_latency_orders_match(servers: tuple[Server, Server], alg: str) -> None:
    for set_id in ("1", "2"):
        for _ in range(4):
            same(servers, headers={"X-Set": set_id, "X-Alg": alg})


def test_the_xavp_limit_and_ds_select_domain(servers: tuple[Server, Server]) -> None:
    assert "cnt=2" in same(servers, headers={"X-Set": "2", "X-Alg": "8", "X-Limit": "2"})
    same(servers, "domain", {"X-Set": "1", "X-Alg": "0"}, call_id="dom-1")


def test_ds_select_routes_over_several_sets(servers: tuple[Server, Server]) -> None:
    for mode in ("dst", "ruri", "xavp"):
        same(
            servers, "routes", {"X-Rules": "2=8;1=0;9=4", "X-Mode": mode, "X-Limit": "0"}, call_id="routes-1"
        )
    same(servers, "routes", {"X-Rules": "1=8;2=8", "X-Mode": "d", "X-Limit": "4"})


def test_call_load_picks_the_least_loaded_destination(servers: tuple[Server, Server]) -> None:
    for n in range(5):
        same(servers, headers={"X-Set": "2", "X-Alg": "10"}, call_id=f"load-{n}")


def test_unknown_sets_fail_the_same(servers: tuple[Server, Server]) -> None:
    assert same(servers, headers={"X-Set": "99", "X-Alg": "0"}) == "SIP/2.0 500 none"


def test_set_checks_and_source_matching(servers: tuple[Server, Server]) -> None:
    same(servers, "exists", {"X-Set": "2"})
    same(servers, "exists", {"X-Set": "5"})


def test_kamcmd_lists_the_sets_the_same(servers: tuple[Server, Server]) -> None:
    kamailio, kampy = servers
    for args in (
        ("dispatcher.list",),
        ("dispatcher.list", "short"),
        ("dispatcher.list", "full"),
        ("dispatcher.hash", "4", "bob", "server.com"),
        ("dispatcher.hash", "0", "alice"),
    ):
        expected = kamailio.kamcmd(*args).replace(str(kamailio.port), "PORT")
        assert kampy.kamcmd(*args).replace(str(kampy.port), "PORT") == expected


def test_rpc_state_changes_steer_selection_the_same(servers: tuple[Server, Server]) -> None:
    kamailio, kampy = servers
    for server in servers:
        assert "Ok" in server.kamcmd("dispatcher.set_state", "ip", "3", "sip:127.0.0.1:5091")
    same(servers, headers={"X-Set": "3", "X-Alg": "0"})
    expected = kamailio.kamcmd("dispatcher.list", "short").replace(str(kamailio.port), "PORT")
    assert kampy.kamcmd("dispatcher.list", "short").replace(str(kampy.port), "PORT") == expected
    for server in servers:
        server.kamcmd("dispatcher.set_state", "a", "3", "all")
    same(servers, headers={"X-Set": "3", "X-Alg": "0"})
    assert kampy.kamcmd("dispatcher.set_state", "q", "3", "all") == kamailio.kamcmd(
        "dispatcher.set_state", "q", "3", "all"
    )
    assert kampy.kamcmd("dispatcher.ping_active") == kamailio.kamcmd("dispatcher.ping_active")


@pytest.fixture(scope="module")
def default_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """use_default, xavp_dst_mode 1 (no attrs), xavp_ctx_mode 1 (no cnt), flags 3 (user-only hashes)."""
    tmp = tmp_path_factory.mktemp("dispatcher-default")
    listfile = tmp / "dispatcher.list"
    listfile.write_text(LIST)
    cfg = CFG.replace("LISTFILE", str(listfile)).replace(
        'modparam("dispatcher", "flags", 2)',
        'modparam("dispatcher", "flags", 3)\n'
        'modparam("dispatcher", "use_default", 1)\nmodparam("dispatcher", "xavp_dst_mode", 1)\n'
        'modparam("dispatcher", "xavp_ctx_mode", 1)',
    )
    with both(tmp, cfg) as pair:
        yield pair


@pytest.mark.parametrize("alg", ["1", "4", "8", "13"])
def test_use_default_and_the_xavp_modes_match(default_servers: tuple[Server, Server], alg: str) -> None:
    for n in range(4):
        same(default_servers, headers={"X-Set": "2", "X-Alg": alg}, from_uri=f"sip:u{n}@host{n}.example")
    default_servers[0].kamcmd("dispatcher.set_state", "i", "2", "all")
    default_servers[1].kamcmd("dispatcher.set_state", "i", "2", "all")
    assert same(default_servers, headers={"X-Set": "2", "X-Alg": alg}) == "SIP/2.0 500 none"
    for server in default_servers:
        server.kamcmd("dispatcher.set_state", "a", "2", "all")


@pytest.mark.parametrize("alg", ["9", "11"])
def test_weights_give_the_same_shares_of_a_hundred_calls(servers: tuple[Server, Server], alg: str) -> None:
    # the order within each hundred is random in both servers, the counts are not
    counts = [
        Counter(reason(server, headers={"X-Set": "2", "X-Alg": alg}).split()[2] for _ in range(100))
        for server in servers
    ]
    assert counts[1] == counts[0] and sum(counts[0].values()) == 100


def test_parallel_forking_adds_the_same_branches(servers: tuple[Server, Server]) -> None:
    assert "b1=sip:" in same(servers, "fork", {"X-Set": "1", "X-Alg": "12"})


def test_round_robin_is_shared_by_every_kampy_worker(tmp_path: Path) -> None:
    listfile = tmp_path / "dispatcher.list"
    listfile.write_text(LIST)
    server = start(
        "kampy", tmp_path, CFG.replace("LISTFILE", str(listfile)).replace("children=1", "children=4")
    )
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(5)
            lport = s.getsockname()[1]
            for n in range(30):  # a burst: the workers take them as they come
                s.sendto(
                    (
                        f"INVITE sip:x@ruri.example.net SIP/2.0\r\n"
                        f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK-rr{n}\r\n"
                        f"From: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: rr-{n}\r\nCSeq: 1 INVITE\r\n"
                        "X-Set: 1\r\nX-Alg: 4\r\nX-Limit: 1\r\nContent-Length: 0\r\n\r\n"
                    ).encode(),
                    ("127.0.0.1", server.port),
                )
            picked = Counter(s.recv(4096).split(b"\r\n")[0].split()[2] for _ in range(30))
    finally:
        stop_process(server.proc)
    assert sorted(picked.values()) == [10, 10, 10]
