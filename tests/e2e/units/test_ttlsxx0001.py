"""Unit ttlsxx0001 of Kamailio's suite (tls configuration - basic test): the server started on
Debian's default config with `-A WITH_TLS` (Debian's /etc/kamailio/tls.cfg, whose self-signed
certificate and key the suite's image makes: here openssl makes them), then `openssl s_client
-connect 127.0.0.1:5061`; the unit passes when the log says `TLS accept successful`."""
from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.e2e.units.harness import UnitServer

DEBIAN_TLS_CFG = Path("/etc/kamailio/tls.cfg")  # installed by Debian's kamailio package


def _install_tls(etc: Path) -> None:
    shutil.copy(DEBIAN_TLS_CFG, etc / "tls.cfg")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", str(etc / "kamailio-selfsigned.key"),
                    "-out", str(etc / "kamailio-selfsigned.pem")],
                   check=True, capture_output=True, timeout=60)


def test_ttlsxx0001_the_default_config_with_tls_accepts_a_tls_connection_on_5061(
        unit_server: Callable[..., UnitServer]) -> None:
    server = unit_server(None, "ttlsxx0001")
    _install_tls(server.dir / "etc")
    server.start("-a", "no", "-A", "WITH_TLS", "-ddd", "-E")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with contextlib.closing(server.ns.socket(socket.AF_INET, socket.SOCK_STREAM)) as raw:
        raw.settimeout(10)
        raw.connect(("127.0.0.1", 5061))
        with context.wrap_socket(raw) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")  # tls.cfg: method = TLSv1.2+
            assert tls.getpeercert(binary_form=True)
    server.stop()
    assert "TLS accept successful" in server.log()
