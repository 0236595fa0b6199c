"""TLS on the wire with kampy: requests relayed to `;transport=tls` destinations open TLS
connections with the client profile tls_set_connect_server_id() names (its certificate and SNI),
event_route[tls:connection-out] sees the new connection and can drop it, a server profile is
picked by the SNI the client sends, tls.reload makes new connections use the new tls.cfg, and a
failed handshake is logged."""
from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kampy.modules.tls.certinfo import from_der
from tests.e2e import beside
from tests.e2e.kampy_process import free_port, stop_process
from tests.e2e.tls_material import Destination, Material, TlsClient, client_context, make, options

CFG = """#!KAMAILIO
enable_tls=yes
listen=udp:127.0.0.1:PORT
listen=tls:127.0.0.1:TLSPORT
children=2
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "textops.so"
loadmodule "tls.so"
loadmodule "ctl.so"
loadmodule "cfg_rpc.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
modparam("tls", "config", "TLSCFG")
request_route {
    if ($rU == "relay" || $rU == "plain") {
        if ($rU == "relay") {
            tls_set_connect_server_id("peer1");
        } else {
            tls_set_connect_server_id("");
        }
        $du = "sip:127.0.0.1:" + $hdr(X-Dest) + ";transport=tls";
        forward();
        exit;
    }
    append_to_reply("X-Me: $tls_my_subject_cn\\r\\n");
    sl_send_reply("200", "OK");
}
event_route[tls:connection-out] {
    xlog("L_WARN", "tls:connection-out to a peer $tls_peer_subject_cn over $tls_version\\n");
    if ($tls_peer_subject_cn == "self") {
        drop;
    }
}
"""

TLS_CFG = """[server:default]
method = TLSv1.2+
private_key = {dir}/{server}.key
certificate = {dir}/{server}.pem

[server:any]
server_name = other.example.com
private_key = {dir}/selfsigned.key
certificate = {dir}/selfsigned.pem

[client:default]
verify_certificate = no

[client:any]
server_id = peer1
server_name = peer1.example.com
verify_certificate = yes
ca_list = {dir}/ca.pem
private_key = {dir}/client.key
certificate = {dir}/client.pem
"""


@dataclass
class World:
    material: Material
    server: beside.Server
    tls_port: int
    tls_cfg: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("tls-kampy")
    material = make(tmp / "certs")
    tls_cfg = tmp / "tls.cfg"
    tls_cfg.write_text(TLS_CFG.format(dir=material.directory, server="server"))
    tls_port = free_port()
    server = beside.start("kampy", tmp, CFG.replace("TLSCFG", str(tls_cfg)).replace("TLSPORT", str(tls_port)))
    try:
        yield World(material, server, tls_port, tls_cfg)
    finally:
        stop_process(server.proc)


def _relay(world: World, user: str, destination: Destination) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        port = udp.getsockname()[1]
        udp.sendto((f"MESSAGE sip:{user}@127.0.0.1 SIP/2.0\r\n"
                    f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{user}{destination.port}\r\n"
                    f"From: <sip:alice@example.com>;tag=1\r\nTo: <sip:{user}@127.0.0.1>\r\n"
                    f"Call-ID: {user}-{destination.port}\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n"
                    f"X-Dest: {destination.port}\r\nContent-Length: 0\r\n\r\n").encode(),
                   ("127.0.0.1", world.server.port))


@pytest.fixture
def destination(world: World) -> Iterator[Destination]:
    peer = Destination(world.material)
    peer.start()
    yield peer
    peer.close()


def test_a_request_to_a_transport_tls_destination_goes_over_tls_with_a_tls_via(world, destination) -> None:
    _relay(world, "plain", destination)
    destination.wait("data")
    request = destination.received[0].decode()
    assert request.startswith("MESSAGE sip:plain@127.0.0.1 SIP/2.0\r\n")
    assert f"Via: SIP/2.0/TLS 127.0.0.1:{world.tls_port};branch=" in request


def test_the_default_client_profile_sends_no_certificate_and_no_sni(world, destination) -> None:
    _relay(world, "plain", destination)
    destination.wait("data")
    assert destination.client_cns == [None]
    assert destination.server_names == [None]


def test_tls_set_connect_server_id_picks_the_client_profile_with_its_certificate_and_sni(
        world, destination) -> None:
    _relay(world, "relay", destination)
    destination.wait("data")
    assert destination.client_cns == ["alice"]
    assert destination.server_names == ["peer1.example.com"]


def test_connection_out_event_route_sees_the_peer_and_its_drop_closes_the_connection(world) -> None:
    peer = Destination(world.material, cert="selfsigned")
    peer.start()
    try:
        _relay(world, "plain", peer)
        peer.wait("close")
        assert peer.received == []
    finally:
        peer.close()
    log = (world.server.dir / "log").read_text()
    assert "tls:connection-out to a peer self over TLSv1.3" in log


def _served_cn(world: World, server_name: str) -> str | None:
    context = client_context(world.material, cert=None, verify=False)
    ua = TlsClient(world.tls_port, context, server_name=server_name)
    try:
        der = ua.sock.getpeercert(binary_form=True)
        ua.request(options(world.tls_port, call_id=f"sni-{server_name}"))
    finally:
        ua.close()
    return from_der(der).component("subject", "cn") if der else None


def test_the_sni_a_client_sends_picks_the_server_profile_with_that_server_name(world) -> None:
    assert _served_cn(world, "localhost") == "localhost"
    assert _served_cn(world, "other.example.com") == "self"


def test_a_failed_tls_handshake_is_logged(world) -> None:
    with socket.create_connection(("127.0.0.1", world.tls_port), timeout=10) as plain:
        plain.sendall(options(world.tls_port, call_id="plain-text").encode())  # SIP, not TLS
        assert plain.recv(65536) == b""  # closed
    deadline = time.monotonic() + 10
    while "failed: [SSL" not in (world.server.dir / "log").read_text():
        assert time.monotonic() < deadline, "no log line for the failed handshake"
        time.sleep(0.05)
    assert f"TLS accept on 127.0.0.1:{world.tls_port} failed: [SSL" in (world.server.dir / "log").read_text()


def test_tls_reload_makes_new_connections_use_the_changed_tls_cfg(world) -> None:
    original = world.tls_cfg.read_text()
    try:
        world.tls_cfg.write_text(TLS_CFG.format(dir=world.material.directory, server="selfsigned"))
        assert world.server.kamcmd("tls.reload").strip() == "Ok. TLS configuration reloaded."
        # every worker takes the new domains for its next connection
        assert {_served_cn(world, "localhost") for _ in range(4)} == {"self"}
    finally:
        world.tls_cfg.write_text(original)
        world.server.kamcmd("tls.reload")
    assert _served_cn(world, "localhost") == "localhost"


def test_tls_reload_reads_the_file_cfg_set_now_string_names(world) -> None:
    other = world.tls_cfg.with_name("other-tls.cfg")
    other.write_text(TLS_CFG.format(dir=world.material.directory, server="selfsigned"))
    try:
        world.server.kamcmd("cfg.set_now_string", "tls", "config", str(other))
        assert world.server.kamcmd("tls.reload").strip() == "Ok. TLS configuration reloaded."
        assert {_served_cn(world, "localhost") for _ in range(4)} == {"self"}
    finally:
        world.server.kamcmd("cfg.set_now_string", "tls", "config", str(world.tls_cfg))
        world.server.kamcmd("tls.reload")
    assert _served_cn(world, "localhost") == "localhost"


def test_tls_reload_of_a_broken_file_keeps_the_working_domains(world) -> None:
    original = world.tls_cfg.read_text()
    try:
        world.tls_cfg.write_text("[server:default]\nmethod = TLSv9\n")
        printed = world.server.kamcmd("tls.reload")
        assert "500" in printed and "Error while loading TLS configuration file" in printed
    finally:
        world.tls_cfg.write_text(original)
    assert _served_cn(world, "localhost") == "localhost"
