"""ctl in process: binrpc requests in, replies out (as kamcmd would get them), the FIFO protocol,
listen addresses and the sockets ctl asks the network layer for."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from kampy import binrpc
from kampy.api import RpcFault
from kampy.config.pipeline import load_text
from kampy.runtime.server import Server
from kampy.runtime.shared import SharedStore
from kampy.modules.ctl import fifo
from kampy.modules.ctl.listen import FIFO, TCP, UDP, UNIXD, UNIXS, parse_listen_id
from tests.support.runtime import SOCKET

CFG = """loadmodule "sl"
loadmodule "kex"
loadmodule "usrloc"
loadmodule "registrar"
loadmodule "ctl"
modparam("ctl", "binrpc", "unix:/nonexistent/ctl.sock")
modparam("ctl", "binrpc", "tcp:127.0.0.1:2049")
modparam("ctl", "fifo", "/nonexistent/ctl.fifo")
{extra}
request_route {{ if (method == "REGISTER") {{ save("location"); exit; }} sl_send_reply("404", "Nope"); }}
"""


def start(extra: str = "") -> Server:
    srv = Server.from_config(load_text(CFG.format(extra=extra)), sockets=[SOCKET],
                             shared=SharedStore.create())
    srv.child_init(1)
    return srv


@pytest.fixture
def server() -> Iterator[Server]:
    srv = start()
    yield srv
    store = srv.core.shared
    srv.shutdown()
    store.remove()


def ask(server: Server, method: str, *params: object, cookie: int = 0x1234) -> tuple[int, bytes]:
    packet = binrpc.build_packet(binrpc.REQUEST, cookie, binrpc.encode_request(method, list(params)))
    reply = server.core.modules["ctl"].handle_binrpc(packet)
    header = binrpc.parse_header(reply)
    assert header.cookie == cookie
    return header.kind, reply[header.size:header.packet_len]


def lines(server: Server, method: str, *params: object) -> list[str]:
    kind, body = ask(server, method, *params)
    assert kind == binrpc.REPLY, binrpc.read_fault(body)
    return binrpc.format_records(body)


def fault(server: Server, method: str, *params: object) -> tuple[int, str]:
    kind, body = ask(server, method, *params)
    assert kind == binrpc.FAULT
    return binrpc.read_fault(body)


def test_a_method_answers_with_the_request_cookie(server):
    assert lines(server, "core.version")[0].startswith("kampy ")


def test_an_unknown_method_is_fault_500_command_not_found(server):
    assert fault(server, "no.such") == (500, "command no.such not found")


def test_a_reply_is_laid_out_as_kamcmd_prints_kamailios(server):
    assert lines(server, "ul.dump") == [
        "{", "\tDomains: {", "\t\tDomain: {", "\t\t\tDomain: location", "\t\t\tSize: 1024",
        "\t\t\tAoRs: {", "\t\t\t}", "\t\t\tStats: {", "\t\t\t\tRecords: 0", "\t\t\t\tMax-Slots: 0",
        "\t\t\t}", "\t\t}", "\t}", "}"]


def test_a_parameter_of_the_wrong_type_is_the_methods_own_fault(server):
    assert fault(server, "ul.lookup", "location", 1000) == (
        500, "Not enough parameters (table and AOR to lookup)")


def test_a_missing_parameter_without_a_method_fault_is_a_scan_fault(server):
    assert fault(server, "system.methodHelp")[0] == 400


def test_autoconversion_turns_an_integer_into_the_string_a_method_reads():
    srv = start('modparam("ctl", "autoconversion", 1)')
    try:
        assert fault(srv, "ul.lookup", "location", 1000) == (500, "AOR not found in location table")
    finally:
        store = srv.core.shared
        srv.shutdown()
        store.remove()


def test_a_parameter_scanned_with_a_dot_is_converted_without_autoconversion():
    # htable.seti scans "SS.d": kamcmd's text value is read as a number, a word is htable's fault
    srv = start('loadmodule "htable"\nmodparam("htable", "htable", "a=>size=4;")')
    try:
        assert lines(srv, "htable.seti", "a", "k", " 7") == ["Ok. Key set to new value."]
        assert srv.core.rpc.call("htable.get", ["a", "k"])["item"]["value"] == 7
        assert fault(srv, "htable.seti", "a", "k", "x") == (
            500, "Not enough parameters (htable name, key name and value)")
        assert fault(srv, "htable.get", "a", 1) == (500, "Not enough parameters (htable name and key name)")
    finally:
        store = srv.core.shared
        srv.shutdown()
        store.remove()


def test_several_values_are_one_line_each(server):
    assert lines(server, "ctl.listen") == ["binrpc", "unix_stream", "/nonexistent/ctl.sock", "",
                                           "binrpc", "tcp", "127.0.0.1", "2049",
                                           "fifo", "fifo", "/nonexistent/ctl.fifo", ""]


def test_ctl_who_outside_ctl_is_fault_606(server):
    with pytest.raises(RpcFault) as err:
        server.core.rpc.call("ctl.who")
    assert (err.value.code, err.value.message) == (606, "rpc available only over binrpc (ctl)")


def test_a_datagram_without_stream_connections_has_no_one_to_list(server):
    assert fault(server, "ctl.who") == (400, "no open stream connection")


def test_a_corrupted_packet_is_fault_400_bad_request(server):
    reply = server.core.modules["ctl"].handle_binrpc(b"\xa1\xf0\x00\x00")
    header = binrpc.parse_header(reply)
    assert binrpc.read_fault(reply[header.size:]) == (400, "bad request: corrupted packet")


def test_a_reply_beyond_binrpc_max_body_size_is_an_overflow_fault():
    srv = start('modparam("ctl", "binrpc_max_body_size", 1)')
    try:
        code, message = fault(srv, "stats.get_statistics", "all")
        assert code == 500 and "buffer too small (overflow)" in message
    finally:
        store = srv.core.shared
        srv.shutdown()
        store.remove()


def test_the_services_are_the_configured_sockets(server):
    services = [(s.kind, s.path, s.port, s.mode) for s in server.core.services]
    assert services == [("stream", "/nonexistent/ctl.sock", 0, 0o600), ("tcp", "127.0.0.1", 2049, 0o600),
                        ("fifo", "/nonexistent/ctl.fifo", 0, 0o600)]


def test_without_binrpc_the_socket_is_kamailio_ctl_under_the_runtime_dir():
    srv = Server.from_config(load_text('rundir="/tmp/rt"\nloadmodule "ctl"\n'), sockets=[SOCKET],
                             shared=SharedStore.create())
    try:
        assert [(s.kind, s.path) for s in srv.core.services] == [("stream", "/tmp/rt/kamailio_ctl")]
    finally:
        store = srv.core.shared
        srv.shutdown()
        store.remove()


# ---------------------------------------------------------------- listen addresses


@pytest.mark.parametrize(("text", "transport", "name", "port"), [
    ("unix:/tmp/unix_stream", UNIXS, "/tmp/unix_stream", 0),
    ("unixs:/tmp/unix_stream", UNIXS, "/tmp/unix_stream", 0),
    ("unixd:/tmp/unix_dgram", UNIXD, "/tmp/unix_dgram", 0),
    ("/tmp/unix_test", UNIXS, "/tmp/unix_test", 0),
    ("localhost:3000", UDP, "localhost", 3000),
    ("tcp:localhost:2046", TCP, "localhost", 2046),
    ("tcp:3012", TCP, "*", 3012),
    ("udp:*:3012", UDP, "*", 3012),
    ("tcp:[::1]:2049", TCP, "[::1]", 2049),
])
def test_binrpc_addresses_parse_as_kamailios_docs_say(text, transport, name, port):
    lid = parse_listen_id(text, UDP)
    assert (lid.transport, lid.name, lid.port) == (transport, name, port)


def test_a_fifo_address_without_protocol_is_a_fifo():
    lid = parse_listen_id("/tmp/kamailio_fifo2", FIFO, "fifo")
    assert (lid.transport, lid.payload) == (FIFO, "fifo")


def test_a_tcp_address_without_port_listens_on_2049():
    assert parse_listen_id("tcp:localhost", UDP).bound_port == 2049


def test_a_bad_binrpc_value_is_a_config_error():
    from kampy.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        load_text('loadmodule "ctl"\nmodparam("ctl", "binrpc", "tcp:host:notaport")\n')
    assert "binrpc" in str(err.value.diagnostics[0])


# ---------------------------------------------------------------- the FIFO protocol


def test_fifo_request_ends_at_an_empty_line():
    data = b":core.version:reply_fifo\n\n:next"
    assert fifo.frame(data) == len(b":core.version:reply_fifo\n\n")
    assert fifo.frame(b":core.version:x\n") == 0


def test_fifo_reply_goes_to_the_named_fifo_under_tmp():
    assert fifo.reply_path(b":core.version:kamailio_reply\n\n") == "/tmp/kamailio_reply"
    assert fifo.reply_path(b":core.version:../etc/passwd\n\n") is None


def test_fifo_answers_status_line_then_values(server):
    reply = server.core.modules["ctl"].handle_fifo(b":core.version:r\n\n")
    assert reply.startswith(b"200 OK\nkampy ")


def test_fifo_unknown_command_is_500_not_found(server):
    assert server.core.modules["ctl"].handle_fifo(b":no.such:r\n\n") == b"500 Command 'no.such' not found\n"


def test_fifo_struct_members_follow_its_start_each_before_the_previous():
    assert fifo.render([{"a": 1, "b": "x:y"}]) == "b:x\\oy,a:1\n"


def test_mode_user_and_group_apply_to_the_unix_sockets_and_fifos():
    import grp
    import pwd

    srv = start('modparam("ctl", "mode", 0660)\nmodparam("ctl", "user", "nobody")\n'
                'modparam("ctl", "group", "nogroup")')
    try:
        owner = (pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid)
        assert {(s.mode, s.owner) for s in srv.core.services} == {(0o660, owner)}
    finally:
        store = srv.core.shared
        srv.shutdown()
        store.remove()


def test_without_user_the_sockets_belong_to_the_command_lines_u():
    import pwd

    nobody = pwd.getpwnam("nobody")
    cfg = 'user="nobody"\nloadmodule "ctl"\nmodparam("ctl", "binrpc", "/x/s")\n'
    srv = Server.from_config(load_text(cfg), sockets=[SOCKET], shared=SharedStore.create())
    try:
        assert srv.core.services[0].owner == (nobody.pw_uid, nobody.pw_gid)
    finally:
        store = srv.core.shared
        srv.shutdown()
        store.remove()
