"""Selects beside Kamailio 5.6: the same config answers each request with the value of every select
in a header of its reply (`$sel(...)`), and `@...` in expressions; kampy's replies carry the same
values as Kamailio's."""
from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.beside import pair
from tests.e2e.kampy_process import REPO, free_port, start_server, stop_process
from tests.support.kamailio_cli import KAMAILIO, KAMAILIO_MODULES, kampy_cmd

SELECTS = [
    "ruri", "ruri.user", "ruri.host", "ruri.port", "ruri.type", "ruri.params", "ruri.params.transport",
    "ruri.hostport", "ruri.transport", "request_uri.user", "ruri.pwd", "dst_uri", "next_hop", "next_hop.host",
    "from", "from.uri", "from.tag", "from.name", "from.params.tag", "from.uri.user", "from.uri.host",
    "f.tag", "to", "to.tag", "to.uri", "t.uri.user", "to.name",
    "contact", "contact.uri", "contact.name", "contact.expires", "contact.q", "contact.params.expires",
    "contact.uri.port", "m.uri.host",
    "via", "via.host", "via[1].host", "via[1].port", "via[1].branch", "via[1].rport", "via[1].received",
    "via[1].transport", "via[1].name", "via[1].version", "via[2].host", "via[2].port", "via[2].branch",
    "via[3].host", "via.params.branch", "v[2].params.ttl", "via[2].i",
    "record_route", "rr.uri", "rr.uri.host", "rr.params.lr",
    "cseq", "cseq.num", "cseq.method", "event", "call_id", "max_forwards", "content_type",
    "content_length", "user_agent", "subject", "expires", "priority",
    "msg.first_line", "msg.type", "msg.len", "msg.request.method", "msg.request.uri", "msg.request.uri.user",
    "msg.request.version", "method", "version",
    "msg.header.User_Agent", "msg.header.X_Test", "msg.header.X_Test[2]", "msg.header.X_Test[-1]",
    "msg.header.Contact.nameaddr.uri", "msg.header.Contact.nameaddr.name", "msg.h.From.nameaddr.uri.user",
    "msg.header.Contact.params.expires", "msg.id", "msg.id.hex", "next_hop.src_ip",
    "msg.body.sdp.line.c", "msg.body.sdp.line.m", "msg.body.sdp.line.o=",
    "authorization[\"example.com\"].username", "authorization[\"example.com\"].username.user",
    "authorization[\"example.com\"].username.domain", "authorization[\"example.com\"].realm",
    "authorization[\"example.com\"].nonce", "authorization[\"example.com\"].uri",
    "authorization[\"example.com\"].response", "authorization[\"example.com\"].algorithm",
    "authorization[\"example.com\"].qop", "authorization[\"example.com\"].nc",
    "authorization[\"other\"].realm",
    "src.ip", "src.port", "src.ip_port", "dst.ip", "dst.port", "received.proto", "received.ip",
    "received.ip_port", "received.proto_ip_port",
    "branch.count", "branch.uri", "branch.uri[0]", "branch.uri[1].host", "branch.q", "branch.uriq[0]",
    "branch.q[1]",
    "cfg_get.my.s.uri.user", "cfg_get.my.s.nameaddr.name", "cfg_get.my.s.params.lr",
    "hf_value.contact", "hf_value.contact[1]", "hf_value.contact[2]", "hf_value.contact[-1]",
    "hf_value.contact[3]", "hf_value.contact[1].uri", "hf_value.contact.uri", "hf_value.contact[2].uri.host",
    "hf_value.contact[1].name", "hf_value.contact[2].name", "hf_value.contact[1].p.q",
    "hf_value.contact[1].param.expires", "hf_value.contact[2].p.expires", "hf_value.contact.p.q",
    "hf_value.contact[1].nameaddr.uri", "hf_value.contact[1].params.q",
    "hf_value.m[1].uri", "hf_value.x_test", "hf_value.x_test[2]", "hf_value.x_test[-1]", "hf_value.nope",
    "hf_value_exists.x_test.two", "hf_value_exists.X_Test.TWO", "hf_value_exists.x_test.four",
    "msg.header.X_P.params.b", "msg.header.X_P.params.a", "hf_value.x_p.params.a",
    "hf_value.x_p[1].params.b",
    "cfg_get.my.p.params.b", "cfg_get.my.p.params.a", "hf_value2.x_p.params.a",
    "hf_value2.authorization", "hf_value2.x_test[2]", "hf_value2.x_test[-1]", "hf_value2.contact.params.q",
]

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
children=1
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "corex.so"
loadmodule "textopsx.so"
my.s = "\\"Gw\\" <sip:gw@10.0.0.9:5090>;lr;x=1"
my.p = "a=1;b"
request_route {
  append_branch("sip:b1@10.0.0.1:5071;transport=tcp", "0.5");
  append_branch("sip:b2@10.0.0.2");
HEADERS
  if (@to.tag == "") { append_to_reply("X-Empty-Tag: yes\\r\\n"); }
  if (defined @to.tag) { append_to_reply("X-Defined-Tag: yes\\r\\n"); }
  if (@via[2].host == "10.0.0.2") { append_to_reply("X-Via2: yes\\r\\n"); }
  if (@cseq.num == 7) { append_to_reply("X-Cseq-7: yes\\r\\n"); }
  $var(sum) = @msg.len + 1;
  append_to_reply("X-Sum: $var(sum)\\r\\n");
  sl_send_reply("200", "OK");
}
"""

SDP = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    dir: Path


def quoted(text: str) -> str:
    return text.replace('"', '\\"')


def start(name: str, tmp: Path) -> Server:
    directory = tmp / name
    directory.mkdir()
    port = free_port()
    headers = "\n".join(f'  append_to_reply("X-S{i}: $sel({quoted(s)})\\r\\n");'
                        for i, s in enumerate(SELECTS))
    (directory / "k.cfg").write_text(CFG.replace("PORT", str(port)).replace("MODULES", KAMAILIO_MODULES)
                                     .replace("HEADERS", headers))
    args = ["-f", str(directory / "k.cfg"), "-DD", "-E", "-Y", str(directory)]
    cmd = [KAMAILIO, *args, "-A", "KAMAILIO"] if name == "kamailio" else kampy_cmd(*args)
    log = open(directory / "log", "wb")  # noqa: SIM115
    proc = start_server(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
    log.close()
    server = Server(name, port, proc, directory)
    deadline = time.monotonic() + 30
    while True:
        try:
            ask(server, request(server.port, 1, 12345))
            return server
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, (directory / "log").read_text()


def request(port: int, n: int, lport: int, to_tag: str = "") -> bytes:
    body = SDP.encode()
    return (f"INVITE sip:bob:pw@127.0.0.1:{port};transport=udp;user=phone SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK-sel{n};rport\r\n"
            "Via: SIP/2.0/TCP 10.0.0.2:5070;branch=z9hG4bK-two;ttl=3;i=7\r\n"
            f"From: \"Alice A\" <sip:alice@example.com>;tag=ft{n};x=y\r\n"
            f"To: <sip:bob@example.com>{to_tag}\r\n"
            f"Call-ID: sel-{n}-{time.time_ns()}\r\nCSeq: 7 INVITE\r\nMax-Forwards: 69\r\n"
            "Contact: \"A\" <sip:alice@10.0.0.1:5060;ob>;expires=30;q=0.7, <sip:a2@h>\r\n"
            "Record-Route: <sip:10.0.0.5;lr;ftag=x>\r\nEvent: presence;id=1\r\nUser-Agent: Tester/1.0\r\n"
            "X-Test: one\r\nX-Test: two\r\nX-Test: three\r\nX-P: a=1;b=2\r\n"
            "Subject: hello\r\nExpires: 300\r\n"
            "Priority: urgent\r\n"
            "Authorization: Digest username=\"alice@example.com\", realm=\"example.com\", nonce=\"abc\", "
            "uri=\"sip:bob@example.com\", response=\"0123\", algorithm=MD5, qop=auth, nc=00000001, "
            "cnonce=\"c1\"\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def ask(server: Server, data: bytes) -> dict[str, str]:
    """The X- headers of the reply, the client's port and the Call-ID (which differ by nature) masked."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(2)
        lport = s.getsockname()[1]
        data = data.replace(b"127.0.0.1:12345;", f"127.0.0.1:{lport};".encode())
        s.sendto(data, ("127.0.0.1", server.port))
        reply = s.recv(65536).decode()
    call_id = next(line for line in reply.split("\r\n") if line.startswith("Call-ID:"))[8:].strip()
    headers: dict[str, str] = {}
    for line in reply.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.startswith("X-"):
            headers[name] = value.strip().replace(str(lport), "CPORT").replace(call_id, "CALLID")
    return headers


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    tmp = tmp_path_factory.mktemp("selects")
    yield from pair(lambda name: start(name, tmp), lambda server: stop_process(server.proc))


def values(server: Server, to_tag: str = "") -> dict[str, str]:
    got = ask(server, request(server.port, 2, 12345, to_tag))
    return {(SELECTS[int(k[3:])] if k.startswith("X-S") and k[3:].isdigit() else k): v
            for k, v in got.items()}


def masked(found: dict[str, str], server: Server) -> dict[str, str]:
    """The values that differ by nature (the client's port, the server's port) as names."""
    return {k: v.replace(str(server.port), "PORT") for k, v in found.items()}


@pytest.mark.parametrize("to_tag", ["", ";tag=tt1"], ids=["no-to-tag", "to-tag"])
def test_every_select_gives_kamailios_value(servers, to_tag):
    kamailio, kampy = servers
    theirs, ours = masked(values(kamailio, to_tag), kamailio), masked(values(kampy, to_tag), kampy)
    mismatched = {k: (ours.get(k), theirs.get(k)) for k in theirs.keys() | ours.keys()
                  if ours.get(k) != theirs.get(k)}
    assert mismatched == {}
