"""Kamailio's own clients against kampy, beside Kamailio 5.6 running the same config: kamcmd over ctl's
binrpc (every transport ctl serves) and kamcli over jsonrpcs (its datagram socket and FIFO). The
same commands print the same structure and field names; values that differ by nature are masked
(process ids, times, versions, Call-IDs, sockets)."""
from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.beside import pair
from tests.e2e.kampy_process import REPO
from tests.e2e.rpc_servers import Server, start, stop
from tests.support.kamailio_cli import kampy_cmd

@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    tmp = tmp_path_factory.mktemp("kamcmd")
    yield from pair(lambda name: start(name, tmp), stop)


# values that differ by nature, masked by field name
MASKED = {"PID", "DSC", "now", "up_since", "uptime", "version", "compiler", "flags", "Call-ID", "Socket",
          "Ruid", "Expires", "Last-Keepalive", "Last-Modified", "Address", "id", "compiled"}


def structure(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        m = re.match(r"^(\t*)([^:{}]+): (.*)$", line)
        if m and m.group(2) in MASKED:
            out.append(f"{m.group(1)}{m.group(2)}: <masked>")
        else:
            out.append(line)
    return out


@pytest.mark.parametrize("command", [
    ["core.uptime"], ["core.info"], ["tm.stats"], ["sl.stats"], ["ul.dump"], ["ul.dump", "brief"],
    ["ul.lookup", "location", "s:alice"], ["ul.lookup", "location", "1000"], ["ul.rm", "location"],
    ["ul.lookup", "location", "s:nobody"], ["pv.shvGet"], ["stats.fetch", "tm:"], ["stats.fetchn", "tm:"],
    ["stats.get_statistics", "registrar:"], ["stats.get_statistics", "tm:"],
    ["stats.get_statistics", "usrloc:"], ["stats.reset_statistics", "tm:"], ["no.such"],
    ["system.methodHelp", "ul.dump"], ["system.methodHelp", "stats.get_statistics"],
    ["system.methodSignature", "core.ps"], ["system.methodHelp"],
])
def test_kamcmd_prints_the_same_structure_from_kampy_as_from_kamailio(servers, command):
    kamailio, kampy = servers
    assert structure(kampy.kamcmd(*command)) == structure(kamailio.kamcmd(*command))


def test_core_version_is_kamailios_format_saying_kampy(servers):
    kamailio, kampy = servers
    pattern = r"\w+ \d+\.\d+\.\d+ \(\w+/\w+\) \w*\n"
    assert re.fullmatch(pattern, kamailio.kamcmd("core.version"))
    assert re.fullmatch(pattern, kampy.kamcmd("ver")) and kampy.kamcmd("ver").startswith("kampy ")


def test_core_psx_lists_the_main_process_first_then_the_workers(servers):
    _, kampy = servers
    records = re.findall(r"\{\n\tIDX: (\d+)\n\tPID: (\d+)\n\tDSC: ([^\n]*)\n\}", kampy.kamcmd("core.psx"))
    assert [int(i) for i, _, _ in records] == list(range(len(records))) and len(records) == 3
    assert records[0][2] == "main process - attendant" and int(records[0][1]) == kampy.proc.pid
    assert kampy.kamcmd("ps").splitlines()[0] == f"{kampy.proc.pid}\tmain process - attendant"


def test_every_method_kampy_lists_is_kamailios_with_kamailios_help(servers):
    kamailio, kampy = servers
    theirs = set(kamailio.kamcmd("system.listMethods").split())
    ours = set(kampy.kamcmd("ls").split())
    assert {"core.psx", "ul.dump", "tm.stats", "stats.get_statistics", "ctl.who"} <= ours <= theirs
    for method in sorted(ours):
        assert kampy.kamcmd("system.methodHelp", method) == kamailio.kamcmd("system.methodHelp", method)


@pytest.mark.parametrize("transport", ["unixd", "tcp", "udp"])
def test_kamcmd_reaches_kampy_over_every_binrpc_transport(servers, transport):
    kamailio, kampy = servers
    assert structure(kampy.kamcmd("tm.stats", transport=transport)) == \
        structure(kamailio.kamcmd("tm.stats", transport=transport))


def test_ctl_listen_and_who_print_as_kamailios(servers):
    kamailio, kampy = servers

    def names(server: Server, text: str) -> str:
        return (text.replace(str(server.dir), "DIR").replace(str(server.tcp), "TCP")
                .replace(str(server.udp), "UDP"))

    assert names(kampy, kampy.kamcmd("listen")) == names(kamailio, kamailio.kamcmd("listen"))
    # only kamcmd's own connection (an earlier one may take a moment to be seen closed)
    assert names(kampy, alone(kampy, "who")) == names(kamailio, alone(kamailio, "who"))
    assert alone(kampy, "ctl.connections") == alone(kamailio, "ctl.connections") == "1\n"
    # over a datagram socket no stream connection is left once earlier ones are seen closed
    assert eventually(kampy, "ctl.who", "unixd") == eventually(kamailio, "ctl.who", "unixd")


def alone(server: Server, command: str) -> str:
    """`command`'s output once the server sees a single connection open (kamcmd's)."""
    return settled(server, command, "unix", lambda text: text.count("[binrpc]") == 1 or text == "1\n")


def eventually(server: Server, command: str, transport: str) -> str:
    """`command`'s output once the server sees no stream connection open."""
    return settled(server, command, transport, lambda text: text.startswith("error: 400"))


def settled(server: Server, command: str, transport: str, done: Callable[[str], bool]) -> str:
    deadline = time.monotonic() + 5
    while True:
        text = server.kamcmd(command, transport=transport)
        if done(text) or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def fifo_request(server: Server, command: str) -> str:
    reply = f"kampy_fifo_reply_{os.getpid()}_{server.name}"
    path = Path("/tmp") / reply
    if path.exists():
        path.unlink()
    os.mkfifo(path, 0o600)
    try:
        with open(server.dir / "ctl.fifo", "w") as fifo:
            fifo.write(f":{command}:{reply}\n\n")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        data = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (not data or not data.endswith(b"\n")):
            try:
                data += os.read(fd, 65536)
            except BlockingIOError:
                time.sleep(0.02)
        os.close(fd)
        return data.decode(errors="replace")
    finally:
        path.unlink()


@pytest.mark.parametrize("command", ["core.version", "no.such"])
def test_the_fifo_protocol_answers_kamailios_status_line(servers, command):
    kamailio, kampy = servers
    assert fifo_request(kampy, command).splitlines()[0] == fifo_request(kamailio, command).splitlines()[0]


# ---------------------------------------------------------------- kamcli over jsonrpcs

KAMCLI_INI = """[main]
domain=127.0.0.1
[ctl]
type=jsonrpc
[jsonrpc]
transport={transport}
path={dir}/rpc.fifo
rplnamebase=kamcli_reply_{pid}.fifo
rpldir=/tmp
srvaddr={dir}/rpc.sock
rcvaddr={dir}/kamcli_reply.sock
outformat=json
"""


def kamcli(server: Server, transport: str, *args: str) -> str:
    ini = server.dir / f"kamcli-{transport}.ini"
    ini.write_text(KAMCLI_INI.format(transport=transport, dir=server.dir, pid=os.getpid()))
    result = subprocess.run(["kamcli", "--no-default-configs", "-c", str(ini), *args], capture_output=True,
                            text=True, timeout=30)
    return result.stdout


def json_shape(value: object, key: str = "") -> object:
    """The reply's structure: keys kept, masked values by type, lists of stat lines by name."""
    if isinstance(value, dict):
        return {k: json_shape(v, k) for k, v in value.items() if k != "id"}
    if isinstance(value, list):
        return [json_shape(v, key) for v in value]
    if key in MASKED or isinstance(value, (int, float)):
        return type(value).__name__
    if isinstance(value, str) and " = " in value:  # "group:name = value"
        return value.split(" = ")[0]
    return value


def kamcli_json(server: Server, transport: str, *args: str) -> object:
    import json

    text = kamcli(server, transport, *args).replace(str(server.port), "5060")  # stays valid JSON
    return json_shape(json.loads(text[text.index("{"):]))


# (kamcli's FIFO transport fails on Python 3 in Debian's kamcli 2.0.0, against Kamailio too:
# jsonrpcs' FIFO is driven by `kampy rpc --fifo` in test_rpc_transports.py)
@pytest.mark.parametrize("transport", ["socket"])
@pytest.mark.parametrize("command", [["uptime"], ["ul", "show"], ["srv", "info"], ["stats", "tm:"],
                                     ["jsonrpc", "tm.stats"], ["jsonrpc", "ul.lookup", "location", "alice"],
                                     ["jsonrpc", "stats.clear_statistics", "tm:"], ["jsonrpc", "no.such"],
                                     ["srv", "modules"], ["tcp", "options"], ["tcp", "info"], ["tcp", "list"],
                                     ["stats", "usrloc"], ["stats", "shmem"],
                                     ["ul", "show", "--brief"], ["ul", "show", "alice"],
                                     ["jsonrpc", "core.sockets_list"], ["jsonrpc", "core.aliases_list"],
                                     ["ul", "rm", "nobody", "sip:nobody@192.0.2.1"]])
def test_kamcli_prints_the_same_structure_from_kampy_as_from_kamailio(servers, transport, command):
    kamailio, kampy = servers
    assert kamcli_json(kampy, transport, *command) == kamcli_json(kamailio, transport, *command)


def test_kamcli_moni_shows_kamailios_statistics(servers):
    kamailio, kampy = servers

    def names(server: Server) -> list[str]:
        return re.findall(r"([\w-]+:[\w-]+) = ", kamcli(server, "socket", "moni", "--no-refresh"))

    assert names(kampy) == names(kamailio) and "shmem:free_size" in names(kampy)


def test_kamcli_ps_lists_the_main_process_first(servers):
    _, kampy = servers
    first = kamcli(kampy, "socket", "ps").splitlines()[0].split()
    assert first[:2] == ["0", str(kampy.proc.pid)] and " ".join(first[2:]) == "main process - attendant"


def test_kamcli_rpcmethods_are_kamailios_names(servers):
    import json

    kamailio, kampy = servers

    def names(server: Server) -> set[str]:
        text = kamcli(server, "socket", "rpcmethods")
        return set(json.loads(text[text.index("{"):])["result"])

    assert {"core.psx", "ul.dump", "ctl.who"} <= names(kampy) <= names(kamailio)


@pytest.mark.parametrize("transport", ["unix", "unixd", "tcp", "udp"])
@pytest.mark.parametrize("command", [["ul.dump"], ["core.psx"], ["stats.get_statistics", "tm:"], ["no.such"]])
def test_kampy_rpc_s_prints_what_kamcmd_prints(servers, transport, command):
    _, kampy = servers
    where = {"unix": f"unix:{kampy.dir}/ctl.sock", "unixd": f"unixd:{kampy.dir}/ctld.sock",
             "tcp": f"tcp:127.0.0.1:{kampy.tcp}", "udp": f"udp:127.0.0.1:{kampy.udp}"}[transport]
    ours = subprocess.run(kampy_cmd("rpc", "-s", where, *command), capture_output=True, text=True, timeout=30,
                          cwd=REPO)
    assert structure(ours.stdout) == structure(kampy.kamcmd(*command, transport=transport))
    assert ours.returncode == (1 if command == ["no.such"] else 0)


# ---------------------------------------------------------------- the core's methods


@pytest.mark.parametrize("command", [
    ["core.sockets_list"], ["core.aliases_list"], ["core.tcp_info"], ["core.tcp_options"],
    ["core.udp4_raw_info"], ["core.modules"], ["core.pwd"], ["core.printi", "1", "a", "2"],
    ["core.prints", "a", "1", "b"], ["core.echo", "a", "1"], ["core.shmmem", "x"], ["core.shmmem", "kx"],
    ["pkg.stats", "nope"], ["pkg.stats", "pid"], ["pkg.stats", "pid", "1"], ["mod.stats"],
    ["mod.stats", "usrloc"], ["mod.stats", "usrloc", "x"],
])
def test_core_methods_print_what_kamailios_print(servers, command):
    kamailio, kampy = servers
    assert kampy.mask(kampy.kamcmd(*command)) == kamailio.mask(kamailio.kamcmd(*command))


def keys(text: str) -> list[str]:
    """The member names of kamcmd's printed structs, in order."""
    return re.findall(r"^\t*([^:\n{}]+):", text, re.M)


@pytest.mark.parametrize("command", [
    ["core.runinfo"], ["core.shmmem"], ["core.shmmem", "m"], ["core.shmmem", "KB"], ["pkg.info"],
])
def test_core_methods_give_kamailios_members(servers, command):
    kamailio, kampy = servers
    assert keys(kampy.kamcmd(*command)) == keys(kamailio.kamcmd(*command))


@pytest.mark.parametrize("command", [["core.psa"], ["pkg.stats"], ["pkg.stats", "rank", "1"]])
def test_process_lists_give_kamailios_members_for_each_process(servers, command):
    kamailio, kampy = servers

    def first(server: Server) -> str:
        text = server.kamcmd(*command)
        return text[:text.index("}") + 1]

    assert keys(first(kampy)) == keys(first(kamailio))
    assert kampy.kamcmd(*command).count("{") >= 1


def test_pkg_stats_of_the_main_process_by_pid(servers):
    _, kampy = servers
    text = kampy.kamcmd("pkg.stats", "pid", str(kampy.proc.pid))
    assert f"pid: {kampy.proc.pid}" in text and "desc: main process - attendant" in text
    used = int(re.search(r"real_used: (\d+)", text).group(1))
    assert used > 1_000_000  # a Python process's resident memory


def test_mod_stats_of_a_module_shows_its_private_and_shared_memory(servers):
    kamailio, kampy = servers
    ours = kampy.kamcmd("mod.stats", "usrloc", "all")
    assert ours.splitlines()[0] == kamailio.kamcmd("mod.stats", "usrloc", "all").splitlines()[0] == \
        "Module: usrloc"
    structs = re.findall(r"\{\n(.*?)\}", ours, re.S)
    assert len(structs) == 2 and all("Total: " in s for s in structs)
    assert "usrloc.location: " in structs[1]  # its shared table of bindings
    assert re.search(r"\(\d+\)", kampy.kamcmd("mod.mem_statsx", "usrloc", "shm"))


def test_ppdefines_are_the_configs_defines_in_kamailios_order(servers):
    kamailio, kampy = servers
    theirs = kamailio.kamcmd("core.ppdefines").split()
    theirs.remove("KAMAILIO")  # the -A that picks Kamailio's module path
    assert kampy.kamcmd("core.ppdefines").split() == theirs
    assert keys(kampy.kamcmd("core.ppdefines_full"))[:3] == ["name", "type", "value"]


def test_core_arg_is_the_command_line_kampy_was_started_with(servers):
    _, kampy = servers
    assert kampy.kamcmd("core.arg").split("\n")[:7] == ["kampy", "-f", str(kampy.dir / "k.cfg"), "-DD", "-E",
                                                        "-Y", str(kampy.dir)]


def test_tcp_list_and_stats_show_an_open_connection_as_kamailio(servers):
    import socket

    from tests.e2e.sip import options

    def listed(server: Server) -> tuple[str, str]:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
            conn.sendall(options("127.0.0.1", server.port, transport="TCP"))
            assert b"404" in conn.recv(4096)
            text = server.kamcmd("core.tcp_list")
            stats = server.kamcmd("stats.get_statistics", "tcp:")
            local = conn.getsockname()[1]
        text = re.sub(r"(id|timeout|lifetime|ref_count): -?\d+", r"\1: N", text).replace(str(local), "CLIENT")
        return server.mask(text), re.sub(r"current_opened_connections = \d+", "", stats)

    (their_list, their_stats), (our_list, our_stats) = listed(kamailio_of(servers)), listed(servers[1])
    assert our_list == their_list and "type: TCP" in our_list and "state: CONN_OK" in our_list
    assert keys(our_stats) == keys(their_stats)


def kamailio_of(servers: tuple[Server, Server]) -> Server:
    return servers[0]


def test_core_kill_stops_kampy(tmp_path):
    server = start("kampy", tmp_path)
    try:
        assert server.kamcmd("core.kill") == ""
        server.proc.wait(timeout=20)
    finally:
        stop(server)
