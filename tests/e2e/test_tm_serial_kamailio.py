"""tm's serial forking by q-value and its branch-failure route beside Kamailio 5.6: the same config
forks an INVITE over three user agents with different q-values (t_load_contacts, t_next_contacts
in request_route and failure_route): the first answers 486, the second 200; a branch-failure
route that sends a failed branch's request elsewhere (t_relay there); two flows of one instance
(t_next_contacts keeps the second for t_next_contact_flow in the branch-failure route); and
t_reuse_branch sending the failed branch again. What each user agent gets,
in which order, what the caller gets and what the branch-failure route saw are Kamailio's."""
from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.beside import Server, both

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
children=1
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "corex.so"
loadmodule "ctl.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
modparam("tm", "contacts_avp", "tm_contacts")
modparam("tm", "contact_flows_avp", "tm_contact_flows")
modparam("pv", "shvset", "seen=s:")
request_route {
  if (is_method("OPTIONS")) {
    append_to_reply("X-Seen: $shv(seen)\\r\\n");
    $shv(seen) = "";
    sl_send_reply("200", "Seen");
    exit;
  }
  if (is_method("ACK")) { t_relay(); exit; }
  if ($rU == "serial") {
    $ru = "sip:ua3@127.0.0.1:UA3";
    append_branch("sip:ua1@127.0.0.1:UA1", "1.0");
    append_branch("sip:ua2@127.0.0.1:UA2", "0.5");
    t_load_contacts();
    t_next_contacts();
    t_on_failure("NEXT");
    t_on_branch_failure("BF");
    t_relay();
    exit;
  }
  if ($rU == "retry") {
    $ru = "sip:ua1@127.0.0.1:UA1";
    t_on_branch_failure("RETRY");
    t_relay();
    exit;
  }
  if ($rU == "flows") {
    $xavp(tm_contacts=>uri) = "sip:flow2@127.0.0.1:UA2";
    $xavp(tm_contacts[0]=>instance) = "<urn:uuid:00000000-0000-0000-0000-000000000001>";
    $xavp(tm_contacts[0]=>flags) = 0;
    $xavp(tm_contacts[0]=>q_flag) = 4;
    $xavp(tm_contacts=>uri) = "sip:flow1@127.0.0.1:UA1";
    $xavp(tm_contacts[0]=>instance) = "<urn:uuid:00000000-0000-0000-0000-000000000001>";
    $xavp(tm_contacts[0]=>flags) = 0;
    $xavp(tm_contacts[0]=>q_flag) = 0;
    t_next_contacts();
    t_on_branch_failure("FLOW");
    t_relay();
    exit;
  }
  if ($rU == "reuse") {
    $ru = "sip:ua3@127.0.0.1:UA3";
    t_on_branch_failure("REUSE");
    t_relay();
    exit;
  }
  sl_send_reply("404", "Unknown case");
}
event_route[tm:branch-failure:FLOW] {
  $var(r) = t_next_contact_flow();
  $shv(seen) = $shv(seen) + "[FLOW " + $T_reply_code + " " + $T_branch_idx + " " + $var(r) + "]";
  if ($var(r) == 1) { t_relay(); }
}
event_route[tm:branch-failure:REUSE] {
  $shv(seen) = $shv(seen) + "[REUSE " + $T_reply_code + " " + $T_branch_idx + "]";
  t_reuse_branch();
  t_relay();
}
failure_route[NEXT] {
  $shv(seen) = $shv(seen) + "[F " + $T_reply_code + "]";
  if (!t_next_contacts()) { exit; }
  t_on_failure("NEXT");
  t_on_branch_failure("BF");
  t_relay();
}
event_route[tm:branch-failure:BF] {
  $shv(seen) = $shv(seen) + "[BF " + $T_reply_code + " " + $T_branch_idx + " " + $T_rpl($rr) + "]";
}
event_route[tm:branch-failure:RETRY] {
  $shv(seen) = $shv(seen) + "[RETRY " + $T_reply_code + " " + $T_branch_idx + "]";
  if (t_check_status("486")) {
    $ru = "sip:ua2@127.0.0.1:UA2";
    t_relay();
  }
}
"""

CASES = ("serial", "retry", "flows", "reuse")

# each user agent's answer to an INVITE
ANSWERS = {"ua1": "486 Busy Here", "ua2": "200 OK", "ua3": "603 Decline"}


def reply_to(request: str, status: str, tag: str) -> bytes:
    lines = request.split("\r\n")
    keep = [line for line in lines if line.split(":")[0].lower() in ("via", "from", "to", "call-id", "cseq")]
    keep = [f"{line};tag={tag}" if line.lower().startswith("to:") else line for line in keep]
    return (f"SIP/2.0 {status}\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode()


def invite(user: str, port: int, lport: int) -> bytes:
    call = f"{user}-{time.time_ns()}"
    return (f"INVITE sip:{user}@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK-{call}\r\n"
            "From: <sip:caller@example.com>;tag=ct\r\nTo: <sip:callee@example.com>\r\n"
            f"Call-ID: {call}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
            "Contact: <sip:caller@127.0.0.1>\r\nContent-Length: 0\r\n\r\n").encode()


def call(server: Server, uas: dict[str, socket.socket], user: str) -> tuple[list[str], list[str]]:
    """One INVITE to `user`: (what the user agents get, in arrival order, each line "uaN METHOD
    R-URI"; the first lines the caller gets, once each). Runs until nothing came for 0.3 s after the
    caller's final reply (8 s at most)."""
    got: list[str] = []
    caller_got: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as caller:
        caller.bind(("127.0.0.1", 0))
        caller.sendto(invite(user, server.port, caller.getsockname()[1]), ("127.0.0.1", server.port))
        names = {s: name for name, s in uas.items()}
        deadline = time.monotonic() + 8
        quiet_after = None
        while time.monotonic() < deadline:
            wait = 0.5 if quiet_after is None else max(0.0, quiet_after - time.monotonic())
            ready, _, _ = select.select([caller, *uas.values()], [], [], wait)
            if not ready:
                if quiet_after is not None:
                    break
                continue
            for sock in ready:
                data, peer = sock.recvfrom(65536)
                text = data.decode()
                first = text.split("\r\n", 1)[0]
                if sock is caller:
                    if first not in caller_got:
                        caller_got.append(first)
                    if not first.startswith("SIP/2.0 1"):
                        quiet_after = time.monotonic() + 0.3
                    continue
                name = names[sock]
                method, ruri = first.split()[:2]
                got.append(f"{name} {method} {ruri}")
                if method == "INVITE":
                    sock.sendto(reply_to(text, ANSWERS[name], name), peer)
    return got, caller_got


def seen(server: Server) -> str:
    """What the routes noted ($shv(seen)), read and cleared with an OPTIONS."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        s.sendto(b"OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
                 b"Via: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-seen;rport\r\n"
                 b"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: seen\r\nCSeq: 1 OPTIONS\r\n"
                 b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", ("127.0.0.1", server.port))
        reply = s.recv(65536).decode()
    lines = reply.split("\r\n")
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("X-Seen:")), "")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, object]]]:
    uas = {}
    for name in ANSWERS:
        uas[name] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        uas[name].bind(("127.0.0.1", 0))
    cfg = CFG
    for name, sock in uas.items():
        cfg = cfg.replace(name.upper(), str(sock.getsockname()[1]))
    ports = {str(sock.getsockname()[1]): name.upper() for name, sock in uas.items()}
    out: dict[str, dict[str, object]] = {}
    try:
        with both(Path(tmp_path_factory.mktemp("tmserial")), cfg) as servers:
            for server in servers:
                found: dict[str, object] = {}
                for case in CASES:
                    got, caller_got = call(server, uas, case)
                    found[case] = (unport(got, ports), caller_got, seen(server))
                out[server.name] = found
        yield out
    finally:
        for sock in uas.values():
            sock.close()


def unport(lines: list[str], ports: dict[str, str]) -> list[str]:
    out = []
    for line in lines:
        for port, name in ports.items():
            line = line.replace(port, name)
        out.append(line)
    return out


@pytest.mark.parametrize("case", CASES)
def test_user_agents_caller_and_branch_failure_route_see_what_kamailio_shows(results, case: str) -> None:
    assert results["kampy"][case] == results["kamailio"][case]


def test_serial_forking_goes_by_q_and_stops_at_the_200(results) -> None:
    got, caller_got, noted = results["kampy"]["serial"]
    assert got == ["ua1 INVITE sip:ua1@127.0.0.1:UA1", "ua1 ACK sip:ua1@127.0.0.1:UA1",
                   "ua2 INVITE sip:ua2@127.0.0.1:UA2"]
    assert caller_got[-1] == "SIP/2.0 200 OK"
    assert noted == "[BF 486 0 Busy Here][F 486]"


def test_branch_failure_route_sends_the_failed_call_elsewhere(results) -> None:
    got, caller_got, noted = results["kampy"]["retry"]
    assert got == ["ua1 INVITE sip:ua1@127.0.0.1:UA1", "ua1 ACK sip:ua1@127.0.0.1:UA1",
                   "ua2 INVITE sip:ua2@127.0.0.1:UA2"]
    assert caller_got[-1] == "SIP/2.0 200 OK"
    assert noted == "[RETRY 486 0]"



def test_the_next_flow_of_the_failed_instance_is_tried(results) -> None:
    got, caller_got, noted = results["kampy"]["flows"]
    assert got == ["ua1 INVITE sip:flow1@127.0.0.1:UA1", "ua1 ACK sip:flow1@127.0.0.1:UA1",
                   "ua2 INVITE sip:flow2@127.0.0.1:UA2"]
    assert caller_got[-1] == "SIP/2.0 200 OK"
    assert noted == "[FLOW 486 0 1]"


def test_t_reuse_branch_sends_the_failed_branch_once_more(results) -> None:
    got, caller_got, noted = results["kampy"]["reuse"]
    assert got == ["ua3 INVITE sip:ua3@127.0.0.1:UA3", "ua3 ACK sip:ua3@127.0.0.1:UA3"] * 2
    assert caller_got[-1] == "SIP/2.0 603 Decline"
    assert noted == "[REUSE 603 0]"
