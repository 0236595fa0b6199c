"""Helpers for the runtime tests: a fake module on `loadpath`, a server built from cfg text."""
from __future__ import annotations

from pathlib import Path

from kampy.config.pipeline import load_text
from kampy.runtime.context import Outgoing, Socket, Source
from kampy.runtime.core import Clock
from kampy.runtime.server import Server

FAKE_MODULE = '''
from typing import Protocol

from kampy.api import (Arg, ArgKind, Exports, Function, Module, Offer, PVClass, Stat, TransformClass,
                       build_response)


class Recorder(Protocol):
    def record(self, text: str) -> None: ...


class Store:
    def __init__(self, name, values):
        self.name, self.values = name, values

    def get(self, ctx):
        return self.values.get(self.name)

    def set(self, ctx, value):
        if value is None:
            self.values.pop(self.name, None)
        else:
            self.values[self.name] = value


class Fake(Module):
    def __init__(self, params, core):
        super().__init__(params, core)
        self.records = []   # what rec() and the modules using the "fake" API recorded
        self.values = {}    # $fv(name)

    def record(self, text):
        self.records.append(text)

    def ret(self, ctx, code):
        return code

    def rec(self, ctx, text):
        self.record(text)
        return 1

    def boom(self, ctx):
        raise RuntimeError("kaboom")

    def reply(self, ctx, code, reason):
        self.core.send_reply(ctx, build_response(ctx.msg, code, reason, to_tag="t"))
        return 1

    def pv_fv(self, spec):
        return Store(spec.arg, self.values)

    def tr_ft(self, tr):
        if tr.name == "upper":
            return lambda ctx, v: str(v).upper()
        return lambda ctx, v: len(str(v))

    def match(self, ctx, regex, text):
        return 1 if regex.search(text) else -1


EXPORTS = Exports(
    name="fake",
    functions=(
        Function("ret", args=(Arg("code", ArgKind.INT),)),
        Function("rec", args=(Arg("text", ArgKind.FMT),)),
        Function("boom"),
        Function("reply", args=(Arg("code", ArgKind.INT), Arg("reason", ArgKind.FMT))),
        Function("match", args=(Arg("re", ArgKind.REGEX), Arg("text", ArgKind.FMT))),
    ),
    stats=(Stat("calls"),),
    pvars=(PVClass("fv", arg="required", writable=True),),
    transforms=(TransformClass("ft", ("upper", "len")),),
    offers=(Offer("fake", Recorder),),
    factory=Fake,
)
'''

NOT_IMPLEMENTED_MODULE = '''
from kampy.api import Exports, Function
EXPORTS = Exports(name="ghost", functions=(Function("haunt"),), factory=None)
'''

SOCKET = Socket("udp", "127.0.0.1", 5060)
SOURCE = Source("udp", "192.0.2.7", 5080, SOCKET)


def make_server(tmp_path: Path, routes: str, *, modules: tuple[str, ...] = ("fake",),
                sockets: list[Socket] | None = None, header: str = "", clock: Clock | None = None) -> Server:
    moddir = tmp_path / "mods"
    (moddir / "fake").mkdir(parents=True, exist_ok=True)
    (moddir / "fake" / "__init__.py").write_text(FAKE_MODULE)
    (moddir / "ghost").mkdir(exist_ok=True)
    (moddir / "ghost" / "__init__.py").write_text(NOT_IMPLEMENTED_MODULE)
    loads = "".join(f'loadmodule "{m}"\n' for m in modules)
    text = f'loadpath "{moddir}"\n{header}\n{loads}\n{routes}\n'
    compiled = load_text(text, "test.cfg")
    return Server.from_config(compiled, sockets=sockets or [SOCKET], aliases=[("example.com", None)],
                              clock=clock)


def request(method: str = "OPTIONS", ruri: str = "sip:bob@127.0.0.1", *, via_host: str = "192.0.2.7",
            via_params: str = "", extra: str = "", body: bytes = b"") -> bytes:
    head = (f"{method} {ruri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {via_host}:5080;branch=z9hG4bK-abc{via_params}\r\n"
            "From: <sip:alice@example.org>;tag=f1\r\nTo: <sip:bob@example.com>\r\n"
            f"Call-ID: call-1\r\nCSeq: 7 {method}\r\nMax-Forwards: 70\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def recorded(server: Server) -> list[str]:
    """What the fake module recorded (its rec() function and the modules using its API)."""
    return server.core.modules["fake"].records


def first_line(out: Outgoing) -> str:
    return out.data.split(b"\r\n", 1)[0].decode()
