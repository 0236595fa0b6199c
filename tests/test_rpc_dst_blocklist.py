"""The core's dst_blocklist.* RPC methods (Kamailio's src/core/dst_blocklist.c) over the shared
destination blocklist: replies as Kamailio's, faults while use_dst_blocklist is off."""
from __future__ import annotations

import pytest

from kampy.module import RpcFault
from kampy.runtime.dst_blocklist import DstBlocklist
from tests.tmkit import advance, server

ON = "use_dst_blocklist=1\ndst_blocklist_expire=60\n"


def _rpc(srv, method: str, *params):  # type: ignore[no-untyped-def]
    return srv.core.rpc.call(method, list(params))


def test_view_shows_an_added_destination_as_kamailio_prints_it() -> None:
    srv = server("request_route { exit; }", ON)
    _rpc(srv, "dst_blocklist.add", "127.0.0.9", 5060, 1, 2)
    assert _rpc(srv, "dst_blocklist.view") == [
        "{\n    protocol: udp", "    ip: 127.0.0.9", "    port: 5060", "    expires in (s): 60",
        "    flags: 2\n}"]


def test_an_ipv6_address_gets_blst_is_ipv6_and_costs_more_memory() -> None:
    srv = server("request_route { exit; }", ON)
    _rpc(srv, "dst_blocklist.add", "[2001:db8:0::1]", 5070, 2, 0)
    _rpc(srv, "dst_blocklist.add", "10.0.0.1", 0, 0, 128)
    assert sorted(_rpc(srv, "dst_blocklist.view")[1::5]) == ["    ip: 10.0.0.1", "    ip: 2001:db8::1"]
    assert _rpc(srv, "dst_blocklist.mem_info") == [24 + 36, 250 * 1024]
    assert "    flags: 1\n}" in _rpc(srv, "dst_blocklist.view")


def test_delete_all_keeps_the_permanent_entries() -> None:
    srv = server("request_route { exit; }", ON)
    _rpc(srv, "dst_blocklist.add", "10.0.0.1", 0, 0, 128)
    _rpc(srv, "dst_blocklist.add", "10.0.0.2", 1, 4, 0)
    _rpc(srv, "dst_blocklist.delete_all")
    assert _rpc(srv, "dst_blocklist.debug") == ["*", "10.0.0.1", 0, 60, 128]
    assert _rpc(srv, "dst_blocklist.mem_info")[0] == 24


def test_debug_shows_an_expired_entry_that_view_leaves_out() -> None:
    srv = server("request_route { exit; }", "use_dst_blocklist=1\ndst_blocklist_expire=2\n")
    _rpc(srv, "dst_blocklist.add", "10.0.0.3", 5060, 2, 0)
    advance(srv, 3.5)
    assert _rpc(srv, "dst_blocklist.debug") == ["tcp", "10.0.0.3", 5060, -1, 0]
    assert _rpc(srv, "dst_blocklist.view") == []


def test_an_entry_added_by_rpc_is_what_tm_finds_blocklisted() -> None:
    srv = server("request_route { exit; }", ON)
    _rpc(srv, "dst_blocklist.add", "198.51.100.20", 5080, 1, 2)
    assert DstBlocklist(srv.core.shared, srv.core.clock).flags_of("udp", "198.51.100.20", 5080) == 2


@pytest.mark.parametrize(("params", "fault"), [
    (("1.2.3.4", 1, 5, 0), (400, "Unknown protocol")),
    (("1.2.3.4", 1, -1, 0), (400, "Unknown protocol")),
    (("bad", 1, 1, 0), (400, "Malformed ip address")),
    (("1.2.3.4", 1, 1, 1), (400, "Malformed ip address")),  # BLST_IS_IPV6: read as IPv6 only
])
def test_add_refuses_what_kamailio_refuses(params: tuple, fault: tuple[int, str]) -> None:
    srv = server("request_route { exit; }", ON)
    with pytest.raises(RpcFault) as err:
        _rpc(srv, "dst_blocklist.add", *params)
    assert (err.value.code, err.value.message) == fault


def test_a_full_blocklist_refuses_a_new_entry() -> None:
    srv = server("request_route { exit; }", "use_dst_blocklist=1\ndst_blocklist_mem=1\n")
    for n in range(42):  # 42 * 24 bytes < 1024
        _rpc(srv, "dst_blocklist.add", f"10.0.1.{n}", 1, 1, 0)
    with pytest.raises(RpcFault) as err:
        _rpc(srv, "dst_blocklist.add", "10.0.2.1", 1, 1, 0)
    assert (err.value.code, err.value.message) == (400, "Failed to add the entry to the blocklist")


@pytest.mark.parametrize("method", ["dst_blocklist.view", "dst_blocklist.debug", "dst_blocklist.mem_info",
                                    "dst_blocklist.delete_all"])
def test_every_method_faults_while_use_dst_blocklist_is_off(method: str) -> None:
    srv = server("request_route { exit; }")
    with pytest.raises(RpcFault) as err:
        _rpc(srv, method)
    assert (err.value.code, err.value.message) == (500, "dst blocklist support disabled")


def test_adding_a_listed_destination_again_sets_its_expiry_anew_and_keeps_its_reasons() -> None:
    srv = server("request_route { exit; }", ON)
    blocklist = DstBlocklist(srv.core.shared, srv.core.clock)
    blocklist.add("udp", "10.0.0.5", 5060, 60, 2)
    blocklist.add("udp", "10.0.0.5", 5060, 10, 32)
    assert _rpc(srv, "dst_blocklist.debug") == ["udp", "10.0.0.5", 5060, 10, 34]
