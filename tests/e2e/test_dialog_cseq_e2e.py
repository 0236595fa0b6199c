"""dialog's track_cseq_updates with uac's uac_auth() on the wire, run by Kamailio 5.6 and by kampy
(configs/dialog_cseq.cfg): the callee challenges the INVITE, the proxy re-sends it with credentials
and CSeq + 1; from then on the caller's requests reach the callee one up, and their replies come
back to the caller with the caller's own CSeq. Both servers give the same CSeqs on the wire."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e import dualserver
from tests.e2e.kampy_process import free_port
from tests.e2e.proxy import Msg
from tests.e2e.test_topoh_e2e import Agent, uri_of

CFG = dualserver.CONFIGS / "dialog_cseq.cfg"
CHALLENGE = 'Proxy-Authenticate: Digest realm="up.test", nonce="n0nce"'


class CallAgent(Agent):
    def next_message(self) -> Msg:
        """The next request or final reply, retransmissions left out."""
        while True:
            data, src = self.sock.recvfrom(65536)
            msg = Msg.parse(data, src)
            if any(m.first == msg.first and m.branch == msg.branch and m.cseq == msg.cseq for m in self.seen):
                continue
            self.seen.append(msg)
            if msg.is_request or msg.status >= 200:
                return msg


def receive(agent: CallAgent, what: str) -> Msg:
    """The next `what` (a method or a status) `agent` gets; the ACK of a challenge is left out."""
    while True:
        msg = agent.next_message()
        if msg.first.startswith("ACK ") and what != "ACK":
            continue
        assert (msg.method if msg.is_request else str(msg.status)) == what, msg.raw
        return msg


@dataclass
class Call:
    challenged: Msg
    invite_at_b: Msg
    ok_at_a: Msg
    ack_at_b: Msg
    bye_at_b: Msg
    ok_at_a_for_bye: Msg


def call(proxy: tuple[str, int], a: CallAgent, b: CallAgent, call_id: str) -> Call:
    a.send("INVITE sip:bob@example.test SIP/2.0\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{a.port};branch=z9hG4bK-i-{call_id};rport\n"
           "From: <sip:alice@example.test>;tag=alice-tag\nTo: <sip:bob@example.test>\n"
           f"Call-ID: {call_id}\nCSeq: 1 INVITE\nMax-Forwards: 70\n"
           f"Contact: <sip:alice@127.0.0.1:{a.port}>\nX-To: 127.0.0.1:{b.port}\n\n", proxy)
    challenged = receive(b, "INVITE")
    b.reply(challenged, "407 Proxy Authentication Required", [CHALLENGE])
    invite = receive(b, "INVITE")
    b.reply(invite, "200 OK", [f"Contact: <sip:bob@127.0.0.1:{b.port}>"])
    ok = receive(a, "200")
    routes = list(reversed([uri_of(r) for v in ok.all("record-route") for r in v.split(",")]))
    route_lines = "".join(f"Route: <{r}>\n" for r in routes)
    target = uri_of(ok.header("contact") or "")
    a.send(f"ACK {target} SIP/2.0\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{a.port};branch=z9hG4bK-a-{call_id};rport\n"
           f"From: {ok.header('from')}\nTo: {ok.header('to')}\nCall-ID: {call_id}\nCSeq: 1 ACK\n"
           "Max-Forwards: 70\n" + route_lines + "\n", proxy)
    ack = receive(b, "ACK")
    a.send(f"BYE {target} SIP/2.0\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{a.port};branch=z9hG4bK-b-{call_id};rport\n"
           f"From: {ok.header('from')}\nTo: {ok.header('to')}\nCall-ID: {call_id}\nCSeq: 2 BYE\n"
           "Max-Forwards: 70\n" + route_lines + "\n", proxy)
    bye = receive(b, "BYE")
    b.reply(bye, "200 OK")
    return Call(challenged, invite, ok, ack, bye, receive(a, "200"))


def branch_of(msg: Msg) -> str:
    top = msg.all("via")[0]
    return top.split("branch=", 1)[1].split(";", 1)[0]


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Call]:
    """The call through each server (run once for the tests below)."""
    tmp = tmp_path_factory.mktemp("dialog-cseq")
    found = {}
    for kind in ("kamailio", "kampy"):
        server = dualserver.start(kind, CFG, tmp / kind, {})
        a, b = CallAgent("alice", free_port()), CallAgent("bob", free_port())
        try:
            found[kind] = call(server.addr, a, b, f"cseq-{kind}@a")
        finally:
            a.close()
            b.close()
            server.stop()
    return found


@pytest.fixture(params=["kamailio", "kampy"])
def one(request: pytest.FixtureRequest, seen: dict[str, Call]) -> Iterator[Call]:
    yield seen[request.param]


def test_the_invite_resent_with_credentials_goes_one_cseq_up(one: Call) -> None:
    assert one.challenged.cseq == (1, "INVITE")
    assert one.invite_at_b.cseq == (2, "INVITE")
    assert one.invite_at_b.header("proxy-authorization")
    assert branch_of(one.invite_at_b).endswith(".cs1")
    assert "P-K-CSeq" not in one.invite_at_b.raw.decode()


def test_the_answer_reaches_the_caller_with_the_callers_cseq(one: Call) -> None:
    assert one.ok_at_a.cseq == (1, "INVITE")
    assert ".cs" not in one.ok_at_a.raw.decode()


def test_the_ack_and_the_bye_of_the_caller_are_shifted_too(one: Call) -> None:
    assert one.ack_at_b.cseq == (2, "ACK")
    assert one.bye_at_b.cseq == (3, "BYE")
    assert branch_of(one.bye_at_b).endswith(".cs2")
    assert "P-K-CSeq" not in one.bye_at_b.raw.decode() + one.ack_at_b.raw.decode()


def test_the_byes_answer_reaches_the_caller_with_the_callers_cseq(one: Call) -> None:
    assert one.ok_at_a_for_bye.cseq == (2, "BYE")


def test_kampy_gives_the_cseqs_kamailio_gives(seen: dict[str, Call]) -> None:
    def cseqs(c: Call) -> list[tuple[int, str]]:
        return [c.challenged.cseq, c.invite_at_b.cseq, c.ok_at_a.cseq, c.ack_at_b.cseq, c.bye_at_b.cseq,
                c.ok_at_a_for_bye.cseq]

    assert cseqs(seen["kampy"]) == cseqs(seen["kamailio"])


@dataclass
class Canceled:
    invite_at_b: Msg
    cancel_at_b: Msg
    ok_at_a: Msg
    final_at_a: Msg


def canceled_call(proxy: tuple[str, int], a: CallAgent, b: CallAgent, call_id: str) -> Canceled:
    """The caller cancels the INVITE re-sent with credentials while the callee rings."""
    via = f"Via: SIP/2.0/UDP 127.0.0.1:{a.port};branch=z9hG4bK-i-{call_id};rport\n"
    head = (f"{via}From: <sip:alice@example.test>;tag=alice-tag\nTo: <sip:bob@example.test>\n"
            f"Call-ID: {call_id}\nMax-Forwards: 70\n")
    a.send(f"INVITE sip:bob@example.test SIP/2.0\n{head}CSeq: 1 INVITE\n"
           f"Contact: <sip:alice@127.0.0.1:{a.port}>\nX-To: 127.0.0.1:{b.port}\n\n", proxy)
    b.reply(receive(b, "INVITE"), "407 Proxy Authentication Required", [CHALLENGE])
    invite = receive(b, "INVITE")
    b.reply(invite, "180 Ringing", [f"Contact: <sip:bob@127.0.0.1:{b.port}>"])
    a.send(f"CANCEL sip:bob@example.test SIP/2.0\n{head}CSeq: 1 CANCEL\n\n", proxy)
    cancel = receive(b, "CANCEL")
    b.reply(cancel, "200 OK")
    b.reply(invite, "487 Request Terminated")
    first, second = receive_finals(a)
    return Canceled(invite, cancel, first, second)


def receive_finals(agent: CallAgent) -> tuple[Msg, Msg]:
    """The 200 of the CANCEL and the 487 of the INVITE, in either order."""
    got = sorted((agent.next_message(), agent.next_message()), key=lambda m: m.cseq[1])
    return got[0], got[1]


@pytest.fixture(scope="module")
def canceled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Canceled]:
    tmp = tmp_path_factory.mktemp("dialog-cseq-cancel")
    found = {}
    for kind in ("kamailio", "kampy"):
        server = dualserver.start(kind, CFG, tmp / kind, {})
        a, b = CallAgent("alice", free_port()), CallAgent("bob", free_port())
        try:
            found[kind] = canceled_call(server.addr, a, b, f"cancel-{kind}@a")
        finally:
            a.close()
            b.close()
            server.stop()
    return found


@pytest.mark.parametrize("kind", ["kamailio", "kampy"])
def test_the_cancel_of_the_resent_invite_is_shifted_as_the_invite(canceled: dict[str, Canceled],
                                                                    kind: str) -> None:
    c = canceled[kind]
    assert c.invite_at_b.cseq == (2, "INVITE")
    assert c.cancel_at_b.cseq == (2, "CANCEL")
    assert branch_of(c.cancel_at_b) == branch_of(c.invite_at_b)
    assert "P-K-CSeq" not in c.cancel_at_b.raw.decode()


@pytest.mark.parametrize("kind", ["kamailio", "kampy"])
def test_the_caller_gets_its_own_cseq_in_the_answers_to_its_cancel(canceled: dict[str, Canceled],
                                                                   kind: str) -> None:
    c = canceled[kind]
    assert (c.ok_at_a.status, c.ok_at_a.cseq) == (200, (1, "CANCEL"))
    assert (c.final_at_a.status, c.final_at_a.cseq) == (487, (1, "INVITE"))
