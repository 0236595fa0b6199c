"""pv's second table on the wire, kampy beside Kamailio 5.6 running the same config
(configs/pv_more.cfg): the values of `$from.user ... $Au $Rn $ds $dir $err.* $nh $rpl $expires
$msgbuf $rcv $snd $sndto $sndfrom $xavu $sbranch $ccp`, of the 7bit, base58, fmtline and urialias
transformations and what xav[pu]_params_explode/implode, xavp_slist_explode and sbranch_*() do,
in the headers of the replies each server sends, are the same."""
from __future__ import annotations

import socket
from pathlib import Path


from tests.e2e import dualserver
from tests.e2e.dualserver import Server, Started
from tests.e2e.proxy import Msg

CFG = dualserver.CONFIGS / "pv_more.cfg"
HEADERS = ("x-v1", "x-v2", "x-v3", "x-v4", "x-v5", "x-v6", "x-v7", "x-v8", "x-v9", "x-w", "x-x", "x-b",
           "x-b2")



def _request(sport: int, name: str, extra: list[str]) -> bytes:
    lines = ["INVITE sip:bob@example.test SIP/2.0",
             f"Via: SIP/2.0/UDP 127.0.0.1:{sport};branch=z9hG4bK-{name};rport",
             '"Alice" <sip:alice@a.example>;tag=a1'.join(["From: ", ""]),
             "To: <sip:bob@example.test>", f"Call-ID: {name}@test", "CSeq: 1 INVITE", "Max-Forwards: 70",
             "Contact: <sip:alice@127.0.0.1:5070>;expires=300, <sip:alice@127.0.0.2>", "Expires: 600",
             "Diversion: <sip:x@d.example>;reason=user-busy;privacy=full;counter=2",
             *extra, "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answered(server: Server, sock: socket.socket) -> dict[str, str]:
    sport = sock.getsockname()[1]
    sock.sendto(_request(sport, "values", ["X-T: Hello world, 12345678!",
                                           "X-U: sip:10.0.0.1:5070;transport=tcp"]), server.addr)
    first = sock.recv(65536)
    msg = Msg.parse(first)
    values = {h: msg.header(h) or "" for h in HEADERS}
    sock.sendto(_request(sport, "snd", ["X-T: x", "X-U: sip:h.example"]), server.addr)
    # what was sent last, the first reply, as topoh's event route sees it: before topoh takes the
    # cookie it added to the received Via (";TH=div") out of the reply's (the length as received
    # here is compared, as the servers' Server headers differ)
    second = Msg.parse(sock.recv(65536))
    sent = (second.header("x-s") or "").split("|")
    assert sent[5] == sent[10] == str(len(first) + len(";TH=div")), sent
    values["x-s"] = "|".join(sent[:5] + sent[6:10] + sent[11:])
    values["x-o"] = second.header("x-o") or ""  # msg-outgoing of the first reply
    values["x-c"] = f"{msg.header('x-c')} then {second.header('x-c')}"
    return values


def _relayed(server: Server, sock: socket.socket, capture: socket.socket) -> str:
    """A request relayed to `capture`, answered there with a 200 that Contacts two addresses; the X-R
    header the server's onreply_route added to the relayed reply."""
    sport, cport = sock.getsockname()[1], capture.getsockname()[1]
    sock.sendto(_request(sport, "relay", [f"X-To: 127.0.0.1:{cport}"]), server.addr)
    data, _ = capture.recvfrom(65536)
    req = Msg.parse(data)
    head = [f"Via: {v}" for v in req.all("via")]
    reply = ["SIP/2.0 200 OK", *head, f"From: {req.header('from')}", f"To: {req.header('to')};tag=b1",
             f"Call-ID: {req.header('call-id')}", "CSeq: 1 INVITE",
             "Record-Route: <sip:10.0.0.9;lr>", "Contact: <sip:bob@127.0.0.1:5071>;expires=120",
             "Contact: <sip:bob@127.0.0.1:5072>;expires=60", "Content-Length: 0"]
    capture.sendto(("\r\n".join(reply) + "\r\n\r\n").encode(), server.addr)
    return Msg.parse(sock.recv(65536)).header("x-r") or ""


def test_the_second_table_reads_what_kamailio_reads(tmp_path: Path, dual_servers: Started) -> None:
    seen: dict[str, dict[str, str]] = {}
    for server in dual_servers.each(CFG, tmp_path):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as capture:
            sock.bind(("127.0.0.1", 0))
            capture.bind(("127.0.0.1", 0))
            sock.settimeout(5)
            capture.settimeout(5)
            values = _answered(server, sock)
            values["x-r"] = _relayed(server, sock, capture)
            # the ports differ between the runs: compare them as names
            seen[server.name] = {
                k: v.replace(str(server.port), "<port>").replace(str(sock.getsockname()[1]), "<sport>")
                .replace(str(capture.getsockname()[1]), "<cport>") for k, v in values.items()}
    assert seen["kampy"] == seen["kamailio"]
