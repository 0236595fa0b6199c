"""t_suspend()/t_continue() on the wire, kampy beside Kamailio 5.6 running the same config
(configs/tmx_suspend.cfg, two workers and an rtimer process): a MESSAGE suspended and continued
from a second request (relayed with the header added before the suspension), an INVITE continued
from the rtimer process, one nobody continues (100 Trying, then 408 when fr_timer runs out), one
continued by a route that answers nothing (500), one CANCELed while suspended, a continue of an
unknown id and a second one, a 180 suspended in onreply_route and relayed once continued, an
INVITE suspended in failure_route and continued with a new branch; what the user agents see must
be the same."""
from __future__ import annotations

import time
from pathlib import Path

from tests.e2e import dualserver
from tests.e2e.dualserver import Server, Started, differences
from tests.e2e.kampy_process import free_port
from tests.e2e.sip import UDPPeer, header, reply_to

CFG = dualserver.CONFIGS / "tmx_suspend.cfg"


class UA(UDPPeer):
    """A user agent on a UDP port of the test; what it receives is kept by Call-ID."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.inbox: list[str] = []

    def expect(self, call_id: str, timeout: float = 5, first: str = "") -> str | None:
        """The next message of `call_id` (starting with `first`) within `timeout`, else None."""
        deadline = time.monotonic() + timeout
        while True:
            for msg in self.inbox:
                if header(msg, "Call-ID") == call_id and msg.startswith(first):
                    self.inbox.remove(msg)
                    return msg
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                self.inbox.append(self.sock.recv(65536).decode())
            except TimeoutError:
                return None


def request(method: str, call_id: str, uac: UA, server: Server, extra: str = "", cseq: int = 1,
            branch: str = "") -> str:
    via_branch = f"z9hG4bK-{branch or call_id}-{server.name}"
    return (f"{method} sip:x@{server.host}:{server.port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{uac.port};branch={via_branch};rport\r\n"
            f"From: <sip:a@example.test>;tag=a-{call_id}\r\nTo: <sip:x@example.test>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n"
            f"Contact: <sip:a@127.0.0.1:{uac.port}>\r\n{extra}Content-Length: 0\r\n\r\n")


def ack(call_id: str, uac: UA, server: Server, final: str) -> str:
    to = header(final, "To")
    return request("ACK", call_id, uac, server).replace("To: <sip:x@example.test>", f"To: {to}")


def line(msg: str | None) -> str:
    return msg.split("\r\n", 1)[0] if msg else "-"


class Scenario:
    def __init__(self, server: Server, uac: UA, b1: UA) -> None:
        self.server, self.uac, self.b1 = server, uac, b1
        self.seen: dict[str, list[str]] = {}
        self.n = 0

    def send(self, method: str, call_id: str, extra: str = "") -> None:
        self.uac.send(request(method, call_id, self.uac, self.server, extra), self.server.addr)

    def continue_(self, key: str, route: str) -> str:
        self.n += 1
        call_id = f"cont-{self.n}"
        self.send("OPTIONS", call_id, f"X-Key: {key}\r\nX-Continue: {route}\r\n")
        return line(self.uac.expect(call_id))

    def suspended_message_continued_by_another_request(self) -> None:
        seen = self.seen["message"] = []
        self.send("MESSAGE", "msg-1", f"X-Key: m1\r\nX-B1: 127.0.0.1:{self.b1.port}\r\n")
        seen.append("uac " + line(self.uac.expect("msg-1", 0.2)))  # nothing while suspended
        seen.append("continue " + self.continue_("m1", "RELAY"))
        relayed = self.b1.expect("msg-1")
        assert relayed is not None
        seen.append(f"b1 {line(relayed)} X-Suspended={header(relayed, 'X-Suspended')}")
        self.b1.send(reply_to(relayed, 202, "Accepted"), self.server.addr)
        seen.append("uac " + line(self.uac.expect("msg-1")))
        seen.append("again " + self.continue_("m1", "REPLY"))

    def suspended_invite_continued_by_rtimer(self) -> None:
        seen = self.seen["rtimer"] = []
        self.send("INVITE", "inv-rt", "X-Key: rt\r\n")
        seen.append("uac " + line(self.uac.expect("inv-rt")))  # 100 Trying
        final = self.uac.expect("inv-rt", 3)
        seen.append("uac " + line(final))
        if final:
            self.uac.send(ack("inv-rt", self.uac, self.server, final), self.server.addr)

    def suspended_message_continued_without_an_answer(self) -> None:
        seen = self.seen["nothing"] = []
        self.send("MESSAGE", "msg-n", "X-Key: n1\r\n")
        self.uac.expect("msg-n", 0.2)
        seen.append("continue " + self.continue_("n1", "NOTHING"))
        seen.append("uac " + line(self.uac.expect("msg-n")))

    def unknown_id(self) -> None:
        self.seen["unknown"] = ["continue " + self.continue_("none", "REPLY")]

    def canceled_while_suspended(self) -> None:
        seen = self.seen["cancel"] = []
        self.send("INVITE", "inv-c", "X-Key: c1\r\n")
        seen.append("uac " + line(self.uac.expect("inv-c")))  # 100 Trying
        self.uac.send(request("CANCEL", "inv-c", self.uac, self.server), self.server.addr)
        got = sorted(line(self.uac.expect("inv-c")) for _ in range(2))
        seen += [f"uac {x}" for x in got]
        self.uac.send(request("ACK", "inv-c", self.uac, self.server).replace(
            "To: <sip:x@example.test>", "To: <sip:x@example.test>;tag=x"), self.server.addr)
        time.sleep(0.2)  # the ACK puts the transaction on wait: a t_continue() then finds nothing
        seen.append("continue " + self.continue_("c1", "REPLY"))

    def reply_suspended_in_onreply_route(self) -> None:
        seen = self.seen["reply"] = []
        self.send("INVITE", "inv-r", f"X-Reply-Key: r1\r\nX-B1: 127.0.0.1:{self.b1.port}\r\n")
        seen.append("uac " + line(self.uac.expect("inv-r")))  # 100 Trying
        relayed = self.b1.expect("inv-r")
        assert relayed is not None
        self.b1.send(reply_to(relayed, 180, "Ringing"), self.server.addr)
        seen.append("uac " + line(self.uac.expect("inv-r", 0.2)))  # nothing while suspended
        seen.append("continue " + self.continue_("r1", "RINGING"))
        ringing = self.uac.expect("inv-r")
        seen.append(f"uac {line(ringing)} X-Continued={header(ringing or '', 'X-Continued')}")
        self.b1.send(reply_to(relayed, 486, "Busy Here"), self.server.addr)
        final = self.uac.expect("inv-r")
        seen.append("uac " + line(final))
        seen.append("b1 " + line(self.b1.expect("inv-r")))  # the ACK of the 486
        if final:
            self.uac.send(ack("inv-r", self.uac, self.server, final), self.server.addr)

    def suspended_in_failure_route(self) -> None:
        seen = self.seen["failure"] = []
        self.send("INVITE", "inv-f", f"X-Failure-Key: f1\r\nX-B1: 127.0.0.1:{self.b1.port}\r\n")
        self.uac.expect("inv-f")  # 100 Trying
        first = self.b1.expect("inv-f")
        assert first is not None
        self.b1.send(reply_to(first, 486, "Busy Here"), self.server.addr)
        seen.append("b1 " + line(self.b1.expect("inv-f")))  # the ACK
        seen.append("uac " + line(self.uac.expect("inv-f", 0.2)))  # nothing while suspended
        seen.append("continue " + self.continue_("f1", "AGAIN"))
        second = self.b1.expect("inv-f")
        seen.append("b1 " + line(second))
        self.b1.send(reply_to(second or "", 404, "Not Found"), self.server.addr)
        seen.append("b1 " + line(self.b1.expect("inv-f")))  # the ACK
        final = self.uac.expect("inv-f")
        seen.append("uac " + line(final))
        if final:
            self.uac.send(ack("inv-f", self.uac, self.server, final), self.server.addr)

    def timeout_started(self) -> None:
        self.send("INVITE", "inv-t", "X-Key: t1\r\n")
        self.seen["timeout"] = ["uac " + line(self.uac.expect("inv-t"))]  # 100 Trying

    def timeout_ended(self) -> None:
        final = self.uac.expect("inv-t", 3)
        self.seen["timeout"].append("uac " + line(final))
        if final:
            self.uac.send(ack("inv-t", self.uac, self.server, final), self.server.addr)


def test_t_suspend_and_t_continue_as_kamailio(tmp_path: Path, dual_servers: Started) -> None:
    seen: dict[str, dict[str, list[str]]] = {}
    ports = [free_port() for _ in range(2)]
    for server in dual_servers.each(CFG, tmp_path):
        uac, b1 = UA(ports[0]), UA(ports[1])
        run = Scenario(server, uac, b1)
        try:
            run.timeout_started()
            run.suspended_message_continued_by_another_request()
            run.suspended_invite_continued_by_rtimer()
            run.suspended_message_continued_without_an_answer()
            run.unknown_id()
            run.canceled_while_suspended()
            run.reply_suspended_in_onreply_route()
            run.suspended_in_failure_route()
            run.timeout_ended()
        finally:
            uac.close()
            b1.close()
        seen[server.name] = run.seen
    differ = differences(seen)
    assert not differ, "\n".join(differ)
    relayed = f"b1 MESSAGE sip:b1@127.0.0.1:{ports[1]} SIP/2.0 X-Suspended=MESSAGE"
    assert seen["kampy"]["message"][2] == relayed
    assert seen["kampy"]["rtimer"][1] == "uac SIP/2.0 486 Busy Here"
    assert seen["kampy"]["timeout"][1] == "uac SIP/2.0 408 Request Timeout"
    assert seen["kampy"]["failure"][-1] == "uac SIP/2.0 404 Not Found"
    assert seen["kampy"]["reply"][1:4] == ["uac -", "continue SIP/2.0 200 continued 1",
                                           "uac SIP/2.0 180 Ringing X-Continued=180"]
