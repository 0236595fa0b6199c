"""The shared table of open TCP connections (kampy.runtime.tcp_registry): what core.tcp_list and
core.tcp_info read from any worker, and the tcp: statistics (kampy.net.counters)."""
from __future__ import annotations

from kampy.net.counters import NetCounters
from kampy.runtime.tcp_registry import TcpRegistry, connections
from kampy.runtime.shared import SharedStore
from kampy.stats import Stats


def test_a_connection_opened_by_one_worker_is_listed_by_another(store: SharedStore) -> None:
    TcpRegistry(store).opened(7, "tcp", ("192.0.2.1", 40000), ("127.0.0.1", 5060), 120)
    other = store.reopen()
    try:
        [conn] = connections(other)
    finally:
        other.close()
    assert (conn.id, conn.type, conn.state) == (7, "TCP", "CONN_OK")
    assert (conn.src_ip, conn.src_port, conn.dst_ip, conn.dst_port) == ("192.0.2.1", 40000, "127.0.0.1", 5060)


def test_a_closed_connection_is_no_longer_listed(store: SharedStore) -> None:
    registry = TcpRegistry(store)
    registry.opened(1, "tcp", ("192.0.2.1", 1), ("127.0.0.1", 5060), 120)
    registry.opened(2, "tls", ("192.0.2.2", 2), ("127.0.0.1", 5061), 120)
    registry.closed(1)
    assert [(c.id, c.type) for c in connections(store)] == [(2, "TLS")]


def test_timeout_counts_down_from_the_last_activity(store: SharedStore) -> None:
    registry = TcpRegistry(store)
    registry.opened(3, "tcp", ("192.0.2.1", 1), ("127.0.0.1", 5060), 100)
    [conn] = connections(store)
    registry.active(3, conn.last_activity + 30)
    [later] = connections(store)
    assert later.timeout(conn.last_activity + 40) == 90


def test_activity_within_a_second_of_the_last_write_is_not_written(store: SharedStore) -> None:
    registry = TcpRegistry(store)
    registry.opened(4, "tcp", ("192.0.2.1", 1), ("127.0.0.1", 5060), 100)
    [conn] = connections(store)
    registry.active(4, conn.last_activity + 0.5)
    assert connections(store)[0].last_activity == conn.last_activity


def test_current_opened_connections_counts_every_workers_connections(store: SharedStore) -> None:
    stats = Stats()
    NetCounters(stats, store)
    TcpRegistry(store).opened(5, "tcp", ("192.0.2.1", 1), ("127.0.0.1", 5060), 100)
    TcpRegistry(store).opened(6, "tcp", ("192.0.2.1", 2), ("127.0.0.1", 5060), 100)
    assert stats.value("tcp:current_opened_connections") == 2
