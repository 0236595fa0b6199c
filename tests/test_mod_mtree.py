"""mtree: trees loaded from an SQLite database made with Kamailio's mtree tables, matched by
mt_match() and listed, matched and reloaded over RPC."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kampy.db import connect
from kampy.db.schema import create_tables

HEAD = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "mtree.so"
modparam("mtree", "db_url", "{url}")
modparam("mtree", "char_list", "0123456789*+")
modparam("mtree", "pv_value", "$var(mtval)")
{params}
request_route {{
    {body}
    sl_send_reply("200", "OK");
}}
"""


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite://{tmp_path / 'mtree.sqlite'}"
    db = connect(url)
    create_tables(db, ["mtree", "mtrees"])
    db.close()
    return url


def add(url: str, table: str, tname: str, tprefix: str, tvalue: str) -> None:
    """A row as `kamctl mtree add TABLE PREFIX VALUE` writes it (table mtree has no tname), or
    in the many-trees table mtrees."""
    db = connect(url)
    row = {"tprefix": tprefix, "tvalue": tvalue}
    db.insert(table, row if table == "mtree" else {"tname": tname, **row})
    db.close()


def server(kampy_cfg: Any, url: str, body: str = "", params: str = 'modparam("mtree", "mtree", '
           '"name=mtree;dbtable=mtree;type=0")') -> Any:
    return kampy_cfg(HEAD.format(url=url, params=params, body=body), db=None)


def test_the_value_of_the_longest_prefix_goes_to_pv_value(kampy_cfg: Any, db_url: str) -> None:
    add(db_url, "mtree", "mtree", "1234567890", "alice")
    add(db_url, "mtree", "mtree", "2345678901", "bob")
    add(db_url, "mtree", "mtree", "12", "short")
    sip = server(kampy_cfg, db_url, 'mt_match("mtree", "$rU", "0"); $avp(v) = $var(mtval); $avp(rc) = $rc;')
    result = sip.send_request("OPTIONS", "sip:1234567890@example.test")
    assert (result.avp("rc"), result.avp("v")) == (1, "alice")
    assert sip.send_request("OPTIONS", "sip:1299@example.test").avp("v") == "short"


def test_no_matching_prefix_returns_minus_1(kampy_cfg: Any, db_url: str) -> None:
    add(db_url, "mtree", "mtree", "44", "x")
    sip = server(kampy_cfg, db_url, '$avp(rc) = mt_match("mtree", "$rU", "0");')
    assert sip.send_request("OPTIONS", "sip:5544@example.test").avp("rc") == -1


def test_mode_2_puts_every_matching_value_longest_first(kampy_cfg: Any, db_url: str) -> None:
    for prefix, value in (("1", "a"), ("12", "b"), ("123", "c"), ("2", "z")):
        add(db_url, "mtree", "mtree", prefix, value)
    sip = server(kampy_cfg, db_url, 'mt_match("mtree", "$rU", "2");')
    assert sip.send_request("OPTIONS", "sip:1239@example.test").avps["tvalues"] == ["c", "b", "a"]


def test_a_character_outside_char_list_matches_nothing(kampy_cfg: Any, db_url: str) -> None:
    add(db_url, "mtree", "mtree", "12", "x")
    sip = server(kampy_cfg, db_url, '$avp(rc) = mt_match("mtree", "$rU", "0");')
    assert sip.send_request("OPTIONS", "sip:1a2@example.test").avp("rc") == -1


def test_a_type_1_tree_gives_destinations_by_weight_longest_prefix_winning(
        kampy_cfg: Any, db_url: str) -> None:
    add(db_url, "mtrees", "dw", "1", "1=10;2=50")
    add(db_url, "mtrees", "dw", "12", "1=90;3=20")
    sip = server(kampy_cfg, db_url, 'mt_match("dw", "$rU", "0"); $avp(count) = $avp(tcount);',
                 'modparam("mtree", "mtree", "name=dw;dbtable=mtrees;type=1;multi=1")')
    result = sip.send_request("OPTIONS", "sip:123@example.test")
    # dstid 1 kept at its longest prefix (weight 90); newest AVP first, so the lightest is on top
    assert result.avps["tdstid"] == [3, 2, 1]
    assert result.avps["tweight"] == [20, 50, 90]
    assert result.avp("count") == 4


def test_an_integer_tree_stores_integers(kampy_cfg: Any, db_url: str) -> None:
    add(db_url, "mtrees", "ints", "5", "42")
    sip = server(kampy_cfg, db_url, 'mt_match("ints", "$rU", "0"); $avp(v) = $var(mtval);',
                 'modparam("mtree", "mtree", "name=ints;dbtable=mtrees;type=2;multi=1")')
    assert sip.send_request("OPTIONS", "sip:55@example.test").avp("v") == 42


def test_multi_1_loads_only_the_rows_of_the_trees_name(kampy_cfg: Any, db_url: str) -> None:
    add(db_url, "mtrees", "one", "1", "from-one")
    add(db_url, "mtrees", "two", "1", "from-two")
    sip = server(kampy_cfg, db_url, 'mt_match("one", "$rU", "0"); $avp(v) = $var(mtval);',
                 'modparam("mtree", "mtree", "name=one;dbtable=mtrees;multi=1")')
    assert sip.send_request("OPTIONS", "sip:1@example.test").avp("v") == "from-one"


def test_a_duplicate_prefix_fails_the_load_unless_ignored_or_allowed(kampy_cfg: Any, db_url: str) -> None:
    add(db_url, "mtrees", "d", "1", "a")
    add(db_url, "mtrees", "d", "1", "b")
    spec = 'modparam("mtree", "mtree", "name=d;dbtable=mtrees;multi=1")'
    with pytest.raises(Exception, match="prefix already allocated"):
        server(kampy_cfg, db_url, "", spec)
    allow = '\nmodparam("mtree", "mt_allow_duplicates", 1)'
    sip = server(kampy_cfg, db_url, 'mt_match("d", "$rU", "2");', spec + allow)
    assert sip.send_request("OPTIONS", "sip:1@example.test").avps["tvalues"] == ["a", "b"]


def test_db_table_loads_every_tree_named_in_its_rows(kampy_cfg: Any, db_url: str) -> None:
    add(db_url, "mtrees", "t1", "1", "x")
    add(db_url, "mtrees", "t2", "2", "y")
    sip = server(kampy_cfg, db_url, 'mt_match("t2", "$rU", "0"); $avp(v) = $var(mtval);',
                 'modparam("mtree", "db_table", "mtrees")')
    assert sip.send_request("OPTIONS", "sip:22@example.test").avp("v") == "y"
    assert [s["table"] for s in sip.core.rpc.call("mtree.summary")] == ["t1", "t2"]


def test_multi_column_values_are_packed_with_commas(kampy_cfg: Any, db_url: str) -> None:
    add(db_url, "mtrees", "m", "7", "v7")
    sip = server(kampy_cfg, db_url, 'mt_match("m", "$rU", "0"); $avp(v) = $var(mtval);',
                 """modparam("mtree", "mtree", "name=m;dbtable=mtrees;cols='tprefix,tvalue,tname'")""")
    assert sip.send_request("OPTIONS", "sip:7@example.test").avp("v") == "v7,m"


def test_rpc_list_shows_each_prefix_in_char_list_order(kampy_cfg: Any, db_url: str) -> None:
    for prefix, value in (("2", "b"), ("12", "c"), ("1", "a")):
        add(db_url, "mtree", "mtree", prefix, value)
    sip = server(kampy_cfg, db_url)
    assert sip.core.rpc.call("mtree.list") == [
        {"tname": "mtree", "tprefix": "1", "tvalue": ["a"]},
        {"tname": "mtree", "tprefix": "12", "tvalue": ["c"]},
        {"tname": "mtree", "tprefix": "2", "tvalue": ["b"]}]


def test_rpc_reload_reads_rows_added_since(kampy_cfg: Any, db_url: str) -> None:
    add(db_url, "mtree", "mtree", "1234567890", "alice")
    sip = server(kampy_cfg, db_url, '$avp(rc) = mt_match("mtree", "$rU", "0"); $avp(v) = $var(mtval);')
    add(db_url, "mtree", "mtree", "3456789012", "carol")
    assert sip.send_request("OPTIONS", "sip:3456789012@example.test").avp("rc") == -1
    assert sip.core.rpc.call("mtree.reload", ["mtree"]) == "Ok. Mtree reloaded."
    assert sip.send_request("OPTIONS", "sip:3456789012@example.test").avp("v") == "carol"
    summary = sip.core.rpc.call("mtree.summary", ["mtree"])[0]
    assert (summary["item"]["nritems"], summary["item"]["reload_count"]) == (2, 1)


def test_rpc_match_reports_the_tree_and_the_match(kampy_cfg: Any, db_url: str) -> None:
    add(db_url, "mtree", "mtree", "12", "x")
    sip = server(kampy_cfg, db_url)
    # the prefix reported is what the walk went through (Kamailio's mt_get_tvalue() length)
    assert sip.core.rpc.call("mtree.match", ["mtree", "1299", 0]) == [
        "mtree", {"PREFIX": "12", "TVALUE": "x"}]


def test_a_tree_larger_than_fetch_rows_is_read_whole(kampy_cfg: Any, db_url: str) -> None:
    for i in range(7):
        add(db_url, "mtree", "mtree", f"5{i}", f"v{i}")
    sip = server(kampy_cfg, db_url, 'mt_match("mtree", "$rU", "0"); $avp(v) = $var(mtval);',
                 'modparam("mtree", "mtree", "name=mtree;dbtable=mtree")\nmodparam("mtree", "fetch_rows", 3)')
    assert sip.send_request("OPTIONS", "sip:56@example.test").avp("v") == "v6"
    assert len(sip.core.rpc.call("mtree.list")) == 7
