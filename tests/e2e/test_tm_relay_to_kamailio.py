"""tm's t_replicate*, t_relay_to*, t_forward_nonack* beside Kamailio 5.6: the same config sends each
request to a small user agent server (the "replica") that answers with the status its R-URI user names;
what the caller gets and what the replica gets are Kamailio's (a replicated request's replies are kept
by the proxy: none reaches the caller)."""
from __future__ import annotations

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
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "ctl.so"
modparam("ctl", "binrpc", "unix:DIR/ctl.sock")
request_route {
  if (is_method("ACK")) { t_relay(); exit; }
  $var(case) = $(rU{s.select,0,-});
  if ($var(case) == "rep") {
    if (!t_replicate("sip:127.0.0.1:REPLICA")) { sl_send_reply("500", "no replica"); exit; }
    t_reply("200", "Kept");
    exit;
  }
  if ($var(case) == "repalone") { t_replicate_udp("127.0.0.1", "REPLICA"); exit; }
  if ($var(case) == "repto") { t_replicate_to("udp", "127.0.0.1:REPLICA"); t_reply("202", "Copied"); exit; }
  if ($var(case) == "repdst") {
    $du = "sip:127.0.0.1:REPLICA";
    t_replicate();
    t_reply("200", "Dst");
    exit;
  }
  if ($var(case) == "repbad") {
    if (!t_replicate("tel:+1234")) { sl_send_reply("500", "bad replica uri"); exit; }
    exit;
  }
  if ($var(case) == "relayto") { t_relay_to("udp:127.0.0.1:REPLICA"); exit; }
  if ($var(case) == "relayto100") { t_relay_to("udp:127.0.0.1:REPLICA", "0x01"); exit; }
  if ($var(case) == "relaytoflags") { $du = "sip:127.0.0.1:REPLICA"; t_relay_to("1"); exit; }
  if ($var(case) == "relaytoavp") {
    $avp(p) = "udp"; $avp(a) = "127.0.0.1:REPLICA";
    t_relay_to_avp("$avp(p)", "$avp(a)");
    exit;
  }
  if ($var(case) == "relaytoavps") {
    $avp(s:p) = "udp"; $avp(s:a) = "127.0.0.1:REPLICA";
    t_relay_to_avp("$avp(s:p)", "$avp(s:a)");
    exit;
  }
  if ($var(case) == "relaytoavpo") {
    $avp(p) = "udp"; $avp(a) = "127.0.0.1:REPLICA";
    t_relay_to_avp("$p", "$a");
    exit;
  }
  if ($var(case) == "relaytostr") { t_relay_to_avp("udp", "127.0.0.1:REPLICA"); exit; }
  if ($var(case) =~ "^drop|^keep") {
    $du = "sip:127.0.0.1:REPLICA";
    t_on_failure("DROP");
    t_relay();
    exit;
  }
  if ($var(case) == "nonack") {
    t_newtran();
    t_forward_nonack("127.0.0.1", "REPLICA");
    exit;
  }
  if ($var(case) == "nonackuri") {
    t_newtran();
    $du = "sip:127.0.0.1:REPLICA";
    t_forward_nonack_uri();
    exit;
  }
  if ($var(case) == "nonackto") {
    t_newtran();
    t_forward_nonack_to("udp", "127.0.0.1:REPLICA");
    exit;
  }
  if ($var(case) == "nonacknotran") {
    if (!t_forward_nonack_udp("127.0.0.1", "REPLICA")) { sl_send_reply("500", "no transaction"); }
    exit;
  }
  sl_send_reply("404", "Unknown case");
}
failure_route[DROP] {
  # the picked branch's failure_route runs: when an earlier branch's reply is picked again, this
  # route runs again (Kamailio's uac[picked].on_failure): a second run ends here
  if ($avp(step) == 2) { exit; }
  if ($rU =~ "^dropl" && $avp(step) == $null) {
    $avp(step) = 1;
    t_drop_replies("n");
    $rU = "dropl2-500";
    t_on_failure("DROP");
    t_relay();
    exit;
  }
  $avp(step) = 2;
  if ($rU =~ "^dropa") { t_drop_replies(); }
  if ($rU =~ "^dropn") { t_drop_replies("n"); }
  if ($rU =~ "^dropl") { t_drop_replies("l"); }
  $rU = "second-486";
  t_relay();
}
"""


def sip_request(method: str, user: str, port: int, lport: int, call: str) -> bytes:
    return (f"{method} sip:{user}@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK-{call}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:caller@127.0.0.1>;tag=c1\r\nTo: <sip:{user}@127.0.0.1>\r\n"
            f"Call-ID: {call}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n").encode()


def replica_answer(data: bytes) -> bytes:
    """The replica's reply: the status is the R-URI user's last part (`rep-486` -> 486)."""
    text = data.decode()
    head, *lines = text.split("\r\n")
    user = head.split()[1].split("@")[0].split(":")[1]
    code = int(user.rsplit("-", 1)[1]) if "-" in user else 200
    keep = [line for line in lines if line.split(":")[0].lower() in ("via", "from", "to", "call-id", "cseq")]
    keep = [line + (";tag=r1" if line.lower().startswith("to:") and code > 100 else "") for line in keep]
    return (f"SIP/2.0 {code} Replica\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode()


def drain(sock: socket.socket, wait: float) -> list[bytes]:
    got: list[bytes] = []
    sock.settimeout(wait)
    while True:
        try:
            got.append(sock.recv(65535))
        except TimeoutError:
            return got


def run_cases(server: Server, replica: socket.socket) -> dict[str, tuple[list[str], list[str]]]:
    """Send every case's request at once (one caller socket each); the replica answers each request it
    gets. Per case: (what the caller got, what the replica got): first lines, for the replica's
    requests their Via count."""
    uas: dict[str, socket.socket] = {}
    seen: dict[str, list[str]] = {user: [] for _, user in CASES}
    try:
        for method, user in CASES[:1]:  # alone first (see CASES)
            uas[user] = send(server, method, user)
            answer(replica, seen, 0.5)
        for method, user in CASES[1:]:
            uas[user] = send(server, method, user)
        answer(replica, seen, 1.0)
        # each reply once: how often a final reply is retransmitted to a caller that does not ACK
        # depends on timing
        return {user: (list(dict.fromkeys(d.split(b"\r\n")[0].decode() for d in drain(ua, 0.05))), seen[user])
                for user, ua in uas.items()}
    finally:
        for ua in uas.values():
            ua.close()


def send(server: Server, method: str, user: str) -> socket.socket:
    ua = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ua.bind(("127.0.0.1", 0))
    call = f"{user}.{server.name}.{time.time_ns()}"
    ua.sendto(sip_request(method, user, server.port, ua.getsockname()[1], call), ("127.0.0.1", server.port))
    return ua


def answer(replica: socket.socket, seen: dict[str, list[str]], quiet: float) -> None:
    """Answer what the replica gets until nothing came for `quiet` seconds."""
    replica.settimeout(quiet)
    while True:
        try:
            data, addr = replica.recvfrom(65535)
        except TimeoutError:
            return
        first = data.split(b"\r\n")[0].decode()
        call = next(line for line in data.decode().split("\r\n") if line.lower().startswith("call-id"))
        user = call.split(":", 1)[1].strip().split(".")[0]
        if first.startswith("ACK"):
            seen[user].append("ACK")
            continue
        seen[user].append(f"{first.split()[0]} vias={data.lower().count(b'via:')}")
        replica.sendto(replica_answer(data), addr)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server, socket.socket]]:
    replica = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    replica.bind(("127.0.0.1", 0))
    cfg = CFG.replace("REPLICA", str(replica.getsockname()[1]))
    try:
        with both(Path(tmp_path_factory.mktemp("tmrelayto")), cfg) as (kamailio, kampy):
            yield kamailio, kampy, replica
    finally:
        replica.close()


CASES = [
    # first: Kamailio's answer depends on the transaction of the message before
    ("MESSAGE", "nonacknotran"),
    ("REGISTER", "rep-404"),        # the replica's 404 stays with the proxy; the caller gets the 200
    ("REGISTER", "repalone-200"),   # a replicated request nobody replies to: the caller gets nothing
    ("MESSAGE", "repto-500"),
    ("OPTIONS", "repdst-486"),
    ("OPTIONS", "repbad"),
    ("INVITE", "repalone-486"),     # the 100 goes to the caller, the replica's 486 does not
    ("INVITE", "relayto-486"),
    ("INVITE", "relayto100-486"),   # flag 0x01: no 100 Trying
    ("INVITE", "relaytoflags-603"),  # a lone flags argument is lost in Kamailio 5.6: a 100 is sent
    ("MESSAGE", "relaytoavp-202"),  # "$avp(a)" is no AVP for t_protoaddr2proxy: nothing is sent
    ("MESSAGE", "relaytoavps-202"),
    ("MESSAGE", "relaytoavpo-202"),  # "$a" is
    ("MESSAGE", "relaytostr-202"),
    ("MESSAGE", "nonack-202"),
    ("OPTIONS", "nonackuri-404"),
    ("MESSAGE", "nonackto-480"),
    # failure_route adds a branch answered 486 after a 603: which one the caller gets
    ("MESSAGE", "keep-603"),        # failure_reply_mode 3: a new branch drops the replies before it
    ("MESSAGE", "dropa-603"),
    ("MESSAGE", "dropn-603"),       # none dropped: the 603 wins
    ("MESSAGE", "dropl-603"),       # 603, 500 kept, then 486 with the last step's (500) dropped: 603
]


@pytest.fixture(scope="module")
def results(servers) -> tuple[dict[str, tuple[list[str], list[str]]], dict[str, tuple[list[str], list[str]]]]:
    kamailio, kampy, replica = servers
    return run_cases(kamailio, replica), run_cases(kampy, replica)


@pytest.mark.parametrize("method, user", CASES)
def test_caller_and_replica_see_what_they_see_with_kamailio(results, method: str, user: str) -> None:
    kamailio, kampy = results
    assert kampy[user] == kamailio[user]


def test_replicated_request_reply_stays_with_the_proxy(results) -> None:
    _, kampy = results
    assert kampy["rep-404"] == (["SIP/2.0 200 Kept"], ["REGISTER vias=2"])
    assert kampy["repalone-486"] == (["SIP/2.0 100 trying -- your call is important to us"],
                                     ["INVITE vias=2", "ACK"])
    assert kampy["relayto100-486"] == (["SIP/2.0 486 Replica"], ["INVITE vias=2", "ACK"])
    assert kampy["dropn-603"][0] == ["SIP/2.0 603 Replica"]
    assert kampy["dropl-603"][0] == ["SIP/2.0 603 Replica"]
    assert kampy["dropa-603"][0] == ["SIP/2.0 486 Replica"]
