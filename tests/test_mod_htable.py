"""htable: hash tables in shared memory, as Kamailio 5.6's module (the expected values are those
Kamailio 5.6.3 gives for the same configs; the slot numbers come from its core_case_hash)."""
from __future__ import annotations

import logging

import pytest

from kampy.errors import ConfigError
from kampy.testing import Harness
from kampy.modules.htable.spec import parse_table
from kampy.modules.htable.table import cell_hash

BASE = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "htable.so"
modparam("htable", "htable", "ipban=>size=8;autoexpire=300;")
modparam("htable", "htable", "a=>size=4;initval=5")
modparam("htable", "htable", "s=>size=2")
"""


def cfg(route: str, extra: str = "") -> str:
    return BASE + extra + "\nrequest_route {\n" + route + "\n}\n"


def reason(sip: Harness, route: str = "") -> str:
    """The reason phrase of the 200 the route under test sends, without the "=" its text starts with
    (a reason that starts with a pseudo-variable is that variable alone, as Kamailio's fixup reads it)."""
    reply = sip.send_request("OPTIONS", "sip:x@127.0.0.1").reply
    assert reply is not None
    return reply.data.split(b"\r\n", 1)[0].decode().split(" ", 2)[2].removeprefix("=")


def rpc(sip: Harness, method: str, *params: object) -> object:
    return sip.core.rpc.call(method, list(params))


# ---------------------------------------------------------------- the htable parameter


def test_a_table_spec_gives_its_attributes() -> None:
    spec = parse_table("t=>size=6;autoexpire=60;dbtable=htable;dbmode=1;initval=-3;updateexpire=0;")
    assert (spec.name, spec.slots, spec.autoexpire, spec.dbtable, spec.dbmode, spec.initval,
            spec.updateexpire) == ("t", 64, 60, "htable", 1, -3, 0)


def test_sizes_out_of_range_give_kamailios_slot_counts() -> None:
    assert [parse_table(f"t=>size={n}").slots for n in (0, 1, 2, 14, 31, 32)] == \
        [8, 8, 4, 16384, 1 << 31, 16384]


def test_quoted_cols_are_split_at_commas() -> None:
    assert parse_table("t=>dbtable=x;cols='k,v1,v2'").cols == ("k", "v1", "v2")


@pytest.mark.parametrize("text", ["t", "t=size=3", "t=>size=x", "t=>sizes=3", "t=>cols='k'",
                                  "t=>initval=1x"])
def test_a_bad_table_spec_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid htable parameter"):
        parse_table(text)


def test_a_bad_table_spec_is_a_config_error_at_its_modparam(kampy_cfg) -> None:
    with pytest.raises(ConfigError, match="invalid htable parameter"):
        kampy_cfg(cfg("exit;", 'modparam("htable", "htable", "bad=>nosuch=1")'))


def test_a_table_defined_twice_is_refused(kampy_cfg) -> None:
    with pytest.raises(ConfigError, match="htable already configured"):
        kampy_cfg(cfg("exit;", 'modparam("htable", "htable", "a=>size=2")'))


def test_the_slot_of_a_name_is_kamailios_case_insensitive_core_hash() -> None:
    # ipban's 256 slots: Kamailio's htable.dump puts 127.0.0.66 in entry 215, 1.2.3.4 in 253
    assert cell_hash("127.0.0.66") & 255 == 215
    assert cell_hash("1.2.3.4") & 255 == 253
    assert cell_hash("Hello") == cell_hash("hello")


# ---------------------------------------------------------------- $sht and friends


def test_sht_keeps_ints_and_strings_apart(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$sht(s=>i) = 5; $sht(s=>t) = "5"; $var(x) = $sht(s=>i) + 1;\n'
                        'sl_send_reply("200", "=$var(x) $sht(s=>t)$sht(s=>t)");'))
    assert reason(sip) == "6 55"
    assert rpc(sip, "htable.get", "s", "i") == {"item": {"name": "i", "value": 5, "flags": 0,
                                                         "expire": "NEVER"}}
    assert rpc(sip, "htable.get", "s", "t")["item"]["flags"] == 2  # type: ignore[index]


def test_a_missing_item_is_null_or_the_tables_initval(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('sl_send_reply("200", "=$sht(s=>none) $sht(a=>none)");'))
    assert reason(sip) == "<null> 5"


def test_assigning_null_deletes_the_item(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$sht(s=>k) = 1; $sht(s=>k) = $null; sl_send_reply("200", "=$sht(s=>k)");'))
    assert reason(sip) == "<null>"
    assert rpc(sip, "htable.dump", "s") == []


def test_the_key_may_hold_pseudo_variables(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$sht(s=>$rm::$fU) = $si; sl_send_reply("200", "ok");'))
    reason(sip)
    assert rpc(sip, "htable.get", "s", "OPTIONS::alice")["item"]["value"] == "192.0.2.10"  # type: ignore[index]


def test_shtinc_counts_from_initval_and_shtdec_down(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$var(a) = $shtinc(a=>c); $var(b) = $shtinc(a=>c); $var(c) = $shtdec(a=>c);\n'
                        'sl_send_reply("200", "=$var(a) $var(b) $var(c)");'))
    assert reason(sip) == "6 7 6"


def test_shtinc_of_a_table_without_initval_needs_an_int_item(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$sht(s=>n) = 1; $sht(s=>t) = "x";\n'
                        'sl_send_reply("200", "=$shtinc(s=>none) $shtinc(s=>n) $shtinc(s=>t)");'))
    assert reason(sip) == "<null> 2 <null>"


def test_int_values_wrap_at_32_bits(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$sht(s=>n) = 2147483647; sl_send_reply("200", "=$shtinc(s=>n)");'))
    assert reason(sip) == "-2147483648"


def test_shtcn_and_shtcv_count_matching_names_and_values(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$sht(s=>k1) = "v1"; $sht(s=>k2) = 2; $sht(s=>k3) = "v3"; $sht(s=>x9) = "w";\n'
                        'sl_send_reply("200", "=$shtcn(s=>**) $shtcn(s=>~~^k) $shtcn(s=>%~k) '
                        '$shtcn(s=>~%9) $shtcn(s=>==k2) $shtcv(s=>~~v) $shtcv(s=>eq2) $shtcn(s=>eq2)");'))
    assert reason(sip) == "4 3 3 1 1 2 1 0"


def test_shtex_gives_the_seconds_left_and_sets_them(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('if ($rm == "OPTIONS") { $sht(ipban=>k) = 1; }\n'
                        'if ($rm == "INFO") { $shtex(ipban=>k) = 20; }\n'
                        'sl_send_reply("200", "=$shtex(ipban=>k) $shtex(s=>k) $shtex(ipban=>none)");'))
    assert reason(sip) == "300 0 0"
    sip.advance(10)
    assert sip.send_request("INFO", "sip:x@127.0.0.1").reply.data.split(b" ", 2)[2].startswith(b"=20 0 0")


def test_an_expired_item_reads_as_missing_until_the_timer_removes_it(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('if ($rm == "OPTIONS") { $sht(ipban=>k) = 1; }\n'
                        'sl_send_reply("200", "=$sht(ipban=>k)");'),
                    modparams={"htable": {"timer_interval": 1000}})
    assert reason(sip) == "1"
    sip.advance(301)
    assert sip.send_request("INFO", "sip:x@127.0.0.1").reply.data.split(b" ", 2)[2].startswith(b"=<null>")
    assert [c["slot"][0]["name"] for c in rpc(sip, "htable.dump", "ipban")] == ["k"]  # type: ignore[index]


def test_updateexpire_0_keeps_the_expiry_of_an_updated_item(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$sht(keep=>k) = $sht(keep=>k) + 1; sl_send_reply("200", "=$shtex(keep=>k)");',
                        'modparam("htable", "htable", "keep=>autoexpire=100;updateexpire=0")'))
    assert reason(sip) == "100"
    sip.advance(30)
    assert reason(sip) == "70"


# ---------------------------------------------------------------- functions


def test_sht_rm_deletes_and_fails_for_an_unknown_table(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$sht(s=>k) = 1; sht_rm("s", "k"); sht_rm("nosuch", "k");\n'
                        'sl_send_reply("200", "x");'))
    result = sip.send_request("OPTIONS", "sip:x@127.0.0.1")
    assert result.codes("sht_rm") == [1, -1]
    assert rpc(sip, "htable.dump", "s") == []


def test_removal_by_name_and_value(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$sht(s=>ab1) = "x1"; $sht(s=>ab2) = "y"; $sht(s=>cd) = "x2"; $sht(s=>ef) = 7;\n'
                        'sht_rm_name_re("s=>^ab1"); sht_rm_value_re("s=>^x"); sht_rm_name("s", "sw", "e");\n'
                        'sl_send_reply("200", "=$shtcn(s=>**)");'))
    assert reason(sip) == "1"
    assert rpc(sip, "htable.get", "s", "ab2")["item"]["value"] == "y"  # type: ignore[index]


def test_sht_rm_name_with_an_unknown_operator_fails(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('sht_rm_name("s", "xx", "a"); sht_rm_value("s", "re", "(");\n'
                        'sl_send_reply("200", "x");'))
    assert sip.send_request("OPTIONS", "sip:x@127.0.0.1").codes("sht_rm_name") == [-1]


def test_match_functions_tell_whether_an_item_matches(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$sht(s=>alice) = "one"; $sht(s=>bob) = 2;\n'
                        'sht_match_name("s", "eq", "alice"); sht_has_name("s", "sw", "zz");\n'
                        'sht_match_str_value("s", "re", "^o"); sht_has_str_value("s", "eq", "2");\n'
                        'sht_match_name("s", "ne", "alice"); sl_send_reply("200", "x");'))
    result = sip.send_request("OPTIONS", "sip:x@127.0.0.1")
    assert result.codes("sht_match_name") == [1, 1]
    assert result.codes("sht_has_name") == [-1]
    assert result.codes("sht_match_str_value") == [1]
    assert result.codes("sht_has_str_value") == [-1]  # an int value is never matched as a string


def test_sht_reset_empties_the_table(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$sht(s=>a) = 1; $sht(s=>b) = 2; sht_reset("s");\n'
                        'sl_send_reply("200", "=$shtcn(s=>**)");'))
    assert reason(sip) == "0"


def test_sht_setxs_sets_a_string_with_its_expiry(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('sht_setxs("ipban", "k", "v", "30");\n'
                        'sl_send_reply("200", "=$sht(ipban=>k) $shtex(ipban=>k)");'))
    assert reason(sip) == "v 30"


def test_sht_setxi_returns_0_so_the_script_ends_there_as_in_kamailio(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('sht_setxi("ipban", "k", "7", "30"); sl_send_reply("200", "not reached");'))
    result = sip.send_request("OPTIONS", "sip:x@127.0.0.1")
    result.assert_no_reply()
    assert rpc(sip, "htable.get", "ipban", "k")["item"]["value"] == 7  # type: ignore[index]


def test_sht_lock_and_unlock_are_balanced_and_need_a_table(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('sht_lock("s=>k"); $sht(s=>k) = $sht(s=>k) + 10; sht_unlock("s=>k");\n'
                        'sht_lock("nosuch=>k"); sl_send_reply("200", "=$sht(s=>k)");'))
    result = sip.send_request("OPTIONS", "sip:x@127.0.0.1")
    assert result.codes("sht_lock") == [1, -11]
    assert reason(sip) == "20"
    table = sip.module("htable").tables["s"]
    assert not table.locks.held(table.slot(cell_hash("k")))


def test_an_iterator_walks_the_items_in_kamailios_order(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$sht(s=>k1) = "v1"; $sht(s=>k2) = 2; $sht(s=>k3) = "v3"; $var(out) = "";\n'
                        'sht_iterator_start("i1", "s");\n'
                        'while (sht_iterator_next("i1")) { $var(out) = $var(out) + $shtitkey(i1) + "=" '
                        '+ $shtitval(i1) + ","; }\n'
                        'sht_iterator_end("i1"); sl_send_reply("200", "=$var(out)");'))
    assert reason(sip) == "k3=v3,k1=v1,k2=2,"  # slots 0, 2, 3 (Kamailio's htable.dump)


def test_iterator_rm_and_sets_change_the_current_item(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$sht(s=>k1) = "v1"; $sht(s=>k2) = 2; $sht(s=>k3) = "v3";\n'
                        'sht_iterator_start("i1", "s"); sht_iterator_next("i1"); sht_iterator_rm("i1");\n'
                        'sht_iterator_sets("i1", "new"); sht_iterator_next("i1");\n'
                        'sht_iterator_seti("i1", "9");\n'
                        'sht_iterator_next("i1"); sht_iterator_end("i1");\n'
                        'sl_send_reply("200", "=$sht(s=>k1) $sht(s=>k2) $sht(s=>k3)");'))
    result = sip.send_request("OPTIONS", "sip:x@127.0.0.1")
    assert result.codes("sht_iterator_rm") == [1]
    assert result.codes("sht_iterator_next") == [1, 1, -1]
    assert result.reply.data.split(b"\r\n")[0].endswith(b"new 9 <null>")


def test_at_most_four_iterators_at_once(kampy_cfg) -> None:
    starts = "".join(f'sht_iterator_start("{name}", "s");\n' for name in "abcde")
    sip = kampy_cfg(cfg(starts + 'sl_send_reply("200", "x");'))
    assert sip.send_request("OPTIONS", "sip:x@127.0.0.1").codes("sht_iterator_start") == [1, 1, 1, 1, -1]


def test_an_iterator_on_an_unknown_table_fails(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('sht_iterator_start("a", "nosuch"); sht_iterator_next("a");\n'
                        'sl_send_reply("200", "x");'))
    result = sip.send_request("OPTIONS", "sip:x@127.0.0.1")
    assert result.codes("sht_iterator_start") == [-1] and result.codes("sht_iterator_next") == [-1]


def test_sht_print_logs_every_slot(kampy_cfg, caplog: pytest.LogCaptureFixture) -> None:
    sip = kampy_cfg(cfg('$sht(s=>k1) = "v1"; sht_print(); sl_send_reply("200", "x");'))
    with caplog.at_level("ERROR", logger="kampy.htable"):
        sip.send_request("OPTIONS", "sip:x@127.0.0.1")
    lines = [r.getMessage() for r in caplog.records if r.name == "kampy.htable"]
    assert "htable[0] -- <0>" in lines and "htable[2] -- <1>" in lines
    assert "\tcell: k1" in lines and "\tv-s:v1" in lines


# ---------------------------------------------------------------- event routes and expiry


def test_mod_init_runs_once_before_the_first_message(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('sl_send_reply("200", "=$sht(a=>x) $sht(a=>Hello)");',
                        'event_route[htable:mod-init] { $sht(a=>x) = 1; $sht(a=>Hello) = "world"; }'))
    assert reason(sip) == "1 world"


def test_a_drop_in_mod_init_stops_the_start(kampy_cfg) -> None:
    with pytest.raises(ValueError, match="drop"):
        kampy_cfg(cfg("exit;", "event_route[htable:mod-init] { drop; }"))


def test_expired_items_go_with_their_event_route(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$sht(ipban=>$si) = "banned"; sl_send_reply("200", "x");',
                        'event_route[htable:expired:ipban] { $sht(s=>gone) = $shtrecord(key) + "=" '
                        '+ $shtrecord(value); }'))
    reason(sip)
    sip.advance(290)
    assert rpc(sip, "htable.dump", "s") == []
    result = sip.advance(40)  # expired at 300 s, found by the timer run at 320 s (timer_interval 20)
    assert "event_route[htable:expired:ipban]" in result.routes
    assert rpc(sip, "htable.dump", "ipban") == []
    assert rpc(sip, "htable.get", "s", "gone")["item"]["value"] == "192.0.2.10=banned"  # type: ignore[index]


def test_with_event_callback_mod_init_does_not_run(kampy_cfg, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="kampy.htable")
    sip = kampy_cfg(cfg('sl_send_reply("200", "[$sht(a=>x)]");',
                        'modparam("htable", "event_callback", "ksr_htable_event")\n'
                        'event_route[htable:mod-init] { $sht(a=>x) = 1; }'))
    assert reason(sip) == "[5]"  # a's initval: mod-init set nothing
    assert "event callback (ksr_htable_event) set, but no cfg engine" in caplog.messages


def test_with_event_callback_expired_items_go_without_their_event_route(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$sht(ipban=>$si) = "banned"; sl_send_reply("200", "x");',
                        'modparam("htable", "event_callback", "ksr_htable_event")\n'
                        'event_route[htable:expired:ipban] { $sht(s=>gone) = 1; }'))
    reason(sip)
    result = sip.advance(330)
    assert "event_route[htable:expired:ipban]" not in result.routes
    assert rpc(sip, "htable.dump", "ipban") == [] and rpc(sip, "htable.dump", "s") == []


def test_timer_interval_sets_how_often_expired_items_are_looked_for(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$sht(ipban=>k) = 1; sl_send_reply("200", "x");'),
                    modparams={"htable": {"timer_interval": 100}})
    reason(sip)
    sip.advance(350)
    assert rpc(sip, "htable.dump", "ipban") != []  # next run at 400 s
    sip.advance(60)
    assert rpc(sip, "htable.dump", "ipban") == []


# ---------------------------------------------------------------- RPC


def test_htable_dump_lists_slots_with_kamailios_entries(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$sht(s=>k1) = "v1"; $sht(s=>k2) = 2; $sht(s=>k3) = "v3";\n'
                        'sl_send_reply("200", "x");'))
    reason(sip)
    assert rpc(sip, "htable.dump", "s") == [
        {"entry": 0, "size": 1, "slot": [{"name": "k3", "value": "v3", "type": "str"}]},
        {"entry": 2, "size": 1, "slot": [{"name": "k1", "value": "v1", "type": "str"}]},
        {"entry": 3, "size": 1, "slot": [{"name": "k2", "value": 2, "type": "int"}]}]


def test_list_tables_and_stats_answer_in_kamailios_order(kampy_cfg) -> None:
    sip = kampy_cfg(cfg('$sht(s=>k1) = 1; sl_send_reply("200", "x");'))
    reason(sip)
    assert rpc(sip, "htable.listTables") == [
        {"name": "s", "dbtable": "", "dbmode": 0, "expire": 0, "updateexpire": 1, "size": 4,
         "dmqreplicate": 0},
        {"name": "a", "dbtable": "", "dbmode": 0, "expire": 0, "updateexpire": 1, "size": 16,
         "dmqreplicate": 0},
        {"name": "ipban", "dbtable": "", "dbmode": 0, "expire": 300, "updateexpire": 1, "size": 256,
         "dmqreplicate": 0}]
    assert rpc(sip, "htable.stats")[0] == {"name": "s", "slots": 4, "all": 1, "min": 0, "max": 1}  # type: ignore[index]


def test_rpc_set_get_delete(kampy_cfg) -> None:
    sip = kampy_cfg(cfg("exit;"))
    assert rpc(sip, "htable.sets", "s", "x", "abc") == "Ok. Key set to new value."
    assert rpc(sip, "htable.seti", "s", "n", 123) == "Ok. Key set to new value."
    assert rpc(sip, "htable.setxi", "ipban", "e", 1, 60) == "Ok. Key set to new value."
    assert rpc(sip, "htable.setex", "ipban", "e", 120) == "Ok"
    assert rpc(sip, "htable.get", "s", "n") == {"item": {"name": "n", "value": 123, "flags": 0,
                                                         "expire": "NEVER"}}
    assert rpc(sip, "htable.delete", "s", "n") == "Ok. Key deleted."
    assert rpc(sip, "htable.flush", "s") == "Ok. Htable flushed."
    assert rpc(sip, "htable.dump", "s") == []


@pytest.mark.parametrize(("method", "params", "fault"), [
    ("htable.get", ["nosuch", "k"], (500, "No such htable")),
    ("htable.get", ["s", "k"], (500, "Key name doesn't exist in htable.")),
    ("htable.delete", ["s", "k"], (404, "Key not found in htable.")),
    ("htable.dump", ["nosuch"], (500, "No such htable")),
    ("htable.store", ["s"], (500, "No htable db_url")),  # the config sets no db_url
])
def test_rpc_faults_are_kamailios(kampy_cfg, method: str, params: list, fault: tuple[int, str]) -> None:
    from kampy.api import RpcFault

    sip = kampy_cfg(cfg("exit;"))
    with pytest.raises(RpcFault) as caught:
        rpc(sip, method, *params)
    assert (caught.value.code, caught.value.message) == fault


# ---------------------------------------------------------------- the database


DB_CFG = BASE + """
modparam("htable", "db_url", "mysql://kamailio:kamailiorw@localhost/kamailio")  # the test's db= replaces it
modparam("htable", "htable", "d=>size=4;dbtable=htable;dbmode=1")
modparam("htable", "htable", "c=>size=4;dbtable=htable;cols='key_name,key_value,key_type'")
request_route {
  $sht(d=>new) = "n";
  sl_send_reply("200",
    "=$sht(d=>one) $sht(d=>two) $sht(d=>arr[0]) $sht(d=>arr[1]) $sht(d=>arr::size) $sht(c=>one)");
}
"""

ROWS = [("one", 0, 0, "1"), ("two", 0, 1, "2"), ("arr", 1, 0, "a0"), ("arr", 1, 0, "a1")]


def _fill(db_url: str) -> None:
    from kampy.api import db_connect
    from kampy.testing import Tables

    Tables.create(db_url)
    with db_connect(db_url) as database:
        database.delete("htable", {})
        for name, ktype, vtype, value in ROWS:
            database.insert("htable", {"key_name": name, "key_type": ktype, "value_type": vtype,
                                       "key_value": value, "expires": 0})


def test_tables_load_from_the_database_at_start(kampy_cfg, db_url: str) -> None:
    _fill(db_url)
    sip = kampy_cfg(DB_CFG, db=db_url)
    assert reason(sip) == "1 2 a0 a1 2 1,0"
    assert rpc(sip, "htable.get", "d", "two")["item"]["flags"] == 0  # type: ignore[index]


def test_dbmode_1_writes_the_table_back_at_shutdown(kampy_cfg, db_url: str) -> None:
    from kampy.api import db_connect

    _fill(db_url)
    sip = kampy_cfg(DB_CFG, db=db_url)
    reason(sip)
    sip.close()
    with db_connect(db_url) as database:
        rows = sorted(database.query("htable", ["key_name", "key_type", "value_type", "key_value"]))
    assert rows == [("arr::size", 0, 1, "2"), ("arr[0]", 0, 0, "a0"), ("arr[1]", 0, 0, "a1"),
                    ("new", 0, 0, "n"), ("one", 0, 0, "1"), ("two", 0, 1, "2")]


def test_reload_and_store_over_rpc(kampy_cfg, db_url: str) -> None:
    _fill(db_url)
    sip = kampy_cfg(DB_CFG, db=db_url)
    assert rpc(sip, "htable.sets", "d", "one", "changed") == "Ok. Key set to new value."
    assert rpc(sip, "htable.reload", "d") == "Ok. Htable reloaded."
    assert rpc(sip, "htable.get", "d", "one")["item"]["value"] == "1"  # type: ignore[index]
    rpc(sip, "htable.sets", "d", "extra", "e")
    assert rpc(sip, "htable.store", "d") == "Ok. Htable successfully stored to DB."
    assert rpc(sip, "htable.reload", "d") == "Ok. Htable reloaded."
    assert rpc(sip, "htable.get", "d", "extra")["item"]["value"] == "e"  # type: ignore[index]


def test_a_key_that_is_not_a_valid_format_is_a_config_error(kampy_cfg) -> None:
    with pytest.raises(ConfigError, match="wrong format"):
        kampy_cfg(cfg('sht_rm_name_re("s=>^ab$"); exit;'))
