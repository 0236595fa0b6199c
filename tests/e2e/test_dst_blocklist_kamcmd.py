"""The core's dst_blocklist.* RPC methods against Kamailio 5.6 with kamcmd, the same config and the
same commands on both servers: what kamcmd prints must be the same (the entries' order, which is
Kamailio's hash order, and a second of rounding in "expires in" aside)."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.beside import Server, both

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
children=1
use_dst_blocklist=yes
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "ctl.so"
loadmodule "cfg_rpc.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
request_route { exit; }
"""

COMMANDS = (
    ("dst_blocklist.mem_info",),
    ("dst_blocklist.add", "127.0.0.9", "5060", "1", "2"),
    ("dst_blocklist.add", "::1", "5070", "2", "0"),
    ("dst_blocklist.add", "10.0.0.1", "0", "0", "128"),
    ("dst_blocklist.add", "[2001:db8:0:0::1]", "1", "3", "0"),
    ("dst_blocklist.add", "bad", "1", "1", "0"),
    ("dst_blocklist.add", "1.2.3.4", "1", "9", "0"),
    ("dst_blocklist.add", "1.2.3.4"),
    ("dst_blocklist.view",),
    ("dst_blocklist.debug",),
    ("dst_blocklist.mem_info",),
    ("dst_blocklist.delete_all",),
    ("dst_blocklist.view",),
    ("dst_blocklist.mem_info",),
    ("dst_blocklist.stats_get", "bkl_all_stats", "0"),
    ("system.methodHelp", "dst_blocklist.delete_all"),
    ("cfg.set_now_int", "core", "use_dst_blocklist", "0"),
    ("dst_blocklist.view",),
    ("dst_blocklist.add", "127.0.0.9", "5060", "1", "2"),
)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    with both(tmp_path_factory.mktemp("dst-blocklist"), CFG) as pair:
        yield pair


def _normalized(command: tuple[str, ...], printed: str) -> str:
    """Entries sorted (view: blocks of lines in braces; debug: groups of five lines); 60 for 59
    seconds left."""
    printed = re.sub(r"expires in \(s\): 59\b", "expires in (s): 60", printed)
    if command[0] == "dst_blocklist.view" and printed.startswith("{"):
        return "\n".join(sorted(re.findall(r"\{\n.*?\n\}", printed, re.S)))
    if command[0] == "dst_blocklist.debug" and not printed.startswith("error"):
        lines = printed.splitlines()
        groups = ["\n".join("60" if i == 3 and v == "59" else v for i, v in enumerate(lines[n:n + 5]))
                  for n in range(0, len(lines), 5)]
        return "\n".join(sorted(groups))
    return printed


def test_dst_blocklist_rpcs_print_as_kamailios(servers: tuple[Server, Server]) -> None:
    kamailio, kampy = servers
    expected = [_normalized(c, kamailio.kamcmd(*c)) for c in COMMANDS]
    got = [_normalized(c, kampy.kamcmd(*c)) for c in COMMANDS]
    assert "protocol: tls" in expected[8] and "flags: 128" in expected[12]  # the scenario did its part
    assert expected[-2] == "error: 500 - dst blocklist support disabled\n"
    assert list(zip(COMMANDS, got, strict=True)) == list(zip(COMMANDS, expected, strict=True))
