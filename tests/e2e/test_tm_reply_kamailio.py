"""tm's reply, CANCEL and blocklist settings beside Kamailio 5.6: the same config relays to a small
callee; the Reason (and ac_extra_hdrs) headers of the CANCELs and ACKs it gets, the request
tm:local-request changed, what tm:local-response saw, which stray replies on_sl_reply lets through,
a local request retried by failure_route (enable_uac_fr), a 2xx after the final reply, a redirect's
Contact (rich_redirect), aggregated challenges, what a 503 with Retry-After does to the next
request to its source, the failure routes armed once the transaction exists and the To of a CANCEL
after msg_iflag_set("USE_UAC_TO") are Kamailio's."""
from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.beside import Server, both
from tests.e2e.sip import reply_to

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
children=1
use_dst_blocklist=1
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "corex.so"
loadmodule "kex.so"
loadmodule "ctl.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
modparam("pv", "shvset", "n=i:0")
modparam("tm", "blst_503", 1)
modparam("tm", "on_sl_reply", "stray")
modparam("tm", "ac_extra_hdrs", "x-keep-")
modparam("tm", "enable_uac_fr", 1)
modparam("tm", "rich_redirect", 1)
request_route {
  if (is_method("ACK|CANCEL")) { t_relay(); exit; }
  if ($rU == "uac" || $rU == "uacfr") {
    $var(to) = "sip:local@127.0.0.1:CALLEE";
    if ($rU == "uacfr") { $var(to) = "sip:retry@127.0.0.1:CALLEE"; }
    t_uac_send("MESSAGE", "$var(to)", "", "",
      "From: <sip:proxy@127.0.0.1>;tag=p1\\r\\nTo: <sip:local@127.0.0.1>\\r\\n"
      "Content-Type: text/plain\\r\\n", "hi");
    sl_send_reply("200", "Sent");
    exit;
  }
  if ($rU == "busy") { t_newtran(); t_reply("486", "Busy Here"); exit; }
  if ($rU == "redir") {
    $ru = "sip:b1@127.0.0.1:5080"; setbflag(3);
    append_branch("sip:b2@127.0.0.1", "0.5");  # with the flags set so far
    t_newtran(); t_reply("302", "Moved");
    exit;
  }
  if ($rU == "count") { sl_send_reply("200", "n=$shv(n) $shv(code) $shv(seen)"); exit; }
  if ($rU == "noreason") { t_set_no_e2e_cancel_reason(1); }
  if ($rU == "fork" || $rU == "auth") { append_branch("sip:$rU-2@127.0.0.1:CALLEE"); }
  if ($rU == "blst") { $du = "sip:127.0.0.1:BLOCKED"; }
  if ($rU == "late") { t_on_reply("LATE"); }
  if ($rU == "uacto" || $rU == "uacfrom") {
    remove_hf("To"); append_hf("To: <sip:changed@127.0.0.1>\\r\\n");
    if ($rU == "uacto") { msg_iflag_set("USE_UAC_TO"); } else { msg_iflag_set("USE_UAC_FROM"); }
  }
  if ($rU == "varint") {
    $var(s) = "404";
    if (t_set_fr("$var(s)")) { $var(fr) = "set"; } else { $var(fr) = "refused"; }
    t_newtran(); t_reply("$var(s)", "$var(fr)"); exit;
  }
  if ($rU == "armlate") { t_relay(); t_on_failure("ARMED"); exit; }
  if ($rU == "armbranch") { t_on_branch("ARMB"); }
  if ($rU == "armreply") { t_on_reply("ARMR"); }
  if ($rU == "replylate") { t_relay(); t_on_reply("ARMR"); exit; }
  t_relay();
}
branch_route[ARMB] { t_on_failure("ARMED"); }
onreply_route[ARMR] { t_on_failure("ARMED"); }
failure_route[ARMED] { t_reply("599", "Armed"); }
onreply_route[stray] { if ($rs == 299) { drop; } }
onreply_route[LATE] { if ($rs == 183) { t_reply("486", "Busy Here"); } }
event_route[tm:local-request] {
  append_hf("X-Local: $rm to $ru\\r\\n");
  if ($rU == "retry") { t_on_failure("RETRY"); }
}
failure_route[RETRY] { $rU = "retried"; t_relay(); }
event_route[tm:local-response] { $shv(n) = $shv(n) + 1; $shv(code) = $rs; $shv(seen) = $rr; }
"""
REASON = 'Reason: Q.850;cause=16;text="Normal call clearing"\r\n'


def udp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def port_of(sock: socket.socket) -> int:
    return sock.getsockname()[1]


def request(method: str, ruri: str, caller: socket.socket, call: str, *, branch: str = "z9hG4bK-c1",
            extra: str = "") -> bytes:
    return (f"{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port_of(caller)};branch={branch}\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:caller@127.0.0.1>;tag=c1\r\nTo: <{ruri}>\r\nCall-ID: {call}\r\n"
            f"CSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n").encode()


def headers(data: bytes, name: str) -> list[str]:
    lines = data.decode().split("\r\n\r\n")[0].split("\r\n")[1:]
    return [line.split(":", 1)[1].strip() for line in lines if line.split(":", 1)[0].strip().lower() == name]


def answer(data: bytes, code: int, reason: str, *, tag: str = "u1", extra: str = "") -> bytes:
    """The callee's reply to `data`: its Vias, From, To with a tag, Call-ID, CSeq."""
    return reply_to(data.decode(), code, reason, tag, extra).encode()


def receive(sock: socket.socket, method: str, timeout: float = 3.0) -> tuple[bytes, tuple[str, int]]:
    """The next request `method` (or reply, method "SIP/2.0") `sock` gets, skipping the rest."""
    deadline = time.monotonic() + timeout
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        data, addr = sock.recvfrom(65535)
        if data.startswith(method.encode() + b" "):
            return data, addr


def first_line(data: bytes) -> str:
    return data.split(b"\r\n")[0].decode()


def lines_until(sock: socket.socket, last: str, timeout: float = 3.0) -> list[str]:
    """The first lines of the replies `sock` gets up to the first one starting with `last`, once each
    (a retransmission may come meanwhile)."""
    got: list[str] = []
    while not got or not got[-1].startswith(last):
        got.append(first_line(receive(sock, "SIP/2.0", timeout)[0]))
    return list(dict.fromkeys(got))


def first_lines(sock: socket.socket, wait: float) -> list[str]:
    got: list[str] = []
    sock.settimeout(wait)
    while True:
        try:
            got.append(first_line(sock.recv(65535)))
        except TimeoutError:
            return list(dict.fromkeys(got))


class Peers:
    """The callee and the blocklisted callee, shared by the scenarios."""

    def __init__(self) -> None:
        self.callee, self.blocked = udp(), udp()

    def close(self) -> None:
        self.callee.close()
        self.blocked.close()

    def ruri(self, user: str) -> str:
        return f"sip:{user}@127.0.0.1:{port_of(self.callee)}"


@dataclass
class Run:
    """One scenario against one server, with a caller of its own."""

    server: Server
    peers: Peers
    caller: socket.socket

    def call_id(self, name: str) -> str:
        return f"{name}-{self.server.name}-{time.time_ns()}"

    def send(self, method: str, ruri: str, call: str, **options: str) -> bytes:
        """The caller sends a request to the server: the request sent."""
        data = request(method, ruri, self.caller, call, **options)
        self.caller.sendto(data, ("127.0.0.1", self.server.port))
        return data

    def reply(self) -> bytes:
        """The next reply the caller gets."""
        return receive(self.caller, "SIP/2.0")[0]

    def at_callee(self, method: str) -> tuple[bytes, tuple[str, int]]:
        return receive(self.peers.callee, method)

    def answer(self, data: bytes, code: int, reason: str, addr: tuple[str, int], **options: str) -> None:
        """The callee answers `data` (its reply goes to `addr`)."""
        self.peers.callee.sendto(answer(data, code, reason, **options), addr)

    def named(self, text: str) -> str:
        """`text` with the callee's port written CALLEE."""
        return text.replace(str(port_of(self.peers.callee)), "CALLEE")


def ringing_invite(run: Run, user: str, call: str) -> list[bytes]:
    """An INVITE relayed to the callee, each branch answered 180: the INVITEs received."""
    run.send("INVITE", run.peers.ruri(user), call, extra="X-Keep-A: 1\r\nX-Other: 2\r\n")
    invites = []
    for n in range(2 if user == "fork" else 1):
        invite, addr = run.at_callee("INVITE")
        run.answer(invite, 180, "Ringing", addr, tag=f"u{n}")
        invites.append(invite)
    return invites


def end_cancelled(run: Run, invites: list[bytes], count: int) -> list[list[str]]:
    """Take `count` CANCELs: reply 200 to each and 487 to its INVITE; their Reason headers, and the
    X-Keep-A (ac_extra_hdrs) of each CANCEL and of the ACK of the 487."""
    seen = []
    for _ in range(count):
        cancel, addr = run.at_callee("CANCEL")
        # tm:local-request runs for t_uac's requests only, not for a CANCEL or an ACK (no X-Local)
        seen.append(headers(cancel, "reason") + headers(cancel, "x-keep-a") + headers(cancel, "x-local"))
        run.answer(cancel, 200, "OK", addr)
        branch = headers(cancel, "via")[0]
        invite = next(i for i in invites if headers(i, "via")[0] == branch)
        run.answer(invite, 487, "Request Terminated", addr)
        ack, _ = run.at_callee("ACK")
        seen.append(headers(ack, "x-keep-a") + headers(ack, "x-other") + headers(ack, "x-local"))
    return seen


def e2e_cancel(user: str) -> Callable[[Run], object]:
    def cancelled(run: Run) -> object:
        call = run.call_id(user)
        invites = ringing_invite(run, user, call)
        run.send("CANCEL", run.peers.ruri(user), call, extra=REASON)
        return end_cancelled(run, invites, len(invites))
    return cancelled


def fork_answered(run: Run) -> object:
    invites = ringing_invite(run, "fork", run.call_id("fork"))
    run.answer(invites[0], 200, "OK", ("127.0.0.1", run.server.port), tag="u0")
    return end_cancelled(run, invites[1:], 1)


def local_message(run: Run, user: str) -> tuple[bytes, tuple[str, int]]:
    """The MESSAGE tm sends itself (t_uac_send) when the caller's OPTIONS asks for `user`."""
    run.send("OPTIONS", f"sip:{user}@127.0.0.1", run.call_id(user))
    return run.at_callee("MESSAGE")


def local_request(run: Run) -> object:
    message, addr = local_message(run, "uac")
    run.answer(message, 200, "OK", addr)
    return run.named(first_line(message)), [run.named(h) for h in headers(message, "x-local")]


def uac_failure_route(run: Run) -> object:
    """enable_uac_fr: the failure_route set in tm:local-request retries the MESSAGE tm sent."""
    message, addr = local_message(run, "uacfr")
    run.answer(message, 486, "Busy Here", addr)
    retried, addr = run.at_callee("MESSAGE")
    run.answer(retried, 200, "OK", addr)
    return (run.named(first_line(retried)), len(headers(retried, "via")),
            headers(retried, "x-local") == headers(message, "x-local"))


def late_2xx(run: Run) -> object:
    """A 2xx after the final reply (reply_relay_mode 1): relayed, not the transaction's reply."""
    invite_req = run.send("INVITE", run.peers.ruri("late"), run.call_id("late"))
    invite, addr = run.at_callee("INVITE")
    run.answer(invite, 183, "Progress", addr)
    cancel, _ = run.at_callee("CANCEL")
    run.answer(cancel, 200, "OK", addr)
    run.answer(invite, 200, "OK", addr)
    got = lines_until(run.caller, "SIP/2.0 200")
    run.caller.sendto(invite_req, ("127.0.0.1", run.server.port))  # a retransmission
    return got, lines_until(run.caller, "SIP/2.0 ")[:1]


def redirect(run: Run) -> object:
    run.send("INVITE", "sip:redir@127.0.0.1", run.call_id("redir"))
    reply = run.reply()
    return first_line(reply), headers(reply, "contact")


def challenges(run: Run) -> object:
    """Two branches challenge (401 and 407): the final reply aggregates their challenges."""
    run.send("INVITE", run.peers.ruri("auth"), run.call_id("auth"))
    for _ in range(2):
        invite, addr = run.at_callee("INVITE")
        if b"auth-2@" in invite.split(b"\r\n")[0]:
            run.answer(invite, 407, "Proxy Authentication Required", addr, tag="u2",
                       extra='Proxy-Authenticate: Digest realm="two", nonce="n2"\r\n')
        else:
            run.answer(invite, 401, "Unauthorized", addr, tag="u1",
                       extra='WWW-Authenticate: Digest realm="one", nonce="n1"\r\n')
    final = run.reply()
    while final.startswith(b"SIP/2.0 1"):
        final = run.reply()
    for _ in range(2):
        run.at_callee("ACK")
    return first_line(final), headers(final, "www-authenticate"), headers(final, "proxy-authenticate")


def local_response(run: Run) -> object:
    """The first reply tm sends itself (Kamailio 5.6.3 runs the route for the first one of each
    process only: a bug of its t_reply.c, kampy runs it for each; see the module's README)."""
    run.send("MESSAGE", "sip:busy@127.0.0.1", run.call_id("busy"), branch="z9hG4bK-b")
    run.reply()
    run.send("OPTIONS", "sip:count@127.0.0.1", run.call_id("count"), branch="z9hG4bK-n")
    return first_line(run.reply())


def stray_replies(run: Run) -> object:
    for code in (299, 298):
        reply = (f"SIP/2.0 {code} Stray\r\n"
                 f"Via: SIP/2.0/UDP 127.0.0.1:{run.server.port};branch=z9hG4bK-stray{code}\r\n"
                 f"Via: SIP/2.0/UDP 127.0.0.1:{port_of(run.caller)};branch=z9hG4bK-c{code}\r\n"
                 "From: <sip:a@127.0.0.1>;tag=a1\r\nTo: <sip:b@127.0.0.1>;tag=b1\r\n"
                 f"Call-ID: stray{code}-{time.time_ns()}\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n")
        run.peers.callee.sendto(reply.encode(), ("127.0.0.1", run.server.port))
    return lines_until(run.caller, "SIP/2.0 298")  # the 299 was sent first: relayed, it came before


def blocklisted_503(run: Run) -> object:
    got = []
    for n in range(2):
        run.send("MESSAGE", "sip:blst@127.0.0.1", run.call_id(f"blst{n}"), branch=f"z9hG4bK-l{n}")
        if n == 0:
            message, addr = receive(run.peers.blocked, "MESSAGE")
            run.peers.blocked.sendto(answer(message, 503, "Overloaded", extra="Retry-After: 30\r\n"), addr)
        got.append(first_line(run.reply()))
    got += first_lines(run.peers.blocked, 0.3)  # the second MESSAGE never reaches it
    return got


def uac_flags(run: Run) -> object:
    """The To of the CANCEL of an INVITE whose To the script changed: the one sent with USE_UAC_TO
    (msg_iflag_set(), as uac_replace_to() sets it), the one received with USE_UAC_FROM alone."""
    got = {}
    for user in ("uacto", "uacfrom"):
        call = run.call_id(user)
        invites = ringing_invite(run, user, call)
        run.send("CANCEL", run.peers.ruri(user), call)
        cancel, addr = run.at_callee("CANCEL")
        run.answer(cancel, 200, "OK", addr)
        run.answer(invites[0], 487, "Request Terminated", addr)
        run.at_callee("ACK")
        got[user] = run.named(headers(cancel, "to")[0])
    return got


def var_int(run: Run) -> object:
    """A pseudo-variable holding the string "404" where tm wants an integer (fixup_var_int_12): no
    integer, so t_set_fr() fails and t_reply() answers its default_code."""
    run.send("MESSAGE", "sip:varint@127.0.0.1", run.call_id("varint"), branch="z9hG4bK-varint")
    return first_line(run.reply())


def armed_late(run: Run) -> object:
    """What the caller gets for the callee's 486 when t_on_failure() runs once the transaction exists:
    Kamailio 5.6 copies the transaction's failure and reply routes into a branch when it is made
    (uac[].on_failure), so only branch_route's arms the branch; after t_relay() and in onreply_route it
    comes too late for the branch already sent, as t_on_reply() after t_relay()."""
    got = {}
    for user in ("armlate", "armbranch", "armreply", "replylate"):
        run.send("MESSAGE", run.peers.ruri(user), run.call_id(user), branch=f"z9hG4bK-{user}")
        message, addr = run.at_callee("MESSAGE")
        run.answer(message, 486, "Busy Here", addr)
        got[user] = first_line(run.reply())
    return got


SCENARIOS: dict[str, Callable[[Run], object]] = {
    "local-response-route": local_response,  # first: before any other reply of tm's own
    "e2e-cancel-reason": e2e_cancel("cancel"),
    "t_set_no_e2e_cancel_reason": e2e_cancel("noreason"),
    "local-cancel-reason": fork_answered,
    "local-request-route": local_request,
    "on_sl_reply": stray_replies,
    "enable_uac_fr": uac_failure_route,
    "reply_relay_mode": late_2xx,
    "rich_redirect": redirect,
    "aggregate_challenges": challenges,
    "blst_503": blocklisted_503,
    "t_on_failure_late": armed_late,
    "uac_flags": uac_flags,
    "var_int": var_int,
}


def run_all(server: Server, peers: Peers) -> dict[str, object]:
    """What each scenario saw, run in turn, each with a fresh caller."""
    seen = {}
    for name, scenario in SCENARIOS.items():
        with udp() as caller:
            seen[name] = scenario(Run(server, peers, caller))
    return seen


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, object], ...]]:
    peers = Peers()
    cfg = CFG.replace("CALLEE", str(port_of(peers.callee))).replace("BLOCKED", str(port_of(peers.blocked)))
    try:
        with both(Path(tmp_path_factory.mktemp("tmreply")), cfg) as servers:
            yield tuple(run_all(server, peers) for server in servers)
    finally:
        peers.close()


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_kampy_does_what_kamailio_does(results, scenario: str) -> None:  # type: ignore[no-untyped-def]
    kamailio, kampy = results
    assert kampy[scenario] == kamailio[scenario]


def test_what_the_callee_and_caller_see(results) -> None:  # type: ignore[no-untyped-def]
    _, kampy = results
    assert kampy["e2e-cancel-reason"] == [['Q.850;cause=16;text="Normal call clearing"', "1"], ["1"]]
    assert kampy["t_set_no_e2e_cancel_reason"] == [["1"], ["1"]]
    assert kampy["local-cancel-reason"] == [['SIP;cause=200;text="Call completed elsewhere"', "1"], ["1"]]
    assert kampy["on_sl_reply"] == ["SIP/2.0 298 Stray"]
    assert kampy["uac_flags"] == {"uacto": "<sip:changed@127.0.0.1>",
                                  "uacfrom": "<sip:uacfrom@127.0.0.1:CALLEE>"}
    assert kampy["var_int"] == "SIP/2.0 500 refused"
    busy = "SIP/2.0 486 Busy Here"
    assert kampy["t_on_failure_late"] == {"armlate": busy, "armbranch": "SIP/2.0 599 Armed",
                                          "armreply": busy, "replylate": busy}
    assert kampy["rich_redirect"] == ("SIP/2.0 302 Moved",
                                      ["<sip:b1@127.0.0.1:5080>;flags=8, <sip:b2@127.0.0.1>;q=0.5;flags=8"])
    assert kampy["aggregate_challenges"] == ("SIP/2.0 401 Unauthorized", ['Digest realm="one", nonce="n1"'],
                                             ['Digest realm="two", nonce="n2"'])
    assert kampy["reply_relay_mode"] == (["SIP/2.0 100 trying -- your call is important to us",
                                          "SIP/2.0 486 Busy Here", "SIP/2.0 200 OK"],
                                         ["SIP/2.0 486 Busy Here"])  # the 183 came after the 486
    assert kampy["enable_uac_fr"] == ("MESSAGE sip:retried@127.0.0.1:CALLEE SIP/2.0", 2, True)
    assert kampy["local-response-route"] == "SIP/2.0 200 n=1 486 Busy Here"
    assert kampy["local-request-route"] == ("MESSAGE sip:local@127.0.0.1:CALLEE SIP/2.0",
                                            ["MESSAGE to sip:local@127.0.0.1:CALLEE"])
    assert kampy["blst_503"] == ["SIP/2.0 500 Service Unavailable",
                                 "SIP/2.0 477 Unfortunately error on sending to next hop occurred (477/TM)"]
