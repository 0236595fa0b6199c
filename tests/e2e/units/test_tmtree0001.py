"""Unit tmtree0001 of Kamailio's suite (mtree: basic tests): rows added as `kamctl mtree add`
writes them, kampy started, a request matched against the tree, a row added and the tree
reloaded and dumped over the control socket (what `kamctl mtree reload|dump` run). The unit uses
MySQL: here the same rows are in an SQLite file."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kampy.db import connect
from kampy.db.schema import create_tables
from tests.e2e.units.harness import UnitServer, status

CFG = """#!KAMAILIO
children=2

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "ctl.so"
loadmodule "db_sqlite.so"
loadmodule "mtree.so"

modparam("mtree", "db_url", "{url}")
modparam("mtree", "mtree", "name=mtree;dbtable=mtree;type=0")
modparam("mtree", "char_list", "0123456789*+")
modparam("mtree", "pv_value", "$var(mtval)")

request_route {{
	mt_match("mtree", "$rU", "0");
	xlog("===== tprefix $rU tvalue $var(mtval)\\n");
	sl_send_reply("200", "OK");
	exit;
}}
"""


def kamctl_mtree_add(url: str, prefix: str, value: str) -> None:
    db = connect(url)
    db.insert("mtree", {"tprefix": prefix, "tvalue": value})
    db.close()


def test_tmtree0001_a_prefix_matches_and_a_reload_adds_a_row(
        tmp_path: Path, unit_server: Callable[..., UnitServer]) -> None:
    url = f"sqlite://{tmp_path / 'kamailio.sqlite'}"
    db = connect(url)
    create_tables(db, ["mtree"])
    db.close()
    kamctl_mtree_add(url, "1234567890", "alice")
    kamctl_mtree_add(url, "2345678901", "bob")
    server = unit_server(CFG.format(url=url), "tmtree0001")
    server.start()
    assert status(server.sipsak("sip:1234567890@127.0.0.1")) == 200
    kamctl_mtree_add(url, "3456789012", "carol")
    assert "3456789012" not in server.rpc("mtree.list")
    assert "Ok. Mtree reloaded." in server.rpc("mtree.reload", "mtree")
    assert "carol" in server.rpc("mtree.list")
    assert status(server.sipsak("sip:3456789012@127.0.0.1")) == 200
    server.stop()
    log = server.log()
    assert "tprefix 1234567890 tvalue alice" in log
    assert "tprefix 3456789012 tvalue carol" in log
