"""Helpers for the pv/xlog tests: a context from a raw message and accessors from PV text."""
from __future__ import annotations

from typing import Any

from kampy.api import MessageContext, Socket, Source, parse_message, parse_pv
from kampy.runtime.core import Core

import modules.pv as pv_module

INVITE = (
    b"INVITE sip:alice@example.com:5080;transport=tcp SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2, SIP/2.0/UDP 10.0.0.3\r\n"
    b"From: \"Bob\" <sip:bob@b.com>;tag=123\r\n"
    b"To: <sip:alice@example.com>\r\n"
    b"Call-ID: abc@host\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Contact: <sip:bob@10.0.0.1:5060>\r\n"
    b"User-Agent: phone/1.0\r\n"
    b"X-Foo: one\r\n"
    b"X-Foo: two\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: 5\r\n\r\nhello"
)

REPLY = (
    b"SIP/2.0 486 Busy Here\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
    b"From: <sip:bob@b.com>;tag=123\r\n"
    b"To: <sip:alice@example.com>;tag=xyz\r\n"
    b"Call-ID: abc@host\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Content-Length: 0\r\n\r\n"
)


class FixedClock:
    def __init__(self, now: float = 1_700_000_000.25) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


def make_ctx(raw: bytes = INVITE, core: Core | None = None) -> MessageContext:
    core = core or Core(clock=FixedClock(), sockets=[Socket("udp", "127.0.0.1", 5060),
                                                     Socket("tcp", "127.0.0.1", 5060)])
    return MessageContext(msg=parse_message(raw),
                          src=Source("udp", "127.0.0.1", 5070, Socket("udp", "127.0.0.1", 5060)),
                          core=core)


def module(ctx: MessageContext, params: dict[str, Any] | None = None) -> Any:
    mod = ctx.core.modules.get("pv")
    if mod is None:
        mod = pv_module.EXPORTS.factory(params or {}, ctx.core)
        ctx.core.modules["pv"] = mod
    return mod


class Spec:
    """A PV from text with its transformations applied, like the engine does."""

    def __init__(self, ctx: MessageContext, text: str) -> None:
        mod = module(ctx)
        self.pv = parse_pv(text)
        cls = next(c for c in pv_module.EXPORTS.pvars if c.name == self.pv.cls)
        self.acc = getattr(mod, cls.handler)(self.pv)
        self.trs = [mod.tr_handler(tr) for tr in self.pv.transforms]

    def get(self, ctx: MessageContext) -> Any:
        value = self.acc.get(ctx)
        for tr in self.trs:
            value = tr(ctx, value)
        return value

    def set(self, ctx: MessageContext, value: Any) -> None:
        self.acc.set(ctx, value)


def get(ctx: MessageContext, text: str) -> Any:
    return Spec(ctx, text).get(ctx)


def put(ctx: MessageContext, text: str, value: Any) -> None:
    Spec(ctx, text).set(ctx, value)
