"""The core's dns.* RPC methods in-process (on the wire against Kamailio 5.6:
tests/e2e/test_dns_failover.py::test_dns_cache_rpc_commands_as_kamailio)."""
from __future__ import annotations

import pytest

from kampy.config.pipeline import load_text
from kampy.module import RpcFault
from kampy.runtime.server import Server
from tests.tmkit import ALICE, SOCKET, FakeClock, request


def server(params: str = "", route: str = "request_route { exit; }") -> Server:
    return Server.from_config(load_text(params + 'loadmodule "sl"\n' + route, "dns.cfg"), sockets=[SOCKET],
                              clock=FakeClock())


def call(srv: Server, method: str, *args):
    return srv.core.rpc.call(method, list(args))


def records(entry: dict) -> list:
    return [r.get("rr_ip") or (r["rr_name"], r["rr_port"]) for r in entry.get("records", [])]


def test_an_added_a_record_is_shown_by_lookup_and_view():
    srv = server()
    call(srv, "dns.add_a", "gw.test", 300, "192.0.2.5", 0)
    call(srv, "dns.add_a", "gw.test", 300, "192.0.2.6", 0)
    [entry] = call(srv, "dns.lookup", "A", "gw.test")
    assert (entry["name"], entry["type"], entry["expires"], records(entry)) == \
        ("gw.test", "A", 300, ["192.0.2.5", "192.0.2.6"])
    assert [e["name"] for e in call(srv, "dns.view")] == ["gw.test"]


def test_an_entry_is_gone_from_the_view_once_its_ttl_is_over():
    srv = server()
    call(srv, "dns.add_a", "gw.test", 30, "192.0.2.5", 0)
    srv.core.clock.mono += 31
    assert call(srv, "dns.view") == []


def test_srv_records_are_kept_by_priority():
    srv = server()
    call(srv, "dns.add_srv", "_sip._udp.gw.test", 300, 20, 0, 5072, "b.gw.test", 0)
    call(srv, "dns.add_srv", "_sip._udp.gw.test", 300, 10, 0, 5071, "a.gw.test", 0)
    [entry] = call(srv, "dns.lookup", "SRV", "_sip._udp.gw.test")
    assert records(entry) == [("a.gw.test", 5071), ("b.gw.test", 5072)]


def test_a_permanent_entry_cannot_be_deleted_but_delete_all_force_removes_it():
    srv = server()
    call(srv, "dns.add_a", "gw.test", 300, "192.0.2.5", 2)
    with pytest.raises(RpcFault, match="Permanent entries cannot be deleted"):
        call(srv, "dns.delete_a", "gw.test")
    assert call(srv, "dns.delete_all") == {"status": "ok"}
    assert len(call(srv, "dns.view")) == 1
    call(srv, "dns.delete_all_force")
    assert call(srv, "dns.view") == []


def test_deleting_a_missing_entry_is_not_found():
    with pytest.raises(RpcFault, match="Not found"):
        call(server(), "dns.delete_srv", "_sip._udp.gw.test")


def test_a_malformed_address_is_refused():
    with pytest.raises(RpcFault, match="Failed to add the entry to the cache"):
        call(server(), "dns.add_a", "gw.test", 300, "not-an-ip", 0)


def test_an_unknown_type_is_invalid():
    with pytest.raises(RpcFault, match="Invalid type"):
        call(server(), "dns.lookup", "MX", "gw.test")


def test_every_method_answers_500_with_use_dns_cache_off():
    with pytest.raises(RpcFault, match="dns cache support disabled"):
        call(server("use_dns_cache=off\n"), "dns.view")


def test_a_request_goes_to_an_address_added_with_dns_add_a():
    srv = server(route="request_route { forward(); }")
    call(srv, "dns.add_a", "gw.test", 300, "192.0.2.5", 0)
    out = srv.handle(request(ruri="sip:bob@gw.test:5080"), ALICE)
    assert [(o.host, o.port) for o in out] == [("192.0.2.5", 5080)]


def test_mem_info_gives_the_used_and_the_configured_bytes():
    srv = server("dns_cache_mem=100\n")
    call(srv, "dns.add_a", "gw.test", 300, "192.0.2.5", 0)
    used, limit = call(srv, "dns.mem_info")
    assert used > 0 and limit == 100 * 1024


def test_every_worker_sees_one_dns_cache():
    from tests.tmkit import two_workers
    with two_workers('request_route { forward(); }') as (one, two):
        call(one, "dns.add_a", "gw.test", 300, "192.0.2.5", 0)
        out = two.handle(request(ruri="sip:bob@gw.test:5080"), ALICE)
        assert [(o.host, o.port) for o in out] == [("192.0.2.5", 5080)]
