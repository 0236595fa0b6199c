"""The tls module beside Kamailio 5.6: the same config (a tls: listener, tls.cfg with a server
domain that asks for a client certificate) run by both servers, the same TLS client (Python's ssl,
presenting a certificate the test's CA signed) sends them the same requests, and the $tls_*
values, is_peer_verified() and the tls.* RPCs come out the same."""
from __future__ import annotations

import re

import pytest

from tests.e2e import beside
from tests.e2e.tls_material import Material, TlsClient, client_context, make, options

CFG = """#!KAMAILIO
enable_tls=yes
listen=tls:127.0.0.1:PORT
children=1
tcp_children=1
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "tls.so"
loadmodule "ctl.so"
loadmodule "cfg_rpc.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
modparam("tls", "config", "TLSCFG")
request_route {
    append_to_reply("X-Proto: $proto $pr\\r\\n");
    append_to_reply("X-Session: $tls_version $tls_cipher_info $tls_cipher_bits\\r\\n");
    append_to_reply("X-Description: $(tls_description{s.trim}) $(tls_description{s.len})\\r\\n");
    append_to_reply("X-My: $tls_my_subject | $tls_my_issuer | $tls_my_subject_cn | $tls_my_issuer_cn\\r\\n");
    append_to_reply("X-My-Cert: $tls_my_version $tls_my_serial $tls_my_san_hostname $tls_my_san_ip\\r\\n");
    append_to_reply("X-My-Parts: $tls_my_subject_organization $tls_my_subject_unit\\r\\n");
    append_to_reply("X-My-Place: $tls_my_subject_country $tls_my_subject_state\\r\\n");
    append_to_reply("X-My-Town: $tls_my_subject_locality $tls_my_issuer_locality\\r\\n");
    append_to_reply("X-Peer: $tls_peer_subject | $tls_peer_issuer | $tls_peer_subject_cn\\r\\n");
    append_to_reply("X-Peer-Issuer: $tls_peer_issuer_organization $tls_peer_issuer_cn\\r\\n");
    append_to_reply("X-Peer-Cert: $tls_peer_version $tls_peer_serial\\r\\n");
    append_to_reply("X-Peer-San: $tls_peer_san_email $tls_peer_san_uri $tls_peer_san_hostname\\r\\n");
    append_to_reply("X-Peer-Check: $tls_peer_verified $tls_peer_expired\\r\\n");
    append_to_reply("X-Peer-Check2: $tls_peer_selfsigned $tls_peer_revoked\\r\\n");
    append_to_reply("X-Peer-Dates: $tls_peer_notBefore | $tls_peer_notAfter\\r\\n");
    append_to_reply("X-Lines: $tls(m_subject_line) | $tls(p_issuer_line)\\r\\n");
    append_to_reply("X-Sel: $sel(tls.peer.subject.cn) $sel(tls.my.issuer.o) $sel(tls.cipher.bits)\\r\\n");
    append_to_reply("X-Sel2: $sel(tls.peer.email) $sel(tls.version) $sel(tls.my.serial_number)\\r\\n");
    append_to_reply("X-SNI: $tls_peer_server_name\\r\\n");
    if (is_peer_verified()) {
        append_to_reply("X-Verified: yes\\r\\n");
    } else {
        append_to_reply("X-Verified: no\\r\\n");
    }
    sl_send_reply("200", "OK");
}
"""

TLS_CFG = """[server:default]
method = TLSv1.2+
verify_certificate = yes
require_certificate = no
private_key = {dir}/server.key
certificate = {dir}/server.pem
ca_list = {dir}/ca.pem

[client:default]
verify_certificate = no
"""


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("tls-beside")
    material = make(tmp / "certs")
    (tmp / "tls.cfg").write_text(TLS_CFG.format(dir=material.directory))
    with beside.both(tmp, CFG.replace("TLSCFG", str(tmp / "tls.cfg"))) as pair:
        yield material, pair


def _reply_headers(port: int, material: Material, **client: object) -> list[str]:
    ua = TlsClient(port, client_context(material, **client), server_name="localhost")  # type: ignore[arg-type]
    try:
        reply = ua.request(options(port))
    finally:
        ua.close()
    lines = reply.decode().split("\r\n")
    assert lines[0] == "SIP/2.0 200 OK"
    return [line for line in lines if line.startswith("X-")]


def test_tls_pseudo_variables_and_is_peer_verified_are_kamailios(servers) -> None:
    material, (kamailio, kampy) = servers
    assert _reply_headers(kampy.port, material) == _reply_headers(kamailio.port, material)


def test_a_client_without_a_certificate_is_not_verified_as_in_kamailio(servers) -> None:
    material, (kamailio, kampy) = servers
    headers = _reply_headers(kampy.port, material, cert=None)
    assert "X-Verified: no" in headers
    assert headers == _reply_headers(kamailio.port, material, cert=None)


def _normalized(text: str) -> str:
    """Connection ids, ports and timeouts differ between two runs."""
    text = re.sub(r"(\b(?:id|src_port|dst_port|timeout): )\d+", r"\1N", text)
    return text


@pytest.mark.parametrize("command", ["tls.info", "tls.list"])
def test_tls_rpc_prints_what_kamailio_prints_for_an_open_connection(servers, command: str) -> None:
    material, (kamailio, kampy) = servers
    printed = []
    for server in (kamailio, kampy):
        ua = TlsClient(server.port, client_context(material), server_name="localhost")
        try:
            ua.request(options(server.port, call_id=f"rpc-{command}"))
            printed.append(_normalized(server.kamcmd(command)))
        finally:
            ua.close()
    assert printed[1] == printed[0]


def _options(server: beside.Server) -> list[str]:
    """tls.options without the low-memory thresholds Kamailio derives from its process count
    (kampy has no such mode: see the module's README)."""
    return [line for line in server.kamcmd("tls.options").splitlines() if "low_mem_threshold" not in line]


def test_tls_options_prints_kamailios_options(servers) -> None:
    _, (kamailio, kampy) = servers
    assert _options(kampy) == _options(kamailio)


def test_the_tls_cfg_group_lists_kamailios_variables(servers) -> None:
    _, (kamailio, kampy) = servers
    listed = [sorted(line for line in s.kamcmd("cfg.list").splitlines() if line.startswith("tls:"))
              for s in (kamailio, kampy)]
    assert listed[1] == listed[0]


@pytest.mark.parametrize("name", ["method", "verify_certificate", "require_certificate", "verify_client",
                                  "server_name_mode", "session_id", "disable_compression", "ct_wq_max"])
def test_cfg_get_of_a_tls_variable_prints_kamailios_value(servers, name: str) -> None:
    _, (kamailio, kampy) = servers
    assert kampy.kamcmd("cfg.get", "tls", name) == kamailio.kamcmd("cfg.get", "tls", name)


def test_tls_reload_answers_as_kamailio(servers) -> None:
    _, (kamailio, kampy) = servers
    assert kampy.kamcmd("tls.reload") == kamailio.kamcmd("tls.reload")
