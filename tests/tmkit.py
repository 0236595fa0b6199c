"""Helpers for the tm tests: a server from cfg text with a fake clock, SIP built from short literals."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kampy.config.pipeline import load_text
from kampy.runtime.context import Outgoing, Socket, Source
from kampy.runtime.server import Server
from kampy.runtime.shared import SharedStore
from kampy.sip.message import Request, Response, parse_message

SOCKET = Socket("udp", "127.0.0.1", 5060)
ALICE = Source("udp", "192.0.2.10", 5070, SOCKET)      # the caller
BOB = Source("udp", "198.51.100.20", 5080, SOCKET)     # a callee
CAROL = Source("udp", "198.51.100.30", 5090, SOCKET)   # another callee
HEADER = 'loadmodule "sl"\nloadmodule "tm"\nloadmodule "tmx"\nloadmodule "pv"\n'


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.mono = 1000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono


def server(routes: str, params: str = "", *, clock: FakeClock | None = None,
           shared: SharedStore | None = None, rank: int = 1, workers: int = 1) -> Server:
    compiled = load_text(HEADER + params + "\n" + routes, "tm-test.cfg")
    return Server.from_config(compiled, sockets=[SOCKET], clock=clock or FakeClock(), shared=shared,
                              rank=rank, workers=workers)


@contextmanager
def two_workers(routes: str, params: str = "") -> Iterator[tuple[Server, Server]]:
    """Workers 1 and 2 of one server: one shared store, one clock."""
    store = SharedStore.create()
    clock = FakeClock()
    one = server(routes, params, clock=clock, shared=store.reopen(), rank=1, workers=2)
    two = server(routes, params, clock=clock, shared=store.reopen(), rank=2, workers=2)
    try:
        yield one, two
    finally:
        one.shutdown()
        two.shutdown()
        store.remove()


def advance(srv: Server, seconds: float, step: float = 0.05) -> list[Outgoing]:
    """Move the fake clock on, running every timer that falls due on the way."""
    clock = srv.core.clock
    end = clock.mono + seconds
    out: list[Outgoing] = []
    while True:
        due = srv.next_timer()
        if due is None or due > end:
            break
        clock.mono = max(clock.mono, due)
        out += srv.run_timers()
    clock.mono = end
    return out + srv.run_timers()


def request(method: str = "MESSAGE", ruri: str = "sip:bob@198.51.100.20:5080", *, branch: str = "z9hG4bK-a1",
            cseq: int = 1, extra: str = "", body: str = "", to_tag: str = "") -> bytes:
    to = "<sip:bob@example.test>" + (f";tag={to_tag}" if to_tag else "")
    head = (f"{method} {ruri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 192.0.2.10:5070;branch={branch};rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:alice@example.test>;tag=al1\r\n"
            f"To: {to}\r\n"
            "Call-ID: call-1@192.0.2.10\r\n"
            f"CSeq: {cseq} {method}\r\n"
            f"{extra}Content-Length: {len(body)}\r\n\r\n")
    return (head + body).encode()


def reply_to(sent: Outgoing | bytes, code: int, reason: str, *, to_tag: str = "bt1",
             extra: str = "") -> bytes:
    """The callee's reply to a request we sent: its Vias, From, To (with a tag), Call-ID, CSeq."""
    req = parse_message(sent.data if isinstance(sent, Outgoing) else sent)
    assert isinstance(req, Request)
    lines = [f"SIP/2.0 {code} {reason}"]
    lines += [f"Via: {v}" for v in req.headers_named("via")]
    lines.append(f"From: {req.header('from')}")
    to = req.header("to") or ""
    lines.append(f"To: {to}" + (f";tag={to_tag}" if code > 100 and "tag=" not in to else ""))
    lines += [f"Call-ID: {req.call_id}", f"CSeq: {req.header('cseq')}"]
    return ("\r\n".join(lines) + f"\r\n{extra}Content-Length: 0\r\n\r\n").encode()


def parsed(out: Outgoing) -> Request | Response:
    return parse_message(out.data)


def first_line(out: Outgoing) -> str:
    return out.data.split(b"\r\n", 1)[0].decode()


def lines(outs: list[Outgoing]) -> list[str]:
    return [first_line(o) for o in outs]
