"""Helpers for the registrar/usrloc tests: a config in-process with a fake clock, REGISTERs to send."""
from __future__ import annotations

from kampy.api import Socket, Source
from kampy.config.pipeline import load_text
from kampy.runtime.server import Server
from kampy.runtime.shared import SharedStore

SOCKET = Socket("udp", "127.0.0.1", 5060)
UA = Source("udp", "127.0.0.1", 5070, SOCKET)
NOW = 1_700_000_000


class FakeClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = float(now)

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


ROUTE = r'''
request_route {
    if (is_method("REGISTER")) {
        $var(r) = save("location"SAVEARGS);
        xlog("L_INFO", "save=$var(r)\n");
        exit;
    }
    $var(r) = lookup("location");
    if ($var(r) < 0) {
        sl_send_reply("404", "Not Found $var(r)");
        exit;
    }
    sl_send_reply("302", "Moved");
}
'''


def config(usrloc: str = "", registrar: str = "", save_args: str = "", route: str | None = None) -> str:
    head = "".join(f'loadmodule "{m}"\n' for m in ("sl", "textops", "pv", "xlog", "usrloc", "registrar"))
    params = "".join(f'modparam("usrloc", {p})\n' for p in filter(None, usrloc.split(";")))
    params += "".join(f'modparam("registrar", {p})\n' for p in filter(None, registrar.split(";")))
    body = route if route is not None else ROUTE.replace("SAVEARGS", save_args)
    return head + params + body


def server(cfg: str, clock: FakeClock | None = None, shared: SharedStore | None = None, rank: int = 1,
           workers: int = 1) -> Server:
    srv = Server.from_config(load_text(cfg, "t.cfg"), sockets=[SOCKET], clock=clock or FakeClock(),
                             shared=shared, rank=rank, workers=workers)
    srv.child_init(rank)
    return srv


def register(user: str = "alice", contact: str | None = "<sip:alice@10.0.0.1:5070>",
             expires: int | None = 3600, callid: str = "reg-1@10.0.0.1", cseq: int = 1, extra: str = "",
             domain: str = "example.test") -> bytes:
    lines = [
        f"REGISTER sip:{domain} SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-r" + str(cseq) + ";rport",
        "Max-Forwards: 70",
        f"From: <sip:{user}@{domain}>;tag=f1",
        f"To: <sip:{user}@{domain}>",
        f"Call-ID: {callid}",
        f"CSeq: {cseq} REGISTER",
    ]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    if expires is not None:
        lines.append(f"Expires: {expires}")
    lines += [line for line in extra.split("\n") if line]
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def request(method: str = "INVITE", ruri: str = "sip:alice@example.test", extra: str = "") -> bytes:
    lines = [
        f"{method} {ruri} SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-i1",
        "Max-Forwards: 70",
        "From: <sip:bob@example.test>;tag=b1",
        "To: <sip:alice@example.test>",
        "Call-ID: call-1@127.0.0.1",
        f"CSeq: 1 {method}",
    ]
    lines += [line for line in extra.split("\n") if line]
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def send(srv: Server, data: bytes, src: Source = UA) -> bytes:
    out = srv.handle(data, src)
    assert len(out) == 1, out
    return out[0].data


def header(reply: bytes, name: str) -> list[str]:
    """The raw values of every `name:` line, as sent (a Contact line holding several stays one)."""
    head = reply.split(b"\r\n\r\n", 1)[0].decode()
    prefix = name.lower() + ":"
    return [line[len(prefix):].strip() for line in head.split("\r\n")[1:] if line.lower().startswith(prefix)]
