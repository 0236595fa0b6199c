"""The examples of the documentation of cfgutils, dialog, rtimer, tmrec, sqlops, group, uri_db,
dialplan, exec, avpops, path, outbound (its edge proxy), sdpops, topoh and uac
(tests/data/kamailio-examples, one config per module, the examples' own typos corrected and noted
in each file): `kampy check` and `kamailio -c` accept them, and kampy loads them (its modules
built, their arguments fixed up). The examples Kamailio 5.6 itself refuses when it starts are
refused by kampy too."""
from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from kampy.db import connect, create_tables
from tests.e2e.kampy_process import free_port, start_server, stop_process
from tests.support.kamailio_check import KAMAILIO, kamailio_check, kampy_check

EXAMPLES = Path(__file__).resolve().parent / "data" / "kamailio-examples"
MODULES = ["avpops", "cfgutils", "dialog", "dialplan", "exec", "group", "outbound", "path", "rtimer",
           "sdpops", "sqlops", "tmrec", "topoh", "uac", "uri_db"]
# the examples' own table and column names, pointed at Kamailio's standard tables to load them
OVERRIDES: dict[str, dict[str, dict[str, Any]]] = {
    "dialplan": {"dialplan": {"table_name": "dialplan"}},
    "group": {"group": {"table": "grp", "user_column": "username", "domain_column": "domain",
                        "re_exp_column": "reg_exp", "re_gid_column": "group_id"}},
}


def example(module: str, tmp_path: Path) -> Path:
    """The example config, its /var/tmp files moved into the test's folder."""
    text = (EXAMPLES / f"{module}.cfg").read_text().replace("/var/tmp/", f"{tmp_path}/")
    path = tmp_path / f"{module}.cfg"
    path.write_text(text)
    return path


@pytest.mark.parametrize("module", MODULES)
def test_the_examples_pass_kampy_check_and_kamailio_c(module: str, tmp_path: Path) -> None:
    cfg = example(module, tmp_path)
    kampy = kampy_check(cfg)
    assert kampy.accepted, kampy.output
    kamailio = kamailio_check(cfg)
    assert kamailio.accepted, kamailio.output


@pytest.mark.parametrize("module", MODULES)
def test_kampy_loads_the_examples(module: str, tmp_path: Path, kampy_cfg: Any) -> None:
    sip = kampy_cfg(example(module, tmp_path), modparams=OVERRIDES.get(module, {}))
    assert module in sip.core.modules


AVPOPS_DB = ['loadmodule "avpops.so"', 'modparam("avpops","db_url","{db}")',
             'modparam("avpops","avp_table","t")']
# (module lines, the route's statement, what Kamailio says when it refuses to start, what kampy says)
REFUSED = {
    "avpops: $(i:678)": (
        AVPOPS_DB,
        'avp_db_load("$fu","$(i:678)");', "bad param - expected : $avp(name) or int/str value",
        "bad param - expected : $avp(name) or int/str value"),
    "avpops: i:/table": (
        AVPOPS_DB,
        'avp_db_load("$ru/domain","i:/domain_preferences");', "bad avp flags", "bad avp flags"),
    "avpops: $uuid": (
        AVPOPS_DB,
        'avp_db_load("$uuid","$avp(s:404fwd)/fwd_table");', 'error searching pvar "uuid"',
        "unknown pseudo-variable '$uuid'"),
    "avpops: an unclosed xavp": (
        ['loadmodule "avpops.so"'], 'avp_check("$xavp(op=>fd","eq/$td/I");',
        "non-closing inner-name parenthesis", "unable to get pseudo-variable"),
    "exec: $rU.txt": (
        ['loadmodule "exec.so"'], 'exec_cmd("echo TEST > /tmp/$rU.txt");', 'error searching pvar "rU.txt"',
        "unknown pseudo-variable '$rU.txt'"),
}


def kamailio_refuses(cfg: Path, tmp_path: Path) -> str:
    """Start Kamailio with the config: the output when it refuses to start (it exits at once),
    or fail the test when it serves."""
    port = free_port()
    log = tmp_path / "kamailio.log"
    with open(log, "wb") as out:
        proc = start_server([str(KAMAILIO), "-DD", "-E", "-f", str(cfg), "-l", f"udp:127.0.0.1:{port}",
                             "-n", "1", "-Y", str(tmp_path), "-P", str(tmp_path / "k.pid")],
                            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=tmp_path)
    deadline = time.monotonic() + 15
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if proc.poll() is None:
        stop_process(proc)
        pytest.fail(f"Kamailio started with {cfg}:\n{log.read_text(errors='replace')[-2000:]}")
    return log.read_text(errors="replace")


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_an_example_kamailio_refuses_kampy_refuses(case: str, tmp_path: Path, kampy_cfg: Any) -> None:
    modules, statement, kamailio_says, kampy_says = REFUSED[case]
    db = f"sqlite://{tmp_path}/k.sqlite"
    with connect(db) as handle:
        create_tables(handle, ["version"])
    head = ['loadmodule "sl.so"', 'loadmodule "pv.so"', 'loadmodule "db_sqlite.so"',
            *(m.replace("{db}", db) for m in modules)]
    text = "\n".join(head) + f"\nrequest_route {{\n    {statement}\n}}\n"
    cfg = tmp_path / "refused.cfg"
    cfg.write_text(text)
    assert kamailio_says in kamailio_refuses(cfg, tmp_path)
    with pytest.raises(Exception, match=re.escape(kampy_says)):
        kampy_cfg(text, db=None)
