"""topoh on the wire: a call (INVITE, 200, ACK, BYE from the callee, 200) between two Python user
agents through a record-routing proxy with topoh (configs/topoh.cfg), run by Kamailio 5.6 and by
kampy. Neither agent sees the other's address; the dialog works both ways; and the two proxies
hide the same headers with the same encoded values (the encoding is deterministic), so Kamailio
decodes what kampy encoded and the other way round."""
from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e import dualserver
from tests.e2e.kampy_process import free_port
from tests.e2e.proxy import Msg

CFG = dualserver.CONFIGS / "topoh.cfg"
MASK_IP = "10.99.0.1"


class Agent:
    """A user agent on its own UDP port that sends raw requests and replies."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(5)
        self.port = port
        self.seen: list[Msg] = []

    def send(self, text: str, to: tuple[str, int]) -> None:
        head, _, body = text.partition("\n\n")
        lines = head.split("\n") + [f"Content-Length: {len(body)}"]
        self.sock.sendto(("\r\n".join(lines) + "\r\n\r\n" + body).encode(), to)

    def expect(self, what: str) -> Msg:
        """The next message that is not a provisional reply; `what` is its method or status."""
        while True:
            data, src = self.sock.recvfrom(65536)
            msg = Msg.parse(data, src)
            if any(m.first == msg.first and m.branch == msg.branch and m.cseq == msg.cseq for m in self.seen):
                continue  # a retransmission (a loaded machine is slow to answer)
            self.seen.append(msg)
            if msg.is_request or msg.status >= 200:
                assert (msg.method if msg.is_request else str(msg.status)) == what, msg.raw
                return msg

    def reply(self, request: Msg, status: str, extra: list[str] | None = None) -> None:
        lines = [f"SIP/2.0 {status}"]
        lines += [f"Via: {v}" for v in request.all("via")]
        lines += [f"Record-Route: {r}" for r in request.all("record-route")]
        to = request.header("to") or ""
        if "tag=" not in to:
            to += f";tag={self.name}-tag"
        lines += [f"From: {request.header('from')}", f"To: {to}", f"Call-ID: {request.call_id}",
                  f"CSeq: {request.header('cseq')}", *(extra or [])]
        self.send("\n".join(lines) + "\n\n", request.src)

    def close(self) -> None:
        self.sock.close()


@dataclass
class Call:
    invite_at_b: Msg
    ok_at_a: Msg
    ack_at_b: Msg
    bye_at_a: Msg
    ok_at_b: Msg


def uri_of(value: str) -> str:
    return re.search(r"<([^>]+)>", value).group(1)  # type: ignore[union-attr]


def call(proxy: tuple[str, int], a: Agent, b: Agent, call_id: str) -> Call:
    a.send("INVITE sip:bob@example.test SIP/2.0\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{a.port};branch=z9hG4bK-i-{call_id};rport\n"
           "From: <sip:alice@example.test>;tag=alice-tag\nTo: <sip:bob@example.test>\n"
           f"Call-ID: {call_id}\nCSeq: 1 INVITE\nMax-Forwards: 70\n"
           f"Contact: <sip:alice@127.0.0.1:{a.port}>\nX-To: 127.0.0.1:{b.port}\n\n", proxy)
    invite = b.expect("INVITE")
    b.reply(invite, "200 OK", [f"Contact: <sip:bob@127.0.0.1:{b.port}>"])
    ok = a.expect("200")
    routes = list(reversed([uri_of(r) for v in ok.all("record-route") for r in v.split(",")]))
    a.send(f"ACK {uri_of(ok.header('contact') or '')} SIP/2.0\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{a.port};branch=z9hG4bK-a-{call_id};rport\n"
           f"From: {ok.header('from')}\nTo: {ok.header('to')}\nCall-ID: {call_id}\nCSeq: 1 ACK\n"
           "Max-Forwards: 70\n" + "".join(f"Route: <{r}>\n" for r in routes) + "\n", proxy)
    ack = b.expect("ACK")
    b_routes = [uri_of(r) for v in invite.all("record-route") for r in v.split(",")]
    b.send(f"BYE {uri_of(invite.header('contact') or '')} SIP/2.0\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{b.port};branch=z9hG4bK-b-{call_id};rport\n"
           f"From: {ok.header('to')}\nTo: {invite.header('from')}\nCall-ID: {invite.call_id}\n"
           "CSeq: 1 BYE\nMax-Forwards: 70\n" + "".join(f"Route: <{r}>\n" for r in b_routes) + "\n", proxy)
    bye = a.expect("BYE")
    a.reply(bye, "200 OK")
    done = b.expect("200")
    return Call(invite, ok, ack, bye, done)


@contextmanager
def running(kind: str, workdir: Path, defines: dict[str, str | None]) -> Iterator[dualserver.Server]:
    server = dualserver.start(kind, CFG, workdir, defines)
    try:
        yield server
    finally:
        server.stop()


def calls(tmp_path: Path, defines: dict[str, str | None]) -> dict[str, tuple[Call, int, int, int]]:
    found = {}
    pa, pb = free_port(), free_port()
    for kind in ("kamailio", "kampy"):
        with running(kind, tmp_path / kind, defines) as server:
            a, b = Agent("alice", pa), Agent("bob", pb)
            try:
                found[kind] = (call(server.addr, a, b, "call-1@a"), pa, pb, server.port)
            finally:
                a.close()
                b.close()
    return found


@pytest.fixture(scope="module", params=[False, True], ids=["callid-clear", "callid-masked"])
def seen(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[bool, dict[str, tuple[Call, int, int, int]]]:
    """The call through each server, with mask_callid off or on (run once for the tests below)."""
    mask_callid: bool = request.param
    return mask_callid, calls(tmp_path_factory.mktemp("topoh"), {"MASK_CALLID": None} if mask_callid else {})


def test_a_call_through_topoh_hides_each_side_from_the_other(
        seen: tuple[bool, dict[str, tuple[Call, int, int, int]]]) -> None:
    mask_callid, found = seen
    for kind, (c, pa, pb, _) in found.items():
        # bob sees nothing of alice's address: her Via and Contact are encoded at the mask address
        for msg in (c.invite_at_b, c.ack_at_b, c.ok_at_b):
            assert f":{pa}" not in msg.raw.decode(), (kind, msg.raw)
        assert f"SIP/2.0/UDP {MASK_IP};branch=z9hG4bKsr-" in c.invite_at_b.all("via")[1], kind
        assert uri_of(c.invite_at_b.header("contact") or "").startswith(f"sip:{MASK_IP};line=sr-"), kind
        # alice sees nothing of bob's
        for msg in (c.ok_at_a, c.bye_at_a):
            assert f":{pb}" not in msg.raw.decode(), (kind, msg.raw)
        assert uri_of(c.ok_at_a.header("contact") or "").startswith(f"sip:{MASK_IP};line=sr-"), kind
        # and the dialog works: the ACK and the BYE reach the real contacts, with alice's Call-ID
        assert c.ack_at_b.ruri == f"sip:bob@127.0.0.1:{pb}", kind
        assert c.bye_at_a.ruri == f"sip:alice@127.0.0.1:{pa}", kind
        assert c.bye_at_a.call_id == "call-1@a" and c.ok_at_a.call_id == "call-1@a", kind
        assert c.invite_at_b.call_id.startswith("!!:") == mask_callid, kind
        assert "TH:" not in c.invite_at_b.raw.decode() and ";TH=" not in c.ok_at_a.raw.decode(), kind


def test_kampy_encodes_as_kamailio_does(seen: tuple[bool, dict[str, tuple[Call, int, int, int]]]) -> None:
    (kc, _, _, kport), (pc, _, _, pport) = seen[1]["kamailio"], seen[1]["kampy"]

    def shape(msg: Msg, port: int) -> list[tuple[str, str]]:
        """The headers topoh changes, the proxy's own Via and Record-Route left out."""
        keep = ("via", "record-route", "contact", "call-id", "from", "to", "cseq")
        return [(n, v) for n, v in msg.headers if n in keep and f"127.0.0.1:{port}" not in v]

    for name in ("invite_at_b", "ok_at_a", "ack_at_b", "bye_at_a", "ok_at_b"):
        assert shape(getattr(pc, name), pport) == shape(getattr(kc, name), kport), name
    assert any(MASK_IP in v for _, v in shape(pc.invite_at_b, pport))


@pytest.mark.parametrize(("encoder", "decoder"), [("kampy", "kamailio"), ("kamailio", "kampy")])
def test_one_decodes_the_contact_the_other_encoded(tmp_path: Path, encoder: str, decoder: str) -> None:
    """The callee sends its BYE to the other proxy, straight to the masked Contact it was given."""
    with running(encoder, tmp_path / encoder, {}) as first, \
            running(decoder, tmp_path / decoder, {}) as second:
        a, b = Agent("alice", free_port()), Agent("bob", free_port())
        try:
            a.send("INVITE sip:bob@example.test SIP/2.0\n"
                   f"Via: SIP/2.0/UDP 127.0.0.1:{a.port};branch=z9hG4bK-x1;rport\n"
                   "From: <sip:alice@example.test>;tag=alice-tag\nTo: <sip:bob@example.test>\n"
                   f"Call-ID: x-1@a\nCSeq: 1 INVITE\nMax-Forwards: 70\n"
                   f"Contact: <sip:alice@127.0.0.1:{a.port};transport=udp>\nX-To: 127.0.0.1:{b.port}\n\n",
                   first.addr)
            invite = b.expect("INVITE")
            masked = uri_of(invite.header("contact") or "")
            assert masked.startswith(f"sip:{MASK_IP};line=sr-")
            b.send(f"BYE {masked} SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{b.port};branch=z9hG4bK-x2;rport\n"
                   "From: <sip:bob@example.test>;tag=bob-tag\nTo: <sip:alice@example.test>;tag=alice-tag\n"
                   "Call-ID: x-1@a\nCSeq: 2 BYE\nMax-Forwards: 70\nX-Direct: yes\n\n", second.addr)
            bye = a.expect("BYE")
            assert bye.ruri == f"sip:alice@127.0.0.1:{a.port};transport=udp"
            assert f":{b.port}" not in bye.raw.decode()
            a.reply(bye, "200 OK")
            (via,) = b.expect("200").all("via")  # its own Via, decoded by the proxy it sent the BYE to
            assert via.startswith(f"SIP/2.0/UDP 127.0.0.1:{b.port};") and "branch=z9hG4bK-x2" in via
        finally:
            a.close()
            b.close()


@dataclass
class Cancelled:
    invite_at_b: Msg
    cancel_at_b: Msg
    ack_at_b: Msg
    final_at_a: Msg


def cancelled_call(proxy: tuple[str, int], a: Agent, b: Agent) -> Cancelled:
    """INVITE, 180, CANCEL from the caller; the callee answers 487, which the proxy acknowledges."""
    invite_text = ("INVITE sip:bob@example.test SIP/2.0\n"
                   f"Via: SIP/2.0/UDP 127.0.0.1:{a.port};branch=z9hG4bK-c1;rport\n"
                   "From: <sip:alice@example.test>;tag=alice-tag\nTo: <sip:bob@example.test>\n"
                   "Call-ID: cancel-1@a\nCSeq: 1 INVITE\nMax-Forwards: 70\n"
                   f"Contact: <sip:alice@127.0.0.1:{a.port}>\nX-To: 127.0.0.1:{b.port}\n\n")
    a.send(invite_text, proxy)
    invite = b.expect("INVITE")
    b.reply(invite, "180 Ringing", [f"Contact: <sip:bob@127.0.0.1:{b.port}>"])
    ringing = a.sock.recv(65536)
    assert ringing.startswith(b"SIP/2.0 1"), ringing
    a.send(invite_text.split("\n", 1)[0].replace("INVITE", "CANCEL") + "\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{a.port};branch=z9hG4bK-c1;rport\n"
           "From: <sip:alice@example.test>;tag=alice-tag\nTo: <sip:bob@example.test>\n"
           "Call-ID: cancel-1@a\nCSeq: 1 CANCEL\nMax-Forwards: 70\n\n", proxy)
    cancel = b.expect("CANCEL")
    b.reply(cancel, "200 OK")
    b.reply(invite, "487 Request Terminated")
    ack = b.expect("ACK")
    finals = {}
    while len(finals) < 2:  # the 200 for the CANCEL and the 487, in whichever order they come
        data = a.sock.recv(65536)
        msg = Msg.parse(data)
        if msg.status >= 200:
            a.seen.append(msg)
            finals[msg.status] = msg
    assert sorted(finals) == [200, 487]
    final = finals[487]
    for msg in a.seen + b.seen:  # topoh's cookies never leave the proxy
        assert b";TH=" not in msg.raw and b"\r\nTH:" not in msg.raw, msg.raw
    return Cancelled(invite, cancel, ack, final)


def test_a_cancelled_call_keeps_the_hidden_call_id_as_kamailio_does(tmp_path: Path) -> None:
    found = {}
    pa, pb = free_port(), free_port()
    for kind in ("kamailio", "kampy"):
        with running(kind, tmp_path / kind, {"MASK_CALLID": None}) as server:
            a, b = Agent("alice", pa), Agent("bob", pb)
            try:
                found[kind] = (cancelled_call(server.addr, a, b), server.port)
            finally:
                a.close()
                b.close()
    for kind, (c, _) in found.items():
        # the proxy's own CANCEL and ACK carry the Call-ID bob knows, and nothing of alice
        assert c.cancel_at_b.call_id == c.ack_at_b.call_id == c.invite_at_b.call_id != "cancel-1@a", kind
        assert f":{pa}" not in c.cancel_at_b.raw.decode() + c.ack_at_b.raw.decode(), kind
        assert c.final_at_a.call_id == "cancel-1@a", kind
    keep = ("call-id", "from", "to", "cseq", "route")
    for name in ("cancel_at_b", "ack_at_b", "final_at_a"):
        shapes = [[(n, v) for n, v in getattr(c, name).headers if n in keep] for c, _ in found.values()]
        assert shapes[0] == shapes[1], name
