"""pike: Kamailio's flood detection (the tree of address prefixes); the counts are those Kamailio 5.6.3
gives for the same traffic (a flood of 40 OPTIONS from one address: 21 pass, the 22nd blocks it)."""
from __future__ import annotations

import pytest

from kampy.api import RpcFault
from kampy.testing import Harness

CFG = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "pike.so"
modparam("pike", "sampling_time_unit", 2)
modparam("pike", "reqs_density_per_unit", 16)
modparam("pike", "remove_latency", 4)
request_route {
  if ($rm == "INFO") {
    pike_check_ip("$hdr(X-IP)");
    sl_send_reply("200", "checked");
    exit;
  }
  if (!pike_check_req()) { exit; }
  sl_send_reply("200", "OK");
}
"""
FLOODER = "127.0.0.66:5070"


@pytest.fixture
def sip(kampy_cfg) -> Harness:
    return kampy_cfg(CFG)


def flood(sip: Harness, count: int, src: str = FLOODER) -> list[int | None]:
    """pike_check_req's code for each of `count` requests from `src`."""
    codes = []
    for _ in range(count):
        codes += sip.send_request("OPTIONS", "sip:x@127.0.0.1", src=src).codes("pike_check_req")
    return codes


def test_a_flood_passes_until_the_address_is_hot_then_is_blocked(sip: Harness) -> None:
    codes = flood(sip, 40)
    assert codes[:21] == [1] * 21  # 6 to grow the tree to the address, 15 leaf hits under the limit
    assert codes[21] == -2          # the 16th leaf hit blocks it
    assert codes[22:] == [-1] * 18
    assert sip.stat("pike:blocked_ips") == 1


def test_blocking_is_logged_at_pike_log_level(sip: Harness, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="kampy.pike"):
        flood(sip, 22)
    assert any(r.getMessage().startswith("PIKE - BLOCKing ip 127.0.0.66, node=0x") for r in caplog.records)


def test_other_sources_are_not_blocked_by_one_flooder(sip: Harness) -> None:
    flood(sip, 30)
    assert flood(sip, 5, "127.0.0.77:5070") == [1] * 5


def test_a_blocked_address_is_unblocked_once_a_unit_passes_quietly(sip: Harness,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    flood(sip, 25)
    sip.advance(2.5)   # the counts move to the previous unit: still hot
    assert flood(sip, 1) == [-1]
    with caplog.at_level("WARNING", logger="kampy.pike"):
        sip.advance(2)
    assert any(r.getMessage().startswith("PIKE - UNBLOCKing node 0x") for r in caplog.records)


def test_an_address_nobody_hears_from_is_forgotten_after_remove_latency(sip: Harness) -> None:
    flood(sip, 25)
    assert len(sip.module("pike").tree.table) == 4
    sip.advance(20)   # the address, then each prefix left without kids, 4 s after another
    assert len(sip.module("pike").tree.table) == 0
    assert flood(sip, 1) == [1]


def test_pike_top_lists_the_hot_addresses(sip: Harness) -> None:
    flood(sip, 40)
    assert sip.core.rpc.call("pike.top") == {
        "max_hits": 16, "number_of_rows": 1,
        "list": [{"ip_addr": "127.0.0.66", "leaf_hits_prev": 0, "leaf_hits_curr": 34, "expires": 4,
                  "status": "HOT"}]}


def test_pike_top_all_lists_every_address_and_warm_none(sip: Harness) -> None:
    flood(sip, 10)
    assert [row["status"] for row in sip.core.rpc.call("pike.top", ["ALL"])["list"]] == [""]
    assert sip.core.rpc.call("pike.list", ["WARM"])["list"] == []


def test_pike_top_refuses_an_unknown_selection(sip: Harness) -> None:
    with pytest.raises(RpcFault) as caught:
        sip.core.rpc.call("pike.top", ["bogus"])
    assert (caught.value.code, caught.value.message) == (500, "Bad argument. Select: ALL, HOT or WARM")


def test_pike_check_ip_counts_the_given_address(sip: Harness) -> None:
    for _ in range(22):
        result = sip.send_request("INFO", "sip:x@127.0.0.1", headers={"X-IP": "10.1.2.3"})
    assert result.codes("pike_check_ip") == [-2]
    rows = sip.core.rpc.call("pike.top")["list"]
    assert [r["ip_addr"] for r in rows] == ["10.1.2.3"]


def test_pike_check_ip_takes_ipv6_and_refuses_what_is_not_an_address(sip: Harness) -> None:
    assert sip.send_request("INFO", "sip:x@127.0.0.1", headers={"X-IP": "2001:db8::1"}).codes(
        "pike_check_ip") == [1]
    bad = sip.send_request("INFO", "sip:x@127.0.0.1", headers={"X-IP": "nope"})
    assert bad.codes("pike_check_ip") == [-1]


def test_the_tree_is_shared_by_the_workers(tmp_path) -> None:
    """Two workers of one server (two servers on one shared store) count into the same tree."""
    from kampy.config.pipeline import load_text
    from kampy.runtime.server import Server
    from kampy.runtime.shared import SharedStore
    from tests.support.runtime import SOCKET, Source, request

    compiled = load_text(CFG, "pike.cfg")
    store = SharedStore.create()
    try:
        one = Server.from_config(compiled, sockets=[SOCKET], shared=store, rank=1, workers=2)
        two = Server.from_config(compiled, sockets=[SOCKET], shared=store.reopen(), rank=2, workers=2)
        src = Source("udp", "127.0.0.66", 5070, SOCKET)
        answered = sum(len((one if n % 2 else two).handle(request(), src)) for n in range(40))
        assert answered == 21
        assert one.core.stats.get("pike:blocked_ips") == 1
    finally:
        store.remove()
