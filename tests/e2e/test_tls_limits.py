"""TLS core parameters on the wire: `tls_max_connections` refuses connections past the limit (TCP
ones are counted apart), and `enable_tls=yes` without the tls module disables TLS with Kamailio's
warnings instead of leaving a TLS socket nobody serves."""
from __future__ import annotations

import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from tests.e2e import beside
from tests.e2e.kampy_process import REPO, free_port, stop_process
from tests.e2e.tls_material import TlsClient, client_context, make, options
from tests.support.kamailio_cli import kampy_cmd

CFG = """#!KAMAILIO
enable_tls=yes
tls_max_connections=1
listen=tls:127.0.0.1:PORT
listen=tcp:127.0.0.1:TCPPORT
children=1
loadmodule "sl.so"
loadmodule "tls.so"
loadmodule "ctl.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
modparam("tls", "private_key", "CERTS/server.key")
modparam("tls", "certificate", "CERTS/server.pem")
modparam("tls", "tls_method", "TLSv1.2+")
request_route {
    sl_send_reply("200", "OK");
}
"""


def test_a_tls_connection_past_tls_max_connections_is_closed_and_tcp_is_counted_apart(tmp_path: Path) -> None:
    material = make(tmp_path / "certs")
    tcp_port = free_port()
    server = beside.start("kampy", tmp_path, CFG.replace("CERTS", str(material.directory))
                          .replace("TCPPORT", str(tcp_port)))
    try:
        first = TlsClient(server.port, client_context(material, cert=None, verify=False))
        assert first.request(options(server.port, call_id="first")).startswith(b"SIP/2.0 200 OK")
        with socket.create_connection(("127.0.0.1", tcp_port), timeout=10) as tcp:
            tcp.sendall(options(tcp_port, call_id="tcp").replace("TLS", "TCP").replace(";transport=tls", "")
                        .encode())
            assert tcp.recv(65536).startswith(b"SIP/2.0 200 OK")
        second = TlsClient(server.port, client_context(material, cert=None, verify=False))
        with pytest.raises((ConnectionError, ssl.SSLError, OSError)):
            second.request(options(server.port, call_id="second"))
        second.close()
        first.close()
        assert "tls_max_connections (1) reached" in (server.dir / "log").read_text()
    finally:
        stop_process(server.proc)


def test_enable_tls_without_the_tls_module_disables_tls_with_kamailios_warning(tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "k.cfg"
    cfg.write_text(f'enable_tls=yes\nlisten=udp:127.0.0.1:{port}\nlisten=tls:127.0.0.1:{port}\n'
                   'loadmodule "sl.so"\nrequest_route { sl_send_reply("200", "OK"); }\n')
    proc = subprocess.Popen(kampy_cmd("run", "-f", str(cfg), "-E", "-D"), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        lines = []
        for line in proc.stderr:  # type: ignore[union-attr]
            lines.append(line)
            if "ready" in line:
                break
        text = "".join(lines)
        assert "tls support enabled, but no tls engine available (forgot to load the tls module?)" in text
        assert "disabling tls..." in text
        assert f"listening on tls:127.0.0.1:{port}" not in text
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        stop_process(proc)
