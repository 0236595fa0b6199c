"""The cfg framework (Kamailio's src/core/cfg): the config's groups, the core's and the modules', one
value seen by every worker from its next message on, group instances and cfg_select()."""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from kampy.config.pipeline import load_text
from kampy.errors import ConfigError
from kampy.runtime.context import MessageContext
from kampy.sip.message import parse_message
from kampy.runtime.cfgframework import CfgError, CfgNotFound, CfgUnreadable
from kampy.runtime.server import Server
from kampy.runtime.shared import SharedStore
from tests.support.runtime import SOCKET, SOURCE, first_line, request

CFG = """loadmodule "sl"
loadmodule "pv"
loadmodule "maxfwd"
loadmodule "xlog"
my.x = 5 desc "my x"
my.s = "hello" desc "my s"
my[2].x = 7
other.flag = yes
request_route {
  $var(x) = $sel(cfg_get.my.x);
  if ($rU == "select") { cfg_select("my", 2); }
  if ($rU == "nosuch") { if (!cfg_select("my", 9)) { sl_send_reply("500", "no instance 9"); exit; } }
  sl_send_reply("200", "x=$var(x) now=$sel(cfg_get.my.x) s=$sel(cfg_get.my.s) inst=$sel(cfg_selected.my)");
}
"""


def workers(store: SharedStore, cfg: str = CFG, n: int = 2) -> list[Server]:
    """`n` servers on one shared store, as the worker processes of one kampy."""
    compiled = load_text(cfg, "cfg.cfg")
    servers = []
    for rank in range(1, n + 1):
        srv = Server.from_config(compiled, sockets=[SOCKET], shared=store.reopen() if rank > 1 else store,
                                 rank=rank, workers=n)
        servers.append(srv)
    return servers


@pytest.fixture
def pair(store: SharedStore) -> Iterator[list[Server]]:
    servers = workers(store)
    yield servers
    for srv in servers[1:]:
        srv.core.cfg.table.close()


def reason(srv: Server, user: str = "bob") -> str:
    out = srv.handle(request(ruri=f"sip:{user}@127.0.0.1"), SOURCE)
    return first_line(out[0]).split(" ", 2)[2]


# ------------------------------------------------------------------ the config's groups


def test_a_config_variable_is_read_with_sel_and_its_instance_with_cfg_select(pair):
    one, _ = pair
    assert reason(one) == "x=5 now=5 s=hello inst="
    assert reason(one, "select") == "x=5 now=7 s=hello inst=2"


def test_cfg_select_of_a_missing_instance_is_false(pair):
    assert reason(pair[0], "nosuch") == "no instance 9"


def test_the_selected_instance_lasts_for_one_message(pair):
    one, _ = pair
    reason(one, "select")
    assert reason(one) == "x=5 now=5 s=hello inst="


def test_an_instance_variable_not_set_follows_the_default(pair):
    one, _ = pair
    assert one.core.cfg.read("my", 2, "s") == "hello"
    one.core.cfg.set_now("my", None, "s", "bye")
    assert one.core.cfg.read("my", 2, "s") == "bye" and one.core.cfg.read("my", 2, "x") == 7


def test_a_word_such_as_yes_is_a_number(pair):
    assert pair[0].core.cfg.read("other", None, "flag") == 1


def test_groups_are_listed_as_kamailio_lists_them_the_last_declared_first(pair):
    names = [g.name for g in pair[0].core.cfg.list_order()]
    assert names == ["xlog", "maxfwd", "tcp", "core", "other", "my"]


# ------------------------------------------------------------------ every worker, next message


def test_a_change_in_one_worker_applies_to_the_next_message_of_every_worker(pair):
    one, two = pair
    assert reason(two) == "x=5 now=5 s=hello inst="
    one.core.cfg.set_now("my", None, "x", 42)
    assert reason(one) == "x=42 now=42 s=hello inst="
    assert reason(two) == "x=42 now=42 s=hello inst="


def test_a_message_keeps_the_values_it_started_with(pair, tmp_path):
    one, two = pair
    two.core.cfg.update()  # two starts a message ...
    one.core.cfg.set_now("my", None, "x", 9)  # ... another worker changes x meanwhile
    assert two.core.cfg.get("my", "x") == 5
    two.core.cfg.update()  # the next message
    assert two.core.cfg.get("my", "x") == 9


def test_prepared_changes_wait_for_the_commit_and_are_shared(pair):
    one, two = pair
    ctx_one, ctx_two = one.core.cfg.context("cfg_rpc"), two.core.cfg.context("cfg_rpc")
    ctx_one.set_delayed("my", None, "x", 11)
    assert [(d.var, d.old, d.new) for d in ctx_two.diff()] == [("x", 5, 11)]
    assert reason(two) == "x=5 now=5 s=hello inst="
    ctx_two.commit()
    assert reason(one) == "x=11 now=11 s=hello inst=" and list(ctx_one.diff()) == []


def test_a_rollback_drops_the_prepared_changes(pair):
    one, _ = pair
    ctx = one.core.cfg.context("cfg_rpc")
    ctx.set_delayed("my", 2, "x", 1)
    ctx.rollback()
    ctx.commit()
    assert one.core.cfg.read("my", 2, "x") == 7


def test_prepared_changes_are_ordered_by_group_then_instance_then_arrival(pair):
    ctx = pair[0].core.cfg.context("cfg_rpc")
    ctx.set_delayed("my", 2, "x", 1)
    ctx.set_delayed("maxfwd", None, "max_limit", 10)
    ctx.set_delayed("my", None, "s", "a")
    ctx.set_delayed("my", None, "x", 2)
    assert [(d.group, d.gid, d.var) for d in ctx.diff()] == [
        ("my", None, "s"), ("my", None, "x"), ("my", 2, "x"), ("maxfwd", None, "max_limit")]


def test_a_commit_that_fails_applies_nothing_and_keeps_the_changes(pair):
    one, _ = pair
    ctx = one.core.cfg.context("cfg_rpc")
    one.core.cfg.add_instance("my", 3)
    ctx.set_delayed("my", None, "x", 1)
    ctx.set_delayed("my", 3, "x", 2)
    one.core.cfg.delete_instance("my", 3)
    with pytest.raises(CfgError):
        ctx.commit()
    assert one.core.cfg.read("my", None, "x") == 5 and len(ctx.changes()) == 2


def test_instances_are_added_and_deleted_for_every_worker(pair):
    one, two = pair
    one.core.cfg.add_instance("my", 4)
    two.core.cfg.update()
    assert two.core.cfg.select("my", 4)
    one.core.cfg.delete_instance("my", 4)
    two.core.cfg.update()
    assert not two.core.cfg.select("my", 4)
    with pytest.raises(CfgError):
        one.core.cfg.delete_instance("my", 4)


# ------------------------------------------------------------------ Kamailio's checks


@pytest.mark.parametrize("value", ["abc", "", "12x"])
def test_a_string_that_is_not_a_number_is_refused_for_an_integer(pair, value):
    with pytest.raises(CfgError, match="cannot convert"):
        pair[0].core.cfg.set_now("my", None, "x", value)


def test_a_number_given_as_a_string_is_converted(pair):
    pair[0].core.cfg.set_now("my", None, "x", " -12")
    assert pair[0].core.cfg.read("my", None, "x") == -12


def test_an_integer_out_of_the_declared_range_is_refused(pair):
    with pytest.raises(CfgError, match="out of range"):
        pair[0].core.cfg.set_now("maxfwd", None, "max_limit", 256)


def test_a_variable_with_a_fixup_cannot_be_read_back(pair):
    cfg = pair[0].core.cfg
    cfg.set_now("core", None, "log_facility", "LOG_LOCAL3")
    with pytest.raises(CfgUnreadable):
        cfg.read("core", None, "log_facility")
    with pytest.raises(CfgError, match="fixup"):
        cfg.set_now("core", None, "log_facility", "LOG_NOWHERE")


def test_only_instance_values_can_be_deleted(pair):
    with pytest.raises(CfgError, match="Only group instance"):
        pair[0].core.cfg.set_now("my", None, "x", None, delete=True)


def test_a_read_only_variable_cannot_be_changed(pair):
    with pytest.raises(CfgError, match="read-only"):
        pair[0].core.cfg.set_now("tcp", None, "async", 0)


def test_an_unknown_variable_is_not_found(pair):
    with pytest.raises(CfgNotFound):
        pair[0].core.cfg.set_now("my", None, "nope", 1)


@pytest.mark.parametrize("lines, error", [
    ('my.x = 1\nmy.x = 2\n', "variable already exists: my.x"),
    ('my.x = -1\n', "number or string expected"),
    ('maxfwd.x = 1\nloadmodule "maxfwd"\n', "configuration group has been already declared: maxfwd"),
    ('my[2].y = 1\nmy.x = 1\n', "variable cannot be added to the group instance"),
    ('nope[1].x = 1\n', "variable cannot be added to the group instance"),
    ('loadmodule "maxfwd"\nmaxfwd[1].max_limit = 300\n', "out of range"),
    ('my.x = 1\nrequest_route { cfg_select("nope", 1); }\n', 'configuration group "nope" not found'),
])
def test_a_config_kamailio_refuses_is_refused_at_its_line(lines, error):
    with pytest.raises(ConfigError, match=error):
        Server.from_config(load_text('loadmodule "sl"\n' + lines), sockets=[SOCKET])


# ------------------------------------------------------------------ the core's and the modules' groups


def test_a_module_group_starts_with_the_module_parameters():
    srv = Server.from_config(load_text('loadmodule "maxfwd"\nmodparam("maxfwd", "max_limit", 20)\n'),
                             sockets=[SOCKET])
    assert srv.core.cfg.read("maxfwd", None, "max_limit") == 20


def test_the_core_group_starts_with_the_core_parameters():
    srv = Server.from_config(load_text("debug=2\nmax_while_loops=7\nmemlog=1\n"), sockets=[SOCKET])
    cfg = srv.core.cfg
    assert [cfg.read("core", None, v) for v in ("debug", "max_while_loops", "memlog", "mem_summary")] == \
        [2, 7, 1, 12]


def test_a_new_max_limit_applies_to_the_next_request():
    srv = Server.from_config(load_text('loadmodule "maxfwd"\n'), sockets=[SOCKET])
    raw = request().replace(b"Max-Forwards: 70", b"Max-Forwards: 100")

    def forwarded_max_forwards() -> bytes:
        srv.core.cfg.update()
        ctx = MessageContext(parse_message(raw), SOURCE, srv.core)
        assert srv.core.modules["maxfwd"].maxfwd_process(ctx, 80) == 1
        return parse_message(ctx.msg.to_bytes()).header("Max-Forwards").encode()
    assert forwarded_max_forwards() == b"70"
    srv.core.cfg.set_now("maxfwd", None, "max_limit", 30)
    assert forwarded_max_forwards() == b"30"


def test_core_debug_changes_what_the_log_shows(caplog):
    srv = Server.from_config(load_text("debug=0\n"), sockets=[SOCKET])
    srv.core.cfg.set_now("core", None, "debug", 3)
    try:
        assert logging.getLogger("kampy").isEnabledFor(logging.DEBUG)
    finally:
        srv.core.cfg.set_now("core", None, "debug", 0)
    assert not logging.getLogger("kampy").isEnabledFor(logging.INFO)


def test_core_max_while_loops_bounds_the_next_loops():
    cfg = 'loadmodule "sl"\nloadmodule "pv"\nrequest_route { $var(i) = 0; ' \
          'while ($var(i) < 50) { $var(i) = $var(i) + 1; } sl_send_reply("200", "i=$var(i)"); }\n'
    srv = Server.from_config(load_text(cfg), sockets=[SOCKET])
    assert first_line(srv.handle(request(), SOURCE)[0]) == "SIP/2.0 200 i=50"
    srv.core.cfg.set_now("core", None, "max_while_loops", 10)
    assert first_line(srv.handle(request(), SOURCE)[0]) == "SIP/2.0 200 i=10"


def test_core_force_rport_adds_rport_to_every_request():
    cfg = 'loadmodule "sl"\nrequest_route { sl_send_reply("200", "OK"); }\n'
    srv = Server.from_config(load_text(cfg), sockets=[SOCKET])
    assert b"rport=" not in srv.handle(request(), SOURCE)[0].data
    srv.core.cfg.set_now("core", None, "force_rport", 1)
    assert b";rport=5080" in srv.handle(request(), SOURCE)[0].data


def test_registrar_default_expires_is_its_statistic_too():
    cfg = 'loadmodule "sl"\nloadmodule "usrloc"\nloadmodule "registrar"\n'
    srv = Server.from_config(load_text(cfg), sockets=[SOCKET])
    srv.core.cfg.set_now("registrar", None, "default_expires", 600)
    assert srv.core.stats.get("registrar:default_expire") == 600
    assert srv.core.modules["registrar"].default_expires == 600
    with pytest.raises(CfgError, match="muliple values"):
        srv.core.cfg.add_instance("registrar", 1)
        srv.core.cfg.set_now("registrar", 1, "default_expires", 60)


def test_tm_timers_are_kept_in_ticks_and_the_next_transaction_gets_the_new_one():
    srv = Server.from_config(load_text('loadmodule "tm"\nmodparam("tm", "fr_inv_timer", 12000)\n'),
                             sockets=[SOCKET])
    tm = srv.core.modules["tm"]
    assert srv.core.cfg.local.defaults["tm"]["fr_inv_timer"] == 192
    assert tm.timers.fr_inv_timer == 12.0
    srv.core.cfg.set_now("tm", None, "fr_inv_timer", 100)
    assert srv.core.cfg.local.defaults["tm"]["fr_inv_timer"] == 2
    assert tm.timers.fr_inv_timer == 0.125


def test_a_variable_kampy_does_not_act_on_is_kept_and_setting_it_says_so(caplog):
    srv = Server.from_config(load_text('loadmodule "tm"\n'), sockets=[SOCKET])
    assert srv.core.cfg.read("tm", None, "fr_inv_timer_next") == 30000  # Kamailio's default
    with caplog.at_level(logging.WARNING, logger="kampy.cfg"):
        srv.core.cfg.set_now("tm", None, "fr_inv_timer_next", 20000)
    assert srv.core.cfg.read("tm", None, "fr_inv_timer_next") == 20000
    assert "tm.fr_inv_timer_next: kampy keeps the value but does not act on it" in caplog.text


def test_a_variable_kampy_acts_on_is_set_without_a_warning(caplog):
    srv = Server.from_config(load_text('loadmodule "tm"\n'), sockets=[SOCKET])
    with caplog.at_level(logging.WARNING, logger="kampy.cfg"):
        srv.core.cfg.set_now("tm", None, "auto_inv_100", 0)
    assert "does not act on it" not in caplog.text


def test_setting_a_core_variable_kampy_has_no_use_for_says_so(caplog):
    srv = Server.from_config(load_text("debug=0\n"), sockets=[SOCKET])
    with caplog.at_level(logging.WARNING, logger="kampy.cfg"):
        srv.core.cfg.set_now("core", None, "dns_servers_no", 1)
        srv.core.cfg.set_now("tcp", None, "connect_timeout", 5)
        srv.core.cfg.set_now("core", None, "max_while_loops", 10)
        srv.core.cfg.set_now("core", None, "dns_try_ipv6", 0)
    warned = [r.getMessage() for r in caplog.records if "does not act on it" in r.getMessage()]
    assert warned == ["core.dns_servers_no: kampy keeps the value but does not act on it",
                      "tcp.connect_timeout: kampy keeps the value but does not act on it"]


@pytest.mark.parametrize(("memlog", "level"), [(0, logging.WARNING), (4, logging.DEBUG)])
def test_core_mem_dump_pkg_logs_this_process_memory_at_the_memlog_level(caplog, memlog, level):
    srv = Server.from_config(load_text(f"debug=0\nmemlog={memlog}\n"), sockets=[SOCKET])
    with caplog.at_level(logging.DEBUG, logger="kampy.core"):
        srv.core.cfg.set_now("core", None, "mem_dump_pkg", os.getpid())
        srv.core.cfg.update()
    dumped = [r for r in caplog.records if r.getMessage() == "Memory status (pkg):"]
    assert [r.levelno for r in dumped] == [level]
