"""Core parameters kampy reads that change what goes on the wire: advertised_address, advertised_port,
server_signature, tos and the TCP options."""
from __future__ import annotations

import asyncio
import logging
import re
import socket

import pytest

from kampy.config.pipeline import load_text
from kampy.net.binding import IP_FREEBIND, IP_MTU_DISCOVER, IP_PMTUDISC_DO, IP_PMTUDISC_DONT, bind_all
from kampy.net.tcp import TCPManager
from kampy.module import RpcFault
from kampy.runtime.cfgframework import CfgError
from kampy.runtime.context import Outgoing, Socket, Source
from kampy.runtime.params import NetParams
from kampy.sip.message import parse_message
from tests.support.runtime import SOURCE, make_server, request

FORWARD = 'request_route { forward("198.51.100.4"); }'


def forwarded_via(tmp_path, header: str, routes: str = FORWARD):
    server = make_server(tmp_path, routes, header=header)
    (out,) = server.handle(request("MESSAGE"), SOURCE)
    return parse_message(out.data).via


def test_advertised_address_and_port_are_the_via_of_every_forwarded_request(tmp_path):
    via = forwarded_via(tmp_path, 'advertised_address = "sip.example.org"\nadvertised_port = 5099')
    assert (via.host, via.port) == ("sip.example.org", 5099)


def test_set_advertised_address_in_the_route_wins_over_the_core_parameter(tmp_path):
    routes = 'request_route { set_advertised_address("route.example.net"); forward("198.51.100.4"); }'
    via = forwarded_via(tmp_path, "advertised_address = 203.0.113.5", routes)
    assert via.host == "route.example.net"


def test_without_advertised_address_the_via_is_the_sockets(tmp_path):
    via = forwarded_via(tmp_path, "")
    assert via.host == "127.0.0.1"


def local_reply(tmp_path, header: str) -> bytes:
    server = make_server(tmp_path, 'request_route { sl_send_reply("404", "Nobody"); }', modules=("sl",),
                         header=header)
    (out,) = server.handle(request("OPTIONS"), SOURCE)
    return out.data


def test_a_local_reply_has_a_server_header_by_default(tmp_path):
    assert b"\r\nServer: kampy" in local_reply(tmp_path, "")


def test_server_signature_no_drops_the_server_header_of_local_replies(tmp_path):
    reply = local_reply(tmp_path, "server_signature = no")
    assert reply.startswith(b"SIP/2.0 404 Nobody\r\n") and b"\r\nServer:" not in reply


@pytest.mark.parametrize(("line", "tos"), [
    ("", 0x10),                        # Kamailio's default: IPTOS_LOWDELAY
    ("tos = 184", 184),
    ("tos = IPTOS_RELIABILITY", 0x10),  # 5.6's grammar: every name but IPTOS_LOWDELAY gives LOWDELAY
    ("tos = IPTOS_LOWDELAY", 0x08),     # ... and IPTOS_LOWDELAY gives IPTOS_THROUGHPUT
])
def test_tos_is_read_as_kamailio_5_6_reads_it(line, tos):
    compiled = load_text(f"{line}\nrequest_route {{ exit; }}\n", "t.cfg")
    assert NetParams.from_core_params(compiled.core_params).tos == tos


def test_tos_is_set_on_the_udp_and_tcp_listening_sockets():
    listeners = bind_all([Socket("udp", "127.0.0.1", 0), Socket("tcp", "127.0.0.1", 0)],
                         params=NetParams(tos=0xB8))
    try:
        assert [lst.sock.getsockopt(socket.IPPROTO_IP, socket.IP_TOS) for lst in listeners] == [0xB8, 0xB8]
    finally:
        for lst in listeners:
            lst.close()


def test_tcp_keepalive_options_and_linger2_reach_an_accepted_connection_from_its_listener():
    compiled = load_text("tcp_keepidle = 77\ntcp_keepintvl = 11\ntcp_keepcnt = 4\ntcp_linger2 = 9\n"
                         "tcp_defer_accept = 1\nrequest_route { exit; }\n", "t.cfg")
    params = NetParams.from_core_params(compiled.core_params)
    (listener,) = bind_all([Socket("tcp", "127.0.0.1", 0)], params=params)
    listener.sock.setblocking(True)
    with listener.sock, socket.create_connection(("127.0.0.1", listener.socket.port)) as client:
        client.sendall(b"\r\n\r\n")  # TCP_DEFER_ACCEPT: accepted once data arrives
        accepted, _ = listener.sock.accept()
        with accepted:
            got = [accepted.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                   *(accepted.getsockopt(socket.IPPROTO_TCP, opt) for opt in (
                       socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL, socket.TCP_KEEPCNT, socket.TCP_LINGER2))]
    assert got == [1, 77, 11, 4, 9]


def test_tcp_keepalive_no_leaves_keepalives_off():
    compiled = load_text("tcp_keepalive = no\nrequest_route { exit; }\n", "t.cfg")
    (listener,) = bind_all([Socket("tcp", "127.0.0.1", 0)],
                           params=NetParams.from_core_params(compiled.core_params))
    with listener.sock:
        assert listener.sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0


async def _answer_to_a_crlf_ping(params: NetParams) -> bytes | None:
    (listener,) = bind_all([Socket("tcp", "127.0.0.1", 0)], params=params)
    manager = TCPManager(params, handle=lambda *_: [], deliver=lambda _outs: None, after=lambda: None,
                         sockets=[])
    server = await asyncio.get_running_loop().create_server(manager.accepted(listener.socket),
                                                            sock=listener.sock)
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.socket.port)
        writer.write(b"\r\n\r\n")
        try:
            return await asyncio.wait_for(reader.read(16), 0.3)
        except TimeoutError:
            return None
        finally:
            writer.close()
            manager.close_all()


@pytest.mark.parametrize(("line", "answer"), [("", b"\r\n"), ("tcp_crlf_ping = no", None)])
def test_tcp_crlf_ping_decides_whether_a_crlf_keepalive_gets_a_crlf(line, answer):
    compiled = load_text(f"{line}\nrequest_route {{ exit; }}\n", "t.cfg")
    assert asyncio.run(_answer_to_a_crlf_ping(NetParams.from_core_params(compiled.core_params))) == answer


async def _connects(params: NetParams) -> bool:
    """Whether kampy opens a connection to send a request to a listening peer."""
    with socket.socket() as peer:
        peer.bind(("127.0.0.1", 0))
        peer.listen(1)
        peer.setblocking(False)
        manager = TCPManager(params, handle=lambda *_: [], deliver=lambda _outs: None, after=lambda: None,
                             sockets=[])
        manager.send(Outgoing("tcp", "127.0.0.1", peer.getsockname()[1], b"OPTIONS sip:x SIP/2.0\r\n\r\n"))
        try:
            conn, _ = await asyncio.wait_for(asyncio.get_running_loop().sock_accept(peer), 0.3)
        except TimeoutError:
            return False
        finally:
            manager.close_all()
        conn.close()
        return True


@pytest.mark.parametrize(("line", "connects"), [("", True), ("tcp_no_connect = yes", False)])
def test_tcp_no_connect_keeps_kampy_from_opening_tcp_connections(line, connects):
    compiled = load_text(f"{line}\nrequest_route {{ exit; }}\n", "t.cfg")
    assert asyncio.run(_connects(NetParams.from_core_params(compiled.core_params))) is connects


async def _dispatched(params: NetParams, data: bytes) -> list[bytes]:
    """The messages kampy's TCP layer hands to the routes for `data` sent on a new connection."""
    (listener,) = bind_all([Socket("tcp", "127.0.0.1", 0)], params=params)
    got: list[bytes] = []
    manager = TCPManager(params, handle=lambda data, _src: got.append(data) or [], deliver=lambda _outs: None,
                         after=lambda: None, sockets=[])
    server = await asyncio.get_running_loop().create_server(manager.accepted(listener.socket),
                                                            sock=listener.sock)
    async with server:
        _, writer = await asyncio.open_connection("127.0.0.1", listener.socket.port)
        writer.write(data)
        for _ in range(30):
            await asyncio.sleep(0.01)
            if got:
                break
        writer.close()
        manager.close_all()
    return got


NO_CL = b"OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK1\r\n" \
        b"From: <sip:b@127.0.0.1>;tag=1\r\nTo: <sip:a@127.0.0.1>\r\nCall-ID: nocl\r\nCSeq: 1 OPTIONS\r\n\r\n"


@pytest.mark.parametrize(("line", "routed"), [("", []), ("tcp_accept_no_cl = yes", [NO_CL])])
def test_tcp_accept_no_cl_routes_a_tcp_message_without_content_length(line, routed):
    compiled = load_text(f"{line}\nrequest_route {{ exit; }}\n", "t.cfg")
    assert asyncio.run(_dispatched(NetParams.from_core_params(compiled.core_params), NO_CL)) == routed


def reply_sent_to(tmp_path, header: str) -> tuple[str, int]:
    server = make_server(tmp_path, 'request_route { sl_send_reply("404", "Nobody"); }', modules=("sl",),
                         header=header)
    (out,) = server.handle(request("OPTIONS", via_host="198.51.100.20"), SOURCE)  # from 192.0.2.7
    return out.host, out.port


def test_a_reply_goes_to_the_requests_source_address_by_default(tmp_path):
    assert reply_sent_to(tmp_path, "") == ("192.0.2.7", 5080)


def test_reply_to_via_sends_the_reply_to_the_vias_sent_by(tmp_path):
    assert reply_sent_to(tmp_path, "reply_to_via = 1") == ("198.51.100.20", 5080)


def forwarded_from(tmp_path, header: str, sockets: list[Socket], arrived_on: Socket) -> Socket | None:
    server = make_server(tmp_path, 'request_route { forward("127.0.0.1", 5090); }', header=header,
                         sockets=sockets)
    outs = server.handle(request("MESSAGE"), Source("udp", "192.0.2.7", 5080, arrived_on))
    return outs[0].local if outs else None


ON_1 = Socket("udp", "127.0.0.1", 5060)
ON_2 = Socket("udp", "127.0.0.2", 5062)


def test_without_mhomed_a_request_leaves_on_the_socket_it_came_in_on(tmp_path):
    assert forwarded_from(tmp_path, "", [ON_1, ON_2], ON_2) == ON_2


def test_mhomed_sends_from_the_socket_of_the_address_the_system_routes_from(tmp_path):
    assert forwarded_from(tmp_path, "mhomed = yes", [ON_1, ON_2], ON_2) == ON_1


def test_mhomed_without_a_socket_on_that_address_does_not_send(tmp_path):
    assert forwarded_from(tmp_path, "mhomed = yes", [ON_2], ON_2) is None


def test_local_rport_adds_rport_to_the_via_of_every_forwarded_request(tmp_path):
    assert forwarded_via(tmp_path, "local_rport = yes").has_rport


def test_a_forwarded_requests_via_has_no_rport_by_default(tmp_path):
    assert not forwarded_via(tmp_path, "").has_rport


def udp_listener_option(line: str, option: int) -> int:
    compiled = load_text(f"{line}\nrequest_route {{ exit; }}\n", "t.cfg")
    params = NetParams.from_core_params(compiled.core_params)
    (listener,) = bind_all([Socket("udp", "127.0.0.1", 0)], params=params)
    with listener.sock:
        return listener.sock.getsockopt(socket.IPPROTO_IP, option)


@pytest.mark.parametrize(("line", "mode"), [("", IP_PMTUDISC_DONT), ("pmtu_discovery = 1", IP_PMTUDISC_DO)])
def test_pmtu_discovery_decides_the_df_bit_of_udp_sockets(line, mode):
    assert udp_listener_option(line, IP_MTU_DISCOVER) == mode


@pytest.mark.parametrize(("line", "on"), [("", 0), ("ip_free_bind = 1", 1), ("ip_nonlocal_bind = 1", 1)])
def test_ip_free_bind_sets_ip_freebind_on_the_listening_sockets(line, on):
    assert udp_listener_option(line, IP_FREEBIND) == on


def test_dst_blocklist_init_no_keeps_the_blocklist_off_even_with_use_dst_blocklist(tmp_path):
    server = make_server(tmp_path, "request_route { exit; }",
                         header="dst_blocklist_init = no\nuse_dst_blocklist = 1")
    assert server.core.cfg.get("core", "use_dst_blocklist") == 0
    with pytest.raises(RpcFault, match="dst blocklist support disabled"):
        server.core.rpc.call("dst_blocklist.view", [])


def test_dst_blocklist_init_no_refuses_turning_the_blocklist_on_at_run_time(tmp_path):
    server = make_server(tmp_path, "request_route { exit; }", header="dst_blocklist_init = no")
    with pytest.raises(CfgError, match="fixup failed: dst blocklist is turned off by dst_blocklist_init=0"):
        server.core.cfg.set_now("core", None, "use_dst_blocklist", 1)


def routing_logged(tmp_path, caplog, header: str) -> list[str]:
    server = make_server(tmp_path, "request_route { exit; }", header=header)
    with caplog.at_level(logging.INFO, logger="kampy.runtime"):
        server.handle(request("OPTIONS"), SOURCE)
    return [r.getMessage() for r in caplog.records if "executed in" in r.getMessage()]


def test_latency_cfg_log_logs_how_long_request_route_took_when_the_log_shows_its_level(tmp_path, caplog):
    (line,) = routing_logged(tmp_path, caplog, "latency_cfg_log = 2")  # L_INFO, shown
    assert re.fullmatch(r"request-route executed in: \d+ usec", line)


def test_routing_time_is_not_logged_at_a_level_the_log_does_not_show(tmp_path, caplog):
    assert routing_logged(tmp_path, caplog, "") == []  # L_DBG by default


def test_latency_limit_cfg_logs_only_a_routing_that_took_at_least_that_long(tmp_path, caplog):
    assert routing_logged(tmp_path, caplog, "latency_cfg_log = 2\nlatency_limit_cfg = 5000000") == []
