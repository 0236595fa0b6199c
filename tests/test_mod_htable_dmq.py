"""htable's DMQ replication in-process: the KDMQ requests to the `htable` peer for each change of a
table with dmqreplicate=1, in Kamailio 5.6's JSON (ht_dmq.c), and the changes other nodes send
(tests/e2e/test_dmq_cluster.py runs it with real kampy and Kamailio nodes)."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.dmqkit import SELF, config, handled, json_bodies, join, without_dmq

TABLES = """modparam("htable", "enable_dmq", 1)
modparam("htable", "htable", "shared=>size=4;autoexpire=600;dmqreplicate=1;")
modparam("htable", "htable", "local=>size=4;")
"""


def htable_config(body: str = "", params: str = "") -> str:
    return config(["dmq", "htable"], f'    {body}\n    sl_send_reply("200", "OK");', TABLES + params)


def node(kampy_cfg: Any, body: str = "", params: str = "") -> Any:
    sip = kampy_cfg(htable_config(body, params))
    join(sip)
    return sip


def htable_bodies(result: Any) -> list[dict[str, Any]]:
    return json_bodies(result, "htable")


def run(sip: Any, key: str = "k") -> list[dict[str, Any]]:
    return htable_bodies(sip.send_request("OPTIONS", f"sip:{key}@{SELF}"))


def kdmq(sip: Any, body: str) -> Any:
    return handled(sip, "htable", body)


def value(sip: Any, key: str, table: str = "shared") -> Any:
    return sip.module("htable").tables[table].value(key)


@pytest.mark.parametrize(("body", "expected"), [
    ('$sht(shared=>$rU) = "v";',
     {"action": 2, "htname": "shared", "cname": "k", "type": 2, "strval": "v", "mode": 1}),
    ("$sht(shared=>$rU) = 5;",
     {"action": 2, "htname": "shared", "cname": "k", "type": 0, "intval": 5, "mode": 1}),
    ("$sht(shared=>$rU) = $null;", {"action": 4, "htname": "shared", "cname": "k", "mode": 0}),
    ("$shtex(shared=>$rU) = 60;",
     {"action": 3, "htname": "shared", "cname": "k", "type": 0, "intval": 60, "mode": 0}),
    ('sht_rm("shared", "$rU");', {"action": 4, "htname": "shared", "cname": "k", "mode": 0}),
    ('sht_rm_name_re("shared=>^a");',
     {"action": 5, "htname": "shared", "type": 2, "strval": "^a", "mode": 0}),
    ('sht_rm_value("shared", "sw", "x");',
     {"action": 6, "htname": "shared", "type": 2, "strval": "x", "mode": 1}),
], ids=["set-string", "set-int", "delete", "expire", "sht_rm", "rm_name_re", "rm_value_sw"])
def test_each_change_goes_out_as_kamailio_writes_it(kampy_cfg: Any, body: str,
                                                    expected: dict[str, Any]) -> None:
    assert run(node(kampy_cfg, body)) == [expected]


def test_an_increment_goes_out_as_the_new_value(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, "$sht(shared=>$rU) = 4; $var(n) = $shtinc(shared=>$rU);")
    assert run(sip)[-1] == {"action": 2, "htname": "shared", "cname": "k", "type": 0, "intval": 5, "mode": 1}


def test_sht_setxs_sends_the_value_then_its_expiry(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, 'sht_setxs("shared", "$rU", "v", 30);')
    assert [d["action"] for d in run(sip)] == [2, 3]


def test_a_table_without_dmqreplicate_stays_here(kampy_cfg: Any) -> None:
    assert run(node(kampy_cfg, '$sht(local=>$rU) = "v";')) == []


def test_a_change_from_another_node_is_made_and_not_sent_back(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    out = kdmq(sip, '{"action":2,"htname":"shared","cname":"a","type":2,"strval":"x","mode":1}')
    assert [(r.status, r.msg.reason) for r in out.responses] == [(200, "OK")]
    assert value(sip, "a") == "x"
    assert htable_bodies(out) == []


def test_deletions_from_another_node_are_made(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    for key in ("a1", "a2", "b1"):
        kdmq(sip, json.dumps({"action": 2, "htname": "shared", "cname": key, "type": 0, "intval": 1,
                              "mode": 1}))
    kdmq(sip, '{"action":4,"htname":"shared","cname":"b1","mode":0}')
    kdmq(sip, '{"action":5,"htname":"shared","type":2,"strval":"^a1$","mode":0}')
    assert (value(sip, "a1"), value(sip, "a2"), value(sip, "b1")) == (None, 1, None)


def test_a_sync_request_is_answered_with_the_replicated_tables(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg, '$sht(shared=>$rU) = "v"; $sht(local=>$rU) = "w";')
    sip.send_request("OPTIONS", f"sip:k@{SELF}")
    [doc] = htable_bodies(kdmq(sip, '{"action":1}'))
    [cell] = doc["cells"]
    assert (list(doc), list(cell)) == (["cells"], ["htname", "cname", "type", "strval", "expire"])
    assert (cell["htname"], cell["cname"], cell["strval"]) == ("shared", "k", "v")


def test_the_cells_of_a_sync_are_set_with_their_expiry(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    now = int(sip.clock.time())
    kdmq(sip, json.dumps({"cells": [{"htname": "shared", "cname": "s", "type": 0, "intval": 7,
                                     "expire": now + 100}]}))
    assert value(sip, "s") == 7
    assert sip.module("htable").tables["shared"].expire_in("s") == 100


def test_joining_with_dmq_init_sync_asks_for_the_tables(kampy_cfg: Any) -> None:
    sip = kampy_cfg(htable_config(params='modparam("htable", "dmq_init_sync", 1)'))
    assert htable_bodies(join(sip)) == [{"action": 1}]
    sip = kampy_cfg(htable_config())
    assert htable_bodies(join(sip)) == []


def test_an_unknown_field_is_answered_400_and_an_unknown_table_500(kampy_cfg: Any) -> None:
    sip = node(kampy_cfg)
    assert kdmq(sip, '{"action":2,"htname":"shared","oops":1}').responses[0].status == 400
    assert kdmq(sip, '{"action":4,"htname":"nosuch","cname":"a","mode":0}').responses[0].status == 500


def test_enable_dmq_without_the_dmq_module_is_refused(kampy_cfg: Any) -> None:
    cfg = without_dmq(htable_config())
    with pytest.raises(Exception, match="failed to initialize dmq integration"):
        kampy_cfg(cfg)
