"""Helpers for the msilo tests: a fake clock, a stand-in tm with a recording UAC, a server from cfg
text with msilo on a given database, and SIP requests built the way the wire traces show them."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kampy.config.pipeline import load_file, load_text
from kampy.runtime.context import Outgoing, Socket, Source
from kampy.runtime.server import Server
from kampy.runtime.shared import SharedStore

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "msilo.cfg"
SOCKET = Socket("udp", "127.0.0.1", 5060)
ALICE = Source("udp", "127.0.0.1", 35065, SOCKET)
BOB = Source("udp", "127.0.0.1", 35066, SOCKET)
START = 1795694070.0  # 2026-11-26 11:54:30 UTC, the wire traces' time


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now
        self.mono = 1000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.mono += seconds


# A stand-in for tm's UAC while tm is being written: it records each request and lets the test
# deliver the final reply. Its `t_request` has kampy.api.TmAPI's signature.
FAKE_TM = '''
from kampy.api import Exports, Module, Offer, TmUacAPI


class Sent:
    def __init__(self, method, ruri, from_uri, to_uri, headers, body, next_hop, callback):
        self.method, self.ruri, self.from_uri, self.to_uri = method, ruri, from_uri, to_uri
        self.headers, self.body, self.next_hop, self.callback = headers, body, next_hop, callback
        self.status = None

    def reply(self, status):
        assert self.status is None, "final reply delivered twice"
        self.status = status
        if self.callback is not None:
            self.callback(status, None)


class FakeTm(Module):
    def __init__(self, params, core):
        super().__init__(params, core)
        self.sent = []
        self.fail_sending = False

    def t_request(self, method, ruri, to_uri, from_uri, *, headers="", body=b"", next_hop=None,
                  callback=None, send_socket=None):
        if self.fail_sending:
            return -1
        self.sent.append(Sent(method, ruri, from_uri, to_uri, headers, body, next_hop, callback))
        return 1


EXPORTS = Exports(name="tm", offers=(Offer("tm", TmUacAPI),), factory=FakeTm)
'''

ROUTES = '''
request_route {
    if (method == "REGISTER") {
        if (m_dump(DUMP_ARGS)) { sl_send_reply("200", "OK dumped"); }
        else { sl_send_reply("200", "OK not dumped"); }
        exit;
    }
    if (method == "MESSAGE") {
        PRE_STORE
        if (m_store(STORE_ARGS)) { sl_send_reply("202", "Accepted"); }
        else { sl_send_reply("503", "Service Unavailable"); }
        exit;
    }
    sl_send_reply("404", "Not here");
}
'''


def fake_tm_dir(base: Path) -> Path:
    moddir = base / "fake_mods"
    (moddir / "tm").mkdir(parents=True, exist_ok=True)
    (moddir / "tm" / "__init__.py").write_text(FAKE_TM)
    return moddir


def cfg_text(base: Path, db_url: str, params: dict[str, Any] | None = None, *, pre_store: str = "",
             store_args: str = "", dump_args: str = "") -> str:
    """A config with the fake tm, sl, pv and msilo on `db_url`; `params` are msilo modparams. The fake
    tm offers only the UAC part of tm's API (`TmUacAPI`), so sl does not bind it (bind_tm 0)."""
    lines = [f'loadpath "{fake_tm_dir(base)}"', 'loadmodule "tm"', 'loadmodule "sl"', 'loadmodule "pv"',
             'loadmodule "msilo"', 'modparam("sl", "bind_tm", 0)', f'modparam("msilo", "db_url", "{db_url}")']
    for name, value in (params or {}).items():
        shown = value if isinstance(value, int) else '"' + value.replace("\r\n", "\\r\\n") + '"'
        lines.append(f'modparam("msilo", "{name}", {shown})')
    routes = (ROUTES.replace("PRE_STORE", pre_store).replace("STORE_ARGS", store_args)
              .replace("DUMP_ARGS", dump_args))
    return "\n".join(lines) + "\n" + routes


@dataclass
class Silo:
    """A server running msilo in-process, with its fake clock and fake tm."""

    server: Server
    clock: FakeClock
    outs: list[Outgoing] = field(default_factory=list)

    @property
    def module(self) -> Any:
        return self.server.core.modules["msilo"]

    @property
    def tm(self) -> Any:
        return self.server.core.modules["tm"]

    @property
    def sent(self) -> list[Any]:
        return self.tm.sent

    def stat(self, name: str) -> int:
        return self.server.core.stats.get(f"msilo:{name}")

    def send(self, raw: bytes, src: Source = ALICE) -> int:
        """Handle a request; the status of the reply the script sent."""
        out = self.server.handle(raw, src)
        self.outs.extend(out)
        replies = [o for o in out if o.data.startswith(b"SIP/2.0 ")]
        assert replies, f"no reply to {raw[:60]!r}"
        return int(replies[-1].data[8:11])

    def reason(self) -> str:
        return self.outs[-1].data.split(b"\r\n", 1)[0].decode()[12:]

    def rows(self, columns: str = "id, username, domain, src_addr, dst_addr, ctype, body, snd_time") -> list:
        return self.module.db.raw_query(f"SELECT {columns} FROM silo ORDER BY id")

    def tick(self, seconds: float) -> list[Outgoing]:
        self.clock.advance(seconds)
        return self.server.run_timers()


def make_silo(base: Path, db_url: str, params: dict[str, Any] | None = None, *,
              clock: FakeClock | None = None, shared: SharedStore | None = None, rank: int = 1,
              **routes: str) -> Silo:
    clock = clock or FakeClock()
    compiled = load_text(cfg_text(base, db_url, params, **routes), "msilo-test.cfg")
    server = Server.from_config(compiled, sockets=[SOCKET], aliases=[("example.test", None)], clock=clock,
                                shared=shared, rank=rank, workers=2 if shared else 1)
    return Silo(server, clock)


TRACE_PORT = 35060  # kamailio's port in the wire traces


def sample_defines(db_url: str, port: int = TRACE_PORT) -> dict[str, str | None]:
    """`-A` defines that run samples/msilo.cfg on `db_url` and on port `port` of 127.0.0.1."""
    return {"DBURL": f'"{db_url}"', "LISTEN_UDP": f"udp:127.0.0.1:{port}",
            "LISTEN_TCP": f"tcp:127.0.0.1:{port}",
            "MSILO_PROXY": f'"sip:127.0.0.1:{port}"',
            "MSILO_CONTACT": f'"Contact: <sip:registrar@127.0.0.1:{port}>;msilo=yes\\r\\n"'}


def sample_server(defines: dict[str, str | None], clock: FakeClock, port: int = TRACE_PORT,
                  **kw: Any) -> Server:
    """samples/msilo.cfg in-process, as `kampy run samples/msilo.cfg -A ...` would build it."""
    compiled = load_file(SAMPLE, defines)
    return Server.from_config(compiled, sockets=[Socket("udp", "127.0.0.1", port)],
                              aliases=[("example.test", None)], clock=clock, **kw)


def message(body: bytes | str = b"Hello Bob #1", *, ruri: str = "sip:bob@example.test",
            to: str = "<sip:bob@example.test>", frm: str = "<sip:alice@example.test>;tag=8718SIPpTag001",
            ctype: str | None = "text/plain", extra: Iterable[str] = ("X-Bars-Seq: 0",),
            contact: str | None = "<sip:alice@127.0.0.1:35063>", content_length: str | None = "auto",
            call_id: str = "1-8718@127.0.0.1") -> bytes:
    """A MESSAGE as sipp sent it in wire/store_notification.txt (packet 1), with variations."""
    data = body.encode() if isinstance(body, str) else body
    lines = [f"MESSAGE {ruri} SIP/2.0", "Via: SIP/2.0/UDP 127.0.0.1:35065;branch=z9hG4bK-8718-1-0;rport",
             "Max-Forwards: 70", f"From: {frm}", f"To: {to}", f"Call-ID: {call_id}", "CSeq: 1 MESSAGE"]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    lines += list(extra)
    if ctype is not None:
        lines.append(f"Content-Type: {ctype}")
    if content_length == "auto":
        lines.append(f"Content-Length:    {len(data)}")
    elif content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + data


def register(*, to: str = "<sip:bob@example.test>", contact: str | None = "<sip:bob@127.0.0.1:35066>",
             expires: str | None = "60", extra: Iterable[str] = (),
             call_id: str = "1-8721@127.0.0.1") -> bytes:
    """A REGISTER as sipp sent it in wire/dump_200.txt (packet 1), with variations."""
    lines = ["REGISTER sip:example.test SIP/2.0",
             "Via: SIP/2.0/UDP 127.0.0.1:35065;branch=z9hG4bK-8721-1-0;rport",
             "Max-Forwards: 70", "From: <sip:bob@example.test>;tag=8721SIPpTag001", f"To: {to}",
             f"Call-ID: {call_id}", "CSeq: 1 REGISTER"]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    if expires is not None:
        lines.append(f"Expires: {expires}")
    lines += list(extra)
    lines += ["User-Agent: msilo-test-sipp", "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")


def wire_packet(name: str, number: int) -> bytes:
    """Packet `number` of a trace in tests/data/wire/, exactly as captured from Kamailio."""
    text = (REPO / "tests" / "data" / "wire" / name).read_bytes()
    marker = f"### {number} ".encode()
    start = text.index(marker)
    header_end = text.index(b"\n", start) + 1
    size = int(text[start:header_end].split(b", ")[-2].split()[0])
    return text[header_end:header_end + size]
