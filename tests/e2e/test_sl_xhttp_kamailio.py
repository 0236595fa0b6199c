"""sl's and xhttp's late additions beside Kamailio 5.6, the same config in both servers: $ltt,
event_route[sl:local-response] and [sl:filtered-ack], send_reply_mode() over TCP (the connection
closed or kept), sl_forward_reply() relaying a reply with a new status, and xhttp's {url.path} and
{url.querystring} on an HTTP request."""
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

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
listen=tcp:127.0.0.1:PORT
children=1
tcp_children=1
tcp_accept_no_cl=yes
auto_aliases=no
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "xhttp.so"
modparam("pv", "shvset", "ack=s:none")
modparam("pv", "shvset", "late=s:none")
request_route {
  if ($rU == "show") { sl_send_reply("200", "r: $shv(lrs) $shv(lr) / $shv(ack)"); exit; }
  if ($rU == "late") { sl_send_reply("200", "late: $shv(late)"); exit; }
  if ($rU == "ltt") { sl_send_reply("404", "$ltt(s)"); exit; }
  if ($rU == "lttx") { sl_send_reply("404", "$ltt(x)"); exit; }
  if ($rU == "mode0") { send_reply_mode("403", "Invalid user - $fU", "0"); exit; }
  if ($rU == "mode1") { send_reply_mode("403", "Invalid user - $fU", "1"); exit; }
  if ($rU == "mode2") { send_reply_mode("403", "Invalid user - $fU", "2"); exit; }
  if ($rU == "mode3") { send_reply_mode("403", "Invalid user - $fU", "3"); exit; }
  if ($rU == "fwd") { $du = "sip:127.0.0.1:UAS"; forward(); exit; }
  if ($rU == "avp") { $avp(x) = "avp x"; sl_send_reply("404", "$x"); exit; }
  if ($rU == "noavp") { sl_send_reply("404", "$nosuch y"); exit; }
  if ($rU == "lone") { sl_send_reply("404", " $rU not found"); exit; }
  if ($rU == "marker") { sl_send_reply("404", "$$ dollar"); exit; }
  if ($rU == "unset") { send_reply("404", "$hdr(X-None) x"); exit; }
  if ($rU == "strcode") { $var(c) = "404"; sl_send_reply("$var(c)", "x"); exit; }
  if (is_method("ACK")) { $shv(late) = $ci; exit; }
  sl_send_reply("486", "Busy Here");
}
reply_route {
  if (status == "408") { sl_forward_reply("404", "Not found"); drop; }
  if (status == "480") { sl_forward_reply("404"); }
  if (status == "486") { $var(r) = sl_forward_reply("504", "Bad"); if ($var(r) == -1) { drop; } }
}
event_route[sl:local-response] {
  $shv(lrs) = $rs;
  $shv(lr) = $rr + " " + $rm;
}
event_route[sl:filtered-ack] {
  $shv(ack) = $rm + " " + $ci;
}
event_route[xhttp:request] {
  xhttp_reply("200", "OK", "text/plain", "p=[$(hu{url.path})] q=[$(hu{url.querystring})]");
}
"""


@dataclass
class Server:
    name: str
    port: int
    uas: socket.socket
    proc: subprocess.Popen[bytes]
    log: Path


def request(method: str, user: str, lport: int, proto: str = "UDP", call_id: str = "",
            to_tag: str = "", port: int = 0, branch: str = "") -> bytes:
    tag = f";tag={to_tag}" if to_tag else ""
    branch = branch or f"z9hG4bK-{time.time_ns()}"
    return (f"{method} sip:{user}@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/{proto} 127.0.0.1:{lport};rport;branch={branch}\r\n"
            f"From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:{user}@127.0.0.1>{tag}\r\n"
            f"Call-ID: {call_id or f'sl-{time.time_ns()}'}\r\nCSeq: 1 {method}\r\n"
            "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()


def ask(server: Server, user: str, method: str = "OPTIONS", lport: int = 0, **kw: str) -> bytes:
    """Send a request over UDP (from `lport` if given) and return the reply (none for an ACK)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", lport))
        s.settimeout(5)
        data = request(method, user, s.getsockname()[1], port=server.port, **kw)
        s.sendto(data, ("127.0.0.1", server.port))
        if method == "ACK":
            return b""
        return s.recv(65535)


def status_line(data: bytes) -> str:
    return data.split(b"\r\n", 1)[0].decode()


def to_tag(data: bytes) -> str:
    line = next(x for x in data.split(b"\r\n") if x.lower().startswith(b"to:"))
    return line.split(b";tag=", 1)[1].decode()


def start(name: str, tmp: Path) -> Server:
    directory = tmp / name
    directory.mkdir()
    port = free_port()
    uas = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    uas.bind(("127.0.0.1", 0))
    uas.settimeout(5)
    cfg = directory / "k.cfg"
    cfg.write_text(CFG.replace("UAS", str(uas.getsockname()[1])).replace("PORT", str(port))
                   .replace("MODULES", KAMAILIO_MODULES))
    args = ["-f", str(cfg), "-DD", "-E", "-Y", str(directory)]
    cmd = [KAMAILIO, *args, "-A", "KAMAILIO"] if name == "kamailio" else kampy_cmd(*args)
    log = directory / "log"
    with open(log, "wb") as out:
        proc = start_server(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=out, stdin=subprocess.DEVNULL)
    server = Server(name, port, uas, proc, log)
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.3)
                s.sendto(request("OPTIONS", "ping", 9, port=port), ("127.0.0.1", port))
                s.recv(4096)
                return server
        except OSError:
            pass


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    tmp = tmp_path_factory.mktemp("slx")
    yield from pair(lambda name: start(name, tmp),
                    lambda server: (stop_process(server.proc), server.uas.close()))


@pytest.mark.parametrize("user", ["ltt", "lttx"])
def test_ltt_is_the_to_tag_of_the_stateless_reply_on_both(servers, user):
    for server in servers:
        reply = ask(server, user, "INVITE")
        assert status_line(reply).split(" ", 2)[2] == to_tag(reply), server.name


# sl's reason (fixup_var_pve_str_12): a pseudo-variable at its start is the reason alone, a `$` name that
# is none is an AVP, and an unset one gives default_reason
@pytest.mark.parametrize(("user", "reason"), [("avp", "avp x"), ("noavp", "Internal Server Error"),
                                              ("lone", "lone"), ("marker", "$"),
                                              ("unset", "Internal Server Error")])
def test_a_reason_starting_with_a_dollar_is_taken_as_kamailio_takes_it(servers, user, reason):
    assert [status_line(ask(server, user)) for server in servers] == [f"SIP/2.0 404 {reason}"] * 2


def test_a_code_that_is_a_pseudo_variables_string_is_default_code_on_both(servers):
    assert [status_line(ask(server, "strcode")) for server in servers] == ["SIP/2.0 500 x"] * 2


def test_local_response_and_filtered_ack_routes_run_on_both(servers):
    seen = []
    for server in servers:
        lport = free_port()
        reply = ask(server, "bob", "INVITE", lport, call_id="acked", branch="z9hG4bK-acked")
        # an ACK with another branch is not to this reply (the To-tag's suffix differs): passed on
        ask(server, "bob", "ACK", lport, call_id="acked", to_tag=to_tag(reply), branch="z9hG4bK-other")
        time.sleep(0.2)
        seen.append(status_line(ask(server, "show")))
        ask(server, "bob", "ACK", lport, call_id="acked", to_tag=to_tag(reply), branch="z9hG4bK-acked")
        time.sleep(0.2)
        seen.append(status_line(ask(server, "show")))
    # (the second "show" sees the local-response of the first one's reply)
    assert seen[2:] == seen[:2] == ["SIP/2.0 200 r: 486 Busy Here INVITE / none",
                                    "SIP/2.0 200 r: 200 r: 486 Busy Here INVITE / none OPTIONS / ACK acked"]


def test_an_ack_after_2_seconds_without_local_replies_reaches_the_script_on_both(servers):
    for server in servers:
        lport = free_port()
        reply = ask(server, "bob", "INVITE", lport, call_id="late-ack", branch="z9hG4bK-late")
        time.sleep(2.5)  # Kamailio's sl looks at ACKs for 2 s after its last local reply
        ask(server, "bob", "ACK", lport, call_id="late-ack", to_tag=to_tag(reply), branch="z9hG4bK-late")
        time.sleep(0.2)
        assert status_line(ask(server, "late")) == "SIP/2.0 200 late: late-ack", server.name


def tcp_reply(server: Server, mode: str) -> tuple[str, bool]:
    """The reply to a request over TCP, and whether the server closed the connection after it."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        lport = s.getsockname()[1]
        s.sendall(request("REGISTER", f"mode{mode}", lport, "TCP", port=server.port))
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65535)
        s.settimeout(1.0)
        try:
            closed = s.recv(1) == b""
        except TimeoutError:
            closed = False
    return status_line(data), closed


@pytest.mark.parametrize("mode", ["0", "1", "3"])
def test_send_reply_mode_keeps_the_connection_as_kamailio_does(servers, mode):
    kamailio, kampy = servers
    assert tcp_reply(kamailio, mode) == ("SIP/2.0 403 Invalid user - alice", False)
    assert tcp_reply(kampy, mode) == tcp_reply(kamailio, mode)


def test_send_reply_mode_2_closes_the_connection_as_documented(servers):
    # Kamailio 5.6.3 documents mode 2 as "close the connection after sending the response", but on
    # the wire keeps the connection of the TCP reader that sends the reply open (and answers on it):
    # kampy does what the documentation says (sl's README: "Differences")
    kamailio, kampy = servers
    assert tcp_reply(kamailio, "2") == ("SIP/2.0 403 Invalid user - alice", False)
    assert tcp_reply(kampy, "2") == ("SIP/2.0 403 Invalid user - alice", True)


def uas_answer(server: Server, code: str) -> None:
    """The UAS answers the request the server forwarded to it."""
    data, addr = server.uas.recvfrom(65535)
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    keep = [x for x in head[1:] if x.split(b":", 1)[0].strip().lower() in (b"via", b"from", b"to", b"call-id",
                                                                              b"cseq")]
    reasons = {"408": b"Request Timeout", "480": b"Temporarily Unavailable", "486": b"Busy Here"}
    reply = b"\r\n".join([b"SIP/2.0 " + code.encode() + b" " + reasons[code], *keep,
                          b"Content-Length: 0", b"", b""])
    server.uas.sendto(reply, addr)


def forwarded_replies(server: Server, code: str) -> list[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(1.5)
        s.sendto(request("INVITE", "fwd", s.getsockname()[1], port=server.port), ("127.0.0.1", server.port))
        uas_answer(server, code)
        lines = []
        try:
            while True:
                lines.append(status_line(s.recv(65535)))
        except TimeoutError:
            pass
    return lines


@pytest.mark.parametrize("code, expected", [
    ("408", ["SIP/2.0 404 Not found"]),
    ("480", ["SIP/2.0 404 Temporarily Unavailable", "SIP/2.0 480 Temporarily Unavailable"]),
    ("486", []),
])
def test_sl_forward_reply_relays_as_kamailio_does(servers, code, expected):
    kamailio, kampy = servers
    assert forwarded_replies(kamailio, code) == expected
    assert forwarded_replies(kampy, code) == expected


def http_get(server: Server, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n".encode())
        data = b""
        while b"]" not in data.rsplit(b"\r\n\r\n", 1)[-1] or not data.endswith(b"]"):
            chunk = s.recv(65535)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize("path, body", [
    ("/a/b?x=1&y=2", b"p=[/a/b] q=[x=1&y=2]"),
    ("/a/b", b"p=[/a/b] q=[]"),
    ("/a/b?", b"p=[/a/b] q=[]"),
    ("/?q", b"p=[/] q=[q]"),
])
def test_url_transformations_split_the_http_url_as_kamailio_does(servers, path, body):
    kamailio, kampy = servers
    assert http_get(kamailio, path) == body
    assert http_get(kampy, path) == body
