"""TLS material made by the test with openssl: a CA, and a server certificate it signed for
127.0.0.1/localhost, stored under the names Debian's /etc/kamailio/tls.cfg gives them."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

SERVER_KEY = "kamailio-selfsigned.key"   # tls.cfg's private_key, in /etc/kamailio
SERVER_CERT = "kamailio-selfsigned.pem"  # tls.cfg's certificate


@dataclass(frozen=True)
class Certificates:
    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    def install(self, etc_dir: Path) -> None:
        """Copy the server's key and certificate where tls.cfg looks for them."""
        for name in (SERVER_KEY, SERVER_CERT):
            (etc_dir / name).write_bytes((self.directory / name).read_bytes())


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {proc.stderr}")


def make(directory: Path) -> Certificates:
    directory.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=kampy test CA", cwd=directory)
    _openssl("req", *ec, "-keyout", SERVER_KEY, "-out", "server.csr", "-subj", "/CN=localhost", cwd=directory)
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", SERVER_CERT, "-days", "2", "-extfile", "san.ext", cwd=directory)
    return Certificates(directory)
