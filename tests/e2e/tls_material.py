"""TLS material the TLS tests make with the openssl command line: a CA, a server certificate for
localhost/127.0.0.1 and a client certificate, both signed by the CA, and a self-signed one; and a
small TLS SIP client (Python's ssl) that sends a request and reads its reply."""
from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from kampy.sip.stream import StreamParser

SERVER_SUBJECT = "/C=DE/ST=Berlin/L=Berlin/O=kampy/OU=sip/CN=localhost"
CLIENT_SUBJECT = "/C=FR/ST=Paris/L=Paris/O=Example/OU=phones/CN=alice"


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {proc.stderr}")


@dataclass(frozen=True)
class Material:
    directory: Path

    def path(self, name: str) -> str:
        return str(self.directory / name)


def make(directory: Path) -> Material:
    """ca.pem/ca.key, server.pem/server.key (SAN localhost, 127.0.0.1), client.pem/client.key
    (SAN email and URI), selfsigned.pem/selfsigned.key."""
    directory.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/O=kampy tests/CN=kampy test CA", cwd=directory)
    client_san = "email:alice@example.com,URI:sip:alice@example.com"
    for name, subject, san in (("server", SERVER_SUBJECT, "DNS:localhost,IP:127.0.0.1"),
                               ("client", CLIENT_SUBJECT, client_san)):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=directory)
        (directory / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial",
                 "4660" if name == "server" else "22136", "-out", f"{name}.pem", "-days", "2",
                 "-extfile", f"{name}.ext", cwd=directory)
    _openssl("req", "-x509", *ec, "-keyout", "selfsigned.key", "-out", "selfsigned.pem", "-days", "2",
             "-subj", "/CN=self", cwd=directory)
    return Material(directory)


def client_context(material: Material, cert: str | None = "client", verify: bool = True) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    if verify:
        context.load_verify_locations(material.path("ca.pem"))
    else:
        context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(material.path(f"{cert}.pem"), material.path(f"{cert}.key"))
    return context


class TlsClient:
    """One TLS connection to a SIP server: `request()` sends and returns the first reply's bytes."""

    def __init__(self, port: int, context: ssl.SSLContext, server_name: str | None = None,
                 source_port: int = 0) -> None:
        raw = socket.create_connection(("127.0.0.1", port), timeout=10,
                                       source_address=("127.0.0.1", source_port))
        self.sock = context.wrap_socket(raw, server_hostname=server_name)
        self.local_port = self.sock.getsockname()[1]
        self.parser = StreamParser()
        self.pending: list[bytes] = []

    def send(self, text: str) -> None:
        self.sock.sendall(text.replace("\n", "\r\n").encode() if "\r\n" not in text else text.encode())

    def receive(self) -> bytes:
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed by the server")
            self.pending += [m.raw for m in self.parser.feed(data)]
        return self.pending.pop(0)

    def request(self, text: str) -> bytes:
        self.send(text)
        return self.receive()

    def close(self) -> None:
        self.sock.close()


def options(port: int, call_id: str = "tls-1", local_port: int = 5999) -> str:
    return (f"OPTIONS sip:127.0.0.1:{port};transport=tls SIP/2.0\r\n"
            f"Via: SIP/2.0/TLS 127.0.0.1:{local_port};branch=z9hG4bK-{call_id}\r\n"
            f"From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: {call_id}\r\n"
            "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")


def header(reply: bytes, name: str) -> str | None:
    for line in reply.decode(errors="replace").split("\r\n")[1:]:
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


@dataclass
class Destination:
    """A TLS SIP peer: records the SNI it was sent, the client certificate's CN and what arrived."""

    material: Material
    cert: str = "server"
    port: int = 0
    received: list[bytes] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)
    client_cns: list[str | None] = field(default_factory=list)
    closed_without_data: int = 0
    answer: bool = False  # reply 200 to the request

    def start(self) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        path = self.material.path
        context.load_cert_chain(path(f"{self.cert}.pem"), path(f"{self.cert}.key"))
        context.load_verify_locations(self.material.path("ca.pem"))
        context.verify_mode = ssl.CERT_OPTIONAL
        context.sni_callback = lambda obj, name, ctx: self.server_names.append(name)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.context = context
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(raw,), daemon=True).start()

    def _read(self, raw: socket.socket) -> None:
        raw.settimeout(10)
        try:
            with self.context.wrap_socket(raw, server_side=True) as conn:
                cert = conn.getpeercert()
                subject = dict(pair for rdn in cert.get("subject", ()) for pair in rdn) if cert else {}
                self.client_cns.append(subject.get("commonName"))
                data = conn.recv(65536)
                if data:
                    self.received.append(data)
                    if self.answer:
                        conn.sendall(_ok(data))
                        conn.recv(65536)  # until the other side closes
                else:
                    self.closed_without_data += 1
        except (OSError, ssl.SSLError):
            self.closed_without_data += 1

    def wait(self, what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not (self.received if what == "data" else self.closed_without_data):
            assert time.monotonic() < deadline, f"the destination saw no {what}"
            time.sleep(0.05)

    def close(self) -> None:
        self.listener.close()


def _ok(request: bytes) -> bytes:
    """A 200 for `request`: its Via, From, To, Call-ID and CSeq lines."""
    lines = request.decode(errors="replace").split("\r\n")
    keep = [line for line in lines[1:] if line.split(":", 1)[0].strip().lower()
            in ("via", "from", "to", "call-id", "cseq", "record-route")]
    return ("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode()
