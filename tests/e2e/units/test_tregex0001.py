"""Unit tregex0001 of Kamailio's suite (regex: check regex matches): pcre_match() on the body of a
MESSAGE, pcre_match_group() against group 0 of a file, regex.reload over kamcmd."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.e2e.units.harness import UnitServer, status

CFG = """#!KAMAILIO
children=1

loadmodule "kex.so"
loadmodule "jsonrpcs.so"
loadmodule "ctl"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "xlog.so"
loadmodule "regex.so"

modparam("jsonrpcs", "pretty_format", 1)
modparam("regex", "file", "{groups}");

request_route {{
    route(REGEX);
    exit;
}}

route[REGEX] {{
    if (!is_method("MESSAGE")) return;
    if (pcre_match("$rb", "^HOLA")) {{
        xlog("L_INFO", "^HOLA matches\\n");
    }}
    if (pcre_match("$rb", "^ADIOS")) {{
        xlog("L_INFO", "^ADIOS matches\\n");
    }}
    if (pcre_match_group("$rb", "0")) {{
        xlog("L_INFO", "^HOLA group 0 matches\\n");
    }}
    if (pcre_match_group("$rb", "0")) {{
        xlog("L_INFO", "^ADIOS group 0 matches\\n");
    }}
    sl_reply("200", "OK");
    exit;
}}
"""


def test_tregex0001_pcre_match_and_group_match_before_and_after_a_reload(
        tmp_path: Path, unit_server: Callable[..., UnitServer]) -> None:
    groups = tmp_path / "regex_groups"
    groups.write_text("[0]\n^HOLA\n")
    server = unit_server(CFG.format(groups=groups), "tregex0001")
    server.start()
    assert status(server.sipsak("sip:test@127.0.0.1", body="HOLA caracola")) == 200
    # the unit copies the second file to another name: the reload reads the same groups again
    (tmp_path / "regex_group").write_text("[0]\n^ADIOS\n")
    server.rpc("regex.reload")
    assert status(server.sipsak("sip:test@127.0.0.1", body="ADIOS caracola")) == 200
    server.stop()
    log = server.log()
    assert "^HOLA matches" in log
    assert "^HOLA group 0 matches" in log
    assert "^ADIOS matches" in log
    assert "^ADIOS group 0 matches" in log


def test_a_reloaded_groups_file_is_used_by_the_next_request(
        tmp_path: Path, unit_server: Callable[..., UnitServer]) -> None:
    groups = tmp_path / "regex_groups"
    groups.write_text("[0]\n^HOLA\n")
    server = unit_server(CFG.format(groups=groups), "reload")
    server.start()
    groups.write_text("[0]\n^ADIOS\n")
    server.rpc("regex.reload")
    server.sipsak("sip:test@127.0.0.1", body="ADIOS caracola")
    server.stop()
    assert "^ADIOS group 0 matches" in server.log()
