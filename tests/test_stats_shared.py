"""kampy.stats: counters in a shared mapped file, summed over the worker processes."""
from __future__ import annotations

import multiprocessing

from kampy.config.pipeline import load_text
from kampy.runtime.core import Core
from kampy.runtime.server import Server
from kampy.runtime.shared import SharedStore
from kampy.stats import Stats, StatsArea, area_path
from tests.support.runtime import SOCKET, SOURCE, request


def two_workers(store: SharedStore) -> tuple[Stats, Stats]:
    one, two = Stats(), Stats()
    one.bind(store, 1, 2)
    two.bind(store.reopen(), 2, 2)
    return one, two


def test_counters_are_summed_across_two_workers(store):
    one, two = two_workers(store)
    one.inc("sl:200_replies")
    two.inc("sl:200_replies", 2)
    assert one.get("sl:200_replies") == 3 == two.get("sl:200_replies")


def test_a_stat_created_at_run_time_in_one_worker_is_seen_by_another(store):
    one, two = two_workers(store)
    one.inc("script:my:new", 5)
    assert "script:my:new" in two.names()
    assert two.get("script:my:new") == 5


def test_reset_zeroes_the_cells_of_every_worker(store):
    one, two = two_workers(store)
    one.inc("tmx:rpl_sent")
    two.inc("tmx:rpl_sent")
    assert two.reset("tmx:rpl_sent")
    assert one.get("tmx:rpl_sent") == 0


def test_a_no_reset_stat_refuses_reset_in_every_worker(store):
    one, two = two_workers(store)
    one.register("registrar", "max_expires", no_reset=True)
    one.inc("registrar:max_expires", 3600)
    assert not two.reset("registrar:max_expires")
    assert two.get("registrar:max_expires") == 3600


def test_a_gauge_is_read_not_summed(store):
    one, two = two_workers(store)
    one.register_gauge("usrloc:registered_users", lambda: 7)
    two.register_gauge("usrloc:registered_users", lambda: 7)
    assert one.get("usrloc:registered_users") == 7 and one.is_gauge("usrloc:registered_users")


def test_a_hidden_stat_is_summed_but_neither_listed_nor_reset(store):
    one, two = two_workers(store)
    one.inc(".tm:transactions", 2)
    two.inc(".tm:transactions")
    assert one.get(".tm:transactions") == 3
    assert ".tm:transactions" not in two.names() and ".tm" not in two.groups()
    assert not two.reset(".tm:transactions") and one.get(".tm:transactions") == 3


def test_set_makes_the_total_the_value(store):
    one, two = two_workers(store)
    two.inc("script:level", 4)
    one.set("script:level", 10)
    assert two.get("script:level") == 10


def test_find_takes_a_bare_name_in_any_group(store):
    one, _ = two_workers(store)
    one.inc("sl:404_replies")
    assert one.find("404_replies") == "sl:404_replies"
    assert one.find("sl:404_replies") == "sl:404_replies"
    assert one.find("nosuch") is None


def test_the_counters_file_lives_next_to_the_store_and_goes_with_it():
    s = SharedStore.create()
    stats = Stats()
    stats.bind(s, 1, 1)
    stats.inc("core:x")
    assert area_path(s.path).exists()
    stats.close()
    s.remove()
    assert not area_path(s.path).exists()


def test_an_unbound_core_gets_private_counters():
    core = Core()
    core.stats.inc("core:rcv_requests")
    assert core.stats.get("core:rcv_requests") == 1
    core.close_shared()


def _server(store: SharedStore, rank: int, cfg: str) -> Server:
    return Server.from_config(load_text(cfg), sockets=[SOCKET], shared=store, rank=rank, workers=2)


CFG = 'loadmodule "sl"\nloadmodule "kex"\nrequest_route { sl_send_reply("404", "Nope"); }\n'


def test_two_servers_sharing_the_store_count_core_and_sl_stats_together(store):
    one = _server(store, 1, CFG)
    two = _server(store.reopen(), 2, CFG)
    one.handle(request(), SOURCE)
    two.handle(request(), SOURCE)
    two.handle(request("INVITE"), SOURCE)
    stats = one.core.stats
    assert stats.get("core:rcv_requests") == 3
    assert stats.get("core:rcv_requests_options") == 2
    assert stats.get("core:rcv_requests_invite") == 1
    assert stats.get("sl:404_replies") == 3


def test_the_core_counts_a_request_whose_via_does_not_parse_as_a_bad_header_only(store):
    one = _server(store, 1, CFG)
    one.handle(b"INVITE sip:x SIP/2.0\r\nVia: nonsense\r\n\r\n", SOURCE)
    assert one.core.stats.get("core:bad_msg_hdr") == 1
    assert one.core.stats.get("core:err_requests") == 0  # Kamailio 5.6.3 counts no error request here


def test_the_core_counts_an_unsupported_method(store):
    one = _server(store, 1, CFG)
    one.handle(request("FOO"), SOURCE)
    assert one.core.stats.get("core:unsupported_methods") == 1


def test_the_core_counts_a_dropped_request(store):
    one = _server(store, 1, 'request_route { drop; }\n')
    one.handle(request(), SOURCE)
    assert one.core.stats.get("core:drop_requests") == 1


def _open_area(path: str, results: multiprocessing.Queue[str]) -> None:
    try:
        StatsArea(path, 4)
        results.put("ok")
    except Exception as exc:  # the failure is what the test looks for
        results.put(repr(exc))


def test_workers_opening_a_new_stats_file_at_once_all_see_a_valid_file(tmp_path):
    outcomes = []
    for i in range(40):
        path = str(tmp_path / f"{i}.stats")
        results: multiprocessing.Queue[str] = multiprocessing.Queue()
        procs = [multiprocessing.Process(target=_open_area, args=(path, results)) for _ in range(3)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        outcomes += [results.get() for _ in procs]
    assert set(outcomes) == {"ok"}
