"""The dispatcher module in-process: destination sets from a list file and from the dispatcher table
(SQLite and MariaDB), selection by weight, relative weight, random, parallel forking and call load,
failover through the XAVPs, states set by the script, by RPC and by keepalives, the dst-down/dst-up
event routes with $dsv, and the RPC commands."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from kampy.api import RpcFault
from kampy.db import connect
from kampy.testing import Harness
from tests.authkit import make_tables

MODULES = "".join(f'loadmodule "{m}.so"\n' for m in ("tm", "sl", "pv", "xlog", "textops", "dispatcher"))

LIST = """\
# gateways
1 sip:192.0.2.1:5060 0 0
1 sip:192.0.2.2:5060 0 0
1 sip:192.0.2.3:5060 0 0
2 sip:192.0.2.11:5060 0 0 duid=a;weight=20;rweight=25;maxload=2
2 sip:192.0.2.12:5060 0 0 duid=b;weight=30;rweight=50;maxload=2
2 sip:192.0.2.13:5060 0 0 duid=c;weight=50;rweight=25;maxload=2
"""

SELECT_ROUTE = """
request_route {
    if (is_method("BYE")) { ds_load_update(); sl_send_reply("200", "bye"); exit; }
    if (!ds_select_dst("$hdr(X-Set)", "$hdr(X-Alg)")) { sl_send_reply("503", "none"); exit; }
    sl_send_reply("200", "$du");
}
"""

RELAY_ROUTE = """
request_route {
    if (!ds_select_dst("1", "8")) { sl_send_reply("503", "none"); exit; }
    t_on_failure("NEXT");
    t_relay();
}
failure_route[NEXT] {
    if (t_check_status("503")) {
        ds_mark_dst("ip");
        if (ds_next_dst()) { t_on_failure("NEXT"); t_relay(); }
    }
}
event_route[dispatcher:dst-down] {
    xlog("L_NOTICE", "down $ru code=$dsv(code) reason=$dsv(reason) flags=$dsv(flags)\\n");
}
event_route[dispatcher:dst-up] {
    xlog("L_NOTICE", "up $ru code=$dsv(code) reason=$dsv(reason)\\n");
}
"""


@pytest.fixture
def listfile(tmp_path: Path) -> Path:
    path = tmp_path / "dispatcher.list"
    path.write_text(LIST)
    return path


def load(kampy_cfg, listfile: Path, route: str = SELECT_ROUTE, params: str = "") -> Harness:
    cfg = (
        MODULES + f'modparam("dispatcher", "list_file", "{listfile}")\n'
        'modparam("dispatcher", "flags", 2)\n' + params + route
    )
    return kampy_cfg(cfg, db=None)


def chosen(sip: Harness, set_id: int, alg: int, n: int, method: str = "INVITE") -> Counter[str]:
    return Counter(
        sip.send_request(
            method,
            "sip:bob@example.com",
            headers={"X-Set": str(set_id), "X-Alg": str(alg)},
            call_id=f"c{i}-{alg}",
        ).reply.reason
        for i in range(n)
    )


def flags_of(sip: Harness, set_id: int) -> dict[str, str]:
    sets = sip.rpc("dispatcher.list")["RECORDS"]
    for entry in sets:
        if entry["SET"]["ID"] == set_id:
            return {d["DEST"]["URI"]: d["DEST"]["FLAGS"] for d in entry["SET"]["TARGETS"]}
    raise AssertionError(f"no set {set_id}")


def test_weight_gives_each_destination_its_percentage_of_every_hundred_calls(
    kampy_cfg, listfile: Path
) -> None:
    sip = load(kampy_cfg, listfile)
    assert chosen(sip, 2, 9, 100) == {
        "sip:192.0.2.11:5060": 20,
        "sip:192.0.2.12:5060": 30,
        "sip:192.0.2.13:5060": 50,
    }


def test_relative_weight_shares_among_the_active_destinations(kampy_cfg, listfile: Path) -> None:
    sip = load(kampy_cfg, listfile)
    assert chosen(sip, 2, 11, 100) == {
        "sip:192.0.2.11:5060": 25,
        "sip:192.0.2.12:5060": 50,
        "sip:192.0.2.13:5060": 25,
    }
    sip.rpc("dispatcher.set_state", ["i", 2, "sip:192.0.2.13:5060"])
    # 25/75 and 50/75 of 100, truncated: the last active one listed fills the rest
    assert chosen(sip, 2, 11, 100) == {"sip:192.0.2.11:5060": 34, "sip:192.0.2.12:5060": 66}


def test_random_selection_spreads_over_the_set(kampy_cfg, listfile: Path) -> None:
    sip = load(kampy_cfg, listfile)
    assert len(chosen(sip, 1, 6, 60)) == 3


def test_round_robin_skips_inactive_destinations(kampy_cfg, listfile: Path) -> None:
    sip = load(kampy_cfg, listfile)
    sip.rpc("dispatcher.set_state", ["d", 1, "sip:192.0.2.2:5060"])
    assert chosen(sip, 1, 4, 6) == {"sip:192.0.2.1:5060": 3, "sip:192.0.2.3:5060": 3}


def test_parallel_forking_relays_to_every_destination(kampy_cfg, listfile: Path) -> None:
    sip = load(
        kampy_cfg,
        listfile,
        """
request_route { ds_select_dst("1", "12"); t_relay(); }
""",
    )
    result = sip.send_request("INVITE", "sip:bob@example.com")
    assert sorted(r.host for r in result.requests("INVITE")) == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]


def test_call_load_keeps_to_maxload_and_a_bye_frees_the_slot(kampy_cfg, listfile: Path) -> None:
    sip = load(kampy_cfg, listfile, params='modparam("dispatcher", "ds_hash_size", 4)\n')
    assert sum(chosen(sip, 2, 10, 6).values()) == 6
    assert (
        sip.send_request(
            "INVITE", "sip:bob@example.com", headers={"X-Set": "2", "X-Alg": "10"}, call_id="full"
        ).reply.status
        == 503
    )
    sip.send_request("BYE", "sip:bob@example.com", call_id="c0-10")
    assert (
        sip.send_request(
            "INVITE", "sip:bob@example.com", headers={"X-Set": "2", "X-Alg": "10"}, call_id="again"
        ).reply.status
        == 200
    )
    loads = [
        d["DEST"]["RUNTIME"]["DLGLOAD"] for d in sip.rpc("dispatcher.list")["RECORDS"][0]["SET"]["TARGETS"]
    ]
    assert loads == [2, 2, 2]


def test_call_load_items_expire_without_a_confirming_reply(kampy_cfg, listfile: Path) -> None:
    sip = load(
        kampy_cfg,
        listfile,
        params='modparam("dispatcher", "ds_hash_size", 4)\n'
        'modparam("dispatcher", "ds_hash_initexpire", 10)\n'
        'modparam("dispatcher", "ds_hash_check_interval", 5)\n',
    )
    chosen(sip, 2, 10, 6)
    sip.advance(20)
    assert sum(chosen(sip, 2, 10, 6).values()) == 6


def test_failover_to_the_next_destination_on_503_marks_the_first_down(kampy_cfg, listfile: Path) -> None:
    sip = load(kampy_cfg, listfile, RELAY_ROUTE)
    sip.ua("sip:gw1@192.0.2.3", "192.0.2.3:5060", answer=503)
    sip.ua("sip:gw2@192.0.2.2", "192.0.2.2:5060", answer=200)
    result = sip.send_request("INVITE", "sip:bob@example.com")
    assert [r.host for r in result.requests("INVITE")] == ["192.0.2.3", "192.0.2.2"]
    assert result.responses[-1].status == 200 if result.responses else True
    assert "event_route[dispatcher:dst-down]" in result.routes
    assert flags_of(sip, 1)["sip:192.0.2.3:5060"] == "IP"


def test_the_xavps_hold_the_rest_of_the_set_and_the_count(kampy_cfg, listfile: Path) -> None:
    sip = load(
        kampy_cfg,
        listfile,
        """
request_route {
    ds_select("1", "4", "2");
    sl_send_reply("200", "r $xavp(_dsdst_[0]=>uri) $xavp(_dsdst_[1]=>uri) $xavp(_dsdst_[2]=>uri) "
                         "$xavp(_dsctx_=>cnt) $du");
}
""",
    )
    assert (
        sip.send_request("INVITE", "sip:b@x").reply.reason
        == "r sip:192.0.2.3:5060 sip:192.0.2.2:5060 <null> 2 <null>"
    )


def test_ds_select_domain_rewrites_the_host_and_keeps_the_user(kampy_cfg, listfile: Path) -> None:
    sip = load(
        kampy_cfg,
        listfile,
        """
request_route { ds_select_domain("1", "8"); sl_send_reply("200", "$ru"); }
""",
    )
    assert (
        sip.send_request("INVITE", "sip:bob:pw@example.com;x=1").reply.reason == "sip:bob:pw@192.0.2.3:5060"
    )


def test_use_default_keeps_the_last_destination_for_last(kampy_cfg, listfile: Path) -> None:
    sip = load(kampy_cfg, listfile, SELECT_ROUTE, 'modparam("dispatcher", "use_default", 1)\n')
    assert set(chosen(sip, 1, 4, 4)) == {"sip:192.0.2.3:5060", "sip:192.0.2.2:5060"}


def test_force_dst_0_refuses_to_overwrite_du(kampy_cfg, listfile: Path) -> None:
    sip = load(
        kampy_cfg,
        listfile,
        """
request_route {
    $du = "sip:198.51.100.1";
    if (!ds_select_dst("1", "4")) { sl_send_reply("500", "set"); exit; }
}
""",
        'modparam("dispatcher", "force_dst", 0)\n',
    )
    assert sip.send_request("INVITE", "sip:b@x").reply.status == 500


def test_ds_is_from_list_sets_the_group_and_attributes(kampy_cfg, listfile: Path) -> None:
    sip = load(
        kampy_cfg,
        listfile,
        """
request_route {
    if (ds_is_from_list()) { sl_send_reply("200", "r $var(g) $var(a)"); exit; }
    sl_send_reply("403", "no");
}
""",
        'modparam("dispatcher", "setid_pvname", "$var(g)")\n'
        'modparam("dispatcher", "attrs_pvname", "$var(a)")\n',
    )
    assert (
        sip.send_request("OPTIONS", "sip:x@y", src="192.0.2.12:5060").reply.reason
        == "r 2 duid=b;weight=30;rweight=50;maxload=2"
    )
    assert sip.send_request("OPTIONS", "sip:x@y", src="192.0.2.99:5060").reply.status == 403


def test_keepalives_take_a_silent_destination_down_and_bring_it_up(kampy_cfg, listfile: Path) -> None:
    sip = load(
        kampy_cfg,
        listfile,
        RELAY_ROUTE,
        'modparam("dispatcher", "ds_ping_interval", 1)\nmodparam("dispatcher", "ds_probing_mode", 1)\n',
    )
    gateways = [sip.ua(f"sip:gw@192.0.2.{n}", f"192.0.2.{n}:5060", answer=200) for n in (1, 2, 3)]
    sip.advance(1.5)
    assert set(flags_of(sip, 1).values()) == {"AP"}
    gateways[0].answers(503)
    result = sip.advance(1)
    assert "event_route[dispatcher:dst-down]" in result.routes
    assert flags_of(sip, 1)["sip:192.0.2.1:5060"] == "IP"
    gateways[0].answers(200)
    result = sip.advance(1)
    assert "event_route[dispatcher:dst-up]" in result.routes
    assert flags_of(sip, 1)["sip:192.0.2.1:5060"] == "AP"


def test_probing_threshold_counts_failures_before_inactive(kampy_cfg, listfile: Path) -> None:
    sip = load(
        kampy_cfg,
        listfile,
        RELAY_ROUTE,
        'modparam("dispatcher", "ds_ping_interval", 1)\n'
        'modparam("dispatcher", "ds_probing_mode", 1)\nmodparam("dispatcher", "ds_probing_threshold", 2)\n'
        'modparam("dispatcher", "ds_ping_reply_codes", "code=404")\n',
    )
    for n in (1, 2):
        sip.ua(f"sip:gw@192.0.2.{n}", f"192.0.2.{n}:5060", answer=404)
    sip.ua("sip:gw@192.0.2.3", "192.0.2.3:5060", answer=500)
    sip.advance(1.5)
    assert flags_of(sip, 1) == {
        "sip:192.0.2.3:5060": "TP",
        "sip:192.0.2.2:5060": "AP",
        "sip:192.0.2.1:5060": "AP",
    }
    sip.advance(1)
    assert flags_of(sip, 1)["sip:192.0.2.3:5060"] == "IP"


def test_ping_active_0_stops_the_keepalives(kampy_cfg, listfile: Path) -> None:
    sip = load(
        kampy_cfg,
        listfile,
        RELAY_ROUTE,
        'modparam("dispatcher", "ds_ping_interval", 1)\nmodparam("dispatcher", "ds_probing_mode", 1)\n',
    )
    assert sip.rpc("dispatcher.ping_active", [0]) == {"NewPingState": 0, "OldPingState": 1}
    assert sip.advance(3).requests("OPTIONS") == []
    assert sip.rpc("dispatcher.ping_active") == {"OldPingState": 0}


def test_rpc_add_remove_and_reload(kampy_cfg, listfile: Path) -> None:
    sip = load(kampy_cfg, listfile, params='modparam("dispatcher", "reload_delta", 0)\n')
    assert (
        sip.rpc("dispatcher.add", [5, "sip:198.51.100.5", 8, 3, "duid=z"])
        == "Ok. Dispatcher destination added."
    )
    assert flags_of(sip, 5) == {"sip:198.51.100.5": "AP"}
    assert sip.rpc("dispatcher.remove", [1, "sip:192.0.2.2:5060"]) == "Ok. Dispatcher destination removed."
    assert list(flags_of(sip, 1)) == ["sip:192.0.2.3:5060", "sip:192.0.2.1:5060"]
    assert sip.rpc("dispatcher.reload") == "Ok. Dispatcher successfully reloaded."
    assert len(flags_of(sip, 1)) == 3
    assert sip.rpc("dispatcher.list")["NRSETS"] == 2


def test_reload_delta_refuses_a_second_reload_too_soon(kampy_cfg, listfile: Path) -> None:
    sip = load(kampy_cfg, listfile)
    sip.rpc("dispatcher.reload")
    with pytest.raises(RpcFault, match="Ongoing reload"):
        sip.rpc("dispatcher.reload")


def test_set_duid_state_and_bad_states(kampy_cfg, listfile: Path) -> None:
    sip = load(kampy_cfg, listfile)
    assert sip.rpc("dispatcher.set_duid_state", ["tp", 2, "b"]) == "Ok. Dispatcher state updated."
    assert flags_of(sip, 2)["sip:192.0.2.12:5060"] == "TP"
    with pytest.raises(RpcFault, match="Unknown State Value"):
        sip.rpc("dispatcher.set_state", ["z", 2, "all"])
    with pytest.raises(RpcFault, match="State Update Failed"):
        sip.rpc("dispatcher.set_duid_state", ["a", 2, "nope"])


def test_dispatcher_hash_gives_the_slot(kampy_cfg, listfile: Path) -> None:
    found = load(kampy_cfg, listfile).rpc("dispatcher.hash", [4, "bob", "server.com"])
    assert found["slot"] == found["hashid"] % 4


def test_a_missing_list_file_fails_the_load(kampy_cfg, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no dispatching list loaded from file"):
        load(kampy_cfg, tmp_path / "missing.list")


def test_destinations_load_from_the_dispatcher_table(kampy_cfg, db_url: str) -> None:
    make_tables(db_url, "dispatcher")
    with connect(db_url) as db:
        db.insert(
            "dispatcher",
            {
                "setid": 3,
                "destination": "sip:192.0.2.31",
                "flags": 0,
                "priority": 1,
                "attrs": "duid=x",
                "description": "",
            },
        )
        db.insert(
            "dispatcher",
            {
                "setid": 3,
                "destination": "sip:192.0.2.32",
                "flags": 8,
                "priority": 9,
                "attrs": "",
                "description": "",
            },
        )
    sip = kampy_cfg(MODULES + f'modparam("dispatcher", "db_url", "{db_url}")\n' + SELECT_ROUTE, db=None)
    assert flags_of(sip, 3) == {"sip:192.0.2.32": "AP", "sip:192.0.2.31": "AX"}
    assert chosen(sip, 3, 8, 1) == {"sip:192.0.2.32": 1}


def test_the_thresholds_and_reply_codes_change_through_the_cfg_framework(kampy_cfg, listfile: Path) -> None:
    sip = load(
        kampy_cfg,
        listfile,
        'loadmodule "cfg_rpc.so"\n' + RELAY_ROUTE,
        'modparam("dispatcher", "ds_ping_interval", 1)\nmodparam("dispatcher", "ds_probing_mode", 1)\n',
    )
    for n in (1, 2, 3):
        sip.ua(f"sip:gw@192.0.2.{n}", f"192.0.2.{n}:5060", answer=404)
    sip.rpc("cfg.set_now_string", ["dispatcher", "ping_reply_codes", "code=404"])
    sip.rpc("cfg.set_now_int", ["dispatcher", "probing_threshold", 3])
    sip.advance(1.5)
    assert set(flags_of(sip, 1).values()) == {"AP"}
    sip.rpc("cfg.set_now_string", ["dispatcher", "ping_reply_codes", ""])
    sip.advance(2)
    assert set(flags_of(sip, 1).values()) == {"TP"}
    sip.advance(1)
    assert set(flags_of(sip, 1).values()) == {"IP"}


def test_the_documentation_examples_pass_both_checks_and_load(kampy_cfg, tmp_path: Path) -> None:
    from tests.support.kamailio_check import kamailio_check, kampy_check

    examples = Path(__file__).resolve().parent / "data" / "kamailio-examples"
    (tmp_path / "dispatcher.list").write_text((examples / "dispatcher.list").read_text())
    cfg = tmp_path / "dispatcher.cfg"
    cfg.write_text((examples / "dispatcher.cfg").read_text().replace("/var/tmp/", f"{tmp_path}/"))
    assert kampy_check(cfg).accepted, kampy_check(cfg).output
    assert kamailio_check(cfg).accepted, kamailio_check(cfg).output
    sip = kampy_cfg(cfg, db=None)
    assert list(flags_of(sip, 1)) == ["sip:127.0.0.1:7072", "sip:127.0.0.1:7074", "sip:127.0.0.1:7070"]


PROBE_LIST = """\
1 sip:192.0.2.1:5060 8 0
1 sip:192.0.2.2:5060 9 0
1 sip:192.0.2.3:5060 0 0
"""


def probed(kampy_cfg, tmp_path: Path, mode: int) -> tuple[Harness, list[str]]:
    path = tmp_path / "probe.list"
    path.write_text(PROBE_LIST)
    sip = load(
        kampy_cfg,
        path,
        RELAY_ROUTE,
        f'modparam("dispatcher", "ds_ping_interval", 1)\nmodparam("dispatcher", "ds_probing_mode", {mode})\n',
    )
    for n in (1, 2, 3):
        sip.ua(f"sip:gw@192.0.2.{n}", f"192.0.2.{n}:5060", answer=200)
    result = sip.advance(1.5)
    return sip, sorted(r.host for r in result.requests("OPTIONS"))


def test_probing_mode_0_probes_the_flagged_once_and_clears_the_flag(kampy_cfg, tmp_path: Path) -> None:
    sip, pinged = probed(kampy_cfg, tmp_path, 0)
    assert pinged == ["192.0.2.1", "192.0.2.2"]
    assert flags_of(sip, 1) == {
        "sip:192.0.2.3:5060": "AX",
        "sip:192.0.2.2:5060": "AX",
        "sip:192.0.2.1:5060": "AX",
    }
    assert sip.advance(2).requests("OPTIONS") == []


def test_probing_mode_2_probes_only_inactive_flagged_ones(kampy_cfg, tmp_path: Path) -> None:
    sip, pinged = probed(kampy_cfg, tmp_path, 2)
    assert pinged == ["192.0.2.2"]
    assert flags_of(sip, 1)["sip:192.0.2.2:5060"] == "AX"


def test_probing_mode_3_keeps_probing_the_flagged_ones(kampy_cfg, tmp_path: Path) -> None:
    sip, pinged = probed(kampy_cfg, tmp_path, 3)
    assert pinged == ["192.0.2.1", "192.0.2.2"]
    assert flags_of(sip, 1)["sip:192.0.2.2:5060"] == "AP"
    assert sorted(r.host for r in sip.advance(1).requests("OPTIONS")) == ["192.0.2.1", "192.0.2.2"]


def test_keepalives_use_ping_from_method_and_the_outbound_proxy(kampy_cfg, tmp_path: Path) -> None:
    path = tmp_path / "ping.list"
    path.write_text("1 sip:192.0.2.1:5060 8 0 ping_from=sip:me@gw.example\n1 sip:192.0.2.2:5060 8 0\n")
    sip = load(
        kampy_cfg,
        path,
        RELAY_ROUTE,
        'modparam("dispatcher", "ds_ping_interval", 1)\nmodparam("dispatcher", "ds_ping_method", "INFO")\n'
        'modparam("dispatcher", "ds_ping_from", "sip:ds@proxy.example")\n'
        'modparam("dispatcher", "outbound_proxy", "sip:192.0.2.50:5070")\n',
    )
    sip.ua("sip:obp@192.0.2.50", "192.0.2.50:5070", answer=200)
    sent = sip.advance(1.5).requests("INFO")
    assert {(r.host, r.port) for r in sent} == {("192.0.2.50", 5070)}
    assert sorted(r.msg.from_.uri.host for r in sent) == ["gw.example", "proxy.example"]


def test_xavp_dst_mode_adds_the_socket_fields(kampy_cfg, tmp_path: Path) -> None:
    path = tmp_path / "sock.list"
    path.write_text("1 sip:192.0.2.1:5060 0 0 socket=udp:127.0.0.1:5060;sockname=s1\n")
    sip = kampy_cfg(
        MODULES + 'listen=udp:127.0.0.1:5060 name "s1"\n'
        f'modparam("dispatcher", "list_file", "{path}")\nmodparam("dispatcher", "flags", 2)\n'
        'modparam("dispatcher", "xavp_dst_mode", 6)\n'
        'request_route { ds_select_dst("1", "0"); '
        'sl_send_reply("200", "r $xavp(_dsdst_=>socket) $xavp(_dsdst_=>sockname) $xavp(_dsdst_=>grp)"); }\n',
        db=None,
    )
    assert sip.send_request("INVITE", "sip:b@x").reply.reason == "r udp:127.0.0.1:5060 s1 1"


def test_extra_attrs_columns_join_the_attributes(kampy_cfg, tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/ds.db"
    make_tables(url, "dispatcher")
    with connect(url) as db:
        db.insert(
            "dispatcher",
            {
                "setid": 1,
                "destination": "sip:192.0.2.31",
                "flags": 0,
                "priority": 0,
                "attrs": "duid=x",
                "description": "gw-a",
            },
        )
    sip = kampy_cfg(
        MODULES + f'modparam("dispatcher", "db_url", "{url}")\n'
        'modparam("dispatcher", "ds_db_extra_attrs", "desc=description")\n' + SELECT_ROUTE,
        db=None,
    )
    dest = sip.rpc("dispatcher.list")["RECORDS"][0]["SET"]["TARGETS"][0]["DEST"]
    assert dest["ATTRS"]["BODY"] == "duid=x;desc=gw-a"


def test_ds_load_unset_removes_the_calls_load(kampy_cfg, listfile: Path) -> None:
    sip = load(
        kampy_cfg,
        listfile,
        """
request_route {
    if (is_method("INFO")) { ds_load_unset(); sl_send_reply("200", "unset $rc"); exit; }
    ds_select_dst("2", "10");
    sl_send_reply("200", "$du");
}
""",
        'modparam("dispatcher", "ds_hash_size", 2)\n',
    )
    sip.send_request("INVITE", "sip:b@x", call_id="one")
    assert sip.send_request("INFO", "sip:b@x", call_id="one").reply.reason == "unset 1"
    loads = [
        d["DEST"]["RUNTIME"]["DLGLOAD"] for d in sip.rpc("dispatcher.list")["RECORDS"][0]["SET"]["TARGETS"]
    ]
    assert loads == [0, 0, 0]
    assert sip.send_request("INFO", "sip:b@x", call_id="one").reply.reason == "unset -1"


def test_latency_stats_are_listed_and_timeouts_counted(kampy_cfg, listfile: Path) -> None:
    sip = load(
        kampy_cfg,
        listfile,
        RELAY_ROUTE,
        'modparam("dispatcher", "ds_ping_interval", 1)\nmodparam("dispatcher", "ds_probing_mode", 1)\n'
        'modparam("dispatcher", "ds_ping_latency_stats", 1)\nmodparam("tm", "fr_timer", 500)\n',
    )
    sip.ua("sip:gw@192.0.2.1", "192.0.2.1:5060", answer=200)
    sip.ua("sip:gw@192.0.2.2", "192.0.2.2:5060", answer=200)
    sip.advance(3.2)
    dests = {d["DEST"]["URI"]: d["DEST"] for d in sip.rpc("dispatcher.list")["RECORDS"][1]["SET"]["TARGETS"]}
    assert set(dests["sip:192.0.2.1:5060"]["LATENCY"]) == {"AVG", "STD", "EST", "MAX", "TIMEOUT"}
    assert dests["sip:192.0.2.1:5060"]["LATENCY"]["TIMEOUT"] == 0
    assert dests["sip:192.0.2.3:5060"]["LATENCY"]["TIMEOUT"] >= 1


FROM_LIST_ROUTE = """
request_route {
    if (ds_is_from_list("1")) { sl_send_reply("200", "from"); exit; }
    sl_send_reply("403", "no");
}
"""
STATIC_RECORDS = (
    'modparam("corex", "dns_cache", "name=gw.test.invalid;type=A;addr=192.0.2.88")\n'
    'modparam("corex", "dns_cache", "name=_sip._udp.srv.test.invalid;type=SRV;addr=gw.test.invalid;'
    'port=5090;priority=10;weight=1")\n'
)


def from_list(kampy_cfg, tmp_path: Path, line: str, mode: int) -> Callable[[str], int]:
    path = tmp_path / "names.list"
    path.write_text(line + "\n")
    cfg = ('loadmodule "corex.so"\n' + MODULES + STATIC_RECORDS +
           f'modparam("dispatcher", "list_file", "{path}")\nmodparam("dispatcher", "ds_dns_mode", {mode})\n'
           + FROM_LIST_ROUTE)
    sip = kampy_cfg(cfg, db=None)
    return lambda src: sip.send_request("OPTIONS", "sip:x@y", src=src).reply.status


def test_destination_hosts_resolve_through_the_cores_resolver(kampy_cfg, tmp_path: Path) -> None:
    # a static record of the DNS cache (corex's dns_cache) answers, as Kamailio's resolvehost()
    status = from_list(kampy_cfg, tmp_path, "1 sip:gw.test.invalid", 1)
    assert (status("192.0.2.88:5060"), status("192.0.2.89:5060")) == (200, 403)


def test_ds_dns_mode_8_resolves_by_srv_and_takes_its_port(kampy_cfg, tmp_path: Path) -> None:
    status = from_list(kampy_cfg, tmp_path, "1 sip:srv.test.invalid", 9)
    assert (status("192.0.2.88:5090"), status("192.0.2.88:5060")) == (200, 403)
